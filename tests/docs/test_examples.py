"""Every example settings file passes the matching `check-config`, run through the real CLI.

The node's `edge.env.example` is checked in tests/infra/test_systemd.py; here: the node
YAML the docs show, `infra/env.example` as docker compose hands it to each cloud service
(the base file and the remote GPU worker), and the Kubernetes ConfigMap + Secret.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from dancebooth.cli import cli
from tests.docs.test_commands import DOCS
from tests.infra.deploy import (
    fill_placeholder,
    interpolate_tree,
    load_yaml_documents,
    read_dotenv,
)
from tests.services import REPO

YAML_BLOCK = re.compile(r"^```yaml\n(.*?)^```", re.S | re.M)


def check_config(side: str, env: dict[str, str], *args: str) -> str:
    """`dancebooth SIDE check-config ARGS` with exactly ``env`` as the settings' environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DANCEBOOTH_")}
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(clean)
    try:
        result = CliRunner().invoke(cli, [side, "check-config", *args], env=env)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert result.exit_code == 0, result.output
    return result.output


def node_yaml_examples() -> list[Any]:
    found = []
    for path in DOCS:
        for block in YAML_BLOCK.findall(path.read_text()):
            data = yaml.safe_load(block)
            if isinstance(data, dict) and "node" in data and "mqtt" in data:
                found.append(pytest.param(block, id=str(path.relative_to(REPO))))
    return found


@pytest.mark.parametrize("block", node_yaml_examples())
def test_node_yaml_examples_pass_check_config(block: str, tmp_path: Path) -> None:
    node = tmp_path / "node.yaml"
    node.write_text(block)
    out = check_config("edge", {}, "-c", str(node))
    assert '"node": "cam-left"' in out


def test_the_docs_show_a_node_yaml() -> None:
    assert node_yaml_examples()


def _compose_env(path: Path, service: str) -> dict[str, str]:
    raw = yaml.safe_load(path.read_text())
    example = read_dotenv(REPO / "infra" / "env.example")
    # the change-me placeholders replaced by secrets, as the runbook says (openssl rand)
    tree = interpolate_tree(raw, {k: fill_placeholder(k, v) for k, v in example.items()})
    return {k: str(v) for k, v in tree["services"][service]["environment"].items()}


@pytest.mark.parametrize(
    ("compose", "service"),
    [
        ("docker-compose.yml", "migrate"),
        ("docker-compose.yml", "api"),
        ("docker-compose.yml", "uploader"),
        ("docker-compose.yml", "worker"),
        ("docker-compose.gpu-worker.yml", "worker"),
    ],
)
def test_env_example_through_compose_passes_check_config(compose: str, service: str) -> None:
    out = check_config("cloud", _compose_env(REPO / compose, service))
    assert '"environment": "production"' in out


def test_k8s_configmap_and_secret_pass_check_config() -> None:
    docs = load_yaml_documents(REPO / "infra" / "k8s" / "config.yaml")
    docs += load_yaml_documents(REPO / "infra" / "k8s" / "secret.example.yaml")
    env: dict[str, str] = {}
    for doc in docs:
        if doc["metadata"]["name"] in ("dancebooth-config", "dancebooth-secrets"):
            values = (doc.get("data") or doc["stringData"]).items()
            env.update({k: fill_placeholder(k, str(v)) for k, v in values})
    assert "DANCEBOOTH_CLOUD_API__SECRET_KEY" in env and "DANCEBOOTH_CLOUD_BOOTH" in env
    out = check_config("cloud", env)
    assert '"environment": "production"' in out


def test_a_bad_example_fails_check_config(tmp_path: Path) -> None:
    """The check can fail: a misspelt key in a node file is refused, naming it."""
    node = tmp_path / "node.yaml"
    node.write_text("node: {booth: booth1, nod: cam-left}\n")
    with pytest.raises(AssertionError, match="nod"):
        check_config("edge", {}, "-c", str(node))
