"""Delivery: `notify` (send what is due) and the `notifications` audit."""

from __future__ import annotations

import click

from monitor.cli import AppContext, cli, emit, json_option, library_errors, pass_app
from monitor.vocabulary import NOTIFICATION_STATUSES

_PROBLEM_HINTS = {"unconfirmed": "a sender stopped mid-send; check with the recipient before resending",
                  "failed": "SMTP refused them repeatedly; see last_error"}


@cli.command()
@pass_app
def notify(app: AppContext) -> None:
    """Send the mail that is due now from the outbox (the worker does this on its own)."""
    from monitor.notify.digest import queue_due_digests
    from monitor.notify.outbox import problem_counts, send_due

    app.require_store()
    with library_errors(app):
        queue_due_digests(app.engine, app.settings)
        click.echo(send_due(app.engine, app.settings).summary())
        counts = problem_counts(app.engine)
    for status, hint in _PROBLEM_HINTS.items():
        if counts.get(status):
            click.echo(f"{counts[status]} {status} in the outbox ({hint}).")


@cli.group()
def notifications() -> None:
    """The outbox (mail and notification URLs): who was sent what, when, and what is still waiting."""


def _line(row: dict) -> list[str]:
    when = f"sent {row['sent_at'][:16].replace('T', ' ')}" if row["sent_at"] else \
        f"queued {row['queued_at'][:16].replace('T', ' ')}"
    about = f"alert #{row['alert_id']}" if row["alert_id"] else "digest"
    lines = [f"#{row['id']:<5} {row['status']:<11} {when} UTC  {row['recipient']}  {about} ({row['reason']})"
             f"  {row['subject']}"]
    if row["status"] != "sent" and (row["attempts"] or row["last_error"]):
        lines.append(f"       {row['attempts']} attempt(s); last error: {row['last_error'] or 'none'}")
    return lines


@notifications.command("list")
@click.option("--status", type=click.Choice(NOTIFICATION_STATUSES), help="Only notifications in this state.")
@click.option("--subscriber", metavar="EMAIL|NAME", help="Only notifications to this subscriber.")
@click.option("--alert", "alert_id", type=int, metavar="ID", help="Only mail about this alert.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000),
              help="Newest first, at most this many.")
@json_option
@pass_app
def notifications_list(app: AppContext, status: str | None, subscriber: str | None, alert_id: int | None, limit: int,
                       as_json: bool) -> None:
    """One line per notification: when, status, recipient, alert, why, subject; errors beneath."""
    from monitor.notify.audit import notification_rows

    app.require_store()
    with library_errors(app):
        rows = notification_rows(app.engine, status=status, subscriber=subscriber, alert_id=alert_id, limit=limit)
    emit(rows, as_json=as_json, line=_line, empty="No notifications.")
