"""A synthetic visitor: a body, an appearance and a 15 s free-style dance, seen by the
booth camera as ground-truth keypoints (and, rendered, as frames)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from edge.frames import Frame, Keypoints
from edge.synthetic.appearance import Appearance
from edge.synthetic.body import BodyShape, Posed, pose
from edge.synthetic.camera import Camera
from edge.synthetic.choreography import Choreography
from edge.synthetic.dances import freestyle, routine
from edge.synthetic.moves import MOVES
from edge.synthetic.renderer import Renderer
from edge.synthetic.view import observe
from protocol.skeleton import NUM_KEYPOINTS

VISITOR_DURATION_S: Final = 15.0
# Synthetic clocks start here (2024-01-01T00:00:00Z), so capture times are reproducible.
BASE_CAPTURE_NS: Final = 1_704_067_200_000_000_000


def frame_count(fps: float, duration_s: float) -> int:
    if fps <= 0 or duration_s <= 0:
        raise ValueError(f"fps and duration must be positive, got {fps} fps, {duration_s} s")
    return max(1, round(fps * duration_s))


@dataclass
class Performance:
    """A body dancing a choreography in front of the booth camera."""

    shape: BodyShape
    choreography: Choreography
    # One-entry caches: keypoints, extras and frames of one clip share the work.
    _posed: dict[tuple[float, int], Posed] = field(default_factory=dict, repr=False, kw_only=True)
    _seen: dict[tuple[int, int, float, int], np.ndarray] = field(
        default_factory=dict, repr=False, kw_only=True
    )

    def posed(self, fps: float, duration_s: float) -> Posed:
        n = frame_count(fps, duration_s)
        key = (fps, n)
        if key not in self._posed:
            self._posed = {key: pose(self.shape, self.choreography.sample(np.arange(n) / fps))}
        return self._posed[key]

    def observed(self, width: int, height: int, fps: float, duration_s: float) -> np.ndarray:
        """``[T, 21, 3]`` float32 pixels + visibility: COCO-17 then the 4 foot extras."""
        posed = self.posed(fps, duration_s)
        key = (width, height, fps, len(posed.joints))
        if key not in self._seen:
            seen = observe(posed, self.shape, Camera(width, height)).astype(np.float32)
            seen.setflags(write=False)  # shared by every caller: copy before editing
            self._seen = {key: seen}
        return self._seen[key]

    def keypoints(self, width: int, height: int, fps: float, duration_s: float) -> Keypoints:
        """COCO-17 ``[T, 17, 3]``: x, y in pixels, visibility 0/1."""
        return self.observed(width, height, fps, duration_s)[:, :NUM_KEYPOINTS].copy()

    def extras(self, width: int, height: int, fps: float, duration_s: float) -> Keypoints:
        """Heels and foot tips ``[T, 4, 3]`` in ``protocol.skeleton.EXTRA_KEYPOINTS`` order."""
        return self.observed(width, height, fps, duration_s)[:, NUM_KEYPOINTS:].copy()


@dataclass
class SyntheticVisitor(Performance):
    appearance: Appearance
    seed: int = 0
    freestyle: bool = True  # dances free-style for as long as asked (else: its routine)

    def posed(self, fps: float, duration_s: float) -> Posed:
        # Free-style dancing goes on as long as asked: a longer dance has the same start.
        if self.freestyle and duration_s > self.choreography.duration - 1.0:
            self.choreography = freestyle(self.seed, duration_s)
        return super().posed(fps, duration_s)

    def frames(
        self, width: int, height: int, fps: float, duration_s: float, *, masks: bool = False
    ) -> Iterator[Frame]:
        """Rendered frames with ground truth: seq from 0, capture times ``seq / fps`` apart
        from a fixed base (so two runs give identical frames); with ``masks``, each frame's
        exact person mask in ``truth_mask``."""
        renderer = Renderer(width, height, self.appearance, self.shape)
        posed = self.posed(fps, duration_s)
        seen = self.observed(width, height, fps, duration_s)
        for seq in range(len(seen)):
            if masks:
                image, mask = renderer.render_with_mask(posed, seq)
            else:
                image, mask = renderer.render(posed, seq), None
            yield Frame(
                seq=seq,
                capture_ns=BASE_CAPTURE_NS + round(seq * 1e9 / fps),
                image=image,
                truth=seen[seq, :NUM_KEYPOINTS].copy(),
                truth_extras=seen[seq, NUM_KEYPOINTS:].copy(),
                truth_mask=mask,
            )


def _check_seed(seed: int) -> int:
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"dancer seeds are integers >= 0, got {seed!r}")
    return int(seed)


def make_visitor(seed: int, duration_s: float = VISITOR_DURATION_S) -> SyntheticVisitor:
    """Visitor number ``seed`` (>= 0): their own body, looks and free-style dance."""
    rng = np.random.default_rng([_check_seed(seed), 0x715170])
    shape = BodyShape.from_seed(rng)
    appearance = Appearance.from_seed(rng)
    return SyntheticVisitor(
        shape=shape,
        choreography=freestyle(seed, duration_s),
        seed=seed,
        appearance=appearance,
    )


def make_staff(seed: int, duration_s: float = VISITOR_DURATION_S) -> SyntheticVisitor:
    """Staff dancer ``seed`` for pre-training: own body and looks, dancing random routines
    from the move vocabulary (so the booth checkpoint has seen the reference moves)."""
    rng = np.random.default_rng([_check_seed(seed), 0x57AFF])
    shape = BodyShape.from_seed(rng)
    appearance = Appearance.from_seed(rng)
    bpm = float(rng.uniform(90, 130))
    names = sorted(MOVES)
    moves: list[str] = []
    while sum(MOVES[m.split(":")[0]][0] for m in moves) * 60.0 / bpm < duration_s:
        moves.append(f"{names[int(rng.integers(len(names)))]}:{'lr'[int(rng.integers(2))]}")
    return SyntheticVisitor(
        shape=shape,
        choreography=routine(seed, bpm, moves),
        appearance=appearance,
        seed=seed,
        freestyle=False,
    )
