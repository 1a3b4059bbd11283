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
track (occluded joints often come with low confidence but a fair position), and an
imputed one the estimator still placed near the skeleton's guess meets it halfway.

Real dancers move fast (``dancebooth bench edge smoothing --set real``: motion capture
of dances, jumps, spins, a cartwheel and a backflip), so every test allows for speed:
a joint's miss is measured against its anchor's (a limb carried by a jumping body is
no surprise), its gates widen with its own predicted step, and the size the gates are
measured in does not collapse when the torso is seen end-on.

:class:`Repairer` does this online over a circular buffer of recent frames;
:func:`~edge.repair_offline.repair_offline` repairs a whole capture, interpolating each
gap between the observations on both sides of it. Imputed joints are reported as a bit
mask (bit i = joint i, extras after the 17), the frame packet's ``imputed`` field.

A frame is one call of a kernel compiled by numba (``_step``): plain loops over the
joints, on state arrays the :class:`Repairer` owns, positions as complex numbers
``x + iy``. Built from numpy calls instead, the same step took ~150 of them (≈0.25 µs
each here, 5-10× that on a Pi or a Coral board); compiled, it takes a few µs. The
machine code is cached on disk (:mod:`edge.jit`), and :func:`warm_up` compiles or
loads it up front, so no capture waits for the compiler on its first frame.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import numpy.typing as npt

from edge.jit import kernel
from edge.joints import TORSO, joint_table
from edge.settings import SmoothingSettings
from protocol.skeleton import NUM_KEYPOINTS

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ComplexArray = npt.NDArray[np.complex128]
IntArray = npt.NDArray[np.int64]

_BONE_EMA = 0.15  # bone lengths change only with out-of-plane rotation: learn slowly
_BONE_EVERY = 3  # ... from every third frame
_REACQUIRE_TORSO = 0.4  # how far from its imputed place an unsure joint may come back
# The dancer's size (the "torso" every gate is measured in): the torso, or the
# shoulders' width times this when wider (a torso seen end-on in a flip or a bow
# shrinks to a few pixels while the dancer does not) ...
_SIZE_PER_WIDTH = 1.3
_SIZE_RISE, _SIZE_FALL = 0.3, 0.03  # ... followed fast up and slowly down, per frame
# A fast joint is predicted less well: its tracking and outlier gates widen by these
# fractions of its predicted step (0.5 / 0.5 on the motion-capture tuning clips;
# tracking at 1.0 let the synthetic dancers' dropouts through).
_TRACK_SPEED = 0.5
_OUTLIER_SPEED = 0.5
# An imputed joint the estimator still placed (unsure) within this many torso lengths
# of the skeleton's guess is put halfway between the two (`_lean`).
_LEAN, _LEAN_TORSO = 0.5, 0.5
_VEL_SPAN = 4  # frames over which a gap's starting velocity is measured
_VEL_DECAY_S = 0.05  # extrapolated offsets coast to a stop: a dancer's limbs reverse fast

# Left/right shoulder, left/right hip. Spelt out: compiled code bakes in the values of
# the globals it reads, and numba's cache only notices changes of this file.
_LS, _RS, _LH, _RH = 5, 6, 11, 12
assert (_LS, _RS, _LH, _RH) == TORSO

