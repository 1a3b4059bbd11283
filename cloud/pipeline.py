"""The worker's pipelines per job kind, built from the training, render and delivery parts.

``finetune`` jobs run fine-tune → quality gate → render → deliver; ``render`` jobs
re-render with the visitor's existing model; ``deliver`` jobs re-send the email.
"""

from __future__ import annotations

import importlib.util

from cloud.settings import CloudSettings
from cloud.worker import Pipelines

REQUIRED = ("cloud.training", "cloud.render", "cloud.delivery")


class PipelineUnavailableError(Exception):
    """A part the worker's steps need is not installed in this build."""


def default_pipelines(settings: CloudSettings) -> Pipelines:
    missing = [name for name in REQUIRED if importlib.util.find_spec(name) is None]
    if missing:
        raise PipelineUnavailableError(
            f"the worker needs {', '.join(missing)}, which this build does not have yet; "
            "install the full cloud extra (pip install 'dancebooth[cloud]')"
        )
    # The steps wrap cloud.training.finetune, the quality gate, the renderer and the
    # mailer; they are wired here when those parts land on main.
    raise PipelineUnavailableError(
        "the fine-tune/render/deliver steps are not wired into the worker yet"
    )
