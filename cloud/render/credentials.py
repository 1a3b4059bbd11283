"""Content credentials: a signed C2PA manifest in every rendition, and reading it back.

A finished MP4 is signed as a separate step (the renderer's frames and encoding are not
touched): :func:`sign_rendition` embeds a C2PA manifest with the official ``c2pa-python``
bindings — the generator's name and version, a ``c2pa.actions`` assertion whose
``c2pa.created`` action has the IPTC ``trainedAlgorithmicMedia`` digital source type, the
booth, the model version, the dance, and an ingredient that refers to the capture
session by its id (never the visitor's address) — hashed over the file's boxes (BMFF
hash), so any change to the delivered bytes fails validation. :func:`read_credentials`
reads a file back (the rendition page, ``dancebooth render verify``).

The signing identity is an ES256 (P-256) end-entity certificate and its key
(:class:`~cloud.settings.CredentialSettings`): production names its own and
:func:`check_identity` refuses a missing, expired, not yet valid or mismatched one at
start-up; the demo and the tests make a private CA and a certificate on first run
(:func:`demo_identity`) and log that they did. A reader reports such a signer as
untrusted (no public trust list holds a private CA); the signature and the hash are
checked all the same.

Errors::

    CredentialsError          the identity or the signing is unusable; says what to do
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

if TYPE_CHECKING:
    from cloud.settings import CloudSettings

logger = logging.getLogger(__name__)

GENERATOR = "dancebooth"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
RENDITION_ASSERTION = "org.dancebooth.rendition"
MIME = "video/mp4"
DEMO_CERT, DEMO_KEY, DEMO_CA = "signer.pem", "signer.key", "ca.pem"


class CredentialsError(Exception):
    """Content credentials cannot be made as configured; the message says what to do."""


def generator_version() -> str:
    try:
        return version("dancebooth")
    except PackageNotFoundError:  # a source checkout run without installing
        return "0+unknown"


# -- the signing identity ------------------------------------------------------------------
@dataclass(frozen=True)
class SigningIdentity:
    """A certificate chain (end entity first) and its private key, both PEM."""

    chain_pem: bytes
    key_pem: bytes
    subject: str  # the end entity's common name: who the page says signed

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificates(self.chain_pem)[0]


def check_identity(cert: Path, key: Path, now: dt.datetime | None = None) -> SigningIdentity:
    """Load and check a signing certificate and key; raise :class:`CredentialsError`
    (naming the file and what to fix) if either is missing, unreadable, expired, not
    yet valid, not ES256 (P-256) or if the key is not the certificate's."""
    now = now or dt.datetime.now(dt.UTC)
    try:
        chain_pem, key_pem = cert.read_bytes(), key.read_bytes()
    except OSError as exc:
        raise CredentialsError(
            f"cannot read the signing certificate or key ({exc}): set credentials.cert and "
            "credentials.key to PEM files (DANCEBOOTH_CLOUD_CREDENTIALS__CERT / __KEY)"
        ) from None
    try:
        certs = x509.load_pem_x509_certificates(chain_pem)
        private = serialization.load_pem_private_key(key_pem, password=None)
    except ValueError as exc:
        raise CredentialsError(f"{cert} / {key}: not a PEM certificate and key ({exc})") from None
    leaf = certs[0]
    if now < leaf.not_valid_before_utc:
        raise CredentialsError(
            f"signing certificate {cert} is not valid before {leaf.not_valid_before_utc:%Y-%m-%d}"
        )
    if now > leaf.not_valid_after_utc:
        raise CredentialsError(
            f"signing certificate {cert} expired on {leaf.not_valid_after_utc:%Y-%m-%d}: "
            "issue a new one and set credentials.cert and credentials.key"
        )
    if not isinstance(private, ec.EllipticCurvePrivateKey) or private.curve.name != "secp256r1":
        raise CredentialsError(f"{key}: renditions are signed ES256, which needs a P-256 EC key")
    public = leaf.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey) or (
        public.public_numbers() != private.public_key().public_numbers()
    ):
        raise CredentialsError(
            f"the key {key} does not belong to the certificate {cert}: give the key the "
            "certificate was issued for"
        )
    names = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    subject = str(names[0].value) if names else leaf.subject.rfc4514_string()
    return SigningIdentity(chain_pem, key_pem, subject)


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, GENERATOR),
        ]
    )


