"""docker-compose.yml against the real CLI, settings models, env example and broker config.

No Docker engine runs here; what compose itself would check is checked with the
`docker compose` client when it is installed (it needs no engine), and skipped otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from cloud.settings import CloudSettings, Environment, S3Storage, SmtpMail
from protocol.settings import ConfigError, load_settings
from tests.infra.deploy import (
    REPO,
    MissingVariableError,
    check_env_name,
    cli_envvars,
    dancebooth_args,
    env_names,
    exec_form,
    fill_placeholder,
    interpolate_tree,
    is_secret,
    parse_dockerfile,
    read_dotenv,
    resolve_command,
    settings_field,
    variables,
)

COMPOSE = REPO / "docker-compose.yml"
OVERRIDES = {
    name: REPO / f"docker-compose.{name}.yml" for name in ("gpu", "remote-workers", "staging")
}
GPU_WORKER = REPO / "docker-compose.gpu-worker.yml"  # standalone, on another machine
COMPOSE_FILES = [COMPOSE, *OVERRIDES.values(), GPU_WORKER]
ENV_EXAMPLE = REPO / "infra" / "env.example"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|_USER$|USERNAME")
SERVICES = {
    "broker-config",
    "mosquitto",
    "postgres",
    "minio",
    "minio-init",
    "migrate",
    "api",
    "uploader",
    "worker",
    "mail-relay",
    "proxy",
    "mirror",
}


@pytest.fixture(scope="module")
def example_env() -> dict[str, str]:
    return read_dotenv(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def compose(example_env: dict[str, str]) -> dict[str, Any]:
    import yaml

    raw = yaml.safe_load(COMPOSE.read_text())
    result: dict[str, Any] = interpolate_tree(raw, example_env)
    return result


@pytest.fixture(scope="module")
def filled_env(example_env: dict[str, str]) -> dict[str, str]:
    """infra/env.example with its change-me placeholders replaced, as an operator does."""
    return {k: fill_placeholder(k, v) for k, v in example_env.items()}


@pytest.fixture(scope="module")
def deployed(filled_env: dict[str, str]) -> dict[str, Any]:
    import yaml

    result: dict[str, Any] = interpolate_tree(yaml.safe_load(COMPOSE.read_text()), filled_env)
    return result


def cloud_image_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: s
        for name, s in compose["services"].items()
        if s.get("build", {}).get("dockerfile") == "infra/docker/cloud.Dockerfile"
    }


def image_entrypoint(dockerfile: str) -> list[str]:
    steps = parse_dockerfile(REPO / dockerfile)
    return exec_form([s for s in steps if s.keyword == "ENTRYPOINT"][-1].args)


def test_every_part_of_the_stack_is_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) >= SERVICES
    assert set(cloud_image_services(compose)) == {
        "broker-config",
        "migrate",
        "api",
        "uploader",
        "worker",
        "retention",
        "mirror",
    }


def test_every_variable_is_documented_in_env_example_and_used(example_env: dict[str, str]) -> None:
    used = {name for path in COMPOSE_FILES for name, _ in variables(path.read_text())}
    assert used - set(example_env) == set(), "add these to infra/env.example"
    assert set(example_env) - used == set(), "infra/env.example has variables compose ignores"


def test_secrets_have_no_defaults_and_missing_ones_stop_compose(
    example_env: dict[str, str],
) -> None:
    import yaml

    refs = [ref for path in COMPOSE_FILES for ref in variables(path.read_text())]
    secrets = {name for name, _ in refs if SECRET_NAME.search(name)}
    assert {
        "POSTGRES_PASSWORD",
        "MQTT_CLOUD_PASSWORD",
        "API_SECRET_KEY",
        "MINIO_ROOT_PASSWORD",
        "MAIL_RELAY_PASSWORD",
    } <= secrets
    for name, op in refs:
        if name in secrets:
            assert op == ":?", f"${{{name}}} must be written ${{{name}:?message}}"
    raw = yaml.safe_load(COMPOSE.read_text())
    required = {name for name, op in variables(COMPOSE.read_text()) if op == ":?"}
    for name in required:
        env = {k: v for k, v in example_env.items() if k != name}
        with pytest.raises(MissingVariableError, match=name):
            interpolate_tree(raw, env)
        with pytest.raises(MissingVariableError, match=name):
            interpolate_tree(raw, {**env, name: ""})


@pytest.mark.parametrize("path", [COMPOSE, GPU_WORKER], ids=lambda p: p.name)
def test_settings_secrets_come_from_required_variables(path: Path) -> None:
    import yaml

    raw = yaml.safe_load(path.read_text())
    options = cli_envvars()  # a command's own option (broker-config's mirror password)
    for service in cloud_image_services(raw).values():
        for key, value in (service.get("environment") or {}).items():
            secret = (
                SECRET_NAME.search(key) if key in options else is_secret(settings_field(key)[1])
            )
            if secret:
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", str(value)), (key, value)


def _service_commands() -> list[Any]:
    import yaml

    raw = interpolate_tree(yaml.safe_load(COMPOSE.read_text()), read_dotenv(ENV_EXAMPLE))
    params = []
    for name, service in cloud_image_services(raw).items():
        argv = dancebooth_args(image_entrypoint(service["build"]["dockerfile"]))
        argv += service["command"]
        params.append(pytest.param(argv, id=name))
    return params


@pytest.mark.parametrize("argv", _service_commands())
def test_commands_are_real_dancebooth_commands(argv: list[str]) -> None:
    assert resolve_command(argv).name in argv


def test_dancebooth_variables_are_settings_fields() -> None:
    known = cli_envvars()
    names = env_names(ENV_EXAMPLE.read_text())
    for path in COMPOSE_FILES:
        names |= env_names(path.read_text())
    assert names, "no DANCEBOOTH_* variable found: the pattern is wrong"
    for name in names:
        check_env_name(name, known)


@pytest.mark.parametrize("service", ["migrate", "api", "uploader", "worker"])
def test_cloud_services_build_valid_production_settings(
    deployed: dict[str, Any],
    filled_env: dict[str, str],
    service: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in list(os.environ):
        if key.startswith("DANCEBOOTH_"):
            monkeypatch.delenv(key)
    for key, value in deployed["services"][service]["environment"].items():
        monkeypatch.setenv(key, str(value))
    settings = load_settings(CloudSettings)
    assert settings.environment is Environment.PRODUCTION
    password = filled_env["POSTGRES_PASSWORD"]
    assert settings.database.url.startswith(f"postgresql+psycopg://dancebooth:{password}@")
    assert isinstance(settings.storage, S3Storage) and settings.storage.bucket == "dancebooth"
    assert settings.mqtt.host == "mosquitto" and settings.mqtt.username == "cloud"
    assert isinstance(settings.mail, SmtpMail) and settings.mail.host == "mail-relay"


def test_the_example_placeholders_are_refused_in_production(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in list(os.environ):
        if key.startswith("DANCEBOOTH_"):
            monkeypatch.delenv(key)
    for key, value in compose["services"]["api"]["environment"].items():
        monkeypatch.setenv(key, str(value))
    with pytest.raises(ConfigError, match="production refuses"):
        load_settings(CloudSettings)


def _load(path: Path, env: dict[str, str]) -> dict[str, Any]:
    import yaml

    loaded: dict[str, Any] = interpolate_tree(yaml.safe_load(path.read_text()), env)
    return loaded


GPU = {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}


def _gpus(service: dict[str, Any]) -> list[Any]:
    devices: list[Any] = (
        service.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
    )
    return devices


def test_uploaders_share_the_frames_and_the_worker_runs_on_cpu_or_a_gpu(
    compose: dict[str, Any], example_env: dict[str, str]
) -> None:
    services = compose["services"]
    uploader = services["uploader"]
    assert uploader["deploy"]["replicas"] >= 2
    env = uploader["environment"]
    assert env["DANCEBOOTH_CLOUD_UPLOADER__SHARED_SUBSCRIPTION"] == "true"
    assert env["DANCEBOOTH_CLOUD_UPLOADER__PROTOCOL"] == "v5"  # shared subscriptions are v5
    # Two replicas must not race schema migrations: the migrate one-shot does it first.
    assert "--no-migrate" in uploader["command"]
    # The base file runs on a CPU-only server: no GPU reservation (docker refuses to start
    # a container whose reservation no device satisfies), the device chosen at run time.
    assert _gpus(services["worker"]) == []
    assert services["worker"]["environment"]["DANCEBOOTH_CLOUD_TRAINING__DEVICE"] == "auto"
    gpu = _load(OVERRIDES["gpu"], example_env)["services"]
    assert set(gpu) == {"worker"}, "the GPU override only gives the worker its GPU"
    assert GPU in _gpus(gpu["worker"])
    assert gpu["worker"]["environment"]["DANCEBOOTH_CLOUD_TRAINING__DEVICE"] == "cuda"
    remote = _load(GPU_WORKER, example_env)["services"]["worker"]
    assert GPU in _gpus(remote)


def test_only_the_proxy_and_the_broker_are_published(compose: dict[str, Any]) -> None:
    """443 (Caddy, TLS for PUBLIC_URL) and 8883 (MQTT over TLS) on every interface; the
    API and MinIO's console on 127.0.0.1 only; nothing else."""
    public = {}
    for name, service in compose["services"].items():
        for spec in service.get("ports", []):
            parts = str(spec).split(":")
            if len(parts) == 3:
                assert parts[0] == "127.0.0.1", (name, spec)
            else:
                public[name] = parts[-1]
    assert public == {"proxy": "443", "mosquitto": "8883"}
    proxy = compose["services"]["proxy"]
    assert proxy["image"].startswith("caddy:")
    caddyfile = REPO / _mounts(proxy)["/etc/caddy/Caddyfile"]
    assert "{$PUBLIC_URL}" in caddyfile.read_text()
    assert "reverse_proxy api:8000" in caddyfile.read_text()
    assert proxy["environment"]["PUBLIC_URL"].startswith("https://")


