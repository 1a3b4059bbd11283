"""The joint table: anchors, placing order, mirror pairs."""

from __future__ import annotations

import pytest

from edge.joints import joint_table
from protocol.skeleton import KP


@pytest.mark.parametrize("n", [17, 21])
def test_every_anchor_is_placed_before_its_joint(n: int) -> None:
    tab = joint_table(n)
    placed = set(tab.torso[:2].tolist())  # the shoulders are the roots
    for level in tab.levels:
        for j in level.tolist():
            assert {int(tab.anchor_a[j]), int(tab.anchor_b[j])} <= placed
        placed |= set(level.tolist())
    assert placed == set(range(n))
    assert all(tab.flip[tab.flip[j]] == j for j in range(n))


def test_nose_hangs_from_the_shoulders_and_feet_from_the_ankles() -> None:
    tab = joint_table(21)
    assert (tab.anchor_a[KP["nose"]], tab.anchor_b[KP["nose"]]) == (5, 6)
    assert tab.anchor_a[17] == KP["left_ankle"] and tab.anchor_a[18] == KP["right_ankle"]
    with pytest.raises(ValueError, match="17 or 21"):
        joint_table(19)
