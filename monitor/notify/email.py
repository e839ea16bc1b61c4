"""Rendering alert mail: plain text and HTML (every piece of article text escaped), with a stable Message-ID."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from html import escape

from sqlmodel import Session

from monitor.alerts.events import alert_place
from monitor.alerts.queries import articles_of_alert
from monitor.countries import country_name
from monitor.store.schema import Alert, Facility
from monitor.vocabulary import SEVERITY_COLOURS, severity_badge

SNIPPET_CHARS = 300
MAX_SOURCES = 8


@dataclass
class RenderedMail:
    subject: str
    text: str
    html: str


# The symbol and word go beside the colour, so the severity reads without colour (plain-text mail,
# colour-blind readers, print). Colours and symbols: monitor/vocabulary.py.
severity_text = severity_badge


def severity_html(severity: str) -> str:
    colour = SEVERITY_COLOURS.get(severity, "#888888")
    return (f'<span style="background:{colour};color:#ffffff;padding:1px 6px;border-radius:3px;'
            f'font-weight:bold">{escape(severity_text(severity))}</span>')


def message_id(alert_id: int | None, subscriber_id: int, reason: str, channel: str | None = None) -> str:
    """The same (alert, subscriber, reason, channel) always gets the same Message-ID, so a resend is recognisable."""
    token = reason.replace(":", "-").replace(" ", "-")
    suffix = f".{channel}" if channel else ""
    return f"<alert-{alert_id or 'digest'}.{token}.{subscriber_id}{suffix}@detention-monitor.invalid>"


def describe_signal(session: Session, alert: Alert) -> tuple[str, str, str | None]:
    """(what, place, country) of an alert; a watch alert names its rule and the facility it matched."""
    from monitor.alerts.watch import is_watch_alert, watch_routes

    if is_watch_alert(alert):
        route = watch_routes(session, [alert.id]).get(alert.id)
        facility = session.get(Facility, route.facility_id) if route and route.facility_id else None
        what = f"watch rule '{route.rule_name}'" if route else "watch rule"
        return what, facility.name if facility else "no facility named", facility.country if facility else None
    place, country = alert_place(session, alert)
    labels = ", ".join(label.replace("_", " ") for label in alert.labels) or "coverage went quiet"
    return labels, place, country


def _facility_summary(facility: Facility | None) -> list[str]:
    if facility is None:
        return ["Facility: not in the facility list yet (an analyst can add it from the dashboard)."]
    lines = [f"Facility: {facility.name} — {facility.kind.replace('_', ' ')}, "
             f"{', '.join(p for p in (facility.city, country_name(facility.country)) if p)}"]
    if facility.operator:
        lines.append(f"Operator: {facility.operator}")
    if facility.population is not None or facility.capacity is not None:
        population = f"{facility.population:,}" if facility.population is not None else "unknown"
        capacity = f"{facility.capacity:,}" if facility.capacity is not None else "unknown"
        dated = f" (as of {facility.population_date})" if facility.population_date else ""
        lines.append(f"Population: {population}{dated}; capacity: {capacity}")
    if facility.nationalities:
        lines.append("Nationalities: " + ", ".join(country_name(n["country"]) for n in facility.nationalities[:8]))
    if facility.condition_tags:
        lines.append("Conditions: " + ", ".join(t.replace("_", " ") for t in facility.condition_tags))
    return lines


def render_alert(session: Session, alert: Alert, dashboard_url: str, reason: str) -> RenderedMail:
    labels, place, country = describe_signal(session, alert)
    facility = session.get(Facility, alert.facility_id) if alert.facility_id else None
    articles = articles_of_alert(session, alert.id)
    raised = reason.startswith("raised")
    subject = (f"[{alert.severity.upper()}] {'Raised: ' if raised else ''}{place}: {labels} "
               f"({alert.outlet_count} outlet{'s' if alert.outlet_count != 1 else ''})")
    link = f"{dashboard_url.rstrip('/')}/?alert={alert.id}"
    text = [
        f"{'Severity raised' if raised else 'New alert'}: {labels} at {place}"
        + (f" ({country_name(country)})" if country else ""),
        f"Severity: {severity_text(alert.severity)} — {alert.severity_reason}",
        f"Corroboration: {alert.outlet_count} independent outlet(s); first seen {alert.first_seen_at:%Y-%m-%d %H:%M} "
        f"UTC, last {alert.last_seen_at:%Y-%m-%d %H:%M} UTC",
        "",
        *_facility_summary(facility),
        "",
        "Evidence:",
    ]
    html = [
        f"<p><strong>{'Severity raised' if raised else 'New alert'}: {escape(labels)} at {escape(place)}</strong></p>",
        f"<p>Severity: {severity_html(alert.severity)} — {escape(alert.severity_reason)}</p>",
        f"<p>Corroboration: {alert.outlet_count} independent outlet(s); first seen "
        f"{alert.first_seen_at:%Y-%m-%d %H:%M} UTC, last {alert.last_seen_at:%Y-%m-%d %H:%M} UTC</p>",
        "<p>" + "<br>".join(escape(line) for line in _facility_summary(facility)) + "</p>",
        "<p>Evidence:</p><ul>",
    ]
    for article in articles[:MAX_SOURCES]:
        snippet = article.summary[:SNIPPET_CHARS] + ("…" if len(article.summary) > SNIPPET_CHARS else "")
        outlet = article.outlet or "unknown outlet"
        text += [f"- {article.title} ({outlet})", f"  {snippet}", f"  {article.url}"]
        html.append(f"<li><strong>{escape(article.title)}</strong> ({escape(outlet)})<br>{escape(snippet)}<br>"
                    f"<a href=\"{escape(article.url, quote=True)}\">{escape(article.url)}</a></li>")
    if len(articles) > MAX_SOURCES:
        text.append(f"- and {len(articles) - MAX_SOURCES} more")
        html.append(f"<li>and {len(articles) - MAX_SOURCES} more</li>")
    text += ["", f"Open the alert: {link}"]
    html += ["</ul>", f"<p><a href=\"{escape(link, quote=True)}\">Open the alert in the dashboard</a></p>"]
    return RenderedMail(subject[:480], "\n".join(text), "\n".join(html))


def build_message(mail: RenderedMail, sender: str, recipient: str, msg_id: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = mail.subject
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = msg_id
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message
