"""Dashboard logins: the `users` group."""

from __future__ import annotations

import click

from monitor.cli import AppContext, Column, actor, cli, emit, json_option, library_errors, pass_app
from monitor.vocabulary import USER_ROLES


@cli.group()
def users() -> None:
    """Dashboard logins: viewer (reads), analyst (also triages and edits), admin (also manages models)."""


def _read_new_password(name: str) -> str:
    from monitor.users import check_password_strength

    password = click.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)
    with library_errors():
        check_password_strength(name, password)
    return password


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(USER_ROLES), required=True,
              help="viewer reads; analyst also triages alerts and edits facilities and feeds; admin also models.")
@pass_app
def users_add(app: AppContext, name: str, role: str) -> None:
    """Create a dashboard user; the password is read without echo (twice)."""
    from monitor.users import create_user

    app.require_store()
    password = _read_new_password(name)
    app.change(lambda session: create_user(session, name, role, password, actor()), f"Created {role} {name}.")


@users.command("list")
@json_option
@pass_app
def users_list(app: AppContext, as_json: bool) -> None:
    """Users, their roles and last login (never the password hashes)."""
    from monitor.users import list_users, user_state

    with app.reading() as session:
        rows = list_users(session)

    def last_login(user) -> str:
        return user.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if user.last_login_at else "never"

    emit(rows, as_json=as_json, empty="No users. Create one with `monitor users add NAME --role admin`.",
         to_json=lambda u: {"name": u.name, "role": u.role, "state": user_state(u),
                            "last_login_at": u.last_login_at.isoformat() if u.last_login_at else None},
         columns=[Column("USER", 24, lambda u: u.name), Column("ROLE", 8, lambda u: u.role),
                  Column("STATE", 9, user_state), Column("LAST LOGIN", 20, last_login)])


@users.command("set-password")
@click.argument("name")
@pass_app
def users_set_password(app: AppContext, name: str) -> None:
    """Set a new password (read without echo); also unlocks the account."""
    from monitor.users import set_password

    app.require_store()
    password = _read_new_password(name)
    app.change(lambda session: set_password(session, name, password, actor()), f"Password of {name} changed.")


@users.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice(USER_ROLES))
@pass_app
def users_set_role(app: AppContext, name: str, role: str) -> None:
    """Change what a user may do."""
    from monitor.users import set_role

    app.change(lambda session: set_role(session, name, role, actor()), f"{name} is now {role}.")


@users.command("disable")
@click.argument("name")
@pass_app
def users_disable(app: AppContext, name: str) -> None:
    """Stop a user from logging in (their audit trail stays)."""
    from monitor.users import set_active

    app.change(lambda session: set_active(session, name, False, actor()), f"Disabled {name}.")


@users.command("enable")
@click.argument("name")
@pass_app
def users_enable(app: AppContext, name: str) -> None:
    """Let a disabled user log in again."""
    from monitor.users import set_active

    app.change(lambda session: set_active(session, name, True, actor()), f"Enabled {name}.")
