"""Daily digests: one mail per digest subscriber per day, grouping the matching alerts by facility."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from html import escape
from typing import Optional

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from monitor.alerts.watch import watch_routes
from monitor.notify.email import RenderedMail, describe_signal, severity_html
from monitor.notify.outbox import queue_notification, subscriber_matches
from monitor.settings import Settings
from monitor.store.db import session_scope
from monitor.store.schema import Alert, Facility, Notification, Subscriber, utcnow

DIGEST_SPAN = timedelta(hours=24)


def _render_digest(session: Session, alerts: list[Alert], day: str, dashboard_url: str) -> RenderedMail:
    by_place: dict[str, list[Alert]] = defaultdict(list)
    for alert in alerts:
        _what, place, country = describe_signal(session, alert)
        by_place[f"{place}{' [' + country + ']' if country else ''}"].append(alert)
    base = dashboard_url.rstrip("/")
    text = [f"Detention-risk digest for {day}: {len(alerts)} alert(s) at {len(by_place)} place(s).", ""]
    html = [f"<p><strong>Detention-risk digest for {escape(day)}</strong>: {len(alerts)} alert(s) at "
            f"{len(by_place)} place(s).</p>"]
    for place in sorted(by_place, key=lambda p: -max(["low", "medium", "high", "critical"].index(a.severity)
                                                      for a in by_place[p])):
        text.append(place)
        html.append(f"<h3>{escape(place)}</h3><ul>")
        for alert in sorted(by_place[place], key=lambda a: a.last_seen_at, reverse=True):
            labels = describe_signal(session, alert)[0]
            line = (f"{labels}; {alert.outlet_count} outlet(s); "
                    f"last seen {alert.last_seen_at:%Y-%m-%d %H:%M} UTC — {alert.severity_reason}")
            text += [f"  - [{alert.severity.upper()}] {line}", f"    {base}/?alert={alert.id}"]
            html.append(f"<li>{severity_html(alert.severity)} {escape(line)} — "
                        f"<a href=\"{escape(base, quote=True)}/?alert={alert.id}\">open</a></li>")
        text.append("")
        html.append("</ul>")
    subject = f"Detention-risk digest {day}: {len(alerts)} alert(s)"
    return RenderedMail(subject, "\n".join(text), "\n".join(html))


def queue_due_digests(engine: Engine, settings: Settings, now: Optional[datetime] = None) -> int:
    """Queue today's digest for every digest subscriber whose hour has come; once per subscriber per day."""
    now = now or utcnow()
    day = now.strftime("%Y-%m-%d")
    queued = 0
    with session_scope(engine) as session:
        subscribers = session.exec(select(Subscriber).where(Subscriber.active == True,  # noqa: E712
                                                            Subscriber.mode == "digest")).all()
        # Alerts that arrived or changed in the last day, whenever their articles were published.
        recent = session.exec(select(Alert).where(Alert.updated_at >= now - DIGEST_SPAN,
                                                  Alert.status != "dismissed")).all()
        watched = watch_routes(session, [a.id for a in recent])

        def country_of(alert: Alert):
            facility_id = watched[alert.id].facility_id if alert.id in watched else alert.facility_id
            return session.get(Facility, facility_id).country if facility_id else alert.candidate_country

        countries = {a.id: country_of(a) for a in recent}
        for subscriber in subscribers:
            if now.hour < (subscriber.digest_hour if subscriber.digest_hour is not None else settings.digest_hour):
                continue
            key = f"digest:{subscriber.id}:{day}"
            if session.exec(select(Notification.id).where(Notification.dedup_key.startswith(key))).first():
                continue
            matching = [a for a in recent if subscriber_matches(subscriber, a, countries[a.id], mode="digest",
                                                                watch=watched.get(a.id))]
            if not matching:
                continue
            mail = _render_digest(session, matching, day, settings.dashboard_url)
            reason = f"digest-{day}"
            queued += queue_notification(session, subscriber, None, reason, key, mail.subject, mail.text, mail.html)
    return queued
