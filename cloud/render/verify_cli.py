"""``dancebooth render``: render (``cloud.render.cli``), or ``render verify FILE``: print a
rendition's content credentials and whether they validate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from cloud.render.cli import render_command


@click.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the whole manifest as JSON.")
def verify_command(file: Path, as_json: bool) -> None:
    """Print the C2PA manifest of FILE and its validation state (exit 1 unless valid)."""
    from cloud.render.credentials import read_credentials

    creds = read_credentials(file)
    if as_json:
        click.echo(json.dumps(creds.manifest or {}, indent=2))
    click.echo(f"{file}: content credentials {creds.state}")
    if creds.state == "none":
        raise SystemExit(1)
    click.echo(f"  signed by:      {creds.signer} (issuer {creds.issuer})")
    click.echo(f"  generator:      {creds.generator}")
    click.echo(
        f"  AI-generated:   {'yes (trainedAlgorithmicMedia)' if creds.ai_generated else 'no'}"
    )
    click.echo(f"  booth:          {creds.booth}")
    click.echo(f"  model version:  {creds.model_version}")
    click.echo(f"  capture session: {creds.capture_session}")
    for code in creds.failures:
        click.echo(f"  failed: {code}")
    if creds.state != "valid":
        raise SystemExit(1)


class RenderGroup(click.Group):
    """``render [OPTIONS] [SESSION]`` renders; ``render verify FILE`` runs the subcommand."""

    def __init__(self, render: click.Command, **attrs: Any) -> None:
        # Its params are the render command's, so tools that walk the CLI (the docs'
        # command check) see `render [OPTIONS] [SESSION]` as a command of its own.
        super().__init__(
            name="render",
            help=render.help,
            params=list(render.params),
            invoke_without_command=True,
            **attrs,
        )
        self.render = render
        self.add_command(verify_command)

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        if args and args[0] in self.commands:  # a subcommand: parsed without render's params
            plain = click.Group(name=self.name, commands=self.commands)
            return plain.make_context(info_name, args, parent, **extra)
        return self.render.make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        return ctx.command.invoke(ctx)  # the render command's, or the plain group's


render = RenderGroup(render_command)
render_command.epilog = "`dancebooth render verify FILE` checks a rendition's content credentials."
