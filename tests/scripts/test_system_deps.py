"""scripts/system-deps.sh against a stand-in apt-get: one install per package, so a
package the archive lacks is named and the others still install; CI fails only on a
missing required package.

The stand-in comes first on PATH and the script looks for installed commands only in
the test's directory (SYSTEM_DEPS_PATH), so nothing is installed on this machine.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "system-deps.sh"
REQUIRED = {"mosquitto", "chromium", "openssl"}
OPTIONAL = {"docker-compose", "kubectl", "systemd-analyze"}

APT_GET = """#!/bin/sh
# 'install PKG' puts PKG's command into $INSTALLED, unless the archive lacks PKG.
echo "$*" >> "$APT_LOG"
[ "$1" = update ] && exit 0
for arg; do case "$arg" in -*|install) ;; *) pkg=$arg ;; esac; done
case " $UNAVAILABLE " in *" $pkg "*) echo "E: Unable to locate package $pkg" >&2; exit 100 ;; esac
cmd=$pkg; [ "$pkg" = systemd ] && cmd=systemd-analyze
printf '#!/bin/sh\\n' > "$INSTALLED/$cmd" && chmod +x "$INSTALLED/$cmd"
"""


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    installed: set[str]
    apt: list[str]


def _dir(tmp: Path, name: str) -> Path:
    (tmp / name).mkdir()
    return tmp / name


def _run(
    tmp: Path,
    *,
    unavailable: str = "",
    uid: int = 0,
    ci: bool = False,
    present: frozenset[str] = frozenset(),
) -> Outcome:
    stubs, installed = tmp / "stubs", tmp / "installed"
    stubs.mkdir()
    installed.mkdir()
    (stubs / "apt-get").write_text(APT_GET)
    (stubs / "id").write_text(f"#!/bin/sh\necho {uid}\n")
    for command in present:
        (installed / command).write_text("#!/bin/sh\n")
    for path in [*stubs.iterdir(), *installed.iterdir()]:
        path.chmod(0o755)
    log = tmp / "apt.log"
    env = {
        "PATH": f"{stubs}:/usr/bin:/bin",
        "SYSTEM_DEPS_PATH": str(installed),
        "INSTALLED": str(installed),
        "UNAVAILABLE": unavailable,
        "APT_LOG": str(log),
        "CI": "true" if ci else "",
    }
    done = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )
    return Outcome(
        done.returncode,
        done.stdout,
        done.stderr,
        {p.name for p in installed.iterdir()},
        log.read_text().splitlines() if log.exists() else [],
    )


def test_a_package_the_archive_lacks_is_named_and_the_others_still_install(
    tmp_path: Path,
) -> None:
    out = _run(tmp_path, unavailable="kubectl")
    assert out.code == 0
    assert out.installed == REQUIRED | OPTIONAL - {"kubectl"}
    assert "could not install kubectl (E: Unable to locate package kubectl)" in out.stderr
    assert "kubectl (optional; not in Debian's archive" in out.stderr
    installs = [line.split()[-1] for line in out.apt if line.startswith("install")]
    assert installs == [
        "mosquitto",
        "chromium",
        "openssl",
        "docker-compose",
        "kubectl",
        "systemd",
    ], "one apt-get call per package"


def test_only_what_is_missing_is_installed(tmp_path: Path) -> None:
    out = _run(tmp_path, present=REQUIRED | {"kubectl", "systemd-analyze"})
    assert out.code == 0
    assert [line for line in out.apt if line.startswith("install")] == [
        "install -y -qq --no-install-recommends docker-compose"
    ]
    assert "installed docker-compose" in out.stdout


def test_nothing_to_do_calls_no_apt(tmp_path: Path) -> None:
    out = _run(tmp_path, present=REQUIRED | OPTIONAL)
    assert (out.code, out.apt, out.stderr) == (0, [], "")


def test_ci_fails_on_a_missing_required_package_only(tmp_path: Path) -> None:
    optional_only = _run(_dir(tmp_path, "a"), unavailable="kubectl", ci=True)
    assert optional_only.code == 0
    required = _run(_dir(tmp_path, "b"), unavailable="chromium kubectl", ci=True)
    assert required.code == 1
    assert "missing chromium (required; apt-get install chromium)" in required.stderr
    assert "docker-compose" in required.installed, "a failure stops no other install"
    outside_ci = _run(_dir(tmp_path, "c"), unavailable="chromium")
    assert outside_ci.code == 0
    assert "the tests that need it will skip" in outside_ci.stderr


def test_without_root_it_says_what_to_install(tmp_path: Path) -> None:
    out = _run(tmp_path, uid=1000, present=REQUIRED | {"docker-compose", "systemd-analyze"})
    assert out.code == 0 and out.apt == []
    assert "missing kubectl (optional; not in Debian's archive" in out.stderr
    assert _run(_dir(tmp_path, "ci"), uid=1000, ci=True).code == 1
