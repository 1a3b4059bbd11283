"""``dancebooth cloud erase-event``: delete everything from this event, in two steps.

The command itself is declared in :mod:`cloud.cli`; this is what it runs.
"""

from __future__ import annotations

import click

from cloud.settings import CloudSettings


def erase_event_cli(settings: CloudSettings, code: str | None, who: str | None) -> None:
    """Without ``code``: print what would be erased and the code that confirms it; with
    it: erase every visitor of the booth, with a progress bar."""
    import getpass

    from rich.progress import Progress

    from cloud.db.engine import make_engine, session_factory, upgrade_database
    from cloud.erasure import ErasureError, erase_event, plan_erasure
    from cloud.storage import create_storage

    upgrade_database(settings.database.url)
    factory = session_factory(make_engine(settings.database.url))
    booth, who = settings.booth, who or getpass.getuser()
    with factory() as db:
        plan = plan_erasure(db, booth)
    if code is None:
        click.echo(
            f"booth {booth}: {len(plan.sessions)} visitor sessions ({len(plan.busy)} in "
            f"progress) and {plan.dead_letters} dead letters would be erased: captures, "
            "models, videos, emails, jobs. This cannot be undone."
        )
        click.echo(f"To erase them: dancebooth cloud erase-event --confirm {plan.code}")
        return
    storage = create_storage(settings.storage)
    try:
        with Progress(transient=True) as bar:
            task = bar.add_task("erasing", total=len(plan.sessions))
            report = erase_event(
                factory, storage, booth, code, who, progress=lambda _s: bar.advance(task)
            )
    except ErasureError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"booth {booth}: erased {len(report.erased)} sessions, {report.objects} objects, "
        f"{report.dead_letters} dead letters"
    )
    for sid, why in report.failed.items():
        click.echo(f"{sid}: NOT finished (run again): {why}", err=True)
    if report.failed:
        raise SystemExit(1)
