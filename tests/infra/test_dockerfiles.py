"""The cloud and edge Dockerfiles: what they copy exists, what they run is a real command,
the edge image stays torch-free and the cloud image's torch matches the project's pin."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest

from common.reference import REFERENCE_DIR
from edge.pose.models import MANIFEST_PATH
from tests.infra.deploy import (
    REPO,
    Instruction,
    check_env_name,
    cli_envvars,
    dancebooth_args,
    env_names,
    exec_form,
    parse_dockerfile,
    resolve_command,
)

DOCKER = REPO / "infra" / "docker"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def steps(name: str) -> list[Instruction]:
    return parse_dockerfile(DOCKER / f"{name}.Dockerfile")


def final_stage(name: str) -> list[Instruction]:
    all_steps = steps(name)
    last = [s.stage for s in all_steps if s.keyword == "FROM"][-1]
    return [s for s in all_steps if s.stage == last]


def copies(name: str) -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY from the build context."""
    out = []
    for s in steps(name):
        if s.keyword != "COPY" or "--from=" in s.args:
            continue
        words = [w for w in shlex.split(s.args) if not w.startswith("--")]
        out.append((words[:-1], words[-1]))
    return out


def copied_dirs(name: str) -> set[str]:
    return {src.rstrip("/") for sources, _ in copies(name) for src in sources}


def pip_installs(name: str) -> list[str]:
    return [s.args for s in steps(name) if s.keyword == "RUN" and "pip install" in s.args]


def dockerignored() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


@pytest.mark.parametrize("name", ["cloud", "edge"])
def test_copy_sources_exist_and_are_in_the_build_context(name: str) -> None:
    ignored = dockerignored()
    for sources, _ in copies(name):
        for src in sources:
            assert (REPO / src).exists(), (
                f"{name}.Dockerfile copies {src}, which is not in the repo"
            )
            assert src.rstrip("/") not in ignored, f"{src} is excluded by .dockerignore"


@pytest.mark.parametrize(
    ("name", "packages"),
    [
        ("cloud", {"protocol", "common", "edge", "cloud", "dancebooth"}),
        ("edge", {"protocol", "common", "edge", "dancebooth"}),
    ],
)
def test_images_hold_the_packages_and_the_data_the_code_looks_for(
    name: str, packages: set[str]
) -> None:
    have = copied_dirs(name)
    data = {MANIFEST_PATH.relative_to(REPO).parts[0], REFERENCE_DIR.relative_to(REPO).parts[0]}
    assert packages | data | {"pyproject.toml", "README.md"} <= have
    if name == "cloud":
        # Every package the distribution ships (pyproject) is in the cloud image.
        include = PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]
        shipped = {p.rstrip("*") for p in include}
        assert shipped <= have, f"add COPY lines for {sorted(shipped - have)}"
    else:
        assert "cloud" not in have


@pytest.mark.parametrize("name", ["cloud", "edge"])
def test_entrypoint_and_cmd_are_a_real_command(name: str) -> None:
    final = final_stage(name)
    entry = exec_form([s for s in final if s.keyword == "ENTRYPOINT"][-1].args)
    cmd = exec_form([s for s in final if s.keyword == "CMD"][-1].args)
    argv = dancebooth_args(entry) + cmd
    assert resolve_command(argv).name in argv


@pytest.mark.parametrize("name", ["cloud", "edge"])
def test_runs_as_an_unprivileged_user(name: str) -> None:
    users = [s.args for s in final_stage(name) if s.keyword == "USER"]
    assert users and users[-1] not in ("root", "0"), users


@pytest.mark.parametrize("name", ["cloud", "edge"])
def test_dancebooth_variables_are_settings_fields(name: str) -> None:
    known = cli_envvars()
    for env in env_names((DOCKER / f"{name}.Dockerfile").read_text()):
        check_env_name(env, known)


def test_edge_image_installs_no_torch() -> None:
    installs = pip_installs("edge")
    assert installs and all(".[edge]" in cmd for cmd in installs), installs
    text = " ".join(installs)
    assert "torch" not in re.sub(r"import torch", "", text) and "cloud" not in text
    # ...and the build fails if something pulled torch in anyway.
    assert any('! python -c "import torch"' in cmd for cmd in installs)
    assert "torch" not in " ".join(PYPROJECT["project"]["optional-dependencies"]["edge"])


