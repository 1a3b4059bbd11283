"""Keypoint repair: imputing missing, low-confidence and implausible joints.

A joint is *observed* when its confidence reaches ``min_confidence``, it is finite,
and it lands near where its recent motion predicts (else it is an outlier). Left/right
pairs the estimator swapped are swapped back. Every other joint is *imputed*:

- **from the skeleton**: it hangs from its anchor (parent joint, or the shoulders'
  midpoint for the nose) in the bone's last seen direction, at the length learnt
  online from confident frames (averaged over the left/right pair); a joint never
  seen borrows its mirror joint's pose, else a standing template;
- **in time**, for the first ``short_gap_s`` of a gap: that offset also coasts on its
  velocity over the buffer's last frames (off by default: on the synthetic dances it
  did not pay, limbs reverse too fast; offline repair interpolates in time instead);
- torso roots (shoulders) follow the visible torso joints' rigid motion.

A joint reported with low confidence is still *observed* while it continues its own
track (occluded joints often come with low confidence but a fair position).
Positions are complex numbers ``x + iy`` inside: a distance, a rotation or a mirror is
then one numpy call, which is what keeps a frame within a few tens of microseconds.

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

from edge.joints import JointTable, first_frame_shoulders, joint_table, rigid_follow
from edge.settings import SmoothingSettings

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ComplexArray = npt.NDArray[np.complex128]
IndexArray = npt.NDArray[np.intp]

_BONE_EMA = 0.15  # bone lengths change only with out-of-plane rotation: learn slowly
_BONE_EVERY = 3  # ... from every third frame
_REACQUIRE_TORSO = 0.4  # how far from its imputed place an unsure joint may come back
_VEL_SPAN = 4  # frames over which a gap's starting velocity is measured
_VEL_DECAY_S = 0.05  # extrapolated offsets coast to a stop: a dancer's limbs reverse fast


_TORSO_IDX = [5, 6, 11, 12]  # left/right shoulder, left/right hip
_TO_Z = np.array([1.0, 1.0j])  # [x, y] @ _TO_Z = x + iy


def mask_bits(imputed: BoolArray) -> int:
    """Bit mask (bit i = joint i) of the True entries of a ``[J]`` bool array."""
    if not _any(imputed):
        return 0
    return int.from_bytes(np.packbits(imputed, bitorder="little").tobytes(), "little")


# Whole-array truth tests on the few joints of one frame, through the bytes: numpy's
# any()/all() cost a few microseconds each here, which is what a frame may spend.
def _any(flags: BoolArray) -> bool:
    return b"\x01" in flags.tobytes()


def _all(flags: BoolArray) -> bool:
    return b"\x00" not in flags.tobytes()


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
        self._ring_z = np.zeros((size, n), dtype=np.complex128)  # repaired positions
        self._ring_obs = np.zeros((size, n), dtype=bool)  # observed (not imputed)
        self._ring_t = np.zeros(size)
        self._head = -1
        self._last_seen = np.full(n, -math.inf)  # time of each joint's last observation
        self._offset = tab.template @ _TO_Z  # last observed (joint - anchor), pixels
        self._offset_known = np.zeros(n, dtype=bool)
        self._offset_t = np.full(n, -math.inf)
        self._bone = np.abs(self._offset)  # learnt bone lengths, pixels
        self._bone_known = np.zeros(n, dtype=bool)
        self._all_bones_known = False
        self._all_offsets_known = False
        self._torso = math.nan
        self._rejected = np.zeros(n, dtype=np.int64)  # outlier frames in a row
        self._any_rejected = False
        self._swap_run = np.zeros(len(tab.pairs), dtype=np.int64)  # crossed frames in a row
        self._raw = np.zeros(n, dtype=np.complex128)  # the estimator's last answer
        self._steady = np.zeros(n, dtype=np.int64)  # frames it has held still for
        self._steady_any = False
        # Each gap's starting offset and velocity, set when it begins (at _fill_at).
        self._fill = np.zeros(n, dtype=np.complex128)
        self._fill_vel = np.zeros(n, dtype=np.complex128)
        self._fill_at = np.full(n, math.nan)
        self._has_anchor = tab.anchor_a >= 0
        self._z = np.zeros(n, dtype=np.complex128)  # this frame's positions, x + iy
        self._xy = self._z.view(np.float64).reshape(n, 2)  # the same memory as [x, y] rows
        self._anchor_ab = np.concatenate([tab.anchor_a, tab.anchor_b])

    @property
    def torso_length(self) -> float:
        """The learnt torso length in pixels (NaN until a confident torso was seen)."""
        return self._torso

    def recent(self, k: int) -> tuple[ComplexArray, BoolArray, FloatArray]:
        """The last ``k`` repaired frames, oldest first: positions (x + iy), observed, times."""
        k = min(k, self._count, self.settings.buffer_frames)
        idx = (self._head - np.arange(k)[::-1]) % self.settings.buffer_frames
        return self._ring_z[idx], self._ring_obs[idx], self._ring_t[idx]

    def step(self, xyc: npt.ArrayLike, t_s: float) -> tuple[FloatArray, BoolArray]:
        arr = np.array(xyc, dtype=np.float64)
        z, imputed = self.step_points(arr, t_s)
        arr[:, 0], arr[:, 1] = z.real, z.imag
        return arr, imputed

    def step_points(self, arr: FloatArray, t_s: float) -> tuple[ComplexArray, BoolArray]:
        """:meth:`step` on a float64 ``[J, 3]`` array whose confidences it updates in
        place; the positions come back as ``x + iy`` in a buffer reused by the next call."""
        if arr.ndim != 2 or arr.shape[1] != 3:
            raise ValueError(f"expected keypoints [J, 3], got shape {arr.shape}")
        if self._table is None or self._table.n != arr.shape[0]:
            self._start(arr.shape[0])
        finite = None
        if not math.isfinite(arr.sum()):
            finite = np.asarray(np.isfinite(arr).all(axis=1))
            arr[~finite] = 0.0  # confidence 0: never observed
        self._xy[:] = arr[:, :2]  # into the complex buffer, through its float view
        z = self._z
        observed = self.classify(z, arr[:, 2], t_s, finite)
        everything = _all(observed)
        self._learn(z, observed, t_s, everything)
        imputed = ~observed
        if not everything:
            self._impute(z, imputed, t_s)
            arr[imputed, 2] = self.settings.imputed_confidence
        self._push(z, observed, t_s)
        return z, imputed

    def classify(
        self, z: ComplexArray, conf: FloatArray, t_s: float, finite: BoolArray | None = None
    ) -> BoolArray:
        """Which joints are observed; swaps left/right pairs back in place (``z``, ``conf``)."""
        s = self.settings
        observed: BoolArray = conf >= s.min_confidence
        if self._count < 2 or not self._torso > 0:
            self._raw[:] = z
            return observed
        pred = self._predict(t_s)
        err = np.abs(z - pred)
        gate = s.track_gate_torso * self._torso
        if not _all(observed):
            # An unsure joint that continues its own track is kept. Once lost, it is
            # taken back after agreeing with its own answers (dropouts jump about) for
            # 3 frames in a row if it lands near where the skeleton put it.
            steady = np.abs(z - self._raw) <= gate
            self._steady += 1
            self._steady[~steady] = 0
            self._steady_any = True
            back = (self._steady >= 3) & (err <= _REACQUIRE_TORSO * self._torso)
            tracked = (self._ring_obs[self._head] & (err <= gate)) | back
            observed |= tracked if finite is None else tracked & finite
        elif self._steady_any:  # everyone sure: nobody is on the way back
            self._steady[:] = 0
            self._steady_any = False
        self._raw[:] = z
        # Jitter stays well under this; a swap or an outlier does not.
        if not _any(observed & (err > min(0.3, s.outlier_torso) * self._torso)):
            if self._any_rejected:
                self._rejected[:] = 0
                self._swap_run[:] = 0
                self._any_rejected = False
            return observed
        if s.fix_swaps and self._fix_swaps(z, conf, observed, pred):
            err = np.abs(z - pred)
        # Gate only joints seen recently: after a long gap the prediction is a guess.
        recent = (t_s - self._last_seen) <= max(s.short_gap_s, 1.5 / self.fps)
        outlier = observed & recent & (err > s.outlier_torso * self._torso)
        outlier &= self._rejected < s.max_rejected_frames
        self._rejected = np.where(outlier, self._rejected + 1, 0)
        self._any_rejected = _any(outlier) or _any(self._swap_run > 0)
        return observed & ~outlier

    def _predict(self, t_s: float) -> ComplexArray:
        """Where each joint should be at ``t_s``: at constant velocity from the last two
        frames where both were observed (an imputed frame's velocity is no evidence)."""
        i, j = self._head, (self._head - 1) % self.settings.buffer_frames
        p1, p0 = self._ring_z[i], self._ring_z[j]
        dt_prev = self._ring_t[i] - self._ring_t[j]
        ratio = (t_s - self._ring_t[i]) / dt_prev if dt_prev > 0 else 1.0
        step = (p1 - p0) * min(max(ratio, 0.0), 2.0)
        both = self._ring_obs[i] & self._ring_obs[j]
        pred: ComplexArray = p1 + step if _all(both) else p1 + step * both
        return pred

    def _fix_swaps(
        self, z: ComplexArray, conf: FloatArray, observed: BoolArray, pred: ComplexArray
    ) -> bool:
        """Swap back left/right pairs that fit the prediction far better crossed."""
        assert self._table is not None
        a, b = self._table.pairs[:, 0], self._table.pairs[:, 1]
        za, zb, pa, pb = z[a], z[b], pred[a], pred[b]
        same = np.abs(za - pa) + np.abs(zb - pb)
        cross = np.abs(za - pb) + np.abs(zb - pa)
        # Swap only on a clear win: crossing limbs (a turn) make both costs similar.
        crossed = observed[a] & observed[b] & (cross < 0.5 * same) & (same > 0.1 * self._torso)
        # An estimator that keeps saying so is right (a turn, or we locked on to a swapped
        # start): after max_rejected_frames in a row its labels are taken.
        swap = crossed & (self._swap_run < self.settings.max_rejected_frames)
        self._swap_run = np.where(crossed, self._swap_run + 1, 0)
        if not _any(swap):
            return False
        sa, sb = a[swap], b[swap]
        dst, src = np.concatenate([sa, sb]), np.concatenate([sb, sa])
        z[dst] = z[src]
        conf[dst] = conf[src]
        return True

    def _learn(self, z: ComplexArray, observed: BoolArray, t_s: float, everything: bool) -> None:
        """Update the torso length, each bone's last offset and its learnt length."""
        tab = self._table
        assert tab is not None
        self._last_seen[observed] = t_s
        if everything or _all(observed[_TORSO_IDX]):
            ls, rs, lh, rh = z[_TORSO_IDX].tolist()
            torso = abs(ls + rs - lh - rh) / 2
            known = self._torso > 0
            self._torso = self._torso + 0.1 * (torso - self._torso) if known else torso
        n = tab.n
        zab = z[self._anchor_ab]  # one gather for both anchors: numpy's cost is per call
        ok = self._has_anchor
        if not everything:
            ok = observed[self._anchor_ab].reshape(2, n).all(axis=0) & observed & ok
        off = z - (zab[:n] + zab[n:]) * 0.5
        np.copyto(self._offset, off, where=ok)
        self._offset_t[ok] = t_s
        if not self._all_offsets_known:
            self._offset_known |= ok
            self._all_offsets_known = _all(self._offset_known[self._has_anchor])
        if self._all_bones_known and self._count % _BONE_EVERY:
            return  # bone lengths drift slowly: learn them on every few frames only
        length = np.abs(off)
        if not self._all_bones_known:
            first = ok & ~self._bone_known
            self._bone[first] = length[first]
            self._bone_known |= ok
            self._all_bones_known = _all(self._bone_known[self._has_anchor])
        length -= self._bone
        length *= _BONE_EMA
        length += self._bone
        np.copyto(self._bone, length, where=ok)

    def _impute(self, z: ComplexArray, imputed: BoolArray, t_s: float) -> None:
        tab = self._table
        assert tab is not None
        if imputed[5] or imputed[6]:
            self._impute_torso(z, imputed)
        lost = np.flatnonzero(imputed & self._has_anchor)
        if len(lost) == 0:
            return
        off = self._bone_offset(lost, t_s)
        depth = tab.depth[lost]
        # Anchors before the joints hanging from them; usually all lost share a depth.
        if _all(depth == depth[0]):
            z[lost] = (z[tab.anchor_a[lost]] + z[tab.anchor_b[lost]]) * 0.5 + off
            return
        for d in sorted(set(depth.tolist())):
            sel = depth == d
            js = lost[sel]
            z[js] = (z[tab.anchor_a[js]] + z[tab.anchor_b[js]]) * 0.5 + off[sel]

    def _impute_torso(self, z: ComplexArray, imputed: BoolArray) -> None:
        """Lost shoulders move rigidly with the visible torso joints."""
        assert self._table is not None
        roots = np.flatnonzero(imputed & ~self._has_anchor)
        if self._count == 0:
            z[roots] = first_frame_shoulders(z, imputed, self._torso)[roots]
            return
        prev = self._ring_z[self._head]
        torso = self._table.torso
        seen = torso[~imputed[torso]]
        z[roots] = rigid_follow(prev[seen], z[seen], prev[roots])

    def _bone_offset(self, joints: IndexArray, t_s: float) -> ComplexArray:
        """The offset from its anchor at which each lost joint is placed: its pose when
        the gap began, at the bone's learnt length, coasting on the offset's velocity
        for at most ``short_gap_s`` (in time), then held (from the skeleton)."""
        since = self._offset_t[joints]
        begun = self._fill_at[joints] != since
        if not self._all_offsets_known:
            begun |= ~self._offset_known[joints]
        begun = joints[begun]
        if len(begun):  # a gap just began (or a joint never seen): set it up once
            self._start_gap(begun)
        if self.settings.short_gap_s <= 0:
            held: ComplexArray = self._fill[joints]
            return held
        gap = np.minimum(t_s - since, self.settings.short_gap_s)  # inf -> short_gap_s
        coast = _VEL_DECAY_S * (1 - np.exp(-gap / _VEL_DECAY_S))
        off: ComplexArray = self._fill[joints] + self._fill_vel[joints] * coast
        return off

    def _start_gap(self, joints: IndexArray) -> None:
        off = _with_length(self._offset[joints], self._symmetric_bone(joints))
        unseen = ~self._offset_known[joints]
        if unseen.any():
            off[unseen] = self._borrowed_offset(joints[unseen])
        self._fill[joints] = off
        self._fill_vel[joints] = 0.0
        if self.settings.short_gap_s > 0 and self._count >= 2:
            self._fill_vel[joints] = self._offset_velocity(joints) * ~unseen
        self._fill_at[joints] = self._offset_t[joints]

    def _offset_velocity(self, joints: IndexArray) -> ComplexArray:
        """Each joint's offset velocity (px/s) over the last frames of the buffer, from
        the oldest and newest frames where it and its anchor were observed (a span of
        frames averages the jitter a one-frame difference keeps)."""
        assert self._table is not None
        z, obs, t = self.recent(_VEL_SPAN)
        a, b = self._table.anchor_a[joints], self._table.anchor_b[joints]
        seen = obs[:, joints] & obs[:, a] & obs[:, b]  # [N, k]
        first = np.argmax(seen, axis=0)
        last = len(seen) - 1 - np.argmax(seen[::-1], axis=0)
        k = np.arange(len(joints))
        off = z[:, joints] - (z[:, a] + z[:, b]) * 0.5  # [N, k]
        dt = t[last] - t[first]
        ok = seen[last, k] & (dt > 0)
        vel: ComplexArray = (off[last, k] - off[first, k]) / np.where(ok, dt, 1.0)
        vel[~ok] = 0.0
        return vel

    def _symmetric_bone(self, joints: IndexArray) -> FloatArray:
        assert self._table is not None
        mirror = self._table.flip[joints]
        both = self._bone_known[joints] & self._bone_known[mirror]
        return np.where(both, (self._bone[joints] + self._bone[mirror]) / 2, self._bone[joints])

    def _borrowed_offset(self, joints: IndexArray) -> ComplexArray:
        """Never seen: the mirror joint's offset mirrored, else the standing template."""
        assert self._table is not None
        mirror = self._table.flip[joints]
        mirrored = -np.conj(self._offset[mirror])  # x -> -x about the anchor
        scale = self._torso if self._torso > 0 else 100.0
        template = (self._table.template[joints] @ _TO_Z) * scale
        borrowed: ComplexArray = np.where(self._offset_known[mirror], mirrored, template)
        return borrowed

    def _push(self, z: ComplexArray, observed: BoolArray, t_s: float) -> None:
        self._head = (self._head + 1) % self.settings.buffer_frames
        self._ring_z[self._head] = z
        self._ring_obs[self._head] = observed
        self._ring_t[self._head] = t_s
        self._count += 1


def _with_length(off: ComplexArray, length: FloatArray) -> ComplexArray:
    norm = np.abs(off)
    scaled: ComplexArray = off * (length / np.where(norm > 0, norm, 1.0))
    return scaled