# The state a frame reads and writes, as rows of a few arrays (one row per quantity,
# one column per joint) so the kernel takes few arguments: numba's call overhead is
# per argument. Complex rows, x + iy:
_Z = 0  # this frame's positions (handed back to the caller)
_RAW = 1  # the estimator's last answer
_PRED = 2  # where each joint was predicted for this frame
_OFFSET = 3  # last observed (joint - anchor), pixels
_FILL = 4  # each gap's starting offset ...
_FILL_VEL = 5  # ... and velocity (px/s), set when it begins (at FILL_AT)
_TEMPLATE = 6  # standing pose: offset from the anchor, torso lengths
_COMPLEX_ROWS = 7
# Float rows:
_ERR = 0  # distance from the prediction, pixels
_LAST_SEEN = 1  # time of each joint's last observation
_OFFSET_T = 2  # time OFFSET was seen
_BONE = 3  # learnt bone lengths, pixels
_FILL_AT = 4  # the OFFSET_T a gap's fill was set up from (NaN: never)
_FLOAT_ROWS = 5
# Integer rows (flags are 0/1):
_OBSERVED = 0  # this frame's verdict
_FINITE = 1  # this frame's input was finite
_REJECTED = 2  # outlier frames in a row
_STEADY = 3  # frames the estimator has held still for (while someone is unsure)
_SWAP_RUN = 4  # crossed frames in a row, at the left joint of each left/right pair
_OFFSET_KNOWN = 5
_BONE_KNOWN = 6
_ANCHOR_A = 7  # a joint's anchor is the midpoint of ANCHOR_A and ANCHOR_B (-1: a root)
_ANCHOR_B = 8
_FLIP = 9  # the mirror joint
_PLACE = 10  # the anchored joints, anchors before their dependants; -1 after them
_INT_ROWS = 11
# Scalars (one float array): state, then settings.
_HEAD = 0  # ring row of the last frame
_COUNT = 1  # frames so far
_TORSO = 2  # learnt torso length, pixels (NaN until a confident torso was seen)
_ALL_OFFSETS_KNOWN = 3
_ALL_BONES_KNOWN = 4
_ANY_REJECTED = 5  # some joint is being rejected, or some pair kept crossed
_STEADY_ANY = 6  # STEADY counts somewhere
_MIN_CONFIDENCE = 7
_TRACK_GATE = 8
_SHORT_GAP = 9
_OUTLIER = 10
_MAX_REJECTED = 11
_FIX_SWAPS = 12
_IMPUTED_CONFIDENCE = 13
_FPS = 14
_SCALARS = 15


def mask_bits(imputed: BoolArray) -> int:
    """Bit mask (bit i = joint i) of the True entries of a ``[J]`` bool array."""
    return int.from_bytes(np.packbits(imputed, bitorder="little").tobytes(), "little")


