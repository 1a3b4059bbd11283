"""Coral's files: which model for which camera and device, where the decoder library is
looked for, and how the model cache gets them (pinned, sha256-checked)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from dancebooth.cli import cli
from edge.pose.base import PoseError
from edge.pose.coral import (
    cpu_variant,
    decoder_relpath,
    elf_arch,
    machine_arch,
    movenet_file,
    posenet_for,
    resolve_decoder,
)
from edge.pose.models import ModelEntry, fetch_models, load_manifest, select, sha256_file
from tests.edge.pose.coral_files import FIXTURES
from tests.edge.pose.fakes import elf_library


def test_the_posenet_input_follows_the_camera_shape() -> None:
    assert posenet_for(640, 480).width == 641
    assert posenet_for(1280, 720).width == 1281
    assert posenet_for(1920, 1080).width == 1281
    assert posenet_for(800, 600).width == 641
    assert posenet_for(480, 640).width == 641  # portrait: the less wide of the two


def test_cpu_and_edgetpu_variants_by_coral_naming() -> None:
    tpu = Path("/m/posenet_mobilenet_v1_075_481_641_quant_decoder_edgetpu.tflite")
    assert cpu_variant(tpu).name == "posenet_mobilenet_v1_075_481_641_quant_decoder.tflite"
    assert cpu_variant(Path("/m/x.tflite")) == Path("/m/x.tflite")
    assert movenet_file("edgetpu") == "movenet_single_pose_lightning_ptq_edgetpu.tflite"
    assert cpu_variant(Path(movenet_file("edgetpu"))).name == movenet_file("cpu")


def test_machine_names_map_to_coral_folders() -> None:
    assert machine_arch("x86_64") == machine_arch("AMD64") == "x86_64"
    assert machine_arch("aarch64") == machine_arch("arm64") == "aarch64"
    assert machine_arch("armv7l") == "armv7a"


def test_a_relative_decoder_setting_is_made_absolute_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = elf_library(tmp_path / "libs" / "posenet_decoder.so")
    monkeypatch.chdir(tmp_path)
    resolved = resolve_decoder(Path("libs/posenet_decoder.so"), None)
    assert resolved.is_absolute() and resolved == lib.resolve()


def test_the_default_decoder_is_looked_for_in_the_model_cache_and_the_error_says_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The old default was the bare name "posenet_decoder.so": checked in the working
    # directory, then handed to dlopen, which never looks there.
    monkeypatch.chdir(tmp_path)
    elf_library(tmp_path / "posenet_decoder.so")
    cache = tmp_path / "cache"
    expected = cache / decoder_relpath(machine_arch())
    with pytest.raises(PoseError) as err:
        resolve_decoder(None, cache)
    message = str(err.value)
    assert str(expected.resolve()) in message and "fetch-models --coral" in message
    assert f"the default for {machine_arch()} in the model cache" in message
    with pytest.raises(PoseError, match=r"relative to the working directory"):
        resolve_decoder(Path("nope/posenet_decoder.so"), cache)


def test_the_cached_decoder_is_checked_against_its_pin(tmp_path: Path) -> None:
    arch = machine_arch()
    path = elf_library(tmp_path / decoder_relpath(arch))
    with pytest.raises(PoseError, match="pinned sha256"):
        resolve_decoder(None, tmp_path)
    assert path.exists()


def test_a_decoder_for_another_cpu_says_which_one_it_is(tmp_path: Path) -> None:
    other = "aarch64" if machine_arch() != "aarch64" else "x86_64"
    lib = elf_library(tmp_path / "posenet_decoder.so", other)
    assert elf_arch(lib) == other
    with pytest.raises(PoseError, match=rf"built for {other}, this machine is {machine_arch()}"):
        resolve_decoder(lib, None)
    text = tmp_path / "notes.so"
    text.write_text("not a library")
    with pytest.raises(PoseError, match="not a shared library"):
        resolve_decoder(text, None)


def test_the_manifest_pins_every_coral_file() -> None:
    coral = [e for e in load_manifest() if e.group == "coral"]
    names = {e.name for e in coral}
    for arch in ("x86_64", "aarch64", "armv7a"):
        assert str(decoder_relpath(arch)) in names
    assert {movenet_file("cpu"), movenet_file("edgetpu")} <= names
    for e in coral:
        assert e.url and e.url.startswith("https://raw.githubusercontent.com/google-coral/")
        assert len(e.sha256) == 64 and e.licence == "Apache-2.0"
    # Only this machine's decoder library is fetched for it.
    mine = select(coral, "coral", "x86_64")
    assert [e.arch for e in mine if e.arch] == ["x86_64"]
    # The committed fixtures are those very files.
    for e in mine:
        assert sha256_file(FIXTURES / e.name) == e.sha256, e.name


def test_fetch_coral_from_a_local_folder_verifies_and_is_idempotent(tmp_path: Path) -> None:
    first = fetch_models(tmp_path, group="coral", arch="x86_64", source_dir=FIXTURES)
    assert {r.action for r in first} == {"copied"}
    assert (tmp_path / "posenet_lib" / "x86_64" / "posenet_decoder.so").is_file()
    second = fetch_models(tmp_path, group="coral", arch="x86_64", source_dir=FIXTURES)
    assert {r.action for r in second} == {"cached"}


def test_a_tampered_or_missing_source_file_is_refused(tmp_path: Path) -> None:
    data = b"weights"
    entry = ModelEntry(
        "m.tflite",
        "",
        "models/m.tflite",
        hashlib.sha256(data).hexdigest(),
        "Apache-2.0",
        url="https://example.invalid/m.tflite",
        group="coral",
    )
    src = tmp_path / "src"
    (src / "models").mkdir(parents=True)
    (src / "models" / "m.tflite").write_bytes(b"tampered")
    cache = tmp_path / "cache"
    with pytest.raises(PoseError, match="refusing"):
        fetch_models(cache, manifest=[entry], group="coral", source_dir=src)
    assert not (cache / "m.tflite").exists()
    with pytest.raises(PoseError, match="neither at"):
        fetch_models(cache, manifest=[entry], group="coral", source_dir=tmp_path / "empty")


@pytest.fixture
def http_folder(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on localhost serving a folder."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_coral_downloads_the_pinned_urls(
    http_folder: tuple[str, Path], tmp_path: Path
) -> None:
    base, root = http_folder
    data = (FIXTURES / movenet_file("cpu")).read_bytes()
    (root / "movenet.tflite").write_bytes(data)
    entry = ModelEntry(
        movenet_file("cpu"),
        "",
        "movenet.tflite",
        hashlib.sha256(data).hexdigest(),
        "Apache-2.0",
        url=f"{base}/movenet.tflite",
        group="coral",
    )
    missing = ModelEntry(
        "gone.tflite",
        "",
        "gone.tflite",
        "0" * 64,
        "Apache-2.0",
        url=f"{base}/gone.tflite",
        group="coral",
    )
    cache = tmp_path / "cache"
    (result,) = fetch_models(cache, manifest=[entry], group="coral")
    assert result.action == "downloaded" and sha256_file(result.path) == entry.sha256
    with pytest.raises(PoseError, match=r"could not download .*gone\.tflite.*--from DIR"):
        fetch_models(cache, manifest=[missing], group="coral")


def test_cli_fetch_models_coral_from_a_folder(tmp_path: Path) -> None:
    args = [
        "edge",
        "fetch-models",
        "--coral",
        "--from",
        str(FIXTURES),
        "--arch",
        "x86_64",
        "--model-dir",
        str(tmp_path),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    actions = [line.split()[0] for line in result.output.splitlines() if "sha256 " in line]
    assert actions.count("copied") == 7
    assert "posenet_lib/x86_64/posenet_decoder.so" in result.output
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0
    assert [ln.split()[0] for ln in again.output.splitlines() if "…" in ln] == ["cached"] * 7
    fresh = [*args[:4], str(tmp_path / "nowhere"), *args[5:-1], str(tmp_path / "fresh")]
    bad = CliRunner().invoke(cli, fresh)
    assert bad.exit_code != 0 and "neither at" in bad.output
