"""The files each deployable of the rehearsal reads, written the way a booth engineer
would: one YAML file per deployable (secrets in it, mode 0600), the broker's accounts from
the project's own writer, and ``infra/mosquitto/production.conf`` with only its paths and
ports moved."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dancebooth.rehearsal.certs import Certificates, write_certificates
from dancebooth.rehearsal.processes import RehearsalError, free_port

REPO = Path(__file__).resolve().parents[2]
PRODUCTION_CONF = REPO / "infra" / "mosquitto" / "production.conf"
BOOTH, NODES, BUCKET = "booth1", ("cam-left", "cam-right"), "dancebooth-rehearsal"
OPERATOR, MAIL_USER = "rehearsal", "booth-mailer"
MARKER = ".dancebooth-rehearsal"


@dataclass(frozen=True)
class Plan:
    """What to start: the sizes and the timings of one rehearsal."""

    directory: Path
    postgres: str  # an admin URL of the local server; the rehearsal's database goes there
    budget_s: float = 60.0
    capture_s: float = 15.0
    countdown_s: float = 3.0
    lease_s: float = 10.0  # a killed worker's job is claimed again this soon
    api_processes: int = 2
    uploaders: int = 2
    workers: int = 2


@dataclass(frozen=True)
class Ports:
    api: int
    mqtt_plain: int
    mqtt_tls: int
    s3: int
    smtp: int
    mirror: int

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api}"

    @property
    def s3_url(self) -> str:
        return f"http://127.0.0.1:{self.s3}"


class Configs:
    """Ports, secrets and every config file of one rehearsal, under ``plan.directory``."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.dir = plan.directory.resolve()
        self.ports = Ports(*(free_port() for _ in range(6)))
        self.password = secrets.token_urlsafe(16)  # the operator's
        self.secrets = {
            k: secrets.token_urlsafe(24) for k in ("s3", "smtp", "api", "mqtt", "mirror")
        }
        self.s3_key_id = "rehearsal-" + secrets.token_hex(4)
        self.database = f"dancebooth_rehearsal_{secrets.token_hex(4)}"
        # Mosquitto started as root reads its files after dropping to its own user.
        self.broker_dir = Path(tempfile.mkdtemp(prefix="dancebooth-rehearsal-broker-"))
        self.certs: Certificates | None = None

    @property
    def cloud_yaml(self) -> Path:
        return self.dir / "cloud.yaml"

    def node_yaml(self, node: str) -> Path:
        return self.dir / "nodes" / f"{node}.yaml"

    @property
    def database_url(self) -> str:
        from sqlalchemy.engine import make_url

        return make_url(self.plan.postgres).set(database=self.database).render_as_string(False)

    def write(self) -> None:
        """A fresh rehearsal directory (only one this command made is ever emptied)."""
        d = self.dir
        if d.exists() and any(d.iterdir()) and not (d / MARKER).exists():
            raise RehearsalError(
                f"{d} is not empty and was not made by 'dancebooth rehearse': pick another --dir"
            )
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        (d / MARKER).write_text("made by 'dancebooth rehearse'; each run empties it\n")
        self.certs = write_certificates(d / "certs")
        from cloud.render.credentials import make_demo_identity

        make_demo_identity(d / "c2pa", BOOTH)  # production names its own signing certificate
        passwords = self._write_broker_files()
        _write_private(self.cloud_yaml, self.cloud_config())
        for node in NODES:
            _write_private(self.node_yaml(node), self.node_config(node, passwords))

    def cloud_config(self) -> dict[str, Any]:
        """``cloud.yaml``: what the API, the uploaders and the workers share."""
        from common.reference import list_references

        p, ca = self.plan, str(self.dir / "certs" / "ca.crt")
        return {
            "booth": BOOTH,
            "database": {"url": self.database_url},
            "storage": {
                "type": "s3",
                "bucket": BUCKET,
                "endpoint_url": self.ports.s3_url,
                "access_key_id": self.s3_key_id,
                "secret_access_key": self.secrets["s3"],
            },
            "mqtt": {
                "host": "127.0.0.1",
                "port": self.ports.mqtt_tls,
                "username": "cloud",
                "password": self.secrets["mqtt"],
                "tls": {"ca_file": ca},
            },
            "mail": {
                "type": "smtp",
                "host": "127.0.0.1",
                "port": self.ports.smtp,
                "security": "starttls",
                "username": MAIL_USER,
                "password": self.secrets["smtp"],
                "ca_file": ca,
                "sender": "dancebooth <booth@rehearsal.example>",
                "timeout_s": 8.0,
            },
            # A refused email is retried from the outbox: 2, 4, 8 … s apart, well past the
            # relay's 60 s refusal fault.
            "delivery": {"mail_attempts": 10, "mail_backoff_s": 2.0, "flush_every_s": 1.0},
            "api": {
                "host": "127.0.0.1",
                "port": self.ports.api,
                "public_url": self.ports.api_url,
                "secret_key": self.secrets["api"],
                "countdown_s": p.countdown_s,
                "capture_mode": "free",  # free-style synthetic visitors, --capture seconds
                "capture_s": p.capture_s,
                "kiosk_per_minute": 120,
            },
            "training": {
                "device": "cpu",
                "resolution": 128,
                "budget_s": p.budget_s,
                "booth_checkpoint": str(REPO / "models" / "booth-128.safetensors"),
            },
            "worker": {
                "dance": list_references()[0].name,
                "poll_s": 0.5,
                "heartbeat_s": 2.0,
                "lease_s": p.lease_s,
            },
            "uploader": {"resend_after_s": 1.0},
            # Free-style synthetic visitors: QA's verdict is recorded, the line not held.
            "qa": {"auto_accept": True},
            "credentials": {
                "cert": str(self.dir / "c2pa" / "signer.pem"),
                "key": str(self.dir / "c2pa" / "signer.key"),
            },
        }

    def node_config(self, node: str, passwords: dict[str, str]) -> dict[str, Any]:
        """``nodes/<node>.yaml``: its own broker account, over TLS."""
        user = f"{BOOTH}.{node}"
        return {
            "node": {"booth": BOOTH, "node": node},
            "mqtt": {
                "host": "127.0.0.1",
                "port": self.ports.mqtt_tls,
                "username": user,
                "password": passwords[user],
                "tls": {"ca_file": str(self.dir / "certs" / "ca.crt")},
            },
            "source": {"type": "synthetic", "seed": 0, "realtime": True},
            "pose": {"type": "replay", "noise": True, "seed": 1000 + NODES.index(node)},
            "capture": {"width": 256, "height": 256, "fps": 30.0},
            "spool": {"path": str(self.dir / "spool" / node)},
            "publisher": {"stats_interval_s": 1.0, "reconnect_max_s": 2},
        }

    def _write_broker_files(self) -> dict[str, str]:
        """passwd + ACL (the project's writer), certificates, production.conf relocated."""
        from cloud.mqtt.accounts import BrokerAccounts, write_broker_config

        b = self.broker_dir
        passwords = write_broker_config(
            BrokerAccounts(BOOTH, NODES),
            b / "broker",
            {"cloud": self.secrets["mqtt"], "mirror": self.secrets["mirror"]},
        )
        for name in ("ca.crt", "server.crt", "server.key"):
            shutil.copy(self.dir / "certs" / name, b / name)
        (b / "data").mkdir()
        text = relocate(PRODUCTION_CONF.read_text(), b, self.ports.mqtt_plain, self.ports.mqtt_tls)
        (b / "mosquitto.conf").write_text(text)
        for path in [b, *b.rglob("*")]:
            path.chmod(0o777 if path.is_dir() else 0o644)
        (self.dir / "mosquitto.conf").write_text(text)  # a copy to read afterwards
        return passwords

    def remove_broker_files(self) -> None:
        shutil.rmtree(self.broker_dir, ignore_errors=True)


def _write_private(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(data, f, sort_keys=False)


def relocate(conf: str, root: Path, plain: int, tls: int) -> str:
    """production.conf with its files under ``root``, its listeners on loopback ports and
    its log on stdout; every other line (auth, ACL, limits, TLS version) as shipped."""
    out = []
    for line in conf.splitlines():
        words = line.split()
        key = words[0] if words else ""
        if key in ("password_file", "acl_file") and len(words) == 2:
            line = f"{key} {root / 'broker' / Path(words[1]).name}"
        elif key in ("certfile", "keyfile", "cafile") and len(words) == 2:
            line = f"{key} {root / Path(words[1]).name}"
        elif key == "persistence_location":
            line = f"persistence_location {root / 'data'}/"
        elif key == "log_dest":
            line = "log_dest stdout"
        elif words[:2] == ["listener", "1883"]:
            line = f"listener {plain} 127.0.0.1"
        elif words[:2] == ["listener", "8883"]:
            line = f"listener {tls} 127.0.0.1"
        out.append(line)
    return "\n".join(out) + "\n"