class Repairer:
    """Online repair of one dancer's keypoints, frame by frame.

    ``step(xyc [J,3], t_s)`` returns the repaired ``[J,3]`` (imputed joints get
    ``imputed_confidence``) and the ``[J]`` imputed flags. ``J`` is fixed by the first
    frame (17, or 21 with foot extras); a frame with the other count starts the joint
    state afresh. :meth:`reset` forgets everything.
    """

    def __init__(self, settings: SmoothingSettings, fps: float) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.settings = settings
        self.fps = float(fps)
        self.reset()
        warm_up()

    def reset(self) -> None:
        self._n = 0  # joints per frame, 0 until the first frame
        self._sc = np.zeros(_SCALARS)
        self._sc[_TORSO] = math.nan

    def _start(self, n: int) -> None:
        """Fresh joint state for ``n`` joints (the frame count goes on)."""
        s, tab = self.settings, joint_table(n)
        template = tab.template[:, 0] + 1j * tab.template[:, 1]
        self._zj = np.zeros((_COMPLEX_ROWS, n), dtype=np.complex128)
        self._zj[_OFFSET] = self._zj[_TEMPLATE] = template
        self._fj = np.zeros((_FLOAT_ROWS, n))
        self._fj[[_LAST_SEEN, _OFFSET_T]] = -math.inf
        self._fj[_BONE] = np.abs(template)
        self._fj[_FILL_AT] = math.nan
        self._ij = np.zeros((_INT_ROWS, n), dtype=np.int64)
        self._ij[_ANCHOR_A], self._ij[_ANCHOR_B] = tab.anchor_a, tab.anchor_b
        self._ij[_FLIP] = tab.flip
        place = np.concatenate(tab.levels)
        self._ij[_PLACE] = -1
        self._ij[_PLACE, : len(place)] = place
        count = self._sc[_COUNT]
        self._sc = np.zeros(_SCALARS)
        self._sc[[_HEAD, _COUNT, _TORSO]] = -1, count, math.nan
        self._sc[_MIN_CONFIDENCE:] = (
            s.min_confidence,
            s.track_gate_torso,
            s.short_gap_s,
            s.outlier_torso,
            s.max_rejected_frames,
            s.fix_swaps,
            s.imputed_confidence,
            self.fps,
        )
        self._ring_z = np.zeros((s.buffer_frames, n), dtype=np.complex128)  # repaired
        self._ring_obs = np.zeros((s.buffer_frames, n), dtype=bool)  # observed (not imputed)
        self._ring_t = np.zeros(s.buffer_frames)
        self._points = self._zj[_Z].view(np.float64).reshape(n, 2)  # the positions as [x, y]
        self._imputed = np.zeros(n, dtype=bool)
        self._n = n

    @property
    def torso_length(self) -> float:
        """The learnt torso length in pixels (NaN until a confident torso was seen)."""
        return float(self._sc[_TORSO])

    @property
    def points(self) -> FloatArray:
        """The last frame's repaired positions, ``[J, 2]`` (a buffer the next frame reuses)."""
        return self._points

    def recent(self, k: int) -> tuple[ComplexArray, BoolArray, FloatArray]:
        """The last ``k`` repaired frames, oldest first: positions (x + iy), observed, times."""
        if not self._n:
            return np.zeros((0, 0), np.complex128), np.zeros((0, 0), bool), np.zeros(0)
        size = self.settings.buffer_frames
        k = min(k, int(self._sc[_COUNT]), size)
        idx = (int(self._sc[_HEAD]) - np.arange(k)[::-1]) % size
        return self._ring_z[idx], self._ring_obs[idx], self._ring_t[idx]

    def step(self, xyc: npt.ArrayLike, t_s: float) -> tuple[FloatArray, BoolArray]:
        arr = np.array(xyc, dtype=np.float64, order="C")
        z, imputed = self.step_points(arr, t_s)
        arr[:, 0], arr[:, 1] = z.real, z.imag
        return arr, imputed

    def step_points(self, arr: FloatArray, t_s: float) -> tuple[ComplexArray, BoolArray]:
        """:meth:`step` on a float64 ``[J, 3]`` array whose confidences it updates in
        place; the positions come back as ``x + iy`` in a buffer reused by the next call."""
        self.step_mask(arr, t_s)
        return self._zj[_Z], self._imputed.copy()

    def step_mask(self, arr: FloatArray, t_s: float) -> int:
        """:meth:`step_points` for the hot path: returns the imputed joints as a bit mask;
        the positions are in :attr:`points`."""
        if arr.ndim != 2 or arr.shape[1] != 3:
            raise ValueError(f"expected keypoints [J, 3], got shape {arr.shape}")
        if self._n != arr.shape[0]:
            self._start(arr.shape[0])
        if arr.dtype != np.float64 or not arr.flags.c_contiguous:  # the kernel's layout
            frame = np.ascontiguousarray(arr, dtype=np.float64)
            bits = self.step_mask(frame, t_s)
            arr[...] = frame
            return bits
        mask: int = _step(
            arr,
            float(t_s),
            self._imputed,
            self._zj,
            self._fj,
            self._ij,
            self._sc,
            self._ring_z,
            self._ring_obs,
            self._ring_t,
        )
        return mask


_warm = False


def warm_up() -> None:
    """Compile the frame kernel, or load it from numba's cache, now (once per process)
    rather than on a capture's first frame: seconds cold, a fraction of one cached."""
    global _warm
    if not _warm:
        _warm = True  # before the throwaway Repairer, whose __init__ calls this
        Repairer(SmoothingSettings(), 30.0).step_mask(np.zeros((NUM_KEYPOINTS, 3)), 0.0)


# ------------------------------------------------------------- the compiled frame
# Each function below is one part of a frame, over the state rows described above.
# Whatever they call or read stays in this file: numba's cache notices changes of this
# file only.


