"""Model set-up: extraction from a wheel, sha256 pinning, idempotence, clear errors."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from edge.pose.base import PoseError
from edge.pose.models import (
    MODEL_DIR_ENV,
    ModelEntry,
    default_model_dir,
    fetch_models,
    load_manifest,
    model_path,
)

DET = b"detector weights " * 100
LMK = b"landmark weights " * 200


def entry(name: str, member: str, data: bytes) -> ModelEntry:
    return ModelEntry(name, "fakepkg==1.0", member, hashlib.sha256(data).hexdigest(), "Apache-2.0")


MANIFEST = [entry("det.tflite", "pkg/det.tflite", DET), entry("lmk.tflite", "pkg/lmk.tflite", LMK)]


class WheelIndex:
    """A real downloader over local wheels: counts how often it is asked."""

    def __init__(self, members: dict[str, bytes]) -> None:
        self.members = members
        self.calls = 0

    def __call__(self, requirement: str, dest: Path) -> Path:
        self.calls += 1
        wheel = dest / "fakepkg-1.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            for name, data in self.members.items():
                zf.writestr(name, data)
        return wheel


def test_fetch_extracts_verifies_and_is_idempotent(tmp_path: Path) -> None:
    index = WheelIndex({"pkg/det.tflite": DET, "pkg/lmk.tflite": LMK, "pkg/other": b"x"})
    first = fetch_models(tmp_path, downloader=index, manifest=MANIFEST)
    assert [r.action for r in first] == ["extracted", "extracted"]
    assert index.calls == 1  # one wheel for both files
    assert (tmp_path / "det.tflite").read_bytes() == DET
    assert not (tmp_path / "other").exists()
    second = fetch_models(tmp_path, downloader=index, manifest=MANIFEST)
    assert [r.action for r in second] == ["cached", "cached"]
    assert index.calls == 1


def test_corrupt_cached_file_is_replaced(tmp_path: Path) -> None:
    index = WheelIndex({"pkg/det.tflite": DET, "pkg/lmk.tflite": LMK})
    fetch_models(tmp_path, downloader=index, manifest=MANIFEST)
    (tmp_path / "lmk.tflite").write_bytes(b"truncated")
    results = fetch_models(tmp_path, downloader=index, manifest=MANIFEST)
    assert {r.entry.name: r.action for r in results} == {
        "det.tflite": "cached",
        "lmk.tflite": "extracted",
    }
    assert (tmp_path / "lmk.tflite").read_bytes() == LMK


def test_wrong_hash_in_wheel_is_refused_and_nothing_written(tmp_path: Path) -> None:
    index = WheelIndex({"pkg/det.tflite": b"tampered", "pkg/lmk.tflite": LMK})
    with pytest.raises(PoseError, match="refusing"):
        fetch_models(tmp_path, downloader=index, manifest=MANIFEST)
    assert not (tmp_path / "det.tflite").exists()
    assert not list(tmp_path.glob(".*part"))


def test_member_missing_from_wheel(tmp_path: Path) -> None:
    index = WheelIndex({"pkg/det.tflite": DET})
    with pytest.raises(PoseError, match=r"has no pkg/lmk\.tflite"):
        fetch_models(tmp_path, downloader=index, manifest=MANIFEST)
    # What was verified before the failure stays.
    assert (tmp_path / "det.tflite").read_bytes() == DET


def test_local_wheel_instead_of_download(tmp_path: Path) -> None:
    wheel = WheelIndex({"pkg/det.tflite": DET, "pkg/lmk.tflite": LMK})("fakepkg==1.0", tmp_path)

    def no_network(requirement: str, dest: Path) -> Path:
        raise AssertionError("must not download when a wheel is given")

    out = tmp_path / "models"
    results = fetch_models(out, wheel=wheel, downloader=no_network, manifest=MANIFEST)
    assert all(r.action == "extracted" for r in results)


def test_missing_model_says_to_fetch(tmp_path: Path) -> None:
    with pytest.raises(PoseError, match="dancebooth edge fetch-models"):
        model_path("pose_detection.tflite", tmp_path)


def test_replaced_model_is_detected(tmp_path: Path) -> None:
    (tmp_path / "pose_detection.tflite").write_bytes(b"not the model")
    with pytest.raises(PoseError, match="sha256"):
        model_path("pose_detection.tflite", tmp_path)


def test_model_dir_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(MODEL_DIR_ENV, str(tmp_path / "m"))
    assert default_model_dir() == tmp_path / "m"
    monkeypatch.delenv(MODEL_DIR_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_model_dir() == tmp_path / "dancebooth" / "models"


def test_manifest_pins_the_blazepose_files() -> None:
    entries = {e.name: e for e in load_manifest() if e.group == "blazepose"}
    assert set(entries) == {"pose_detection.tflite", "pose_landmark_full.tflite"}
    for e in entries.values():
        assert e.requirement == "mediapipe==0.10.21"
        assert e.licence == "Apache-2.0"
        assert len(e.sha256) == 64 and int(e.sha256, 16) >= 0
