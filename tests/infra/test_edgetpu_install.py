"""infra/edgetpu/install.sh: a download is kept only when SHA256SUMS pins it (or the
engineer says to trust it), and only the supported bases get the pair."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from tests.infra.deploy import REPO

SCRIPT = REPO / "infra" / "edgetpu" / "install.sh"


def run(snippet: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``snippet`` in bash with the script's functions loaded (sourcing runs nothing)."""
    return subprocess.run(
        ["bash", "-c", f'source "{SCRIPT}"; {snippet}'],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "EDGETPU_PINS": str(tmp_path / "SHA256SUMS"), **env},
        check=False,
    )


@pytest.fixture
def asset(tmp_path: Path) -> tuple[str, str]:
    path = tmp_path / "libedgetpu1-std_test.deb"
    path.write_bytes(b"the tested runtime")
    return f"file://{path}", hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_pinned_download_is_kept(tmp_path: Path, asset: tuple[str, str]) -> None:
    url, digest = asset
    (tmp_path / "SHA256SUMS").write_text(f"# pins\n{digest}  libedgetpu1-std_test.deb\n")
    done = run(f'fetch "{url}" out.deb', tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.deb").read_bytes() == b"the tested runtime"


def test_another_file_is_refused_and_nothing_is_left(
    tmp_path: Path, asset: tuple[str, str]
) -> None:
    url, digest = asset
    (tmp_path / "SHA256SUMS").write_text(f"{'0' * 64}  libedgetpu1-std_test.deb\n")
    done = run(f'fetch "{url}" out.deb', tmp_path)
    assert done.returncode != 0
    assert digest in done.stderr and "0" * 64 in done.stderr and "refusing" in done.stderr
    assert not list(tmp_path.glob("out.deb*"))


def test_an_unpinned_file_needs_trust_and_its_digest_is_said(
    tmp_path: Path, asset: tuple[str, str]
) -> None:
    url, digest = asset
    (tmp_path / "SHA256SUMS").write_text("# nothing pinned yet\n")
    refused = run(f'fetch "{url}" out.deb', tmp_path)
    assert refused.returncode != 0 and digest in refused.stderr and "--trust-new" in refused.stderr
    assert not list(tmp_path.glob("out.deb*"))
    trusted = run(f'TRUST_NEW=1; fetch "{url}" out.deb', tmp_path)
    assert trusted.returncode == 0 and digest in trusted.stderr
    assert (tmp_path / "out.deb").exists()


def test_a_missing_download_fails(tmp_path: Path) -> None:
    done = run(f'fetch "file://{tmp_path}/nope.deb" out.deb', tmp_path)
    assert done.returncode != 0 and "could not download" in done.stderr
    assert not list(tmp_path.glob("out.deb*"))


def test_only_debian_12_gets_the_pair(tmp_path: Path) -> None:
    release = tmp_path / "os-release"
    release.write_text("ID=debian\nVERSION_CODENAME=bullseye\n")
    done = run("supported_base", tmp_path, EDGETPU_OS_RELEASE=str(release))
    assert done.returncode != 0 and "bookworm" in done.stderr
    release.write_text("ID=debian\nVERSION_CODENAME=bookworm\n")
    done = run("supported_base", tmp_path, EDGETPU_OS_RELEASE=str(release))
    if done.returncode == 0:
        assert done.stdout.strip() in {"arm64", "amd64"}
    else:  # another CPU
        assert "not supported" in done.stderr


def test_usage_and_a_venv_that_is_not_one(tmp_path: Path) -> None:
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, check=False)
    assert done.returncode != 0 and "usage" in done.stderr
    release = tmp_path / "os-release"
    release.write_text("VERSION_CODENAME=bookworm\n")
    done = run(f'install_python "{tmp_path}" "{REPO}"', tmp_path, EDGETPU_OS_RELEASE=str(release))
    assert done.returncode != 0
