"""The notification audit (`monitor notifications list`) of who was sent what and when, read from the outbox.

Every notification row stays after it is sent (removing a subscriber keeps them), so the outbox is the
audit: recipient, alert, why it was sent (new alert, severity rise, digest), subject, Message-ID, status,
attempts, when it was queued and sent, and the last SMTP error.
"""

from __future__ import annotations

from sqlmodel import Session, func, select

from monitor.store.schema import Notification, Subscriber


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
