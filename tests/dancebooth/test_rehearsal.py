"""``dancebooth rehearse``: its parts (relay, broker config, signature check, supervisor,
the last line) and a CI-sized rehearsal of the whole production topology with faults."""

from __future__ import annotations

import os
import smtplib
import ssl
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from dancebooth.rehearsal.certs import write_certificates
from dancebooth.rehearsal.checks import Checker, FrameCount, Outcome
from dancebooth.rehearsal.configs import PRODUCTION_CONF, relocate
from dancebooth.rehearsal.driver import Visitor
from dancebooth.rehearsal.faults import Fault
from dancebooth.rehearsal.processes import Service, Supervisor, free_port
from dancebooth.rehearsal.relay import Relay
from dancebooth.rehearsal.report import verdict
from tests.services import REPO, missing, mosquitto_binary, postgres_available

# What the README calls the CI size (≤ 6 minutes on this 2-core machine when idle).
CI_SIZE = "--visitors 2 --budget 40 --capture 8 --refuse 20 --timeout 330"


def _send(port: int, ca: Path, password: str = "pw", to: str = "v@example.com") -> None:
    smtp = smtplib.SMTP("127.0.0.1", port, timeout=5)
    try:
        smtp.starttls(context=ssl.create_default_context(cafile=str(ca)))
        smtp.login("booth", password)
        body = f"To: {to}\r\nSubject: your video\r\n\r\nhttp://127.0.0.1:8000/r/AbC_123-xyz\r\n"
        smtp.sendmail("booth@example.com", [to], body.encode())
    finally:
        smtp.close()


def test_the_relay_wants_starttls_and_login_and_can_refuse_then_go_silent(
    tmp_path: Path,
) -> None:
    certs = write_certificates(tmp_path / "certs")
    relay = Relay(tmp_path / "mail", certs.cert, certs.key, "booth", "pw", free_port()).start()
    try:
        with pytest.raises(smtplib.SMTPAuthenticationError):
            _send(relay.port, certs.ca, password="wrong")
        plain = smtplib.SMTP("127.0.0.1", relay.port, timeout=5)
        with pytest.raises(smtplib.SMTPException):  # no login before STARTTLS
            plain.login("booth", "pw")
        plain.close()
        _send(relay.port, certs.ca)
        relay.refuse_for(1.0, then_drop_one=True)
        with pytest.raises(smtplib.SMTPDataError, match="451"):
            _send(relay.port, certs.ca)
        time.sleep(1.1)
        relay.hold_s = 0.5
        with pytest.raises(smtplib.SMTPServerDisconnected):
            _send(relay.port, certs.ca)
        _send(relay.port, certs.ca)
        mail = relay.mail_to("V@example.com")
        assert len(mail) == 2 and relay.refused == 1 and relay.dropped == 1
        assert mail[0].links == ("http://127.0.0.1:8000/r/AbC_123-xyz",)
        assert mail[0].path.read_bytes().startswith(b"To: v@example.com")
    finally:
        relay.stop()


def test_production_conf_moves_only_its_paths_and_ports(tmp_path: Path) -> None:
    shipped = PRODUCTION_CONF.read_text()
    text = relocate(shipped, tmp_path, 1111, 2222)
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert "allow_anonymous false" in lines and "require_certificate false" in lines
    assert f"acl_file {tmp_path}/broker/acl" in lines
    assert f"password_file {tmp_path}/broker/passwd" in lines
    assert "listener 1111 127.0.0.1" in lines and "listener 2222 127.0.0.1" in lines
    assert not [ln for ln in lines if " /etc/" in ln or " /var/" in ln]
    kept = [ln for ln in shipped.splitlines() if ln.split()[:1] in (["max_queued_messages"],)]
    assert kept and all(ln in lines for ln in kept)


class _Keys:
    """What the checker needs of a topology to verify a presigned URL."""

    def __init__(self) -> None:
        self.s3_key_id = "rehearsal-key"
        self.secrets = {"s3": "the-deployments-secret"}