def test_remote_workers_reach_postgres_over_tls_and_the_store_over_https(
    example_env: dict[str, str], filled_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = _load(OVERRIDES["remote-workers"], example_env)["services"]
    postgres = server["postgres"]
    command = " ".join(postgres["command"])
    assert "ssl=on" in command and "hba_file=/etc/postgresql/pg_hba.conf" in command
    hba = (REPO / _mounts(postgres)["/etc/postgresql/pg_hba.conf"]).read_text()
    rules = [ln.split() for ln in hba.splitlines() if ln.strip() and not ln.startswith("#")]
    assert [r[0] for r in rules if r[0] != "local"] == ["hostssl"], "TCP only with TLS"
    assert all(r[-1] == "scram-sha-256" for r in rules if r[0] != "local")
    caddyfile = (REPO / _mounts(server["proxy"])["/etc/caddy/Caddyfile"]).read_text()
    assert "{$S3_PUBLIC_URL}" in caddyfile and "reverse_proxy minio:9000" in caddyfile
    for key in list(os.environ):
        if key.startswith("DANCEBOOTH_"):
            monkeypatch.delenv(key)
    worker = _load(GPU_WORKER, filled_env)["services"]["worker"]
    for key, value in worker["environment"].items():
        monkeypatch.setenv(key, str(value))
    settings = load_settings(CloudSettings)
    url = settings.database.url
    assert f"@{example_env['SERVER_HOST']}:5432/" in url
    assert "sslmode=verify-full" in url and "sslrootcert=/srv/certs/ca.crt" in url
    assert "/srv/certs/ca.crt" in _mounts(worker)
    assert isinstance(settings.storage, S3Storage)
    assert settings.storage.endpoint_url == example_env["S3_PUBLIC_URL"]
    assert str(settings.storage.endpoint_url).startswith("https://")
    assert isinstance(settings.mail, SmtpMail) and settings.mail.security == "starttls"


def test_start_order(compose: dict[str, Any]) -> None:
    services = compose["services"]

    def after(name: str) -> dict[str, str]:
        return {k: v["condition"] for k, v in services[name].get("depends_on", {}).items()}

    for name in ("api", "uploader", "worker"):
        assert after(name)["migrate"] == "service_completed_successfully"
        assert after(name)["minio-init"] == "service_completed_successfully"
    assert after("migrate")["postgres"] == "service_healthy"
    assert "healthcheck" in services["postgres"] and "healthcheck" in services["minio"]
    assert after("mosquitto")["broker-config"] == "service_completed_successfully"
    assert after("minio-init")["minio"] == "service_healthy"
    assert "mail-relay" in after("worker")
    for one_shot in ("broker-config", "migrate", "minio-init"):
        assert services[one_shot]["restart"] == "no"


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """container path -> source, for short-syntax volumes."""
    out = {}
    for spec in service.get("volumes", []):
        source, target = spec.split(":")[:2]
        out[target] = source
    return out


def _conf_paths(conf: Path) -> dict[str, str]:
    keys = {"password_file", "acl_file", "certfile", "keyfile", "cafile", "persistence_location"}
    out = {}
    for line in conf.read_text().splitlines():
        words = line.split()
        if len(words) == 2 and words[0] in keys:
            out[words[0]] = words[1]
    return out


def test_mosquitto_gets_its_config_passwd_acl_and_certificates(compose: dict[str, Any]) -> None:
    services = compose["services"]
    mounts = _mounts(services["mosquitto"])
    config = mounts[services["mosquitto"]["command"][-1]]
    assert (REPO / config).is_file(), config
    for source in mounts.values():
        if source.startswith("./") and "certs" not in source:
            assert (REPO / source).exists(), source
    # Every file the config names lies in a mounted directory...
    paths = _conf_paths(REPO / config)
    assert set(paths) == {
        "password_file",
        "acl_file",
        "certfile",
        "keyfile",
        "cafile",
        "persistence_location",
    }
    for key, path in paths.items():
        parents = [t for t in mounts if PurePosixPath(path).is_relative_to(t)]
        assert parents, f"{key} {path} is not inside any volume of the mosquitto service"
    # ...and passwd/acl come from the broker-config one-shot through the same volume.
    conf_dir = str(PurePosixPath(paths["password_file"]).parent)
    broker_cfg = services["broker-config"]
    out = broker_cfg["command"][broker_cfg["command"].index("--out") + 1]
    assert _mounts(broker_cfg)[out] == mounts[conf_dir]
    assert broker_cfg["user"] == "1883:1883"  # the mosquitto image's user reads 0600 files
    # The cloud account's password is the one the cloud services use.
    assert (
        broker_cfg["environment"]["DANCEBOOTH_CLOUD_MQTT__PASSWORD"]
        == services["api"]["environment"]["DANCEBOOTH_CLOUD_MQTT__PASSWORD"]
    )


def test_compose_conf_repeats_the_shared_broker_settings() -> None:
    def directives(text: str) -> set[str]:
        return {ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")}

    shared = directives((REPO / "infra" / "mosquitto" / "mosquitto.conf").read_text())
    assert shared <= directives((REPO / "infra" / "mosquitto" / "compose.conf").read_text())


def compose_client() -> list[str]:
    """`docker compose` (v2 plugin) or `docker-compose` (v1); neither needs an engine."""
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    if legacy is not None:
        return [legacy]
    pytest.skip("neither `docker compose` nor `docker-compose` is installed (no engine needed)")


STACKS = [
    ["docker-compose.yml"],
    *(["docker-compose.yml", path.name] for path in OVERRIDES.values()),
    ["docker-compose.gpu-worker.yml"],
]


@pytest.mark.parametrize("files", STACKS, ids=lambda files: "+".join(files))
def test_docker_compose_config_accepts_the_files_with_env_example(files: list[str]) -> None:
    """Compose's own schema check and interpolation, with infra/env.example as the .env."""
    args = [*compose_client(), *(a for f in files for a in ("-f", f))]
    result = subprocess.run(
        [*args, "--env-file", str(ENV_EXAMPLE), "config", "--quiet"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr


def test_docker_compose_refuses_a_missing_secret(tmp_path: Path) -> None:
    client = compose_client()
    lines = ENV_EXAMPLE.read_text().splitlines()
    env = tmp_path / ".env"
    env.write_text("\n".join(ln for ln in lines if not ln.startswith("API_SECRET_KEY=")))
    args = [*client, "-f", "docker-compose.yml", "--env-file", str(env), "config", "--quiet"]
    result = subprocess.run(args, capture_output=True, text=True, cwd=REPO)
    assert result.returncode != 0 and "set API_SECRET_KEY in .env" in result.stderr


def test_staging_override_catches_mail_on_the_port_the_services_send_to(
    compose: dict[str, Any], example_env: dict[str, str]
) -> None:
    import yaml

    staging = interpolate_tree(
        yaml.safe_load((REPO / "docker-compose.staging.yml").read_text()), example_env
    )
    assert set(staging["services"]) == {"mail-relay"}, "staging only swaps the mail relay"
    mailpit = staging["services"]["mail-relay"]
    assert mailpit["image"].startswith("axllent/mailpit:")
    port = mailpit["environment"]["MP_SMTP_BIND_ADDR"].rsplit(":", 1)[1]
    for name in ("api", "worker"):
        assert compose["services"][name]["environment"]["DANCEBOOTH_CLOUD_MAIL__PORT"] == port


def test_worker_dance_exists_and_its_scratch_is_a_volume(
    deployed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from common.reference import reference_dir

    for key in list(os.environ):
        if key.startswith("DANCEBOOTH_"):
            monkeypatch.delenv(key)
    worker = deployed["services"]["worker"]
    for key, value in worker["environment"].items():
        monkeypatch.setenv(key, str(value))
    settings = load_settings(CloudSettings)
    assert reference_dir(settings.worker.dance).is_dir()
    mounts = _mounts(worker)
    assert isinstance(settings.mail, SmtpMail)
    assert any(PurePosixPath(settings.worker.work_dir).is_relative_to(t) for t in mounts)
    assert settings.training.booth_checkpoint is not None
    assert any(settings.training.booth_checkpoint.is_relative_to(t) for t in mounts)


def test_retention_sweeps_in_a_loop_of_its_own(compose: dict[str, Any]) -> None:
    """Workers scale to zero, so the sweep has a service that is always up."""
    retention = compose["services"]["retention"]
    assert retention["command"][:2] == ["cloud", "retention"] and "--every" in retention["command"]
    assert retention["restart"] == "unless-stopped"
    assert retention["environment"]["DANCEBOOTH_CLOUD_DATABASE__URL"].startswith("postgresql")
