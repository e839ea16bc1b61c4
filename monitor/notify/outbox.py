"""The outbox: who should hear about an alert, and sending each notification exactly once.

Each (alert, subscriber, reason) becomes one row with a stable Message-ID. A sender claims a row with a
conditional UPDATE (pending -> sending), hands it to SMTP, then records it as sent. If SMTP fails the row
goes back to pending with a backoff. An outage (no connection, a 4xx answer) never fails a mail: it stays
queued, retried at least every RETRY_CAP, for up to GIVE_UP_AFTER; a refusal (a 5xx answer) fails it after
MAX_ATTEMPTS. Failed mail is shown, never dropped silently. If a sender
dies between SMTP accepting the mail and recording it, the row is left in `sending`; once that is stale it
becomes `unconfirmed`: shown for a person to check, never resent blindly, so nobody gets a mail twice.

Notification URLs (Apprise: webhooks, chat and push services) follow the same rules, one row per URL:
a subscriber with an address and two URLs gets three rows per alert, each claimed, sent and recorded on
its own, so one service being down neither delays nor repeats the others. A service that cannot be
reached is an outage (kept queued up to GIVE_UP_AFTER); one that answers with an error is a refusal
(failed after MAX_ATTEMPTS).
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

from monitor.alerts.watch import WatchRoute, watch_routes
from monitor.notify.channels import mask_url, send_to_url, url_key
from monitor.notify.email import build_message, message_id, render_alert
from monitor.settings import Settings
from monitor.store.db import session_scope
from monitor.store.schema import SEVERITIES, Alert, Facility, Notification, Subscriber, utcnow

EMAIL, URL = "email", "url"

RETRY_BASE = timedelta(seconds=30)
RETRY_CAP = timedelta(minutes=30)
MAX_ATTEMPTS = 8
# An SMTP outage keeps mail queued this long before it is marked failed: alerts late by hours still matter.
GIVE_UP_AFTER = timedelta(days=3)
STALE_SENDING = timedelta(minutes=10)
SMTP_TIMEOUT = 30


@dataclass
class ChannelCounts:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    waiting: int = 0

    def any(self) -> bool:
        return bool(self.sent or self.retrying or self.failed or self.waiting)


@dataclass
class SendReport:
    """What one pass over the outbox did; the totals count every channel, `mail` and `urls` split them."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    unconfirmed: int = 0
    waiting: int = 0
    not_configured: bool = False
    errors: list[str] = field(default_factory=list)
    mail: ChannelCounts = field(default_factory=ChannelCounts)
    urls: ChannelCounts = field(default_factory=ChannelCounts)

    def count(self, channel: str, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        counts = self.mail if channel == EMAIL else self.urls
        setattr(counts, outcome, getattr(counts, outcome) + 1)

    def summary(self) -> str:
        parts = []
        if self.not_configured:
            parts.append(f"Mail: SMTP is not configured (smtp_host); {self.mail.waiting} notification(s) wait "
                         "in the outbox.")
        elif self.mail.any() or not self.urls.any():
            parts.append("Mail: " + self._counts(self.mail, "SMTP error") + ".")
        if self.urls.any():
            parts.append("Notification URLs: " + self._counts(self.urls, "service error") + ".")
        if self.unconfirmed:
            parts.append(f"{self.unconfirmed} unconfirmed (a sender stopped mid-send; check before resending).")
        return " ".join(parts)

    def _counts(self, counts: ChannelCounts, error: str) -> str:
        text = f"{counts.sent} sent"
        if counts.retrying:
            text += f", {counts.retrying} to retry ({self.errors[-1] if self.errors else error})"
        if counts.failed:
            text += (f", {counts.failed} failed (refused {MAX_ATTEMPTS} times, or undeliverable for "
                     f"{GIVE_UP_AFTER.days} days)")
        if counts.waiting:
            text += f", {counts.waiting} waiting"
        return text


def subscriber_matches(subscriber: Subscriber, alert: Alert, country: Optional[str], mode: str = "immediate",
                       watch: Optional[WatchRoute] = None) -> bool:
    """A subscriber with no facility, country or label filter receives every alert at or above its minimum.

    A watch alert (`watch` given) of a rule a subscriber owns goes to that subscriber alone, whatever its
    filters; a watch alert of a rule nobody owns routes like any low alert, its facility being the rule's.
    """
    if not subscriber.active or subscriber.mode != mode:
        return False
    if watch is not None and watch.owner_id is not None:
        return subscriber.id == watch.owner_id
    if SEVERITIES.index(alert.severity) < SEVERITIES.index(subscriber.min_severity):
        return False
    facility_id = watch.facility_id if watch is not None else alert.facility_id
    if subscriber.facility_ids and facility_id not in subscriber.facility_ids:
        return False
    if subscriber.countries and (country or "") not in subscriber.countries:
        return False
    if subscriber.labels and not set(subscriber.labels) & set(alert.labels):
        return False
    return True


def subscriber_channels(subscriber: Subscriber) -> list[tuple[str, Optional[str]]]:
    """(channel, URL) for each way a subscriber is reached: its address, then each notification URL."""
    channels: list[tuple[str, Optional[str]]] = [(EMAIL, None)] if subscriber.email else []
    return channels + [(URL, url) for url in subscriber.notify_urls or []]


def queue_notification(session: Session, subscriber: Subscriber, alert_id: Optional[int], reason: str,
                       dedup_base: str, subject: str, text: str, html: str) -> int:
    """One outbox row per channel of the subscriber not queued before for this dedup_base; how many were new."""
    queued = 0
    for channel, url in subscriber_channels(subscriber):
        key = dedup_base if channel == EMAIL else f"{dedup_base}:url-{url_key(url)[:16]}"
        if session.exec(select(Notification.id).where(Notification.dedup_key == key)).first():
            continue
        target = url_key(url) if url else None
        session.add(Notification(dedup_key=key, alert_id=alert_id, subscriber_id=subscriber.id, reason=reason,
                                 channel=channel, target_key=target, target_shown=mask_url(url) if url else None,
                                 message_id=message_id(alert_id, subscriber.id, reason,
                                                       f"url-{target[:16]}" if target else None),
                                 subject=subject, body_text=text, body_html=html))
        queued += 1
    return queued


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
    """Queue immediate notifications for new alerts and severity rises; a repeat of the same severity queues nothing."""
    queued = 0
    with session_scope(engine) as session:
        subscribers = list(session.exec(select(Subscriber).where(Subscriber.active == True)))  # noqa: E712
        alert_ids = sorted(set(alert_ids))
        watched = watch_routes(session, alert_ids)
        for alert_id in alert_ids:
            alert = session.get(Alert, alert_id)
            if alert is None or alert.status == "dismissed":
                continue
            if alert.notified_severity and \
                    SEVERITIES.index(alert.severity) <= SEVERITIES.index(alert.notified_severity):
                continue
            reason = "new" if alert.notified_severity is None else f"raised-to-{alert.severity}"
            watch = watched.get(alert.id)
            country = alert.candidate_country
            facility_id = watch.facility_id if watch else alert.facility_id
            if facility_id:
                country = session.get(Facility, facility_id).country
            mail = None
            for subscriber in subscribers:
                if not subscriber_matches(subscriber, alert, country, watch=watch):
                    continue
                mail = mail or render_alert(session, alert, settings.dashboard_url, reason)
                queued += queue_notification(session, subscriber, alert.id, reason,
                                             f"{alert.id}:{subscriber.id}:{reason}", mail.subject, mail.text, mail.html)
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
    """Send every notification that is due now: mail through SMTP, the rest to their URLs."""
    now = now or utcnow()
    report = SendReport()
    with session_scope(engine) as session:
        stale = session.exec(select(Notification).where(Notification.status == "sending",
                                                        Notification.sending_started_at < now - STALE_SENDING))
        for notification in stale:
            notification.status = "unconfirmed"
            notification.last_error = ("the sender stopped between handing the notification over and recording it"
                                       if notification.channel != EMAIL else
                                       "the sender stopped between handing the mail to SMTP and recording it")
            report.unconfirmed += 1
        due: dict[str, list[int]] = {EMAIL: [], URL: []}
        for notification_id, channel in session.exec(
                select(Notification.id, Notification.channel).where(Notification.status == "pending",
                                                                    Notification.next_attempt_at <= now)
                .order_by(Notification.id)):
            due[URL if channel == URL else EMAIL].append(notification_id)
        pending = {EMAIL: 0, URL: 0}
        for channel in session.exec(select(Notification.channel).where(Notification.status == "pending")):
            pending[URL if channel == URL else EMAIL] += 1
    # Queued but backing off until a later attempt.
    report.urls.waiting = pending[URL] - len(due[URL])
    _send_to_urls(engine, due[URL], now, report)
    if not settings.smtp_host:
        report.not_configured = True
        report.mail.waiting = pending[EMAIL]
        report.waiting = report.mail.waiting + report.urls.waiting
        return report
    report.mail.waiting = pending[EMAIL] - len(due[EMAIL])
    report.waiting = report.mail.waiting + report.urls.waiting
    if not due[EMAIL]:
        return report
    client: Optional[smtplib.SMTP] = None
    try:
        for notification_id in due[EMAIL]:
            if not _claim(engine, notification_id, now):
                continue  # another sender has it
            with Session(engine) as session:
                notification = session.get(Notification, notification_id)
                recipient = session.get(Subscriber, notification.subscriber_id).email
            try:
                if not recipient:
                    raise _NoAddress()
                if client is None:
                    client = _connect(settings)
                message = build_message(_mail_of(notification), settings.smtp_from or "detention-monitor@localhost",
                                        recipient, notification.message_id)
                client.send_message(message)
            except _NoAddress:
                _record_failure(engine, notification_id, EMAIL, True,
                                "refused: the subscriber no longer has an email address", now, report, final=True)
                continue
            except (smtplib.SMTPException, OSError) as exc:
                client = _drop(client)
                refused = is_refusal(exc)
                _record_failure(engine, notification_id, EMAIL, refused,
                                f"{'refused' if refused else 'SMTP unreachable or busy'}: {type(exc).__name__}: {exc}",
                                now, report)
                continue
            _record_sent(engine, notification_id)
            report.count(EMAIL, "sent")
    finally:
        _drop(client)
    return report


class _NoAddress(Exception):
    pass


def _record_sent(engine: Engine, notification_id: int) -> None:
    with session_scope(engine) as session:
        sent = session.get(Notification, notification_id)
        sent.status, sent.sent_at, sent.attempts = "sent", utcnow(), sent.attempts + 1
        sent.last_error = None


def _send_to_urls(engine: Engine, notification_ids: list[int], now: datetime, report: SendReport) -> None:
    """Each due URL notification: claimed, handed to Apprise, recorded; the URL is read from the subscriber."""
    for notification_id in notification_ids:
        if not _claim(engine, notification_id, now):
            continue
        with Session(engine) as session:
            notification = session.get(Notification, notification_id)
            subscriber = session.get(Subscriber, notification.subscriber_id)
            url = next((u for u in subscriber.notify_urls or [] if url_key(u) == notification.target_key), None)
            alert = session.get(Alert, notification.alert_id) if notification.alert_id else None
        if url is None:
            _record_failure(engine, notification_id, URL, True,
                            f"refused: the subscriber no longer has the URL {notification.target_shown}", now, report,
                            final=True)
            continue
        delivery = send_to_url(url, notification.subject, notification.body_text, notification.message_id,
                               alert.severity if alert else None)
        if delivery.ok:
            _record_sent(engine, notification_id)
            report.count(URL, "sent")
        else:
            _record_failure(engine, notification_id, URL, not delivery.outage,
                            f"{'service unreachable' if delivery.outage else 'refused'}: {delivery.error}", now, report)


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


def _record_failure(engine: Engine, notification_id: int, channel: str, refused: bool, error: str, now: datetime,
                    report: SendReport, final: bool = False) -> None:
    """Back to pending with a backoff; failed after MAX_ATTEMPTS refusals, GIVE_UP_AFTER of outage, or at once
    when nothing can ever deliver it (`final`)."""
    with session_scope(engine) as session:
        notification = session.get(Notification, notification_id)
        notification.attempts += 1
        notification.last_error = error[:2000]
        queued_for = now - notification.created_at
        if final or (refused and notification.attempts >= MAX_ATTEMPTS) or queued_for >= GIVE_UP_AFTER:
            notification.status = "failed"
            report.count(channel, "failed")
        else:
            notification.status = "pending"
            delay = min(RETRY_BASE * (2 ** min(notification.attempts - 1, 16)), RETRY_CAP)
            notification.next_attempt_at = now + delay
            report.count(channel, "retrying")
        report.errors.append(notification.last_error)
