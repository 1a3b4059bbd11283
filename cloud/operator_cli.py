"""``dancebooth cloud operator ...``: operator accounts (add, new password, remove, list).

A new password and a removal end every login the operator has, in every API process.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy.orm import Session as Db

from cloud.cli import build_settings, config_option

password_option = click.password_option(
    envvar="DANCEBOOTH_OPERATOR_PASSWORD",
    help="Prompted for if not given (env: DANCEBOOTH_OPERATOR_PASSWORD).",
)


@contextmanager
def _accounts(config_path: Path | None) -> Iterator[Db]:
    """A transaction on the configured database (migrated first); errors become messages."""
    from cloud.api.errors import BoothError
    from cloud.db.engine import make_engine, session_factory, transaction, upgrade_database

    settings = build_settings(config_path)
    upgrade_database(settings.database.url)
    engine = make_engine(settings.database.url)
    try:
        with transaction(session_factory(engine)) as db:
            yield db
    except (BoothError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()


@click.group()
def operator() -> None:
    """Manage operator accounts."""


@operator.command("add")
@config_option
@click.argument("name")
@password_option
def operator_add(config_path: Path | None, name: str, password: str) -> None:
    """Create operator NAME (argon2-hashed password; at least 10 characters)."""
    from cloud.api.security import add_operator

    with _accounts(config_path) as db:
        add_operator(db, name, password)
    click.echo(f"operator {name} added")


@operator.command("passwd")
@config_option
@click.argument("name")
@password_option
def operator_passwd(config_path: Path | None, name: str, password: str) -> None:
    """Give operator NAME a new password; their current logins end."""
    from cloud.api.security import set_password

    with _accounts(config_path) as db:
        ended = set_password(db, name, password)
    click.echo(f"operator {name} has a new password; {ended} login(s) ended")


@operator.command("remove")
@config_option
@click.argument("name")
@click.confirmation_option(prompt="Remove this operator and end their logins?")
def operator_remove(config_path: Path | None, name: str) -> None:
    """Delete operator NAME; their current logins end."""
    from cloud.api.security import remove_operator

    with _accounts(config_path) as db:
        ended = remove_operator(db, name)
    click.echo(f"operator {name} removed; {ended} login(s) ended")


@operator.command("list")
@config_option
def operator_list(config_path: Path | None) -> None:
    """List the operators and when each last logged in."""
    from cloud.api.security import list_operators

    with _accounts(config_path) as db:
        rows = [(o.name, o.last_login_at) for o in list_operators(db)]
    for name, last in rows:
        click.echo(f"{name}\tlast login {last:%Y-%m-%d %H:%M} UTC" if last else f"{name}\tnever")
    if not rows:
        click.echo("no operators: add one with `dancebooth cloud operator add NAME`")