@kernel
def _step(
    arr: FloatArray,
    t_s: float,
    imputed: BoolArray,
    zj: ComplexArray,
    fj: FloatArray,
    ij: IntArray,
    sc: FloatArray,
    ring_z: ComplexArray,
    ring_obs: BoolArray,
    ring_t: FloatArray,
) -> int:
    """One frame: classify, learn, impute, remember it. Returns the imputed bit mask."""
    n = arr.shape[0]
    z, conf = zj[_Z], arr[:, 2]
    finite, observed = ij[_FINITE], ij[_OBSERVED]
    for j in range(n):
        x, y, c = arr[j, 0], arr[j, 1], arr[j, 2]
        finite[j] = math.isfinite(x) and math.isfinite(y) and math.isfinite(c)
        if not finite[j]:  # confidence 0: never observed
            arr[j] = 0.0
        z[j] = complex(arr[j, 0], arr[j, 1])
    _classify(z, conf, t_s, zj, fj, ij, sc, ring_z, ring_obs, ring_t)
    everything = True
    for j in range(n):
        everything = everything and observed[j] != 0
    _learn(z, t_s, everything, zj, fj, ij, sc)
    mask = 0
    if not everything:
        _impute(z, t_s, zj, fj, ij, sc, ring_z, ring_obs, ring_t)
        for j in range(n):
            if not observed[j]:
                arr[j, 2] = sc[_IMPUTED_CONFIDENCE]
                mask |= 1 << j
    for j in range(n):
        imputed[j] = not observed[j]
    _push(z, t_s, ij, sc, ring_z, ring_obs, ring_t)
    if mask:  # after the buffer took the skeleton's guess: tracking goes on from that
        _lean(z, conf, zj, ij, sc)
    return mask


@kernel
def _lean(
    z: ComplexArray, conf: FloatArray, zj: ComplexArray, ij: IntArray, sc: FloatArray
) -> None:
    """Imputed joints the estimator still placed, unsure (not rejected) and not far
    from the skeleton's guess, lean toward that answer: on fast motion the guess is
    off by as much as the unsure answer, and the mean of two such errors is smaller."""
    raw, observed, finite = zj[_RAW], ij[_OBSERVED], ij[_FINITE]
    near = _LEAN_TORSO * sc[_TORSO]
    for j in range(len(z)):
        unsure = 0 < conf[j] < sc[_MIN_CONFIDENCE]
        if not observed[j] and finite[j] and unsure and abs(raw[j] - z[j]) <= near:
            z[j] += (raw[j] - z[j]) * _LEAN


