"""Following the dancer among several people, backend-independent."""

from __future__ import annotations

import numpy as np

from edge.frames import Frame
from edge.pose.base import Person, PoseEstimator
from edge.pose.tracking import DancerTracker, FollowDancer, keypoint_distance, prominence

W, H = 640, 480
# A standing figure 1 unit tall, joints in COCO order (x, y), feet at y = 1.
TEMPLATE = np.array(
    [
        [0, 0.05],
        [0.02, 0.03],
        [-0.02, 0.03],
        [0.04, 0.04],
        [-0.04, 0.04],
        [0.1, 0.2],
        [-0.1, 0.2],
        [0.15, 0.4],
        [-0.15, 0.4],
        [0.17, 0.55],
        [-0.17, 0.55],
        [0.07, 0.55],
        [-0.07, 0.55],
        [0.08, 0.78],
        [-0.08, 0.78],
        [0.08, 1.0],
        [-0.08, 1.0],
    ],
    np.float32,
)


def person(cx: float, top: float, height: float, conf: float = 0.9) -> Person:
    kps = np.column_stack([TEMPLATE * height + [cx, top], np.full(17, conf)])
    return Person(kps.astype(np.float32), score=conf)


def test_first_frame_picks_most_central_and_largest() -> None:
    tracker = DancerTracker()
    friend = person(100, 150, 200)  # small, at the side
    dancer = person(330, 40, 400)
    sel = tracker.select([friend, dancer], W, H)
    assert sel.index == 1 and sel.people_seen == 2 and not sel.tracked
    assert prominence(dancer, W, H) > prominence(friend, W, H)


def test_keeps_following_the_dancer_when_a_bigger_friend_comes_closer() -> None:
    tracker = DancerTracker()
    dancer_x = 330.0
    tracker.select([person(dancer_x, 40, 400)], W, H)
    for step in range(20):
        dancer_x -= 8  # the dancer drifts left...
        friend = person(560 - 10 * step, 0, 470)  # ...a bigger friend walks to the centre
        people = [friend, person(dancer_x, 40, 400)]
        sel = tracker.select(people, W, H)
        assert sel.index == 1, f"switched to the friend at step {step}"
        assert sel.tracked and sel.people_seen == 2


def test_order_of_people_does_not_matter() -> None:
    tracker = DancerTracker()
    tracker.select([person(320, 40, 400)], W, H)
    sel = tracker.select([person(325, 40, 400), person(100, 100, 300)][::-1], W, H)
    assert sel.index == 1


def test_briefly_lost_dancer_is_not_replaced_then_is() -> None:
    tracker = DancerTracker(max_lost_frames=3)
    tracker.select([person(320, 40, 400)], W, H)
    friend = person(80, 100, 300)
    for _ in range(3):
        sel = tracker.select([friend], W, H)
        assert sel.person is None and sel.people_seen == 1
    sel = tracker.select([friend], W, H)
    assert sel.index == 0 and not sel.tracked
    # and the dancer coming back now is somebody else: the friend stays chosen
    sel = tracker.select([person(320, 40, 400), person(82, 100, 300)], W, H)
    assert sel.index == 1


def test_nobody_visible() -> None:
    sel = DancerTracker().select([], W, H)
    assert sel.person is None and sel.people_seen == 0


def test_keypoint_distance_uses_confident_joints_only() -> None:
    a, b = person(300, 40, 400), person(300, 40, 400)
    a.keypoints[:8, :2] += 1000
    a.keypoints[:8, 2] = 0.0
    assert keypoint_distance(a, b) == 0.0
    a.keypoints[:, 2] = 0.0
    assert keypoint_distance(a, b) == float("inf")


class Scripted(PoseEstimator):
    """A real (tiny) backend that returns a scripted list of people per frame."""

    name = "scripted"

    def __init__(self, script: list[list[Person]]) -> None:
        self.script = script
        self.resets = 0

    def estimate(self, frame: Frame) -> list[Person]:
        return self.script[frame.seq]

    def reset(self) -> None:
        self.resets += 1


def test_follow_dancer_combines_backend_and_tracker() -> None:
    script = [[person(320, 40, 400)], [person(90, 90, 300), person(322, 40, 400)]]
    follow = FollowDancer(Scripted(script))
    img = np.zeros((H, W, 3), np.uint8)
    assert follow(Frame(0, 0, img)).index == 0
    sel = follow(Frame(1, 0, img))
    assert sel.index == 1 and sel.people_seen == 2 and sel.tracked
    follow.reset()
    assert isinstance(follow.estimator, Scripted) and follow.estimator.resets == 1
