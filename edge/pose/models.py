"""Model files of the pose backends: the pinned manifest, the cache, and set-up.

The BlazePose ``.tflite`` files ship inside the ``mediapipe==0.10.21`` wheel
(Apache-2.0). ``dancebooth edge fetch-models`` gets that wheel through the package
registry with pip (once; pip caches it), extracts only the files the manifest
names, checks their sha256 and stores them in the model cache. Coral's PoseNet and
MoveNet files (group ``coral``, Apache-2.0) come from Coral's public repositories at
a pinned commit: ``fetch-models --coral`` downloads them, or copies them from a local
folder (``--from``), and checks their sha256 the same way. Nothing is ever fetched at
run time: a backend whose file is missing fails with a
:class:`~edge.pose.base.PoseError` that says to run the set-up command.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.pose.base import PoseError

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
MANIFEST_PATH = REPO / "models" / "manifest.json"
MODEL_DIR_ENV = "DANCEBOOTH_MODEL_DIR"
FETCH_HINT = "run `dancebooth edge fetch-models` (it takes the models from the mediapipe wheel)"

# requirement -> a directory to download into -> the wheel file
Downloader = Callable[[str, Path], Path]
# url -> the file's bytes
UrlFetcher = Callable[[str], bytes]


@dataclass(frozen=True)
class ModelEntry:
    name: str  # the file's path in the model cache
    requirement: str  # the registry package that carries the file, e.g. mediapipe==0.10.21
    member: str  # path of the file inside that package's wheel (or the source repository)
    sha256: str
    licence: str
    url: str | None = None  # a pinned download instead of a wheel
    group: str = "blazepose"  # what `fetch-models` sets up: blazepose, or coral (--coral)
    arch: str | None = None  # a native library for this CPU architecture only


@dataclass(frozen=True)
class FetchResult:
    entry: ModelEntry
    path: Path
    action: str  # "cached" (already there and verified), "extracted", "downloaded", "copied"


def load_manifest(path: Path = MANIFEST_PATH) -> list[ModelEntry]:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise PoseError(f"model manifest {path} is missing; reinstall dancebooth") from None
    except json.JSONDecodeError as exc:
        raise PoseError(f"model manifest {path} is not valid JSON: {exc}") from None
    return [_entry(m) for m in raw["models"]]


def _entry(m: dict[str, Any]) -> ModelEntry:
    source = m["source"]
    return ModelEntry(
        name=m["name"],
        requirement=source.get("requirement", ""),
        member=source.get("member") or source["path"],
        sha256=m["sha256"].lower(),
        licence=m["licence"],
        url=source.get("url"),
        group=m.get("group", "blazepose"),
        arch=m.get("arch"),
    )


def default_model_dir() -> Path:
    """``$DANCEBOOTH_MODEL_DIR``, else ``$XDG_CACHE_HOME/dancebooth/models`` or ``~/.cache/…``."""
    if env := os.environ.get(MODEL_DIR_ENV):
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "dancebooth" / "models"


def resolve_model_dir(configured: Path | None) -> Path:
    return configured.expanduser() if configured is not None else default_model_dir()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_entry(name: str, manifest: Iterable[ModelEntry] | None = None) -> ModelEntry:
    for entry in manifest if manifest is not None else load_manifest():
        if entry.name == name:
            return entry
    raise PoseError(f"model {name!r} is not in the manifest {MANIFEST_PATH}")


def model_path(name: str, model_dir: Path | None = None, verify: bool = True) -> Path:
    """The cached, verified file of model ``name``; else a :class:`PoseError` saying what to do."""
    folder = resolve_model_dir(model_dir)
    path = folder / name
    if not path.is_file():
        raise PoseError(f"pose model {name} is not in {folder}: {FETCH_HINT}")
    if verify:
        entry = find_entry(name)
        if sha256_file(path) != entry.sha256:
            raise PoseError(
                f"pose model {path} does not match its pinned sha256 (corrupt or replaced): "
                f"{FETCH_HINT}"
            )
    return path


# The .tflite files are data, identical in every platform's wheel: when this machine's
# platform has no wheel (e.g. a 32-bit Pi), any other platform's wheel will do.
FALLBACK_PLATFORM = "manylinux_2_28_x86_64"


def pip_download(requirement: str, dest: Path) -> Path:
    """Download the wheel of ``requirement`` (no dependencies) with pip into ``dest``."""
    base = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        "3.11",
        "--quiet",
        "--dest",
        str(dest),
    ]
    logger.info("downloading %s with pip (once; pip caches it)", requirement)
    done = subprocess.run([*base, requirement], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        logger.info("no %s wheel for this platform; trying %s", requirement, FALLBACK_PLATFORM)
        cmd = [*base, "--platform", FALLBACK_PLATFORM, requirement]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PoseError(
            f"pip could not download {requirement} (is the package registry reachable? "
            f"or pass --wheel FILE):\n{done.stderr.strip()[-2000:]}"
        )
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise PoseError(f"pip downloaded no wheel for {requirement} into {dest}")
    return wheels[0]


def _is_cached(entry: ModelEntry, folder: Path) -> bool:
    path = folder / entry.name
    if not path.is_file():
        return False
    if sha256_file(path) == entry.sha256:
        return True
    logger.warning("%s does not match its pinned sha256; extracting it again", path)
    return False


def _install(entry: ModelEntry, data: bytes, folder: Path, origin: str) -> Path:
    """Store one file in the cache, verified before it takes its final name."""
    got = hashlib.sha256(data).hexdigest()
    if got != entry.sha256:
        raise PoseError(
            f"{origin} has sha256 {got}, the manifest pins {entry.sha256}; refusing to install it"
        )
    final = folder / entry.name
    final.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so a crash never leaves a half-written model.
    tmp = final.with_name(f".{final.name}.part")
    tmp.write_bytes(data)
    os.replace(tmp, final)
    return final


def _wheel_member(entry: ModelEntry, wheel: Path) -> bytes:
    try:
        with zipfile.ZipFile(wheel) as zf:
            return zf.read(entry.member)
    except KeyError:
        raise PoseError(f"{wheel.name} has no {entry.member}; is it {entry.requirement}?") from None
    except zipfile.BadZipFile as exc:
        raise PoseError(f"{wheel} is not a readable wheel: {exc}") from None


def url_download(url: str, timeout_s: float = 60.0) -> bytes:
    """One pinned file over HTTPS (set-up only; the caller checks its sha256)."""
    logger.info("downloading %s", url)
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            data: bytes = response.read()
    except (urllib.error.URLError, OSError) as exc:
        raise PoseError(
            f"could not download {url}: {exc}; on a node without internet, copy the files "
            "from a machine that has them: fetch-models --coral --from DIR"
        ) from None
    return data


def _from_folder(entry: ModelEntry, folder: Path) -> tuple[bytes, Path]:
    """The entry's file in a local folder laid out like the model cache or like the source
    repository (a checkout of Coral's project-posenet or test_data)."""
    for candidate in (folder / entry.name, folder / entry.member):
        if candidate.is_file():
            return candidate.read_bytes(), candidate
    raise PoseError(
        f"{entry.name} is neither at {folder / entry.name} nor at {folder / entry.member}"
    )


def select(
    entries: Iterable[ModelEntry], group: str = "blazepose", arch: str | None = None
) -> list[ModelEntry]:
    """The manifest entries of ``group``; native libraries only for ``arch``."""
    return [e for e in entries if e.group == group and (e.arch is None or e.arch == arch)]


def fetch_models(
    model_dir: Path | None = None,
    wheel: Path | None = None,
    downloader: Downloader = pip_download,
    manifest: list[ModelEntry] | None = None,
    *,
    group: str = "blazepose",
    arch: str | None = None,
    source_dir: Path | None = None,
    fetch_url: UrlFetcher = url_download,
) -> list[FetchResult]:
    """Make every model of ``group`` present and verified in the cache; idempotent.

    ``wheel`` uses a local wheel file instead of downloading one, ``source_dir`` a local
    folder instead of the pinned URLs (offline set-up). ``arch`` picks the native
    libraries to fetch (default: none).
    """
    entries = select(manifest if manifest is not None else load_manifest(), group, arch)
    folder = resolve_model_dir(model_dir)
    results = [FetchResult(e, folder / e.name, "cached") for e in entries if _is_cached(e, folder)]
    todo = [e for e in entries if e not in {r.entry for r in results}]
    with tempfile.TemporaryDirectory(prefix="dancebooth-wheel-") as tmp:
        wheels: dict[str, Path] = {}
        for entry in todo:
            if entry.url is None:
                if entry.requirement not in wheels:
                    dest = Path(tmp) / str(len(wheels))  # one folder per wheel: no mix-ups
                    dest.mkdir()
                    wheels[entry.requirement] = wheel or downloader(entry.requirement, dest)
                data = _wheel_member(entry, wheels[entry.requirement])
                origin, action = f"{entry.member} in {wheels[entry.requirement].name}", "extracted"
            elif source_dir is not None:
                data, found = _from_folder(entry, source_dir)
                origin, action = str(found), "copied"
            else:
                data, origin, action = fetch_url(entry.url), entry.url, "downloaded"
            path = _install(entry, data, folder, origin)
            logger.info("%s %s (sha256 verified) into %s", action, entry.name, folder)
            results.append(FetchResult(entry, path, action))
    return results
