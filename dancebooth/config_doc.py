"""``dancebooth config-reference``: the settings reference, generated from the models.

docs/configuration.md embeds this output between markers; a test keeps the two in step.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import click
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold (unions, Optional, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) in (Union, types.UnionType) or get_args(annotation):
        return [m for arg in get_args(annotation) for m in _models_in(arg)]
    return []


def _type_name(annotation: Any) -> str:
    if get_origin(annotation) is Literal:
        return " \\| ".join(f"`{v}`" for v in get_args(annotation))
    text = getattr(annotation, "__name__", None) or str(annotation)
    for noise in ("typing.", "pathlib.", "pydantic.types.", "protocol.ids.", "NoneType"):
        text = text.replace(noise, "None" if noise == "NoneType" else "")
    return text.replace("|", "\\|")


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    value = field.default
    if value is PydanticUndefined or isinstance(value, BaseModel):
        return ""
    if hasattr(value, "get_secret_value"):
        return "(secret)"
    return f"`{value}`".replace("|", "\\|")


def _rows(model: type[BaseModel], prefix: str, env: str) -> list[str]:
    rows: list[str] = []
    for name, field in model.model_fields.items():
        key, var = f"{prefix}{name}", f"{env}{name.upper()}"
        nested = _models_in(field.annotation)
        if nested:
            kinds = [getattr(m.model_fields.get("type"), "default", None) for m in nested]
            label = " / ".join(f"`{k}`" for k in kinds if k) or ""
            rows.append(f"| `{key}` | group {label} | | {field.description or ''} |")
            for m in nested:
                kind = getattr(m.model_fields.get("type"), "default", None)
                sub = f"{key}.{'(' + kind + ').' if kind and len(nested) > 1 else ''}"
                rows += _rows(m, sub, f"{var}__")
            continue
        desc = (field.description or "").replace("|", "\\|")
        rows.append(
            f"| `{key}` | {_type_name(field.annotation)} | {_default(field)} | {desc} `{var}` |"
        )
    return rows


def config_reference() -> str:
    from cloud.settings import CloudSettings
    from edge.settings import EdgeSettings

    out = []
    for cls, env, what in (
        (EdgeSettings, "DANCEBOOTH_EDGE_", "Edge node (`dancebooth edge run -c node.yaml`)"),
        (CloudSettings, "DANCEBOOTH_CLOUD_", "Cloud (`dancebooth cloud … -c cloud.yaml`)"),
    ):
        out += [f"#### {what}", "", "| key | type | default | notes / env |", "|---|---|---|---|"]
        out += _rows(cls, "", env)
        out.append("")
    return "\n".join(out)


def embed(doc: str, reference: str) -> str:
    """``doc`` with the text between the markers replaced by ``reference``."""
    head, sep, rest = doc.partition(START)
    _, sep2, tail = rest.partition(END)
    if not (sep and sep2):
        raise click.ClickException(f"the file lacks the markers {START} ... {END}")
    return f"{head}{START}\n{reference}\n{END}{tail}"


@click.command("config-reference")
@click.option(
    "--write",
    "doc",
    type=click.Path(path_type=Path, exists=True),
    default=None,
    help="Update this file (between the config-reference markers; docs/configuration.md) instead.",
)
def config_reference_command(doc: Path | None) -> None:
    """Print the settings reference (markdown) generated from the settings models."""
    if doc is None:
        click.echo(config_reference())
        return
    doc.write_text(embed(doc.read_text(), config_reference()))
    click.echo(f"updated {doc}")
