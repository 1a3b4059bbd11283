"""Keypoint repair: imputing missing, low-confidence and implausible joints.

A joint is *observed* when its confidence reaches ``min_confidence``, it is finite,
and it lands near where its recent motion predicts (else it is an outlier). Left/right
pairs the estimator swapped are swapped back. Every other joint is *imputed*:

- **in time** when its gap is short: its offset from its anchor (parent joint, or the
  shoulders' midpoint for the nose) continues at the offset's recent velocity;
- **from the skeleton** when the gap is long: the bone keeps its last seen direction at
  the length learnt online from confident frames (averaged over the left/right pair);
  a joint never seen borrows its mirror joint's pose, else a standing template;
- torso roots (shoulders) follow the visible torso joints' translation.

:class:`Repairer` does this online over a circular buffer of recent frames;
:func:`repair_offline` repairs a whole capture, interpolating each gap between the
observations on both sides of it. Imputed joints are reported as a bit mask (bit i =
joint i, extras after the 17), the frame packet's ``imputed`` field.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import numpy.typing as npt

from edge.joints import JointTable, joint_table
from edge.settings import SmoothingSettings

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_BONE_EMA = 0.05  # bone lengths change only with out-of-plane rotation: learn slowly
_REACQUIRE_TORSO = 0.4  # how far from its imputed place an unsure joint may come back
_VEL_SPAN = 4  # frames over which a gap's starting velocity is measured
_VEL_DECAY_S = 0.05  # extrapolated offsets coast to a stop: a dancer's limbs reverse fast


_BITS = 1 << np.arange(32, dtype=np.int64)
_TORSO_IDX = [5, 6, 11, 12]  # left/right shoulder, left/right hip


def mask_bits(imputed: BoolArray) -> int:
    """Bit mask (bit i = joint i) of the True entries of a ``[J]`` bool array."""
    if not imputed.any():
        return 0
    return int(_BITS[: imputed.shape[0]][imputed].sum())


class Repairer:
    """Online repair of one dancer's keypoints, frame by frame.

    ``step(xyc [J,3], t_s)`` returns the repaired ``[J,3]`` (imputed joints get
    ``imputed_confidence``) and the ``[J]`` imputed flags. ``J`` is fixed by the first
    frame (17, or 21 with foot extras) until :meth:`reset`.
    """

    def __init__(self, settings: SmoothingSettings, fps: float) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.settings = settings
        self.fps = float(fps)
        self.reset()

    def reset(self) -> None:
        self._table: JointTable | None = None
        self._count = 0

    def _start(self, n: int) -> None:
        tab = self._table = joint_table(n)
        size = self.settings.buffer_frames
        self._ring_pos = np.zeros((size, n, 2))
        self._ring_obs = np.zeros((size, n), dtype=bool)
        self._ring_t = np.zeros(size)
        self._head = -1
        self._last_t = -math.inf
        self._last_seen = np.full(n, -math.inf)  # time of each joint's last observation
        self._offset = tab.template.copy()  # last observed (joint - anchor), pixels
        self._offset_known = np.zeros(n, dtype=bool)
        self._offset_t = np.full(n, -math.inf)
        # Each gap's starting offset and velocity, set when it begins (at _fill_at).
        self._fill = np.zeros((n, 2))
        self._fill_vel = np.zeros((n, 2))
        self._fill_at = np.full(n, math.nan)
        self._bone = np.linalg.norm(tab.template, axis=1)  # learnt |offset|, pixels
        self._bone_known = np.zeros(n, dtype=bool)
        self._torso = math.nan
        self._rejected = np.zeros(n, dtype=np.int64)
        self._any_rejected = False
        self._raw = np.zeros((n, 2))  # the estimator's last answer, whatever its confidence
        self._steady = np.zeros(n, dtype=np.int64)  # frames it has held still for
        self._all_bones_known = False
        self._has_anchor = tab.anchor_a >= 0
        self._anchor_ab = np.concatenate([tab.anchor_a, tab.anchor_b])

    @property
    def torso_length(self) -> float:
        """The learnt torso length in pixels (NaN until a confident torso was seen)."""
        return self._torso

    def recent(self, k: int) -> tuple[FloatArray, BoolArray, FloatArray]:
        """The last ``k`` repaired frames, oldest first: positions, observed flags, times."""
        k = min(k, self._count, self.settings.buffer_frames)
        idx = (self._head - np.arange(k)[::-1]) % self.settings.buffer_frames
        return self._ring_pos[idx], self._ring_obs[idx], self._ring_t[idx]

    def step(self, xyc: npt.ArrayLike, t_s: float) -> tuple[FloatArray, BoolArray]:
        arr = np.array(xyc, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != 3:
            raise ValueError(f"expected keypoints [J, 3], got shape {arr.shape}")
        if self._table is None or self._table.n != arr.shape[0]:
            self._start(arr.shape[0])
        observed = self.classify(arr, t_s)
        self._learn(arr, observed, t_s)
        imputed = ~observed
        if not observed.all():
            self._impute(arr, imputed, t_s)
            arr[imputed, 2] = self.settings.imputed_confidence
        self._push(arr[:, :2], observed, t_s)
        return arr, imputed

    def classify(self, arr: FloatArray, t_s: float) -> BoolArray:
        """Which joints of ``arr`` are observed; fixes left/right swaps in place."""
        s = self.settings
        observed: BoolArray = arr[:, 2] >= s.min_confidence  # False for NaN
        finite: BoolArray | bool = True
        if not math.isfinite(arr.sum()):
            finite = np.asarray(np.isfinite(arr).all(axis=1))
            arr[~finite] = 0.0
            observed &= finite
        if self._count < 2 or not self._torso > 0:
            self._raw[:] = arr[:, :2]
            return observed
        pred = self._predict(t_s)
        err = _dist(arr, pred)
        gate = s.track_gate_torso * self._torso
        steady = _dist(arr, self._raw) <= gate  # vs the estimator's own previous answer
        self._raw[:] = arr[:, :2]
        self._steady = np.where(steady, self._steady + 1, 0)
        if not observed.all():
            # An unsure joint that continues its own track is kept: estimators give
            # occluded joints low confidence yet often the right place. Once lost, it
            # is taken back after agreeing with its own answers for 3 frames (dropouts
            # jump about) if it lands near where the skeleton put it.
            steady = (self._steady >= 3) & (err <= _REACQUIRE_TORSO * self._torso)
            tracked = (self._ring_obs[self._head] & (err <= gate)) | steady
            observed |= tracked & finite
        # Jitter stays well under this; a swap or an outlier does not.
        if not (observed & (err > min(0.3, s.outlier_torso) * self._torso)).any():
            if self._any_rejected:
                self._rejected[:] = 0
                self._any_rejected = False
            return observed
        if s.fix_swaps and self._fix_swaps(arr, observed, pred):
            err = _dist(arr, pred)
        # Gate only joints seen recently: after a long gap the prediction is a guess.
        recent = (t_s - self._last_seen) <= max(s.short_gap_s, 1.5 / self.fps)
        outlier = observed & recent & (err > s.outlier_torso * self._torso)
        outlier &= self._rejected < s.max_rejected_frames
        self._rejected = np.where(outlier, self._rejected + 1, 0)
        self._any_rejected = bool(outlier.any())
        return observed & ~outlier

    def _predict(self, t_s: float) -> FloatArray:
        """Where each joint should be at ``t_s``: at constant velocity from the last two
        frames where both were observed (an imputed frame's velocity is no evidence)."""
        i, j = self._head, (self._head - 1) % self.settings.buffer_frames
        p1, p0 = self._ring_pos[i], self._ring_pos[j]
        dt_prev = self._ring_t[i] - self._ring_t[j]
        ratio = (t_s - self._ring_t[i]) / dt_prev if dt_prev > 0 else 1.0
        step = (p1 - p0) * min(max(ratio, 0.0), 2.0)
        both = self._ring_obs[i] & self._ring_obs[j]
        pred: FloatArray = p1 + step if both.all() else p1 + step * both[:, None]
        return pred

    def _fix_swaps(self, arr: FloatArray, observed: BoolArray, pred: FloatArray) -> bool:
        """Swap back left/right pairs that fit the prediction far better crossed."""
        assert self._table is not None
        pairs = self._table.pairs
        a, b = pairs[:, 0], pairs[:, 1]
        both = observed[a] & observed[b]
        same = _dist(arr[a], pred[a]) + _dist(arr[b], pred[b])
        cross = _dist(arr[a], pred[b]) + _dist(arr[b], pred[a])
        # Swap only on a clear win: crossing limbs (a turn) make both costs similar.
        swap = both & (cross < 0.5 * same) & (same > 0.1 * self._torso)
        if not swap.any():
            return False
        sa, sb = a[swap], b[swap]
        arr[np.concatenate([sa, sb])] = arr[np.concatenate([sb, sa])]
        return True

    def _learn(self, arr: FloatArray, observed: BoolArray, t_s: float) -> None:
        """Update the torso length, each bone's last offset and its learnt length."""
        tab = self._table
        assert tab is not None
        self._last_seen[observed] = t_s
        xy = arr[:, :2]
        everything = bool(observed.all())
        if everything or observed[_TORSO_IDX].all():
            ls, rs, lh, rh = xy[_TORSO_IDX].tolist()
            torso = math.hypot(ls[0] + rs[0] - lh[0] - rh[0], ls[1] + rs[1] - lh[1] - rh[1]) / 2
            known = self._torso > 0
            self._torso = self._torso + 0.1 * (torso - self._torso) if known else torso
        n = tab.n
        ab = self._anchor_ab  # one gather for both anchors: numpy's cost is per call
        ok = self._has_anchor if everything else observed[ab].reshape(2, n).all(axis=0)
        if not everything:
            ok = ok & observed & self._has_anchor
        off = xy - xy[ab].reshape(2, n, 2).sum(axis=0) * 0.5
        np.copyto(self._offset, off, where=ok[:, None])
        self._offset_t[ok] = t_s
        length = np.hypot(off[:, 0], off[:, 1])
        if not self._all_bones_known:
            first = ok & ~self._bone_known
            self._bone[first] = length[first]
            self._bone_known |= ok
            self._all_bones_known = bool(self._bone_known[self._has_anchor].all())
        length -= self._bone
        length *= _BONE_EMA
        length += self._bone
        np.copyto(self._bone, length, where=ok)
        self._offset_known |= ok

    def _impute(self, arr: FloatArray, imputed: BoolArray, t_s: float) -> None:
        assert self._table is not None
        tab = self._table
        xy = arr[:, :2]  # a view: writes land in arr
        if imputed[5] or imputed[6]:
            self._impute_torso(xy, imputed, t_s)
        lost = np.flatnonzero(imputed & self._has_anchor)
        if len(lost) == 0:
            return
        off = self._bone_offset(lost, t_s)
        depth = tab.depth[lost]
        # Anchors before the joints hanging from them; usually all lost joints share a depth.
        for d in (depth[0],) if (depth == depth[0]).all() else sorted(set(depth.tolist())):
            sel = depth == d
            js = lost[sel]
            xy[js] = (xy[tab.anchor_a[js]] + xy[tab.anchor_b[js]]) * 0.5 + off[sel]

    def _impute_torso(self, xy: FloatArray, imputed: BoolArray, t_s: float) -> None:
        """Lost shoulders move with the visible torso joints (or keep their last place)."""
        assert self._table is not None
        roots = np.flatnonzero(imputed & ~self._has_anchor)
        if len(roots) == 0:
            return
        if self._count == 0:
            xy[roots] = np.nan  # nothing to go on yet: placed below from the others
            fallback = _first_frame_root(xy, imputed, self._torso)
            xy[roots] = fallback[roots]
            return
        prev = self._ring_pos[self._head]
        torso = self._table.torso
        seen = torso[~imputed[torso]]
        xy[roots] = _rigid_follow(prev[seen], xy[seen], prev[roots])

    def _bone_offset(self, joints: npt.NDArray[np.intp], t_s: float) -> FloatArray:
        """The offset from its anchor at which each lost joint is placed: its pose when
        the gap began, at the bone's learnt length, coasting on the offset's velocity
        for at most ``short_gap_s`` (in time), then held (from the skeleton)."""
        since = self._offset_t[joints]
        begun = joints[(self._fill_at[joints] != since) | ~self._offset_known[joints]]
        if len(begun):  # a gap just began (or a joint never seen): set it up once
            self._start_gap(begun)
        gap = np.minimum(t_s - since, self.settings.short_gap_s)  # inf -> short_gap_s
        coast = _VEL_DECAY_S * (1 - np.exp(-gap / _VEL_DECAY_S))
        off: FloatArray = self._fill[joints] + self._fill_vel[joints] * coast[:, None]
        return off

    def _start_gap(self, joints: npt.NDArray[np.intp]) -> None:
        off = _with_length(self._offset[joints], self._symmetric_bone(joints))
        unseen = ~self._offset_known[joints]
        if unseen.any():
            off[unseen] = self._borrowed_offset(joints[unseen])
        self._fill[joints] = off
        if self.settings.short_gap_s > 0 and self._count >= 2:
            self._fill_vel[joints] = self._offset_velocity(joints) * ~unseen[:, None]
        self._fill_at[joints] = self._offset_t[joints]

    def _offset_velocity(self, joints: npt.NDArray[np.intp]) -> FloatArray:
        """Each joint's offset velocity (px/s) over the last frames of the buffer, from
        the oldest and newest frames where it and its anchor were observed (a span of
        frames averages the jitter a one-frame difference keeps)."""
        assert self._table is not None
        pos, obs, t = self.recent(_VEL_SPAN)
        a, b = self._table.anchor_a[joints], self._table.anchor_b[joints]
        seen = obs[:, joints] & obs[:, a] & obs[:, b]  # [N, k]
        first = np.argmax(seen, axis=0)
        last = len(seen) - 1 - np.argmax(seen[::-1], axis=0)
        k = np.arange(len(joints))
        off = pos[:, joints] - (pos[:, a] + pos[:, b]) / 2  # [N, k, 2]
        dt = t[last] - t[first]
        ok = seen[last, k] & (dt > 0)
        vel: FloatArray = (off[last, k] - off[first, k]) / np.where(ok, dt, 1.0)[:, None]
        vel[~ok] = 0.0
        return vel

    def _symmetric_bone(self, joints: npt.NDArray[np.intp]) -> FloatArray:
        assert self._table is not None
        mirror = self._table.flip[joints]
        both = self._bone_known[joints] & self._bone_known[mirror]
        return np.where(both, (self._bone[joints] + self._bone[mirror]) / 2, self._bone[joints])

    def _borrowed_offset(self, joints: npt.NDArray[np.intp]) -> FloatArray:
        """Never seen: the mirror joint's offset mirrored, else the standing template."""
        assert self._table is not None
        mirror = self._table.flip[joints]
        off = self._offset[mirror] * np.array([-1.0, 1.0])
        scale = self._torso if self._torso > 0 else 100.0
        template = self._table.template[joints] * scale
        return np.where(self._offset_known[mirror][:, None], off, template)

    def _push(self, xy: FloatArray, observed: BoolArray, t_s: float) -> None:
        self._head = (self._head + 1) % self.settings.buffer_frames
        self._ring_pos[self._head] = xy
        self._ring_obs[self._head] = observed
        self._ring_t[self._head] = t_s
        self._last_t = t_s
        self._count += 1


def _dist(p: FloatArray, q: FloatArray) -> FloatArray:
    """Point-wise distances between ``[N, >=2]`` arrays (x, y first)."""
    d: FloatArray = np.hypot(p[:, 0] - q[:, 0], p[:, 1] - q[:, 1])
    return d


def _with_length(off: FloatArray, length: FloatArray) -> FloatArray:
    norm = np.hypot(off[:, 0], off[:, 1])
    scaled: FloatArray = off * (length / np.where(norm > 0, norm, 1.0))[:, None]
    return scaled


def _rigid_follow(before: FloatArray, after: FloatArray, points: FloatArray) -> FloatArray:
    """Move ``points`` with the rigid motion (rotation + translation) that best takes
    ``before`` to ``after`` (Kabsch); translation only from one point, none from zero."""
    if len(before) == 0:
        return points.copy()
    c0, c1 = before.mean(axis=0), after.mean(axis=0)
    if len(before) == 1:
        moved: FloatArray = points + (c1 - c0)
        return moved
    p, q = before - c0, after - c1
    # The 2-D rotation angle maximising Σ q·R p has a closed form.
    angle = math.atan2(float((p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0]).sum()), float((p * q).sum()))
    cos, sin = math.cos(angle), math.sin(angle)
    rot = np.array([[cos, -sin], [sin, cos]])
    followed: FloatArray = (points - c0) @ rot.T + c1
    return followed


def _first_frame_root(xy: FloatArray, imputed: BoolArray, torso: float) -> FloatArray:
    """Shoulders on the very first frame: from the other shoulder or the hips, else the
    centre of whatever was seen (the dancer is somewhere there)."""
    out = xy.copy()
    seen = ~imputed
    scale = torso if torso > 0 else 100.0
    for j, other, hip in ((5, 6, 11), (6, 5, 12)):
        if not imputed[j]:
            continue
        if seen[hip]:
            out[j] = xy[hip] + (0.0, -scale)
        elif seen[other]:
            out[j] = xy[other] + (0.3 * scale * (1 if j == 5 else -1), 0.0)
        elif seen.any():
            out[j] = xy[seen].mean(axis=0)
        else:
            out[j] = 0.0
    return out
