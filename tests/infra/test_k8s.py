"""infra/k8s: GPU workers scaled by queue depth (KEDA), API and uploaders, one config.

Commands resolve through the real CLI, variables through the settings models, and the
scaler's query runs against the real schema on PostgreSQL.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

import pytest
import yaml
from sqlalchemy import text

from cloud.db.engine import make_engine, session_factory, transaction, upgrade_database
from cloud.db.models import Booth, Job, JobState, Session
from cloud.settings import CloudSettings, Environment, S3Storage, UploaderSettings
from protocol.settings import ConfigError, load_settings
from tests.infra.deploy import (
    REPO,
    check_env_name,
    cli_envvars,
    dancebooth_args,
    exec_form,
    fill_placeholder,
    is_secret,
    load_yaml_documents,
    parse_dockerfile,
    resolve_command,
    settings_field,
)

K8S = REPO / "infra" / "k8s"


def documents(*, examples: bool = True) -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml" or (not examples and "example" in path.name):
            continue
        docs += load_yaml_documents(path)
    return docs


def find(kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [
        d
        for d in documents()
        if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]


def pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    """The pod template's spec of a Deployment, Job or CronJob (None for other kinds)."""
    if doc["kind"] in ("Deployment", "Job"):
        spec: dict[str, Any] = doc["spec"]["template"]["spec"]
        return spec
    if doc["kind"] == "CronJob":
        cron: dict[str, Any] = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return cron
    return None


def containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for d in documents():
        if (spec := pod_spec(d)) is not None:
            for c in spec["containers"]:
                yield d["metadata"]["name"], c


def cloud_entrypoint() -> list[str]:
    steps = parse_dockerfile(REPO / "infra" / "docker" / "cloud.Dockerfile")
    return exec_form([s for s in steps if s.keyword == "ENTRYPOINT"][-1].args)


def test_kustomization_applies_every_manifest_but_the_secret_example() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk - {"secret.example.yaml"}
    for doc in documents(examples=False):
        assert doc["kind"] != "Secret", "real secrets are created by hand, not committed"


def _container_params() -> list[Any]:
    params = []
    for owner, c in containers():
        argv = dancebooth_args(cloud_entrypoint()) + c["args"]
        params.append(pytest.param(argv, id=owner))
    return params


@pytest.mark.parametrize("argv", _container_params())
def test_container_args_are_real_dancebooth_commands(argv: list[str]) -> None:
    assert resolve_command(argv).name in argv


def config_data() -> dict[str, str]:
    (config,) = find("ConfigMap")
    return {k: str(v) for k, v in config["data"].items()}


def secret_data() -> dict[str, dict[str, str]]:
    return {d["metadata"]["name"]: d["stringData"] for d in find("Secret")}


def test_variables_are_settings_fields_and_secrets_stay_out_of_the_configmap() -> None:
    known = cli_envvars()
    names = set(config_data()) | set(secret_data()["dancebooth-secrets"])
    names |= {e["name"] for _, c in containers() for e in c.get("env", [])}
    for name in names:
        check_env_name(name, known)
    for name in config_data():
        assert not is_secret(settings_field(name)[1]), f"{name} is a secret: move it to the Secret"


def test_every_envfrom_reference_exists() -> None:
    configmaps = {d["metadata"]["name"] for d in find("ConfigMap")}
    secrets = set(secret_data())
    for owner, c in containers():
        refs = c["envFrom"]
        assert {r["configMapRef"]["name"] for r in refs if "configMapRef" in r} <= configmaps
        assert {r["secretRef"]["name"] for r in refs if "secretRef" in r} <= secrets, owner


def test_configmap_and_secret_make_valid_production_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in list(os.environ):
        if key.startswith("DANCEBOOTH_"):
            monkeypatch.delenv(key)
    secrets = secret_data()["dancebooth-secrets"]
    for key, value in {**config_data(), **secrets}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match="production refuses"):
        load_settings(CloudSettings)  # secret.example.yaml as it ships: change-me
    for key, value in secrets.items():
        monkeypatch.setenv(key, fill_placeholder(key, value))
    settings = load_settings(CloudSettings)
    assert settings.environment is Environment.PRODUCTION
    assert isinstance(settings.storage, S3Storage)
    assert settings.training.device == "cuda" and settings.training.resolution == 256


def test_gpu_workers_scaled_by_keda_on_queue_depth() -> None:
    (worker,) = find("Deployment", "dancebooth-worker")
    assert "replicas" not in worker["spec"], "KEDA owns the worker replica count"
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    assert int(container["resources"]["limits"]["nvidia.com/gpu"]) >= 1
    (scaled,) = find("ScaledObject")
    assert scaled["apiVersion"].startswith("keda.sh/")
    assert scaled["spec"]["scaleTargetRef"]["name"] == worker["metadata"]["name"]
    assert scaled["spec"]["minReplicaCount"] == 0 < scaled["spec"]["maxReplicaCount"]
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "postgresql" and float(trigger["metadata"]["targetQueryValue"]) >= 1
    (auth,) = find("TriggerAuthentication", trigger["authenticationRef"]["name"])
    for ref in auth["spec"]["secretTargetRef"]:
        assert ref["key"] in secret_data()[ref["name"]]
    assert {r["parameter"] for r in auth["spec"]["secretTargetRef"]} == {"connection"}