@kernel
def _classify(
    z: ComplexArray,
    conf: FloatArray,
    t_s: float,
    zj: ComplexArray,
    fj: FloatArray,
    ij: IntArray,
    sc: FloatArray,
    ring_z: ComplexArray,
    ring_obs: BoolArray,
    ring_t: FloatArray,
) -> None:
    """Which joints are observed (row OBSERVED); swaps left/right pairs back in place
    (``z``, ``conf``)."""
    n = len(z)
    raw, pred, err = zj[_RAW], zj[_PRED], fj[_ERR]
    finite, observed, steady = ij[_FINITE], ij[_OBSERVED], ij[_STEADY]
    sure = True
    for j in range(n):
        observed[j] = conf[j] >= sc[_MIN_CONFIDENCE]
        sure = sure and observed[j] != 0
    torso = sc[_TORSO]
    if sc[_COUNT] < 2 or not torso > 0:
        raw[:] = z
        return
    _predict(t_s, pred, sc, ring_z, ring_obs, ring_t)
    _relative_errors(z, pred, err, ij)
    gate = sc[_TRACK_GATE] * torso
    if not sure:
        # An unsure joint that continues its own track is kept. Once lost, it is
        # taken back after agreeing with its own answers (dropouts jump about) for
        # 3 frames in a row if it lands near where the skeleton put it.
        head = int(sc[_HEAD])
        for j in range(n):
            steady[j] = steady[j] + 1 if abs(z[j] - raw[j]) <= gate else 0
            back = steady[j] >= 3 and err[j] <= _REACQUIRE_TORSO * torso
            # A fast joint is predicted less well: its gate widens with its speed.
            moving = _TRACK_SPEED * abs(pred[j] - ring_z[head, j])
            tracked = (ring_obs[head, j] and err[j] <= gate + moving) or back
            if tracked and finite[j]:
                observed[j] = 1
        sc[_STEADY_ANY] = 1.0
    elif sc[_STEADY_ANY]:  # everyone sure: nobody is on the way back
        steady[:] = 0
        sc[_STEADY_ANY] = 0.0
    raw[:] = z
    # Jitter stays well under this; a swap or an outlier does not.
    suspect = False
    for j in range(n):
        suspect = suspect or (observed[j] != 0 and err[j] > min(0.3, sc[_OUTLIER]) * torso)
    rejected, swap_run = ij[_REJECTED], ij[_SWAP_RUN]
    if not suspect:
        if sc[_ANY_REJECTED]:
            rejected[:] = 0
            swap_run[:] = 0
            sc[_ANY_REJECTED] = 0.0
        return
    if sc[_FIX_SWAPS] and _fix_swaps(z, conf, pred, ij, sc):
        _relative_errors(z, pred, err, ij)
    # Gate only joints seen recently: after a long gap the prediction is a guess.
    recent_s = max(sc[_SHORT_GAP], 1.5 / sc[_FPS])
    last_seen = fj[_LAST_SEEN]
    any_rejected = False
    for j in range(n):
        outlier = (
            observed[j] != 0
            and t_s - last_seen[j] <= recent_s
            and err[j]
            > sc[_OUTLIER] * torso + _OUTLIER_SPEED * abs(pred[j] - ring_z[int(sc[_HEAD]), j])
            and rejected[j] < sc[_MAX_REJECTED]
        )
        rejected[j] = rejected[j] + 1 if outlier else 0
        if outlier:
            observed[j] = 0
        any_rejected = any_rejected or outlier or swap_run[j] > 0
    sc[_ANY_REJECTED] = 1.0 if any_rejected else 0.0


@kernel
def _relative_errors(z: ComplexArray, pred: ComplexArray, err: FloatArray, ij: IntArray) -> None:
    """How far each joint lands from its prediction, less its anchor's miss: a limb
    carried by a jumping or turning body is no surprise when its anchor moved alike.
    The torso roots are measured against the other torso joints' mean miss."""
    anchor_a, anchor_b, observed = ij[_ANCHOR_A], ij[_ANCHOR_B], ij[_OBSERVED]
    seen, total = 0, 0j
    for j in (_LS, _RS, _LH, _RH):
        if observed[j]:
            seen += 1
            total += z[j] - pred[j]
    for j in range(len(z)):
        miss = z[j] - pred[j]
        a, b = anchor_a[j], anchor_b[j]
        if a >= 0 and observed[a] and observed[b]:  # an unsure anchor vouches for nobody
            err[j] = min(abs(miss), abs(miss - (z[a] + z[b] - pred[a] - pred[b]) * 0.5))
        elif observed[j] and seen >= 3:
            err[j] = min(abs(miss), abs(miss - (total - miss) / (seen - 1)))
        elif not observed[j] and seen >= 2:
            err[j] = min(abs(miss), abs(miss - total / seen))
        else:
            err[j] = abs(miss)


@kernel
def _predict(
    t_s: float,
    pred: ComplexArray,
    sc: FloatArray,
    ring_z: ComplexArray,
    ring_obs: BoolArray,
    ring_t: FloatArray,
) -> None:
    """Where each joint should be at ``t_s``: at constant velocity from the last two
    frames where both were observed (an imputed frame's velocity is no evidence)."""
    i = int(sc[_HEAD])
    k = (i - 1) % ring_z.shape[0]
    dt_prev = ring_t[i] - ring_t[k]
    ratio = (t_s - ring_t[i]) / dt_prev if dt_prev > 0 else 1.0
    ratio = min(max(ratio, 0.0), 2.0)
    for j in range(len(pred)):
        pred[j] = ring_z[i, j]
        if ring_obs[i, j] and ring_obs[k, j]:
            pred[j] += (ring_z[i, j] - ring_z[k, j]) * ratio


