"""`monitor notifications`: the audit of who was sent what and when, read from the outbox.

Every notification row stays after it is sent (removing a subscriber keeps them), so the outbox is the
audit: recipient, alert, why it was sent (new alert, severity rise, digest), subject, Message-ID, status,
attempts, when it was queued and sent, and the last SMTP error.
"""

from __future__ import annotations

import json

import click
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, func, select

from monitor.store.schema import Notification, Subscriber

STATUSES = ("pending", "sending", "sent", "failed", "unconfirmed")


def notification_rows(engine, *, status: str | None = None, subscriber: str | None = None,
                      alert_id: int | None = None, limit: int = 50) -> list[dict]:
    """The outbox, newest first, as plain dicts (what the command prints and `--json` emits)."""
    with Session(engine) as session:
        query = (select(Notification, Subscriber.email, Subscriber.name)
                 .join(Subscriber, Subscriber.id == Notification.subscriber_id)
                 .order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit))
        if status:
            query = query.where(Notification.status == status)
        if subscriber:
            query = query.where((func.lower(Subscriber.email) == subscriber.strip().lower())
                                | (Subscriber.name == subscriber.strip()))
        if alert_id is not None:
            query = query.where(Notification.alert_id == alert_id)
        # A URL is shown masked (target_shown was masked when queued); its secrets are never in the outbox.
        return [{
            "id": n.id, "status": n.status, "channel": n.channel,
            "recipient": email if n.channel == "email" else f"{email or name} via {n.target_shown}",
            "alert_id": n.alert_id, "reason": n.reason,
            "subject": n.subject, "message_id": n.message_id, "attempts": n.attempts,
            "queued_at": n.created_at.isoformat(), "sent_at": n.sent_at.isoformat() if n.sent_at else None,
            "last_error": n.last_error,
        } for n, email, name in session.exec(query)]


@click.group()
def notifications() -> None:
    """The outbox (mail and notification URLs): who was sent what, when, and what is still waiting."""


@notifications.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only notifications in this state.")
@click.option("--subscriber", metavar="EMAIL|NAME", help="Only notifications to this subscriber.")
@click.option("--alert", "alert_id", type=int, metavar="ID", help="Only mail about this alert.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000),
              help="Newest first, at most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def notifications_list(app, status: str | None, subscriber: str | None, alert_id: int | None, limit: int,
                       as_json: bool) -> None:
    """One line per notification: when, status, recipient, alert, why, subject; errors beneath."""
    from monitor.cli import _require_store

    _require_store(app)
    try:
        rows = notification_rows(app.engine, status=status, subscriber=subscriber, alert_id=alert_id, limit=limit)
    except OperationalError as exc:
        raise app.store_error(exc) from None
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("No notifications.")
        return
    for row in rows:
        when = f"sent {row['sent_at'][:16].replace('T', ' ')}" if row["sent_at"] else \
            f"queued {row['queued_at'][:16].replace('T', ' ')}"
        about = f"alert #{row['alert_id']}" if row["alert_id"] else "digest"
        click.echo(f"#{row['id']:<5} {row['status']:<11} {when} UTC  {row['recipient']}  {about} ({row['reason']})"
                   f"  {row['subject']}")
        if row["status"] != "sent" and (row["attempts"] or row["last_error"]):
            click.echo(f"       {row['attempts']} attempt(s); last error: {row['last_error'] or 'none'}")
