"""The ``dancebooth`` command. Each group imports its side only when it runs."""

from __future__ import annotations

import click

from common.lazy import LazyGroup
from dancebooth import __version__
from dancebooth.logs import configure_logging

COMMANDS: dict[str, tuple[str, str]] = {
    "edge": ("edge.cli:edge", "Run and set up a booth node (no torch)."),
    "cloud": ("cloud.cli:cloud", "Run the cloud services: uploader, API, worker."),
    "demo": ("dancebooth.demo:demo", "Run the whole booth on this machine."),
    "rehearse": (
        "dancebooth.rehearsal.command:rehearse",
        "Run the production topology here with faults; check every visitor's mail and link.",
    ),
    "model": ("cloud.training.cli:model", "Train the booth checkpoint, fine-tune, inspect."),
    "render": (
        "cloud.render.verify_cli:render",
        "Render a visitor performing a dance (MP4); `render verify FILE`: its credentials.",
    ),
    "bench": ("dancebooth.bench:bench", "Benchmarks that print figures and the machine."),
    "config-reference": (
        "dancebooth.config_doc:config_reference_command",
        "Print the settings reference generated from the settings models.",
    ),
    "reference": ("edge.reference_cli:reference", "List and generate the reference dances."),
    "synth": ("edge.synthetic.cli:synth", "Synthetic booth: training corpus, contact sheets."),
}


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dancebooth")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for libraries too).")
@click.option("--log-json", is_flag=True, help="Log one JSON object per line.")
def cli(verbose: int, log_json: bool) -> None:
    """dancebooth: an edge-to-cloud motion-transfer booth."""
    configure_logging(verbose, log_json)


def main() -> None:
    cli(prog_name="dancebooth")