@kernel
def _fix_swaps(
    z: ComplexArray, conf: FloatArray, pred: ComplexArray, ij: IntArray, sc: FloatArray
) -> bool:
    """Swap back left/right pairs that fit the prediction far better crossed."""
    observed, swap_run, flip = ij[_OBSERVED], ij[_SWAP_RUN], ij[_FLIP]
    swapped = False
    for a in range(len(z)):
        b = flip[a]
        if b <= a:
            continue  # a pair is visited from its left joint; the nose has none
        same = abs(z[a] - pred[a]) + abs(z[b] - pred[b])
        cross = abs(z[a] - pred[b]) + abs(z[b] - pred[a])
        # Swap only on a clear win: crossing limbs (a turn) make both costs similar.
        clear = cross < 0.5 * same and same > 0.1 * sc[_TORSO]
        crossed = clear and observed[a] != 0 and observed[b] != 0
        if not crossed:
            swap_run[a] = 0
            continue
        # An estimator that keeps saying so is right (a turn, or we locked on to a
        # swapped start): after max_rejected_frames in a row its labels are taken.
        if swap_run[a] < sc[_MAX_REJECTED]:
            z[a], z[b] = z[b], z[a]
            conf[a], conf[b] = conf[b], conf[a]
            swapped = True
        swap_run[a] += 1
    return swapped


@kernel
def _learn(
    z: ComplexArray,
    t_s: float,
    everything: bool,
    zj: ComplexArray,
    fj: FloatArray,
    ij: IntArray,
    sc: FloatArray,
) -> None:
    """Update the torso length, each bone's last offset and its learnt length."""
    offset, offset_t, bone = zj[_OFFSET], fj[_OFFSET_T], fj[_BONE]
    observed, anchor_a, anchor_b = ij[_OBSERVED], ij[_ANCHOR_A], ij[_ANCHOR_B]
    offset_known, bone_known = ij[_OFFSET_KNOWN], ij[_BONE_KNOWN]
    for j in range(len(z)):
        if observed[j]:
            fj[_LAST_SEEN, j] = t_s
    if everything or (observed[_LS] and observed[_RS] and observed[_LH] and observed[_RH]):
        torso = max(
            abs(z[_LS] + z[_RS] - z[_LH] - z[_RH]) / 2, _SIZE_PER_WIDTH * abs(z[_LS] - z[_RS])
        )
        known = sc[_TORSO] > 0
        rate = _SIZE_RISE if torso > sc[_TORSO] else _SIZE_FALL
        sc[_TORSO] = sc[_TORSO] + rate * (torso - sc[_TORSO]) if known else torso
    # Bone lengths drift slowly: once all are known, learn them on every few frames only.
    all_bones = sc[_ALL_BONES_KNOWN] != 0
    learn_bones = not all_bones or int(sc[_COUNT]) % _BONE_EVERY == 0
    for j in range(len(z)):
        a, b = anchor_a[j], anchor_b[j]
        if a < 0 or not (observed[j] and observed[a] and observed[b]):
            continue  # a root, or it or its anchor unseen: nothing to learn from
        off = z[j] - (z[a] + z[b]) * 0.5
        offset[j] = off
        offset_t[j] = t_s
        offset_known[j] = 1
        if learn_bones:
            length = abs(off)
            if not bone_known[j]:
                bone[j] = length
                bone_known[j] = 1
            bone[j] = (length - bone[j]) * _BONE_EMA + bone[j]
    if not sc[_ALL_OFFSETS_KNOWN]:
        sc[_ALL_OFFSETS_KNOWN] = 1.0 if _all_anchored(offset_known, anchor_a) else 0.0
    if not all_bones:
        sc[_ALL_BONES_KNOWN] = 1.0 if _all_anchored(bone_known, anchor_a) else 0.0


@kernel
def _all_anchored(flags: IntArray, anchor_a: IntArray) -> bool:
    """Whether ``flags`` is set for every joint that has an anchor."""
    every = True
    for j in range(len(flags)):
        every = every and (anchor_a[j] < 0 or flags[j] != 0)
    return every


