"""Real photos of people for the tests (they ship inside installed packages)."""

from edge.pose.samples import astronaut, grace_hopper, side_by_side

__all__ = ["astronaut", "grace_hopper", "side_by_side"]