def test_uploaders_and_api() -> None:
    (uploader,) = find("Deployment", "dancebooth-uploader")
    assert uploader["spec"]["replicas"] >= 2
    (env,) = uploader["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    # A Deployment's pod name (<= 63 chars, a-z0-9-) is a valid MQTT client id setting.
    pod = f"{uploader['metadata']['name']}-5d9c7b8f6d-x2x7k"
    assert UploaderSettings(client_id=pod).client_id == pod
    assert "--no-migrate" in uploader["spec"]["template"]["spec"]["containers"][0]["args"]
    (api,) = find("Deployment", "dancebooth-api")
    (service,) = find("Service", "dancebooth-api")
    labels = api["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    ports = {p["name"] for p in api["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports


def test_pods_run_as_the_images_user() -> None:
    steps = parse_dockerfile(REPO / "infra" / "docker" / "cloud.Dockerfile")
    useradd = next(s.args for s in steps if "useradd" in s.args)
    for d in documents():
        if (spec := pod_spec(d)) is not None:
            security = spec["securityContext"]
            assert security["runAsNonRoot"] is True
            assert f"--uid {security['runAsUser']}" in useradd, d["metadata"]["name"]


def test_kubectl_kustomize_renders_the_manifests() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (kustomize renders offline, no cluster needed)")
    result = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    rendered = list(yaml.safe_load_all(result.stdout))
    assert {d["metadata"].get("namespace") for d in rendered if d["kind"] != "Namespace"} == {
        "dancebooth"
    }
    images = {
        c["image"]
        for d in rendered
        if d["kind"] in ("Deployment", "Job")
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    assert images == {"registry.example.com/dancebooth-cloud:0.1.0"}


@pytest.mark.services
def test_scaler_query_counts_waiting_and_running_jobs(postgres_server: str) -> None:
    (scaled,) = find("ScaledObject")
    query = scaled["spec"]["triggers"][0]["metadata"]["query"]
    engine = make_engine(postgres_server)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade_database(postgres_server)
    states = (
        [JobState.QUEUED] * 3
        + [JobState.RUNNING] * 2
        + [JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED]
    )
    with transaction(session_factory(engine)) as db:
        db.add(Booth(id="booth1"))
        db.add(Session(id="s1", booth_id="booth1"))
        db.flush()
        now = datetime.now(UTC)
        db.add_all(Job(session_id="s1", kind="finetune", state=s, created_at=now) for s in states)
    with engine.connect() as conn:
        assert conn.execute(text(query)).scalar_one() == 5
    engine.dispose()


def test_probed_paths_are_routes_of_the_api() -> None:
    """The k8s probes and the image's HEALTHCHECK ask the API for a page it serves."""
    import importlib
    import pkgutil

    import cloud.api.routers as routers

    served = set()
    for info in pkgutil.iter_modules(routers.__path__):
        module = importlib.import_module(f"{routers.__name__}.{info.name}")
        router = getattr(module, "router", None)
        served |= {getattr(r, "path", "") for r in getattr(router, "routes", [])}
    (api,) = find("Deployment", "dancebooth-api")
    (container,) = api["spec"]["template"]["spec"]["containers"]
    probed = {container[p]["httpGet"]["path"] for p in ("readinessProbe", "livenessProbe")}
    steps = parse_dockerfile(REPO / "infra" / "docker" / "cloud.Dockerfile")
    health = next(s.args for s in steps if s.keyword == "HEALTHCHECK")
    probed |= set(re.findall(r"%s(/[\w/-]*)'", health))
    assert len(probed) >= 1 and probed <= served, (probed, sorted(served))


def test_worker_dance_exists_and_its_paths_are_mounted() -> None:
    from common.reference import reference_dir

    data = config_data()
    assert reference_dir(data["DANCEBOOTH_CLOUD_WORKER__DANCE"]).is_dir()
    (worker,) = find("Deployment", "dancebooth-worker")
    (container,) = worker["spec"]["template"]["spec"]["containers"]
    mounts = [m["mountPath"] for m in container["volumeMounts"]]
    for key in ("DANCEBOOTH_CLOUD_WORKER__WORK_DIR", "DANCEBOOTH_CLOUD_TRAINING__BOOTH_CHECKPOINT"):
        assert any(PurePosixPath(data[key]).is_relative_to(m) for m in mounts), key


def test_retention_runs_on_a_schedule_since_workers_scale_to_zero() -> None:
    (cron,) = find("CronJob", "dancebooth-retention")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert len(cron["spec"]["schedule"].split()) == 5
    spec = pod_spec(cron)
    assert spec is not None and spec["restartPolicy"] in ("Never", "OnFailure")
    (container,) = spec["containers"]
    assert container["args"] == ["cloud", "retention"]
    refs = {next(iter(e.values()))["name"] for e in container["envFrom"]}
    assert refs == {"dancebooth-config", "dancebooth-secrets"}
