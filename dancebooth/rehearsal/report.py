"""The rehearsal's report: a table per visitor, the faults, and the last line, every figure
in it counted from the checks' measurements."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from dancebooth.rehearsal.checks import Outcome
from dancebooth.rehearsal.faults import Fault


@dataclass(frozen=True)
class Verdict:
    line: str
    ok: bool
    failures: list[str]


def verdict(outcomes: list[Outcome], faults: list[Fault], problems: list[str]) -> Verdict:
    kept = [o for o in outcomes if not o.visitor.deletes]
    deleted = [o for o in outcomes if o.visitor.deletes]
    n = len(kept)
    delivered = sum(o.delivered for o in kept)
    plays = sum(o.plays for o in kept)
    lost = sum(o.lost for o in kept)
    duplicates = sum(o.duplicate_mails for o in outcomes)
    left = sum(len(o.left) for o in deleted)
    line = (
        f"rehearsal: {delivered}/{n} delivered, {plays}/{n} links play, {lost} frames lost, "
        f"{duplicates} duplicate mails, {left} left after delete"
    )
    failures = list(problems)
    for o in outcomes:
        failures += [f"{o.visitor.label}: {p}" for p in o.problems]
        failures += [f"{o.visitor.label} after deletion: {what}" for what in o.left]
        dup = sum(f.duplicates for f in o.frames.values())
        if dup:
            failures.append(f"{o.visitor.label}: {dup} frames stored twice")
        if o.lost:
            failures.append(f"{o.visitor.label}: {o.lost} frames lost")
    for f in faults:
        if f.at is None:
            failures.append(f"fault not injected: {f.name} (its moment never came)")
        elif f.error:
            failures.append(f"fault {f.name} failed: {f.error}")
    ok = not failures and delivered == plays == n
    return Verdict(line, ok, failures)


def visitor_table(outcomes: list[Outcome]) -> Table:
    table = Table(title="visitors")
    for column in (
        "visitor",
        "session",
        "state",
        "mails",
        "link",
        "video",
        "frames per node",
        "notes",
    ):
        table.add_column(column)
    for o in outcomes:
        v = o.visitor
        frames = ", ".join(
            f"{node} {f.stored}/{f.captured}"
            + (f" ({f.lost} lost)" if f.lost else "")
            + (f" (+{f.unreferenced} unreferenced shards)" if f.unreferenced else "")
            for node, f in o.frames.items()
        )
        if v.deletes:
            link = "-"
            notes = "deleted: nothing left" if not o.left else "left: " + "; ".join(o.left)
        else:
            link = "plays" if o.plays else "[red]no"
            notes = "; ".join(o.problems) or "ok"
        table.add_row(
            v.label,
            v.session_id[:8],
            o.state,
            str(o.mails),
            link,
            o.video or "-",
            frames or "-",
            notes,
        )
    return table


def fault_table(faults: list[Fault], t0: float) -> Table:
    table = Table(title="faults")
    for column in ("fault", "at", "what happened"):
        table.add_column(column)
    for f in faults:
        at = f"{f.at - t0:.0f} s" if f.at is not None else "-"
        table.add_row(f.name, at, (f.error and f"[red]{f.error}") or f.detail or "not injected")
    return table


def print_report(
    console: Console, outcomes: list[Outcome], faults: list[Fault], t0: float, result: Verdict
) -> None:
    console.print(visitor_table(outcomes))
    if faults:
        console.print(fault_table(faults, t0))
    for failure in result.failures:
        console.print(f"[red]✗[/] {failure}")
    console.print(f"took {time.time() - t0:.0f} s")
    console.print(result.line, markup=False, highlight=False, soft_wrap=True)  # never wrapped