def _presigned(secret: str) -> str:
    client = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="rehearsal-key",
        aws_secret_access_key=secret,
        config=Config(signature_version="s3v4"),
    )
    params = {"Bucket": "dancebooth-rehearsal", "Key": "sessions/s1/renditions/a b.mp4"}
    url: str = client.generate_presigned_url("get_object", Params=params, ExpiresIn=900)
    return url


def test_a_link_signed_with_a_masked_s3_secret_is_caught() -> None:
    checker = Checker.__new__(Checker)
    checker.topology = _Keys()  # type: ignore[assignment]
    assert checker.signed_by_deployment(_presigned("the-deployments-secret"))
    # What an API process signs with when its settings lost the secret in transit.
    assert not checker.signed_by_deployment(_presigned("**********"))
    assert not checker.signed_by_deployment("http://127.0.0.1:9/bucket/key")


def test_the_supervisor_restarts_a_killed_service(tmp_path: Path) -> None:
    supervisor = Supervisor()
    try:
        argv = [sys.executable, "-c", "import time; time.sleep(60)"]
        svc = supervisor.start(
            Service("sleeper", argv, tmp_path / "sleeper.log", restart_after_s=0)
        )
        first = svc.kill()
        deadline = time.monotonic() + 10
        while not (svc.running() and svc.pid != first) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert svc.running() and svc.pid != first and svc.starts == 2
        assert svc.deaths and svc.deaths[0][1] == -9
    finally:
        supervisor.stop_all()
    assert not svc.running()


def _outcome(number: int, **kw: object) -> Outcome:
    visitor = Visitor(number, f"s{number}", f"v{number}@example.com", deletes=number == 3)
    return Outcome(visitor, **kw)  # type: ignore[arg-type]


def test_the_last_line_counts_what_was_measured() -> None:
    good = _outcome(
        1,
        state="delivered",
        mails=1,
        delivered=True,
        plays=True,
        frames={"cam-left": FrameCount(10, 10, 10)},
    )
    twice = _outcome(
        2,
        state="delivered",
        mails=2,
        delivered=True,
        plays=True,
        frames={"cam-left": FrameCount(10, 9, 10, lost=1)},
    )
    deleted = _outcome(3, state="deleted", left=["2 dead letters"])
    fault = Fault("worker killed", lambda: True, lambda: "")
    result = verdict([good, twice, deleted], [fault], [])
    assert result.line == (
        "rehearsal: 2/2 delivered, 2/2 links play, 1 frames lost, 1 duplicate mails, "
        "1 left after delete"
    )
    assert not result.ok
    assert "fault not injected: worker killed (its moment never came)" in result.failures
    clean = verdict([good, _outcome(3, state="deleted")], [], [])
    assert clean.ok and clean.line.endswith("0 duplicate mails, 0 left after delete")
    assert clean.line.startswith("rehearsal: 1/1 delivered, 1/1 links play, 0 frames lost")


@pytest.mark.slow
@pytest.mark.services
@pytest.mark.timeout(420)
def test_a_ci_sized_rehearsal_delivers_every_visitor_despite_the_faults(tmp_path: Path) -> None:
    """Two visitors (and one who deletes their data), every fault once, in < 6 minutes."""
    if mosquitto_binary() is None:
        missing("mosquitto", "apt-get install mosquitto")
    if not postgres_available():
        missing("PostgreSQL at 127.0.0.1:5432", "apt-get install postgresql")
    cmd = [sys.executable, "-m", "dancebooth", "rehearse", *CI_SIZE.split()]
    cmd += ["--dir", str(tmp_path / "r")]
    done = subprocess.run(
        cmd,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=400,
        env={**os.environ, "COLUMNS": "160"},
    )
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert last == (
        "rehearsal: 2/2 delivered, 2/2 links play, 0 frames lost, 0 duplicate mails, "
        "0 left after delete"
    )
    assert "live mirror wore visitor 1's model" in done.stdout  # and took it off on deletion
