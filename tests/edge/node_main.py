"""A node process for the kill tests: ``python -m tests.edge.node_main CONFIG [--capture S |
--serve]`` (neither: drain the spool and exit).

The real ``dancebooth edge run`` with the test's frame source and estimator (the
settings' pose backend may not be installed where the tests run).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from edge.node import EdgeNode
from edge.runner import run_node
from edge.settings import EdgeSettings
from edge.sources.base import FrameSource
from protocol.settings import load_settings
from tests.edge.helpers import PatternSource, TruthEstimator


def main(argv: list[str]) -> None:
    settings = load_settings(EdgeSettings, Path(argv[0]))
    capture_s = float(argv[2]) if len(argv) > 2 and argv[1] == "--capture" else None
    serve = argv[1:] == ["--serve"]

    def sources(fps: float, duration_s: float | None) -> FrameSource:
        return PatternSource(64, 48, fps, realtime=True)

    # A pose backend slower than the camera leaves a backlog in the spool at a kill.
    delay = float(os.environ.get("NODE_MAIN_POSE_DELAY_S", "0"))
    node = EdgeNode(settings, estimator=TruthEstimator(delay), sources=sources)
    drain = capture_s is None and not serve
    run_node(settings, capture_s=capture_s, session="skill", drain=drain, node=node)


if __name__ == "__main__":
    main(sys.argv[1:])
