"""The outbox: who should hear about an alert, and sending each notification exactly once.

Each (alert, subscriber, reason) becomes one row with a stable Message-ID. A sender claims a row with a
conditional UPDATE (pending -> sending), hands it to SMTP, then records it as sent. If SMTP fails the row
goes back to pending with a backoff. An outage (no connection, a 4xx answer) never fails a mail: it stays
queued, retried at least every RETRY_CAP, for up to GIVE_UP_AFTER; a refusal (a 5xx answer) fails it after
MAX_ATTEMPTS. Failed mail is shown, never dropped silently. If a sender
dies between SMTP accepting the mail and recording it, the row is left in `sending`; once that is stale it
becomes `unconfirmed`: shown for a person to check, never resent blindly, so nobody gets a mail twice.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable, Optional

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from monitor.notify.email import build_message, message_id, render_alert
from monitor.settings import Settings
from monitor.store.db import session_scope
from monitor.store.schema import SEVERITIES, Alert, Facility, Notification, Subscriber, utcnow

RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(minutes=30)
MAX_ATTEMPTS = 8
# An SMTP outage keeps mail queued this long before it is marked failed: alerts late by hours still matter.
GIVE_UP_AFTER = timedelta(days=3)
STALE_SENDING = timedelta(minutes=10)
SMTP_TIMEOUT = 30


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    unconfirmed: int = 0
    waiting: int = 0
    not_configured: bool = False
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.not_configured:
            return f"Mail: SMTP is not configured (smtp_host); {self.waiting} notification(s) wait in the outbox."
        text = f"Mail: {self.sent} sent"
        if self.retrying:
            text += f", {self.retrying} to retry ({self.errors[-1] if self.errors else 'SMTP error'})"
        if self.failed:
            text += (f", {self.failed} failed (refused {MAX_ATTEMPTS} times, or undeliverable for "
                     f"{GIVE_UP_AFTER.days} days)")
        if self.unconfirmed:
            text += f", {self.unconfirmed} unconfirmed (a sender stopped mid-send; check before resending)"
        if self.waiting:
            text += f", {self.waiting} waiting"
        return text + "."


def subscriber_matches(subscriber: Subscriber, alert: Alert, country: Optional[str], mode: str = "immediate") -> bool:
    """A subscriber with no facility, country or label filter receives every alert at or above its minimum."""
    if not subscriber.active or subscriber.mode != mode:
        return False
    if SEVERITIES.index(alert.severity) < SEVERITIES.index(subscriber.min_severity):
        return False
    if subscriber.facility_ids and alert.facility_id not in subscriber.facility_ids:
        return False
    if subscriber.countries and (country or "") not in subscriber.countries:
        return False
    if subscriber.labels and not set(subscriber.labels) & set(alert.labels):
        return False
    return True


def alerts_awaiting_mail(engine: Engine) -> list[int]:
    """Alerts whose subscribers were never told of them, or not of their present severity.

    Normally that is just what the last grouping created or raised; after a process died between
    grouping and queueing it is also what that process left, which is why the flow asks the store.
    """
    with Session(engine) as session:
        return list(session.exec(select(Alert.id).where(
            Alert.status != "dismissed",
            or_(Alert.notified_severity.is_(None), Alert.notified_severity != Alert.severity))
            .order_by(Alert.id)))


def enqueue_for_alerts(engine: Engine, settings: Settings, alert_ids: Iterable[int]) -> int:
    """Queue immediate mail for new alerts and severity rises; a repeat of the same severity queues nothing."""
    queued = 0
    with session_scope(engine) as session:
        subscribers = list(session.exec(select(Subscriber).where(Subscriber.active == True)))  # noqa: E712
        for alert_id in sorted(set(alert_ids)):
            alert = session.get(Alert, alert_id)
            if alert is None or alert.status == "dismissed":
                continue
            if alert.notified_severity and \
                    SEVERITIES.index(alert.severity) <= SEVERITIES.index(alert.notified_severity):
                continue
            reason = "new" if alert.notified_severity is None else f"raised-to-{alert.severity}"
            country = alert.candidate_country
            if alert.facility_id:
                country = session.get(Facility, alert.facility_id).country
            for subscriber in subscribers:
                if not subscriber_matches(subscriber, alert, country):
                    continue
                key = f"{alert.id}:{subscriber.id}:{reason}"
                if session.exec(select(Notification.id).where(Notification.dedup_key == key)).first():
                    continue
                mail = render_alert(session, alert, settings.dashboard_url, reason)
                session.add(Notification(dedup_key=key, alert_id=alert.id, subscriber_id=subscriber.id,
                                         reason=reason, message_id=message_id(alert.id, subscriber.id, reason),
                                         subject=mail.subject, body_text=mail.text, body_html=mail.html))
                queued += 1
            alert.notified_severity = alert.severity
    return queued


def _claim(engine: Engine, notification_id: int, now: datetime) -> bool:
    with engine.begin() as connection:
        result = connection.execute(update(Notification).where(Notification.id == notification_id,
                                                               Notification.status == "pending")
                                    .values(status="sending", sending_started_at=now))
        return result.rowcount == 1


def _connect(settings: Settings) -> smtplib.SMTP:
    client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT)
    client.ehlo()
    if settings.smtp_starttls:
        if not client.has_extn("starttls"):
            # Someone on the path can strip STARTTLS from the server's answer; going on would send the
            # login and the alerts in the clear. The mail stays queued and the error says why.
            client.close()
            raise smtplib.SMTPNotSupportedError(
                f"{settings.smtp_host}:{settings.smtp_port} does not offer STARTTLS; not sending in the clear "
                "(set smtp_starttls=false only for a relay on a trusted local network)")
        # Verified against the system's CAs (or SSL_CERT_FILE, for a private CA).
        client.starttls(context=ssl.create_default_context())
        client.ehlo()
    if settings.smtp_user:
        client.login(settings.smtp_user, settings.smtp_password)
    return client


def send_due(engine: Engine, settings: Settings, now: Optional[datetime] = None) -> SendReport:
    """Send every notification that is due now."""
    now = now or utcnow()
    report = SendReport()
    with session_scope(engine) as session:
        stale = session.exec(select(Notification).where(Notification.status == "sending",
                                                        Notification.sending_started_at < now - STALE_SENDING))
        for notification in stale:
            notification.status = "unconfirmed"
            notification.last_error = "the sender stopped between handing the mail to SMTP and recording it"
            report.unconfirmed += 1
        due = list(session.exec(select(Notification.id).where(Notification.status == "pending",
                                                              Notification.next_attempt_at <= now)
                                .order_by(Notification.id)))
        pending = len(session.exec(select(Notification.id).where(Notification.status == "pending")).all())
    if not settings.smtp_host:
        report.not_configured = True
        report.waiting = pending
        return report
    report.waiting = pending - len(due)  # queued but backing off until a later attempt
    if not due:
        return report
    client: Optional[smtplib.SMTP] = None
    try:
        for notification_id in due:
            if not _claim(engine, notification_id, now):
                continue  # another sender has it
            with Session(engine) as session:
                notification = session.get(Notification, notification_id)
                recipient = session.get(Subscriber, notification.subscriber_id).email
            try:
                if client is None:
                    client = _connect(settings)
                message = build_message(_mail_of(notification), settings.smtp_from or "detention-monitor@localhost",
                                        recipient, notification.message_id)
                client.send_message(message)
            except (smtplib.SMTPException, OSError) as exc:
                client = _drop(client)
                _record_failure(engine, notification_id, exc, now, report)
                continue
            with session_scope(engine) as session:
                sent = session.get(Notification, notification_id)
                sent.status, sent.sent_at, sent.attempts = "sent", utcnow(), sent.attempts + 1
                sent.last_error = None
            report.sent += 1
    finally:
        _drop(client)
    return report


def _mail_of(notification: Notification):
    from monitor.notify.email import RenderedMail

    return RenderedMail(notification.subject, notification.body_text, notification.body_html)


def _drop(client: Optional[smtplib.SMTP]) -> None:
    if client is not None:
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()
    return None


def problem_counts(engine: Engine) -> dict[str, int]:
    """How many notifications need a person: unconfirmed (a sender died mid-send) and failed (refused)."""
    with Session(engine) as session:
        rows = session.exec(select(Notification.status, func.count()).where(
            Notification.status.in_(("unconfirmed", "failed"))).group_by(Notification.status)).all()
    return {status: count for status, count in rows}


def is_refusal(exc: Exception) -> bool:
    """A 5xx answer: the server refused this mail (recipient, sender, login). Anything else is an outage."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def _record_failure(engine: Engine, notification_id: int, exc: Exception, now: datetime, report: SendReport) -> None:
    with session_scope(engine) as session:
        notification = session.get(Notification, notification_id)
        notification.attempts += 1
        refused = is_refusal(exc)
        notification.last_error = f"{'refused' if refused else 'SMTP unreachable or busy'}: " \
                                  f"{type(exc).__name__}: {exc}"[:2000]
        queued_for = now - notification.created_at
        if (refused and notification.attempts >= MAX_ATTEMPTS) or queued_for >= GIVE_UP_AFTER:
            notification.status = "failed"
            report.failed += 1
        else:
            notification.status = "pending"
            delay = min(RETRY_BASE * (2 ** min(notification.attempts - 1, 16)), RETRY_CAP)
            notification.next_attempt_at = now + delay
            report.retrying += 1
        report.errors.append(notification.last_error)
