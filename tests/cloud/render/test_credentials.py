"""Content credentials: a signed C2PA manifest in a real rendition, read back and checked."""

from __future__ import annotations

import datetime as dt
import io
import logging
from pathlib import Path

import av
import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError

from benchmarks.render import bench_dance
from cloud.render.credentials import (
    DEMO_KEY,
    CredentialsError,
    RenditionFacts,
    check_identity,
    demo_identity,
    make_demo_identity,
    read_credentials,
    read_stream,
    sign_rendition,
    signing_identity,
)
from cloud.render.generator import PosePainter
from cloud.render.renderer import render
from cloud.render.verify_cli import render as render_group
from cloud.render.video import RenditionTags
from cloud.settings import CloudSettings

FACTS = RenditionFacts("booth1", "s-42", "painter-128", "wave-party")


@pytest.fixture(scope="module")
def rendition(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the unsigned MP4 as the renderer made it, the same signed)."""
    d = tmp_path_factory.mktemp("credentials")
    plain, signed = d / "plain.mp4", d / "signed.mp4"
    render(PosePainter(128), bench_dance(24, 128), plain, fps=25, tags=RenditionTags("s-42", "p"))
    sign_rendition(plain, signed, demo_identity(d / "ca", "booth1"), FACTS)
    return plain, signed


def test_the_manifest_says_who_signed_and_that_it_is_ai_generated(
    rendition: tuple[Path, Path],
) -> None:
    creds = read_credentials(rendition[1])
    assert creds.state == "valid" and creds.failures == []
    assert creds.signer == "booth1" and creds.ai_generated
    assert (creds.booth, creds.model_version, creds.capture_session) == (
        "booth1",
        "painter-128",
        "s-42",
    )
    assert creds.generator is not None and creds.generator.startswith("dancebooth ")
    assert creds.manifest is not None
    ingredients = creds.manifest["ingredients"]
    assert ingredients[0]["instance_id"] == "urn:dancebooth:session:s-42"
    assert "@" not in str(creds.manifest)  # no address anywhere
    assert read_credentials(rendition[0]).state == "none"


def _flipped(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    out[at] ^= 0xFF
    return bytes(out)


def test_the_signature_covers_the_delivered_bytes(rendition: tuple[Path, Path]) -> None:
    data = rendition[1].read_bytes()
    mdat, moov = data.find(b"mdat"), data.find(b"moov")
    assert mdat > 0 and moov > 0
    for at in (mdat + 64, (mdat + len(data)) // 2, len(data) - 10, moov + 40):
        creds = read_stream(io.BytesIO(_flipped(data, at)))
        assert creds.state != "valid", at
    tampered = read_stream(io.BytesIO(_flipped(data, mdat + 64)))
    assert tampered.state == "invalid" and "assertion.bmffHash.mismatch" in tampered.failures


def test_re_encoding_loses_the_credentials(rendition: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "re-encoded.mp4"
    with av.open(str(rendition[1])) as src, av.open(str(out), "w") as dst:
        stream = dst.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 128, 128, "yuv420p"
        for frame in src.decode(video=0):
            dst.mux(stream.encode(frame.reformat(128, 128, "yuv420p")))
        dst.mux(stream.encode(None))
    assert read_credentials(out).state == "none"


def test_demo_identity_is_made_once_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="cloud.render.credentials"):
        first = demo_identity(tmp_path, "booth1")
        again = demo_identity(tmp_path, "booth1")
    assert caplog.text.count("made a private CA") == 1
    assert first == again and first.subject == "booth1"
    assert (tmp_path / DEMO_KEY).stat().st_mode & 0o077 == 0


def _expired(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "old")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(now - dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    c, k = tmp_path / "old.pem", tmp_path / "old.key"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return c, k


def test_expired_and_mismatched_certificates_are_refused(tmp_path: Path) -> None:
    cert, key = _expired(tmp_path)
    with pytest.raises(CredentialsError, match="expired on"):
        check_identity(cert, key)
    good_cert, _ = make_demo_identity(tmp_path / "a", "booth1")
    _, other_key = make_demo_identity(tmp_path / "b", "booth1")
    with pytest.raises(CredentialsError, match="does not belong to the certificate"):
        check_identity(good_cert, other_key)
    with pytest.raises(CredentialsError, match="cannot read"):
        check_identity(tmp_path / "missing.pem", other_key)


def _production(tmp_path: Path, **credentials: object) -> CloudSettings:
    return CloudSettings.model_validate(
        {
            "environment": "production",
            "database": {"url": "postgresql+psycopg://u:Str0ng-db-password@db/x"},
            "mqtt": {"password": "Str0ng-mqtt-password"},
            "api": {
                "secret_key": "k" * 12 + "-Str0ng-secret-key-0123456789",
                "public_url": "https://b.example.org",
            },
            "credentials": credentials,
        }
    )


def test_production_refuses_to_start_without_a_good_certificate(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"production requires credentials.cert"):
        _production(tmp_path)
    cert, key = _expired(tmp_path)
    expired = _production(tmp_path, cert=str(cert), key=str(key))
    with pytest.raises(CredentialsError, match="expired on"):  # when the worker starts
        signing_identity(expired)
    good_cert, good_key = make_demo_identity(tmp_path / "ok", "booth1")
    good = _production(tmp_path, cert=str(good_cert), key=str(good_key))
    assert signing_identity(good) is not None
    assert signing_identity(_production(tmp_path, allow_unsigned=True)) is None


def test_render_verify_prints_the_manifest_and_its_state(rendition: tuple[Path, Path]) -> None:
    runner = CliRunner()
    ok = runner.invoke(render_group, ["verify", str(rendition[1])])
    assert ok.exit_code == 0, ok.output
    assert "content credentials valid" in ok.output
    assert "signed by:      booth1" in ok.output and "trainedAlgorithmicMedia" in ok.output
    none = runner.invoke(render_group, ["verify", str(rendition[0])])
    assert none.exit_code == 1 and "content credentials none" in none.output
