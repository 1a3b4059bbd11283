"""What the deployment tests check the files against: the real CLI, the real settings
models, and the few file formats (compose interpolation, .env, Dockerfile) they use."""

from __future__ import annotations

import hashlib
import re
import shlex
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import yaml
from pydantic import BaseModel, SecretStr

from cloud.settings import CloudSettings
from dancebooth.cli import cli
from edge.pose.models import MODEL_DIR_ENV
from edge.settings import EdgeSettings

REPO = Path(__file__).resolve().parents[2]
SETTINGS: dict[str, type[BaseModel]] = {
    "DANCEBOOTH_CLOUD_": CloudSettings,
    "DANCEBOOTH_EDGE_": EdgeSettings,
}
ENV_NAME = re.compile(r"\bDANCEBOOTH_[A-Z0-9_]*[A-Z0-9]\b")


class DeployError(AssertionError):
    """A deployment file names something that does not exist."""


# -- the CLI -------------------------------------------------------------------------------


def resolve_command(args: Sequence[str]) -> click.Command:
    """The leaf command ``dancebooth ARGS`` runs, after click parsed every level's options.

    Raises DeployError for an unknown (sub)command or arguments click refuses.
    """
    cmd: click.Command = cli
    ctx: click.Context | None = None
    rest, name = list(args), "dancebooth"
    while True:
        try:
            ctx = cmd.make_context(name, list(rest), parent=ctx)
        except click.exceptions.Exit as exc:  # --help / --version
            raise DeployError(f"`dancebooth {shlex.join(args)}` only prints help") from exc
        except click.exceptions.NoArgsIsHelpError as exc:
            raise DeployError(f"`dancebooth {shlex.join(args)}` names no command") from exc
        except click.ClickException as exc:
            raise DeployError(f"`dancebooth {shlex.join(args)}`: {exc.format_message()}") from exc
        if not isinstance(cmd, click.Group):
            return cmd
        protected = getattr(ctx, "_protected_args", None)
        rest = [*(protected if protected is not None else ctx.protected_args), *ctx.args]
        if not rest:
            raise DeployError(f"`dancebooth {shlex.join(args)}` names no command")
        try:
            found, sub, rest = cmd.resolve_command(ctx, rest)
        except click.ClickException as exc:
            raise DeployError(f"`dancebooth {shlex.join(args)}`: {exc.format_message()}") from exc
        assert sub is not None and found is not None
        cmd, name = sub, found


def cli_envvars() -> set[str]:
    """Environment variables the edge and cloud commands read themselves (not settings)."""
    found: set[str] = set()

    def walk(cmd: click.Command, ctx: click.Context) -> None:
        for p in cmd.params:
            envs = [p.envvar] if isinstance(p.envvar, str) else list(p.envvar or ())
            found.update(envs)
        if isinstance(cmd, click.Group):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                if sub is not None:
                    walk(sub, click.Context(sub, parent=ctx, info_name=name))

    root = click.Context(cli, info_name="dancebooth")
    for side in ("edge", "cloud"):
        group = cli.get_command(root, side)
        assert group is not None
        walk(group, click.Context(group, parent=root, info_name=side))
    return found | {MODEL_DIR_ENV}


# -- the settings models ------------------------------------------------------------------


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    """Every pydantic model inside an annotation (Optional, unions, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _models(typing.get_args(annotation)[0])
    elif origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            yield from _models(arg)


def settings_field(env: str) -> tuple[type[BaseModel], Any]:
    """(settings class, field annotation) that the ``DANCEBOOTH_<SIDE>_A__B`` variable sets.

    Walks the pydantic models; a discriminated union matches if any member has the key.
    """
    matches = [(p, c) for p, c in SETTINGS.items() if env.startswith(p)]
    if not matches:
        raise DeployError(f"{env} is not a settings variable (DANCEBOOTH_CLOUD_/EDGE_...)")
    prefix, cls = matches[0]
    models: list[type[BaseModel]] = [cls]
    annotation: Any = cls
    for key in env.removeprefix(prefix).lower().split("__"):
        fields = [m.model_fields[key] for m in models if key in m.model_fields]
        if not fields:
            names = sorted({f for m in models for f in m.model_fields})
            raise DeployError(f"{env}: no field {key!r} (there are {', '.join(names)})")
        annotation = fields[0].annotation
        models = [m for f in fields for m in _models(f.annotation)]
    return cls, annotation


def is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in typing.get_args(annotation)


def check_env_name(env: str, cli_vars: set[str]) -> None:
    if env in cli_vars:
        return
    settings_field(env)


def env_names(text: str) -> set[str]:
    return set(ENV_NAME.findall(text))


# -- docker compose's interpolation and .env ---------------------------------------------------

_VAR = re.compile(r"\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|([A-Za-z_]\w*))")


class MissingVariableError(DeployError):
    """A ``${VAR:?message}`` whose variable is unset or empty."""


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}`` and ``$$``."""

    def one(m: re.Match[str]) -> str:
        if m.group(1):
            return "$"
        name = m.group(2) or m.group(5)
        op, arg = m.group(3), m.group(4) or ""
        have = env.get(name)
        unset_or_empty = not have if op and op.startswith(":") else have is None
        if op in (":-", "-"):
            return arg if unset_or_empty else str(have)
        if op in (":?", "?"):
            if unset_or_empty:
                raise MissingVariableError(f"required variable {name} is missing a value: {arg}")
            return str(have)
        return have or ""

    return _VAR.sub(one, value)


def interpolate_tree(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [interpolate_tree(x, env) for x in node]
    if isinstance(node, dict):
        return {k: interpolate_tree(v, env) for k, v in node.items()}
    return node


def variables(text: str) -> list[tuple[str, str | None]]:
    """(name, operator) of every ``${...}`` reference in a compose file."""
    return [(m.group(2), m.group(3)) for m in _VAR.finditer(text) if m.group(2)]


def read_dotenv(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise DeployError(f"{path}:{n}: not KEY=value: {raw!r}")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        out[key] = value
    return out


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


# -- Dockerfiles ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    stage: str


def parse_dockerfile(path: Path) -> list[Instruction]:
    """Instructions with continuations joined; ``stage`` is the current ``FROM ... AS``."""
    logical: list[str] = []
    buf = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical.append(buf + line)
        buf = ""
    assert not buf, f"{path}: dangling line continuation"
    out: list[Instruction] = []
    stage = ""
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = args.split()
            stage = words[2] if len(words) >= 3 and words[1].upper() == "AS" else words[0]
        out.append(Instruction(keyword, args.strip(), stage))
    return out


def exec_form(args: str) -> list[str]:
    """The JSON (exec) form of CMD/ENTRYPOINT, which is all these Dockerfiles use."""
    value = yaml.safe_load(args)
    if not (isinstance(value, list) and all(isinstance(x, str) for x in value)):
        raise DeployError(f"not an exec-form array: {args}")
    return list(value)


def dancebooth_args(argv: Sequence[str]) -> list[str]:
    """Arguments after the ``dancebooth`` executable in a command line (tini, paths...)."""
    for i, word in enumerate(argv):
        if Path(word).name == "dancebooth":
            return list(argv[i + 1 :])
    raise DeployError(f"{shlex.join(argv)} does not run dancebooth")


PLACEHOLDER = re.compile(r"change-me[\w-]*")


def fill_placeholder(key: str, value: str) -> str:
    """``value`` with each ``change-me...`` placeholder replaced by a long secret derived
    from ``key`` (what an operator does with the examples before deploying)."""
    secret = hashlib.sha256(key.encode()).hexdigest()[:40]
    return PLACEHOLDER.sub(secret, value)
