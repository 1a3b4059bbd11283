"""Batched 3-D rotations about the body's axes (x: the dancer's left, y: up, z: forward)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


def rot_x(a: npt.ArrayLike) -> Array:
    """``[T, 3, 3]`` rotations about x (positive pitches +y toward +z)."""
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    out = np.zeros((*a.shape, 3, 3))
    out[..., 0, 0] = 1.0
    out[..., 1, 1], out[..., 1, 2] = c, -s
    out[..., 2, 1], out[..., 2, 2] = s, c
    return out


def rot_y(a: npt.ArrayLike) -> Array:
    """``[T, 3, 3]`` rotations about the vertical axis (positive turns +z toward +x)."""
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    out = np.zeros((*a.shape, 3, 3))
    out[..., 1, 1] = 1.0
    out[..., 0, 0], out[..., 0, 2] = c, s
    out[..., 2, 0], out[..., 2, 2] = -s, c
    return out


def rot_z(a: npt.ArrayLike) -> Array:
    """``[T, 3, 3]`` rotations about z (positive swings a hanging limb, -y, toward +x)."""
    a = np.asarray(a, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    out = np.zeros((*a.shape, 3, 3))
    out[..., 2, 2] = 1.0
    out[..., 0, 0], out[..., 0, 1] = c, -s
    out[..., 1, 0], out[..., 1, 1] = s, c
    return out


def chain(*mats: Array) -> Array:
    """Compose batched rotations left to right (parent first)."""
    out = mats[0]
    for m in mats[1:]:
        out = out @ m
    return out


def apply(r: Array, v: npt.ArrayLike) -> Array:
    """Rotate a fixed vector ``[3]`` (or per-frame ``[T, 3]``) by ``[T, 3, 3]``."""
    vec = np.asarray(v, dtype=np.float64)
    if vec.ndim == 1:
        return r @ vec
    return np.einsum("tij,tj->ti", r, vec)
