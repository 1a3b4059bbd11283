"""The node runtime imports on an edge-only install: no torch, lightning or cloud."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.services import REPO


def test_node_runtime_imports_without_torch() -> None:
    script = textwrap.dedent(
        """
        import importlib.abc, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in {"torch", "lightning", "cloud", "sqlalchemy"}:
                    raise ImportError(f"blocked: {name}")
                return None
        sys.meta_path.insert(0, Block())
        import edge.node, edge.runner, edge.capture_bench, edge.cli
        import edge.sources.camera, edge.sources.video, edge.sources.synthetic
        from dancebooth.cli import cli
        try:
            cli(["edge", "run", "--help"], prog_name="dancebooth")
        except SystemExit as exc:
            assert exc.code == 0, exc.code
        print("EDGE-RUNTIME-OK")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "EDGE-RUNTIME-OK" in out.stdout
