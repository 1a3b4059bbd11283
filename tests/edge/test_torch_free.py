"""The node runtime imports and `dancebooth edge` runs on an edge-only install: no torch,
lightning or cloud is importable, and none gets loaded."""

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
        import edge, edge.settings, common.posemap, edge.pose, edge.frames
        import edge.node, edge.runner, edge.bench.capture, edge.cli
        import edge.sources.camera, edge.sources.video, edge.sources.synthetic
        from dancebooth.cli import cli
        for argv in (["edge", "--help"], ["edge", "run", "--help"]):
            try:
                cli(argv, prog_name="dancebooth")
            except SystemExit as exc:
                assert exc.code == 0, exc.code
        heavy = {"torch", "lightning", "cloud"}
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
        assert not loaded, loaded
        print("EDGE-RUNTIME-OK")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "EDGE-RUNTIME-OK" in out.stdout
