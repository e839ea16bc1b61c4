"""Triage: status changes and notes on alerts, each kept in the audit trail with who and when.

Confirming or dismissing an alert also stores labelled feedback for every article in it, so analysts'
verdicts become training data for the next model.
"""

from __future__ import annotations

from typing import Optional

from sqlmodel import Session

from monitor.alerts.queries import article_ids_of_alert
from monitor.store.schema import ALERT_STATUSES, Alert, AlertStatusChange, Feedback, utcnow


class TriageError(ValueError):
    pass


def change_status(session: Session, alert_id: int, to_status: str, actor: str, note: Optional[str] = None) -> Alert:
    if to_status not in ALERT_STATUSES:
        raise TriageError(f"status must be one of {', '.join(ALERT_STATUSES)}")
    if not actor.strip():
        raise TriageError("say who is making the change")
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise TriageError(f"no alert #{alert_id}")
    from_status = alert.status
    alert.status = to_status
    alert.updated_at = utcnow()
    session.add(AlertStatusChange(alert_id=alert.id, from_status=from_status, to_status=to_status, actor=actor,
                                  note=note))
    if to_status in ("confirmed", "dismissed") and from_status != to_status:
        verdict = "confirmed" if to_status == "confirmed" else "dismissed"
        labels = list(alert.labels) if verdict == "confirmed" else []
        for article_id in article_ids_of_alert(session, alert.id):
            session.add(Feedback(article_id=article_id, alert_id=alert.id, labels=labels, verdict=verdict,
                                 actor=actor))
    return alert


def add_note(session: Session, alert_id: int, actor: str, note: str) -> None:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise TriageError(f"no alert #{alert_id}")
    if not note.strip():
        raise TriageError("the note is empty")
    session.add(AlertStatusChange(alert_id=alert.id, from_status=alert.status, to_status=alert.status, actor=actor,
                                  note=note))