@kernel
def _impute(
    z: ComplexArray,
    t_s: float,
    zj: ComplexArray,
    fj: FloatArray,
    ij: IntArray,
    sc: FloatArray,
    ring_z: ComplexArray,
    ring_obs: BoolArray,
    ring_t: FloatArray,
) -> None:
    """Place every joint this frame did not observe."""
    observed, anchor_a, anchor_b = ij[_OBSERVED], ij[_ANCHOR_A], ij[_ANCHOR_B]
    if not observed[_LS] or not observed[_RS]:
        _impute_shoulders(z, ij, sc, ring_z)
    for j in ij[_PLACE]:  # anchors before the joints hanging from them
        if j < 0:
            break
        if not observed[j]:
            off = _bone_offset(j, t_s, zj, fj, ij, sc, ring_z, ring_obs, ring_t)
            z[j] = (z[anchor_a[j]] + z[anchor_b[j]]) * 0.5 + off


@kernel
def _impute_shoulders(z: ComplexArray, ij: IntArray, sc: FloatArray, ring_z: ComplexArray) -> None:
    """Lost shoulders (the roots) move rigidly with the visible torso joints: the
    rotation + translation that best takes them from the last frame to this one (2-D
    Kabsch); translation only from one joint, none from zero."""
    observed = ij[_OBSERVED]
    if sc[_COUNT] == 0:
        _first_frame_shoulder(z, observed, _LS, _RS, _LH, 1.0, sc[_TORSO])
        _first_frame_shoulder(z, observed, _RS, _LS, _RH, -1.0, sc[_TORSO])
        return
    prev = ring_z[int(sc[_HEAD])]
    seen, c0, c1 = 0, 0j, 0j  # the seen torso joints' centres, last frame and now
    for j in (_LS, _RS, _LH, _RH):
        if observed[j]:
            seen += 1
            c0 += prev[j]
            c1 += z[j]
    if seen:
        c0, c1 = c0 / seen, c1 / seen
    # The best rotation is the phase of Σ q·conj(p) over the centred point sets.
    r = 0j
    for j in (_LS, _RS, _LH, _RH):
        if observed[j]:
            r += (z[j] - c1) * (prev[j] - c0).conjugate()
    rot = r / abs(r) if abs(r) > 0 else 1.0 + 0j
    for j in (_LS, _RS):
        if observed[j]:
            continue
        if seen > 1:
            z[j] = (prev[j] - c0) * rot + c1
        else:  # translation only (none when nothing was seen: c0 = c1 = 0)
            z[j] = prev[j] + (c1 - c0)


@kernel
def _first_frame_shoulder(
    z: ComplexArray,
    observed: IntArray,
    j: int,
    other: int,
    hip: int,
    side: float,
    torso: float,
) -> None:
    """A shoulder on the very first frame: above its hip, beside the other shoulder,
    else the centre of whatever was seen (the dancer is somewhere there)."""
    if observed[j]:
        return
    scale = torso if torso > 0 else 100.0
    if observed[hip]:
        z[j] = z[hip] - 1j * scale  # image y points down
    elif observed[other]:
        z[j] = z[other] + 0.7 * scale * side  # the dancer's left is the image's right
    else:
        seen, total = 0, 0j
        for k in range(len(z)):
            if observed[k]:
                seen += 1
                total += z[k]
        z[j] = total / seen if seen else 0j


@kernel
def _bone_offset(
    j: int,
    t_s: float,
    zj: ComplexArray,
    fj: FloatArray,
    ij: IntArray,
    sc: FloatArray,
    ring_z: ComplexArray,
    ring_obs: BoolArray,
    ring_t: FloatArray,
) -> complex:
    """The offset from its anchor at which a lost joint is placed: its pose when the
    gap began, at the bone's learnt length, coasting on the offset's velocity for at
    most ``short_gap_s`` (in time), then held (from the skeleton)."""
    since = fj[_OFFSET_T, j]
    # A gap just began (FILL_AT is NaN before the first), or the joint was never seen
    # (its borrowed pose follows its mirror): set the gap up.
    if fj[_FILL_AT, j] != since or not ij[_OFFSET_KNOWN, j]:
        _start_gap(j, zj, fj, ij, sc, ring_z, ring_obs, ring_t)
    if sc[_SHORT_GAP] <= 0:
        return zj[_FILL, j]
    gap = min(t_s - since, sc[_SHORT_GAP])  # never seen (since -inf): short_gap_s
    coast = _VEL_DECAY_S * (1 - math.exp(-gap / _VEL_DECAY_S))
    return zj[_FILL, j] + zj[_FILL_VEL, j] * coast


