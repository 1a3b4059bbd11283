"""The production topology on this machine: what runs, in which order, and its teardown.

Mosquitto with ``infra/mosquitto/production.conf`` (per-node accounts, the ACL, TLS), a
fresh PostgreSQL database on the local server (dropped afterwards), a moto S3 endpoint
with the bucket, the SMTP relay (:mod:`.relay`), then ``dancebooth cloud api --workers
2``, two uploaders on the shared subscription, two workers, the live mirror of the first
node (the broker's read-only ``mirror`` account) and two edge nodes on the synthetic
source: each its own process (:mod:`.processes`), each reading the files
:mod:`.configs` wrote, the per-process bits in its environment.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dancebooth.rehearsal.configs import BUCKET, MAIL_USER, NODES, OPERATOR, Configs, Plan
from dancebooth.rehearsal.processes import (
    RehearsalError,
    Service,
    Supervisor,
    dancebooth,
    wait_for_port,
)
from dancebooth.rehearsal.relay import Relay

logger = logging.getLogger(__name__)

# A part that has not started after this long will not: on a 2-core machine shared with
# other work, the API's two processes took over 60 s to import and listen.
STARTUP_S = 180.0


class Topology(Configs):
    """The configs of a rehearsal and the processes started from them: :meth:`start`,
    :meth:`stop`, :meth:`drop_database`."""

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan)
        self.logs = self.dir / "logs"
        self.supervisor = Supervisor()
        self.relay: Relay | None = None
        self._created_db = False

    # -- start -----------------------------------------------------------------------------
    def start(self, say: Callable[[str], None]) -> None:
        """Everything, in dependency order; ``say`` gets one line per part."""
        self._start_stores()
        say(f"S3 (moto) {self.ports.s3_url} bucket {BUCKET}; PostgreSQL database {self.database}")
        self._start_broker()
        say(f"Mosquitto (production.conf): TLS :{self.ports.mqtt_tls}, per-node accounts + ACL")
        for node in NODES:  # the slowest to start: they need only the broker
            self.supervisor.start(
                Service(
                    f"node-{node}",
                    dancebooth("edge", "run", "-c", str(self.node_yaml(node))),
                    self.logs / f"node-{node}.log",
                )
            )
        say(f"edge nodes {', '.join(NODES)} (synthetic source, replay pose, MQTT over TLS)")
        assert self.certs is not None, "write() the configs first"
        self.relay = Relay(
            self.dir / "relay",
            self.certs.cert,
            self.certs.key,
            MAIL_USER,
            self.secrets["smtp"],
            self.ports.smtp,
        ).start()
        say(f"SMTP relay :{self.ports.smtp} (STARTTLS + login)")
        self._run_once(  # migrates the database first, as the cloud services would
            "operator",
            "cloud",
            "operator",
            "add",
            OPERATOR,
            "-c",
            str(self.cloud_yaml),
            env={"DANCEBOOTH_OPERATOR_PASSWORD": self.password},
        )
        self._start_cloud()
        say(
            f"API ({self.plan.api_processes} processes) {self.ports.api_url}; "
            f"{self.plan.uploaders} uploaders; {self.plan.workers} workers; "
            f"live mirror of {NODES[0]} :{self.ports.mirror}"
        )

    def _start_stores(self) -> None:
        from sqlalchemy import create_engine, text

        port = str(self.ports.s3)
        moto = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
        if not Path(moto).exists():
            raise RehearsalError("moto_server is missing: pip install 'dancebooth[rehearse]'")
        s3 = self.supervisor.start(
            Service("s3", [moto, "-H", "127.0.0.1", "-p", port], self.logs / "s3.log")
        )
        admin = create_engine(self.plan.postgres, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.database}"'))
        except Exception as exc:
            raise RehearsalError(
                f"cannot create a database at {self.plan.postgres}: {exc}"
            ) from None
        finally:
            admin.dispose()
        self._created_db = True
        wait_for_port(int(port), STARTUP_S, "moto_server", s3)
        self.s3_client().create_bucket(Bucket=BUCKET)

    def s3_client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.ports.s3_url,
            region_name="us-east-1",
            aws_access_key_id=self.s3_key_id,
            aws_secret_access_key=self.secrets["s3"],
            config=Config(signature_version="s3v4"),
        )

    def _start_broker(self) -> None:
        from cloud.mqtt.mosquitto import mosquitto_binary

        argv = [mosquitto_binary(), "-c", str(self.broker_dir / "mosquitto.conf")]
        svc = self.supervisor.start(Service("mosquitto", argv, self.logs / "mosquitto.log"))
        wait_for_port(self.ports.mqtt_tls, 30, "mosquitto", svc)

    def restart_broker(self) -> None:
        self.supervisor.restart("mosquitto")
        wait_for_port(self.ports.mqtt_tls, 30, "mosquitto", self.supervisor["mosquitto"])

    def _run_once(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        log = self.logs / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            done = subprocess.run(
                dancebooth(*args),
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                check=False,
            )
        if done.returncode:
            raise RehearsalError(f"'dancebooth {' '.join(args[:2])}' failed: see {log}")

    def _start_cloud(self) -> None:
        cfg, p = str(self.cloud_yaml), self.plan
        api = self.supervisor.start(
            Service(
                "api",
                dancebooth("cloud", "api", "-c", cfg, "--workers", str(p.api_processes)),
                self.logs / "api.log",
            )
        )
        for i in range(1, p.uploaders + 1):
            self.supervisor.start(
                Service(
                    f"uploader-{i}",
                    dancebooth("cloud", "uploader", "-c", cfg, "--no-migrate"),
                    self.logs / f"uploader-{i}.log",
                    env={"DANCEBOOTH_CLOUD_UPLOADER__CLIENT_ID": f"rehearsal-uploader-{i}"},
                )
            )
        for i in range(1, p.workers + 1):
            self.supervisor.start(
                Service(
                    f"worker-{i}",
                    dancebooth("cloud", "worker", "-c", cfg, "--name", f"worker-{i}"),
                    self.logs / f"worker-{i}.log",
                    # One core each (two workers, two cores); each its own scratch, like hosts.
                    env={
                        "OMP_NUM_THREADS": "1",
                        "DANCEBOOTH_CLOUD_WORKER__WORK_DIR": str(self.dir / "work" / f"worker-{i}"),
                    },
                    restart_after_s=p.lease_s + 5,
                )
            )
        self.supervisor.start(
            Service(
                "mirror",
                dancebooth(
                    "cloud",
                    "mirror",
                    "-c",
                    cfg,
                    "--node",
                    NODES[0],
                    "--resolution",
                    "128",
                    "--port",
                    str(self.ports.mirror),
                ),
                self.logs / "mirror.log",
                env={
                    "DANCEBOOTH_CLOUD_MQTT__USERNAME": "mirror",
                    "DANCEBOOTH_CLOUD_MQTT__PASSWORD": self.secrets["mirror"],
                    "OMP_NUM_THREADS": "1",
                },
            )
        )
        wait_for_port(self.ports.api, STARTUP_S, "the API", api)

    # -- stop -------------------------------------------------------------------------------
    def stop(self) -> None:
        self.supervisor.stop_all()
        if self.relay is not None:
            self.relay.stop()
        self.remove_broker_files()

    def drop_database(self) -> None:
        from sqlalchemy import create_engine, text

        if not self._created_db:
            return
        admin = create_engine(self.plan.postgres, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
        finally:
            admin.dispose()


def wait_http(url: str, timeout_s: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RehearsalError(f"{url} did not answer in {timeout_s:g} s")