def _usage(signer: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signer,
        crl_sign=not signer,
        encipher_only=False,
        decipher_only=False,
    )


def make_demo_identity(directory: Path, booth: str, days: int = 365) -> tuple[Path, Path]:
    """A private CA and an ES256 end-entity certificate for ``booth`` (C2PA wants a
    non-self-signed, digitalSignature, email-protection signer) in ``directory``; return
    (certificate chain, key)."""
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"{GENERATOR} demo CA ({booth})")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(now + dt.timedelta(days=10 * days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(signer=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(booth))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(signer=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    directory.mkdir(parents=True, exist_ok=True)
    (directory / DEMO_CA).write_bytes(ca.public_bytes(pem))
    (directory / DEMO_CERT).write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
    key_path = directory / DEMO_KEY
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
    return directory / DEMO_CERT, key_path


def demo_identity(directory: Path, booth: str) -> SigningIdentity:
    """The demo's identity in ``directory``, made (and logged) on first run, or again
    when the one there expired."""
    cert, key = directory / DEMO_CERT, directory / DEMO_KEY
    if cert.exists() and key.exists():
        try:
            return check_identity(cert, key)
        except CredentialsError as exc:
            logger.warning("demo signing identity unusable (%s); making a new one", exc)
    make_demo_identity(directory, booth)
    logger.warning(
        "made a private CA and a signing certificate for booth %s in %s (demo only: "
        "production sets credentials.cert and credentials.key)",
        booth,
        directory,
    )
    return check_identity(cert, key)


def signing_identity(settings: CloudSettings) -> SigningIdentity | None:
    """The identity renditions are signed with, or None when the settings explicitly
    allow unsigned delivery and name no certificate."""
    from cloud.settings import Environment

    c = settings.credentials
    if c.cert is not None and c.key is not None:
        return check_identity(c.cert, c.key)
    if c.cert is not None or c.key is not None:
        raise CredentialsError("set both credentials.cert and credentials.key, or neither")
    if c.allow_unsigned:
        return None
    if settings.environment is Environment.PRODUCTION:
        raise CredentialsError(
            "production signs renditions with its own certificate: set credentials.cert and"
            " credentials.key (or credentials.allow_unsigned)"
        )
    return demo_identity(c.demo_dir, settings.booth)


# -- signing -----------------------------------------------------------------------------
@dataclass(frozen=True)
class RenditionFacts:
    """What a rendition's manifest says about it (no personal data)."""

    booth: str
    session_id: str
    model_version: str
    dance: str = ""


def manifest_definition(facts: RenditionFacts) -> dict[str, Any]:
    agent = {"name": GENERATOR, "version": generator_version()}
    session_ref = f"urn:{GENERATOR}:session:{facts.session_id}"
    return {
        "claim_generator_info": [agent],
        "title": f"{GENERATOR} rendition",
        "format": MIME,
        "ingredients": [
            {
                "title": f"capture session {facts.session_id}",
                "format": "application/octet-stream",
                "instance_id": session_ref,
                "relationship": "inputTo",
            }
        ],
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                            "softwareAgent": agent,
                            "description": "a generative model fine-tuned on the visitor's "
                            "capture renders them performing a reference dance",
                        }
                    ]
                },
            },
            {
                "label": RENDITION_ASSERTION,
                "data": {
                    "booth": facts.booth,
                    "model_version": facts.model_version,
                    "dance": facts.dance,
                    "capture_session": facts.session_id,
                },
            },
        ],
    }