def test_edge_image_fetches_the_models_at_build_time() -> None:
    runs = [s.args for s in steps("edge") if s.keyword == "RUN" and "fetch-models" in s.args]
    assert len(runs) == 2  # BlazePose always; Coral's files with the Edge TPU
    argv = shlex.split(runs[0])
    assert resolve_command(dancebooth_args(argv)).name == "fetch-models"
    assert '"${EDGETPU}" != "none"' in runs[1] and "fetch-models --coral" in runs[1]


def test_edge_image_installs_the_supported_edgetpu_pair() -> None:
    """With EDGETPU set, both halves come from infra/edgetpu/install.sh, whose versions
    are the pair the code names in its hints."""
    from edge.pose.coral import PAIRED_LIBEDGETPU, PAIRED_TFLITE_RUNTIME

    runs = " ".join(s.args for s in steps("edge") if s.keyword == "RUN")
    assert "install.sh python /opt/venv" in runs and "install.sh runtime" in runs
    script = (REPO / "infra" / "edgetpu" / "install.sh").read_text()
    assert f'LIBEDGETPU_VERSION="{PAIRED_LIBEDGETPU}"' in script
    assert f'TFLITE_VERSION="{PAIRED_TFLITE_RUNTIME}"' in script
    for url in re.findall(r'"(https://[^"]+)"', script):
        assert PAIRED_TFLITE_RUNTIME in url, url  # one TensorFlow for both halves
    assert "coral-edgetpu-stable" not in (DOCKER / "edge.Dockerfile").read_text()


def test_cloud_torch_is_the_projects_pin_from_a_cuda_index() -> None:
    pins = [
        d for d in PYPROJECT["project"]["optional-dependencies"]["cloud"] if d.startswith("torch==")
    ]
    assert len(pins) == 1
    args = {
        s.args.split("=")[0]: s.args.split("=", 1)[1]
        for s in steps("cloud")
        if s.keyword == "ARG" and "=" in s.args
    }
    assert f"torch=={args['TORCH_VERSION']}" == pins[0]
    assert re.fullmatch(r"cu\d{3}", args["TORCH_CUDA"])
    torch_runs = [c for c in pip_installs("cloud") if '"torch==${TORCH_VERSION}"' in c]
    assert torch_runs and "https://download.pytorch.org/whl/${TORCH_CUDA}" in torch_runs[0]
    assert any(".[cloud]" in c for c in pip_installs("cloud"))


@pytest.mark.parametrize("name", ["cloud", "edge"])
def test_base_python_satisfies_requires_python(name: str) -> None:
    arg = next(s.args for s in steps(name) if s.keyword == "ARG" and "PYTHON_IMAGE" in s.args)
    version = re.search(r"python:(\d+)\.(\d+)", arg)
    assert version is not None
    low = re.search(r">=(\d+)\.(\d+)", PYPROJECT["project"]["requires-python"])
    assert low is not None
    assert tuple(map(int, version.groups())) >= tuple(map(int, low.groups()))


def test_cloud_healthcheck_probes_the_api_port() -> None:
    health = [s.args for s in final_stage("cloud") if s.keyword == "HEALTHCHECK"]
    assert len(health) == 1 and "DANCEBOOTH_CLOUD_API__PORT" in health[0]
    exposed = [s.args for s in final_stage("cloud") if s.keyword == "EXPOSE"]
    assert exposed == ["8000"]


def test_dockerfile_paths_used_by_compose_exist() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    for path in re.findall(r"dockerfile:\s*(\S+)", text):
        assert Path(REPO / path).is_file(), path


def test_edge_runtime_finds_the_models_fetched_at_build_time() -> None:
    def model_dir(stage_steps: list[Instruction]) -> str:
        envs = " ".join(s.args for s in stage_steps if s.keyword == "ENV")
        found = re.findall(r"DANCEBOOTH_MODEL_DIR=(\S+)", envs)
        assert len(found) == 1, envs
        return str(found[0])

    final = final_stage("edge")
    build = [s for s in steps("edge") if s.stage == "build"]
    fetched = model_dir(build)
    assert model_dir(final) == fetched
    copied = [s.args for s in final if s.keyword == "COPY" and "--from=build" in s.args]
    assert any(Path(fetched).is_relative_to(shlex.split(c)[-1]) for c in copied), copied
