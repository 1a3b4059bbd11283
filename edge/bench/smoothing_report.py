"""The smoothing benchmark's per-clip table and its goals, for either set.

Synthetic goals are on the mean over visitors (as they were set); real-motion goals
hold on every clip, so the table names the worst clip of each measure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

ONLINE = "One Euro + imputation"
OFFLINE = "offline + imputation"


@dataclass
class ClipRow:
    """One clip's figures: raw error and the online/offline results relative to raw."""

    clip: str
    raw_error: float  # % torso
    online_error: float  # x raw
    online_accel: float  # change vs raw, -0.8 = cut by 80 %
    online_lag: float  # frames
    offline_error: float
    offline_accel: float


def clip_rows(per_capture: dict[str, list[Any]], clips: list[str]) -> list[ClipRow]:
    """Rows per clip from each method's per-capture :class:`Scores` (same order as
    ``clips``, one clip name per capture)."""
    rows = []
    for name in dict.fromkeys(clips):
        idx = [i for i, c in enumerate(clips) if c == name]

        def mean(method: str, field: str, idx: list[int] = idx) -> float:
            return float(np.nanmean([getattr(per_capture[method][i], field) for i in idx]))

        raw_e, raw_a = mean("raw", "error"), mean("raw", "accel")
        rows.append(
            ClipRow(
                clip=name,
                raw_error=raw_e,
                online_error=mean(ONLINE, "error") / raw_e,
                online_accel=mean(ONLINE, "accel") / raw_a - 1,
                online_lag=mean(ONLINE, "lag"),
                offline_error=mean(OFFLINE, "error") / raw_e,
                offline_accel=mean(OFFLINE, "accel") / raw_a - 1,
            )
        )
    return rows


def format_clips(rows: list[ClipRow]) -> str:
    head = (
        f"{'clip':<14}{'raw %torso':>11}{'online err':>12}{'accel':>8}{'lag':>6}"
        f"{'offline err':>13}{'accel':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r.clip:<14}{r.raw_error:>11.2f}{r.online_error:>11.2f}x"
            f"{100 * r.online_accel:>+7.0f}%{r.online_lag:>6.2f}"
            f"{r.offline_error:>12.2f}x{100 * r.offline_accel:>+7.0f}%"
        )
    return "\n".join(lines)


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def real_goals(rows: list[ClipRow], cpu_us: float) -> list[str]:
    """The real set's goals, each on its worst clip."""
    acc = max(rows, key=lambda r: r.online_accel)
    err = max(rows, key=lambda r: r.online_error)
    lag = max(rows, key=lambda r: r.online_lag)
    off_acc = max(rows, key=lambda r: r.offline_accel)
    off_err = max(rows, key=lambda r: r.offline_error)
    return [
        f"online acceleration error, worst clip {acc.clip}: {100 * acc.online_accel:+.0f}% "
        f"(goal ≤ -75% on every clip): {_verdict(acc.online_accel <= -0.75)}",
        f"online mean joint error, worst clip {err.clip}: {err.online_error:.2f}x raw "
        f"(goal ≤ raw): {_verdict(err.online_error <= 1.0)}",
        f"online lag, worst clip {lag.clip}: {lag.online_lag:.2f} frames (goal ≤ 1): "
        + _verdict(lag.online_lag <= 1.0),
        f"repair + smoothing {cpu_us:.1f} µs CPU per frame (goal ≤ 50): {_verdict(cpu_us <= 50)}",
        f"offline acceleration error, worst clip {off_acc.clip}: "
        f"{100 * off_acc.offline_accel:+.0f}% (goal ≤ -90%): "
        + _verdict(off_acc.offline_accel <= -0.9),
        f"offline mean joint error, worst clip {off_err.clip}: {off_err.offline_error:.2f}x raw "
        f"(goal ≤ 0.7x): {_verdict(off_err.offline_error <= 0.7)}",
    ]


def format_worst(per_capture: dict[str, list[Any]], clips: list[str]) -> str:
    """Each online method's worst clip: the largest error (x raw) and the smallest
    acceleration-error cut, with the mean lag, so filters compare on what the goals ask."""
    names = list(dict.fromkeys(clips))
    idx = {n: [i for i, c in enumerate(clips) if c == n] for n in names}

    def clip_mean(method: str, field: str, clip: str) -> float:
        return float(np.nanmean([getattr(per_capture[method][i], field) for i in idx[clip]]))

    head = f"{'online method':<34}{'worst error':>20}{'worst accel':>22}{'lag':>6}"
    lines = [head, "-" * len(head)]
    for method in per_capture:
        if method == "raw" or method.startswith("offline"):
            continue
        err = {n: clip_mean(method, "error", n) / clip_mean("raw", "error", n) for n in names}
        acc = {n: clip_mean(method, "accel", n) / clip_mean("raw", "accel", n) - 1 for n in names}
        e, a = max(err, key=err.__getitem__), max(acc, key=acc.__getitem__)
        lag = float(np.nanmean([s.lag for s in per_capture[method]]))
        lines.append(
            f"{method:<34}{err[e]:>8.2f}x {e:<10}{100 * acc[a]:>+9.0f}% {a:<11}{lag:>6.2f}"
        )
    return "\n".join(lines)
