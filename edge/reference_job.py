"""``dancebooth reference add-job VIDEO``: add a dance as ``reference add`` does, printing
JSON lines instead of a progress bar. The dashboard's adds run it as a separate process
(``cloud/dances/adder.py``): the cloud never imports the edge's pose pipeline.

Every line on standard output is one JSON object::

    {"event": "progress", "stage": "pose", "done": 120, "total": 795}
    {"event": "added", "path": "<root>/<name>", "report": {...}}
    {"event": "refused", "report": {...}, "reasons": ["..."], "hints": ["..."]}
    {"event": "error", "message": "..."}

Exit status: 0 added, 3 refused by the quality report, 1 any other error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from edge.reference_cli import root_option

REFUSED_EXIT = 3


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


@click.command("add-job")
@root_option
@click.argument("video", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="Dance name (letters, digits, - and _).")
@click.option("--title", help="Human title; default: from the name.")
@click.option("--backend", type=click.Choice(["blazepose", "replay"]), default="blazepose")
@click.option("--keypoints", "keypoints_path", type=click.Path(exists=True, path_type=Path))
@click.option("--start", type=float, help="Start of the dance in the video, seconds.")
@click.option("--end", type=float, help="End of the dance in the video, seconds.")
@click.option(
    "--person", help="Whom to follow: an index in the first crowded frame, 'largest' or 'central'."
)
@click.option("--mirror", is_flag=True, help="Store a mirrored copy.")
@click.option("--force", is_flag=True, help="Keep the dance even if the quality report refuses it.")
def add_job_cmd(
    root: Path,
    video: Path,
    name: str,
    title: str | None,
    backend: str,
    keypoints_path: Path | None,
    start: float | None,
    end: float | None,
    person: str | None,
    mirror: bool,
    force: bool,
) -> None:
    """Build a reference dance from VIDEO, reporting progress and the result as JSON lines."""
    try:
        outcome = _add(
            root, video, name, title, backend, keypoints_path, start, end, person, mirror, force
        )
    except Exception as exc:  # every failure becomes the one error line the API reads
        emit("error", message=str(exc) or type(exc).__name__)
        sys.exit(1)
    if outcome.get("event") == "refused":
        emit(**outcome)
        sys.exit(REFUSED_EXIT)
    emit(**outcome)


def _add(
    root: Path,
    video: Path,
    name: str,
    title: str | None,
    backend: str,
    keypoints_path: Path | None,
    start: float | None,
    end: float | None,
    person: str | None,
    mirror: bool,
    force: bool,
) -> dict[str, Any]:
    from edge.pose import create_estimator
    from edge.reference_builder import build_reference, load_keypoints_file
    from edge.settings import BlazePoseSettings, ReplaySettings
    from protocol.ids import check_id

    check_id(name, "dance name")
    if start is not None or end is not None or person is not None or mirror:
        raise click.UsageError("trim, person and mirror need the quality-checked add")
    truth = load_keypoints_file(keypoints_path) if keypoints_path else None
    settings = ReplaySettings(noise=False) if backend == "replay" else BlazePoseSettings()

    def progress(done: int, expected: int) -> None:
        emit("progress", stage="pose", done=done, total=expected)

    with create_estimator(settings) as estimator:
        path = build_reference(
            video,
            name,
            estimator,
            backend,
            root=root,
            title=title,
            keypoints=truth,
            progress=progress,
        )
    meta = json.loads((path / "dance.json").read_text())
    return {"event": "added", "path": str(path), "report": meta.get("metadata", {})}
