"""Alerts are events, not articles: articles about the same facility and kind of signal within a window
join one alert, whose corroboration is the number of independent outlets that reported it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable, Optional

from rapidfuzz import fuzz
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from monitor.alerts.severity import assess_severity
from monitor.facilities.exposure import facility_exposures
from monitor.facilities.names import normalize_name
from monitor.store.db import session_scope
from monitor.store.schema import (
    INCIDENT_LABELS,
    SEVERITIES,
    Alert,
    AlertArticle,
    Article,
    Classification,
    Facility,
    FacilityMention,
    utcnow,
)
from monitor.vocabulary import OPEN_ALERT_STATUSES

GROUP_WINDOW = timedelta(hours=72)
# Two outlets carrying near-identical text are one wire story, counted once.
WIRE_COPY_SIMILARITY = 90
CONFIDENT_LINK = 0.5


@dataclass
class AlertChanges:
    created: list[int] = field(default_factory=list)
    joined: list[int] = field(default_factory=list)
    raised: list[int] = field(default_factory=list)


def signal_kind(labels: Iterable[str]) -> str:
    labels = list(labels)
    if any(label in INCIDENT_LABELS for label in labels):
        return "incident"
    order = ("resurgence_signal", "conditions_alert", "transfer_repatriation")
    return next(label for label in order if label in labels)


def _subject(article_id: int, mentions: list[FacilityMention]) -> tuple[str, Optional[int], Optional[str], Optional[str]]:
    """(key, facility_id, candidate name, candidate country) of what the article is about."""
    primary = sorted((m for m in mentions if m.role == "primary" and m.facility_id is not None),
                     key=lambda m: -m.confidence)
    if primary and primary[0].confidence >= CONFIDENT_LINK:
        return f"facility:{primary[0].facility_id}", primary[0].facility_id, None, None
    candidates = [m for m in mentions if m.facility_id is None and m.candidate_name]
    if candidates:
        c = candidates[0]
        return f"candidate:{normalize_name(c.candidate_name)}:{c.candidate_country or ''}", None, c.candidate_name, \
            c.candidate_country
    if primary:  # only weak place links ("a prison in Hasakeh"): group by that place
        return f"place:{normalize_name(primary[0].matched)}", None, None, None
    return f"article:{article_id}", None, None, None


def count_independent_outlets(articles: list[Article]) -> int:
    """Distinct publishers, with wire copies (near-identical text under other mastheads) counted once."""
    parent = list(range(len(articles)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    texts = [normalize_name(f"{a.title} {a.summary[:400]}") for a in articles]
    outlets = [normalize_name(a.outlet or a.url.split("/")[2] if "//" in a.url else a.url) for a in articles]
    for i in range(len(articles)):
        for j in range(i + 1, len(articles)):
            if outlets[i] == outlets[j] or fuzz.token_set_ratio(texts[i], texts[j]) >= WIRE_COPY_SIMILARITY:
                parent[find(i)] = find(j)
    return len({find(i) for i in range(len(articles))})


def _when(article: Article) -> datetime:
    return article.published_at or article.first_seen_at


def build_alerts(engine: Engine, article_ids: Iterable[int]) -> AlertChanges:
    """Put newly classified articles into alerts: join an open alert on the same subject, or start one."""
    changes = AlertChanges()
    ids = sorted(set(article_ids))
    if not ids:
        return changes
    with Session(engine) as session:
        risks = facility_exposures(session)
    with session_scope(engine) as session:
        rows = session.exec(select(Article, Classification).join(Classification, Classification.article_id == Article.id)
                            .where(Article.id.in_(ids)).order_by(Article.id)).all()
        for article, classification in rows:
            if not classification.labels:
                continue
            if session.exec(select(AlertArticle).where(AlertArticle.article_id == article.id)).first():
                continue  # already in an alert (a rerun after a crash)
            mentions = list(session.exec(select(FacilityMention).where(FacilityMention.article_id == article.id)))
            key, facility_id, candidate, country = _subject(article.id, mentions)
            group_key = f"{key}|{signal_kind(classification.labels)}"
            when = _when(article)
            alert = session.exec(select(Alert).where(Alert.group_key == group_key,
                                                     Alert.status.in_(OPEN_ALERT_STATUSES),
                                                     Alert.last_seen_at >= when - GROUP_WINDOW)
                                 .order_by(Alert.last_seen_at.desc())).first()
            if alert is None:
                alert = Alert(facility_id=facility_id, candidate_name=candidate, candidate_country=country,
                              group_key=group_key, labels=list(classification.labels), first_seen_at=when,
                              last_seen_at=when)
                session.add(alert)
                session.flush()
                changes.created.append(alert.id)
            else:
                changes.joined.append(alert.id)
            session.add(AlertArticle(alert_id=alert.id, article_id=article.id))
            session.flush()
            before = alert.severity if alert.id not in changes.created else None
            _refresh(session, alert, risks)
            if before is not None and SEVERITIES.index(alert.severity) > SEVERITIES.index(before) \
                    and alert.id not in changes.raised:
                changes.raised.append(alert.id)
    return changes


def _refresh(session: Session, alert: Alert, risks) -> None:
    """Recompute an alert's labels, time span, corroboration and severity from all its articles."""
    articles = list(session.exec(select(Article).join(AlertArticle, AlertArticle.article_id == Article.id)
                                 .where(AlertArticle.alert_id == alert.id)))
    labels = set(alert.labels or [])
    for classification in session.exec(select(Classification).where(
            Classification.article_id.in_([a.id for a in articles]))):
        labels.update(classification.labels)
    ordered = [label for label in ("prison_break", "attack_on_facility", "riot_unrest", "resurgence_signal",
                                   "conditions_alert", "transfer_repatriation") if label in labels]
    alert.labels = ordered
    alert.first_seen_at = min(_when(a) for a in articles)
    alert.last_seen_at = max(_when(a) for a in articles)
    alert.outlet_count = count_independent_outlets(articles)
    text = "\n".join(f"{a.title}\n{a.summary}" for a in articles)
    risk = risks.get(alert.facility_id) if alert.facility_id else None
    severity, reason = assess_severity(ordered, text, risk, alert.outlet_count)
    # An alert never drops in severity because a milder article joined it.
    if alert.severity and severity and SEVERITIES.index(alert.severity) > SEVERITIES.index(severity):
        severity, reason = alert.severity, alert.severity_reason
    alert.severity = severity or "low"
    alert.severity_reason = reason
    alert.updated_at = utcnow()


def alert_place(session: Session, alert: Alert) -> tuple[str, Optional[str]]:
    """(display name, country code) of what an alert is about."""
    if alert.facility_id:
        facility = session.get(Facility, alert.facility_id)
        return facility.name, facility.country
    if alert.candidate_name:
        return f"{alert.candidate_name} (not in the facility list)", alert.candidate_country
    return "unlinked report", None