def sign_rendition(src: Path, dst: Path, identity: SigningIdentity, facts: RenditionFacts) -> None:
    """Write ``src`` with an embedded, signed C2PA manifest to ``dst`` (not ``src``)."""
    import c2pa  # the native library loads only where renditions are signed or read

    if src.resolve() == dst.resolve():
        raise CredentialsError("sign into another file than the rendition itself")
    info = c2pa.C2paSignerInfo(
        c2pa.C2paSigningAlg.ES256, identity.chain_pem, identity.key_pem, None
    )
    try:
        signer = c2pa.Signer.from_info(info)
        builder = c2pa.Builder(json.dumps(manifest_definition(facts)))
        with src.open("rb") as source, dst.open("w+b") as dest:
            builder.sign(signer, MIME, source, dest)
    except c2pa.C2paError as exc:
        raise CredentialsError(f"signing {src.name} failed: {exc}") from exc


def sign_in_place(path: Path, identity: SigningIdentity, facts: RenditionFacts) -> None:
    """Sign ``path`` (through a temporary file beside it, replaced atomically)."""
    fd, tmp = tempfile.mkstemp(prefix=".signing-", suffix=".mp4", dir=path.parent)
    os.close(fd)
    try:
        sign_rendition(path, Path(tmp), identity, facts)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


# -- reading -----------------------------------------------------------------------------
@dataclass
class Credentials:
    """What a file's content credentials say, as read back from its bytes."""

    state: str  # "valid", "invalid" (tampered, or a bad signature) or "none"
    signer: str | None = None  # the signing certificate's common name
    issuer: str | None = None
    ai_generated: bool = False  # a trainedAlgorithmicMedia action
    booth: str | None = None
    model_version: str | None = None
    capture_session: str | None = None
    generator: str | None = None
    failures: list[str] = field(default_factory=list)  # validation codes that failed
    manifest: dict[str, Any] | None = None

    @property
    def signed(self) -> bool:
        return self.state == "valid"


def read_credentials(path: Path) -> Credentials:
    """Read and validate the C2PA manifest embedded in ``path``."""
    with path.open("rb") as stream:
        return read_stream(stream)


def read_stream(stream: Any) -> Credentials:
    import c2pa

    try:
        reader = c2pa.Reader(MIME, stream)
    except c2pa.C2paError as exc:
        if "ManifestNotFound" in type(exc).__name__ or "no JUMBF" in str(exc):
            return Credentials(state="none")
        return Credentials(state="invalid", failures=[str(exc)])
    with reader:
        manifest = reader.get_active_manifest() or {}
        results = reader.get_validation_results() or {}
        state = str(reader.get_validation_state() or "")
    failures = [
        str(f.get("code"))
        for f in (results.get("activeManifest") or {}).get("failure", [])
        if f.get("code") != "signingCredential.untrusted"  # a private CA: reported apart
    ]
    return _describe(manifest, "invalid" if failures or state == "Invalid" else "valid", failures)


def _describe(manifest: dict[str, Any], state: str, failures: list[str]) -> Credentials:
    creds = Credentials(state=state, failures=failures, manifest=manifest)
    sig = manifest.get("signature_info") or {}
    creds.signer, creds.issuer = sig.get("common_name"), sig.get("issuer")
    generators = manifest.get("claim_generator_info") or [{}]
    creds.generator = " ".join(str(generators[0].get(k, "")) for k in ("name", "version")).strip()
    for assertion in manifest.get("assertions", []):
        label, data = str(assertion.get("label", "")), assertion.get("data") or {}
        if label.startswith("c2pa.actions"):
            creds.ai_generated |= any(
                a.get("digitalSourceType") == TRAINED_ALGORITHMIC_MEDIA
                for a in data.get("actions", [])
            )
        elif label == RENDITION_ASSERTION:
            creds.booth = data.get("booth")
            creds.model_version = data.get("model_version")
            creds.capture_session = data.get("capture_session")
    return creds