@kernel
def _start_gap(
    j: int,
    zj: ComplexArray,
    fj: FloatArray,
    ij: IntArray,
    sc: FloatArray,
    ring_z: ComplexArray,
    ring_obs: BoolArray,
    ring_t: FloatArray,
) -> None:
    """Set up a gap of joint ``j``: its last pose at the pair's bone length, else
    (never seen) the mirror joint's pose mirrored, else the standing template."""
    bone, bone_known, mirror = fj[_BONE], ij[_BONE_KNOWN], ij[_FLIP, j]
    length = bone[j]
    if bone_known[j] and bone_known[mirror]:
        length = (bone[j] + bone[mirror]) / 2
    off = zj[_OFFSET, j]
    norm = abs(off)
    off = off * (length / (norm if norm > 0 else 1.0))
    seen = ij[_OFFSET_KNOWN, j] != 0
    if not seen:
        if ij[_OFFSET_KNOWN, mirror]:
            off = -zj[_OFFSET, mirror].conjugate()  # x -> -x about the anchor
        else:
            off = zj[_TEMPLATE, j] * (sc[_TORSO] if sc[_TORSO] > 0 else 100.0)
    zj[_FILL, j] = off
    zj[_FILL_VEL, j] = 0j
    if seen and sc[_SHORT_GAP] > 0 and sc[_COUNT] >= 2:
        zj[_FILL_VEL, j] = _offset_velocity(j, ij, sc, ring_z, ring_obs, ring_t)
    fj[_FILL_AT, j] = fj[_OFFSET_T, j]


@kernel
def _offset_velocity(
    j: int,
    ij: IntArray,
    sc: FloatArray,
    ring_z: ComplexArray,
    ring_obs: BoolArray,
    ring_t: FloatArray,
) -> complex:
    """Joint ``j``'s offset velocity (px/s) over the last frames of the buffer, from the
    oldest and newest frames where it and its anchor were observed (a span of frames
    averages the jitter a one-frame difference keeps); 0 without two such frames."""
    size, head = ring_z.shape[0], int(sc[_HEAD])
    a, b = ij[_ANCHOR_A, j], ij[_ANCHOR_B, j]
    span = min(_VEL_SPAN, int(sc[_COUNT]), size)
    first, last = -1, -1
    for back in range(span - 1, -1, -1):  # oldest first
        f = (head - back) % size
        if ring_obs[f, j] and ring_obs[f, a] and ring_obs[f, b]:
            if first < 0:
                first = f
            last = f
    if last < 0 or not ring_t[last] - ring_t[first] > 0:
        return 0j
    off_last = ring_z[last, j] - (ring_z[last, a] + ring_z[last, b]) * 0.5
    off_first = ring_z[first, j] - (ring_z[first, a] + ring_z[first, b]) * 0.5
    return (off_last - off_first) / (ring_t[last] - ring_t[first])


@kernel
def _push(
    z: ComplexArray,
    t_s: float,
    ij: IntArray,
    sc: FloatArray,
    ring_z: ComplexArray,
    ring_obs: BoolArray,
    ring_t: FloatArray,
) -> None:
    """Remember the repaired frame in the ring buffer."""
    head = (int(sc[_HEAD]) + 1) % ring_z.shape[0]
    for j in range(len(z)):
        ring_z[head, j] = z[j]
        ring_obs[head, j] = ij[_OBSERVED, j] != 0
    ring_t[head] = t_s
    sc[_HEAD] = head
    sc[_COUNT] += 1
