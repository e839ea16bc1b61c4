"""Read-only queries behind the dashboard. They return plain rows so Streamlit can cache them by value.

Every list is paginated or bounded, and every filter maps onto an indexed column, so a page costs the
same with 100,000 articles in the store as with 100 (bench/dashboard.py measures it).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Optional

from sqlalchemy import Date, String, and_, case, cast, or_
from sqlmodel import Session, func, select

from monitor.alerts.queries import articles_of_alert
from monitor.countries import country_name
from monitor.facilities.profiles import fact_history
from monitor.ingest.feed_admin import feed_state
from monitor.store.schema import (
    ALERT_STATUSES,
    SEVERITIES,
    ActivityLog,
    Alert,
    AlertArticle,
    AlertStatusChange,
    Classification,
    Facility,
    FacilityAlias,
    FacilityMention,
    FacilityProfileChange,
    Feed,
    Notification,
    RiskScore,
    utcnow,
)
from monitor.vocabulary import OPEN_ALERT_STATUSES

SNIPPET_CHARS = 400
# What the situation board shows as cards: new alerts at these severities.
BOARD_CARD_SEVERITIES = ("critical", "high")
BOARD_CARD_LIMIT = 6
REASON_CHARS = 300


def facility_rows(session: Session, country: str | None = None) -> list[dict[str, Any]]:
    """Every facility with its latest risk score and open alerts, for the table and the map."""
    query = select(Facility).order_by(Facility.country, Facility.name)
    if country:
        query = query.where(Facility.country == country)
    facilities = list(session.exec(query))
    risks = latest_risk_scores(session)
    open_alerts = dict(session.exec(
        select(Alert.facility_id, func.count()).where(Alert.facility_id.is_not(None),
                                                      Alert.status.in_(OPEN_ALERT_STATUSES))
        .group_by(Alert.facility_id)).all())
    rows = []
    for f in facilities:
        occupancy = round(100 * f.population / f.capacity) if f.population is not None and f.capacity else None
        rows.append({
            "id": f.id,
            "slug": f.slug,
            "name": f.name,
            "kind": f.kind,
            "country": country_name(f.country),
            "country_code": f.country,
            "city": f.city or "",
            "operator": f.operator or "",
            "population": f.population,
            "population_date": f.population_date or "",
            "capacity": f.capacity,
            "occupancy_pct": occupancy,
            "status": f.status or "",
            "risk": risks.get(f.id),
            "open_alerts": open_alerts.get(f.id, 0),
            "latitude": f.latitude,
            "longitude": f.longitude,
        })
    return rows


def latest_risk_scores(session: Session) -> dict[int, float]:
    latest_day = (select(RiskScore.facility_id, func.max(RiskScore.day).label("day"))
                  .group_by(RiskScore.facility_id).subquery())
    rows = session.exec(select(RiskScore.facility_id, RiskScore.score).join(
        latest_day, and_(RiskScore.facility_id == latest_day.c.facility_id, RiskScore.day == latest_day.c.day)))
    return {facility_id: round(score, 1) for facility_id, score in rows}


def facility_countries(session: Session) -> list[str]:
    return list(session.exec(select(Facility.country).distinct().order_by(Facility.country)))


def facility_choices(session: Session) -> list[tuple[int, str]]:
    """(id, "name (CC)") of every facility, for filter and selection boxes."""
    rows = session.exec(select(Facility.id, Facility.name, Facility.country).order_by(Facility.name))
    return [(facility_id, f"{name} ({country})") for facility_id, name, country in rows]


def facility_profile(session: Session, slug: str) -> dict[str, Any] | None:
    facility = session.exec(select(Facility).where(Facility.slug == slug)).first()
    if facility is None:
        return None
    aliases = list(session.exec(select(FacilityAlias.alias).where(FacilityAlias.facility_id == facility.id)
                                .order_by(FacilityAlias.id)))
    profile = facility.model_dump()
    profile["aliases"] = aliases
    profile["country_name"] = country_name(facility.country)
    risk = session.exec(select(RiskScore).where(RiskScore.facility_id == facility.id)
                        .order_by(RiskScore.day.desc())).first()
    profile["risk"] = {"score": round(risk.score, 1), "day": risk.day, "factors": risk.factors} if risk else None
    # Historied facts: one line each (latest, conflicts side by side, range) and every dated value.
    histories = fact_history(session, facility.id)
    profile["fact_summaries"] = {name: summary.describe() for name, summary in histories.items()}
    profile["fact_history"] = [
        {"fact": name, "as of": v.as_of or "", "value": v.text, "source": v.source or "", "note": v.note or "",
         "added by": "bundled knowledge base" if v.origin == "bundled" else f"{v.origin}: {v.recorded_by}"}
        for name, summary in histories.items() for v in summary.values
    ]
    return profile


def risk_history(session: Session, facility_id: int, days: int = 365) -> list[dict[str, Any]]:
    since = (utcnow() - timedelta(days=days)).strftime("%Y-%m-%d")
    rows = session.exec(select(RiskScore.day, RiskScore.score).where(RiskScore.facility_id == facility_id,
                                                                      RiskScore.day >= since)
                        .order_by(RiskScore.day))
    return [{"day": day, "score": round(score, 1)} for day, score in rows]


def profile_history(session: Session, facility_id: int, limit: int = 200) -> list[dict[str, Any]]:
    rows = session.exec(select(FacilityProfileChange).where(FacilityProfileChange.facility_id == facility_id)
                        .order_by(FacilityProfileChange.changed_at.desc(), FacilityProfileChange.id.desc())
                        .limit(limit))
    return [{"when": c.changed_at, "field": c.field, "old": _short(c.old_value), "new": _short(c.new_value),
             "by": c.changed_by, "source": c.source_url or ""} for c in rows]


def _short(value: Any, limit: int = 120) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class AlertFilters:
    severities: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    country: Optional[str] = None
    facility_id: Optional[int] = None
    since: Optional[date] = None
    until: Optional[date] = None
    most_severe_first: bool = False


@dataclass
class AlertPage:
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    page: int = 1
    pages: int = 1


def _filtered(query, filters: AlertFilters):
    if filters.severities:
        query = query.where(Alert.severity.in_(filters.severities))
    if filters.statuses:
        query = query.where(Alert.status.in_(filters.statuses))
    if filters.labels:
        # Labels are a JSON list; its text form holds each label in quotes on SQLite and PostgreSQL alike.
        as_text = cast(Alert.labels, String)
        query = query.where(or_(*[as_text.like(f'%"{label}"%') for label in filters.labels]))
    if filters.facility_id:
        query = query.where(Alert.facility_id == filters.facility_id)
    if filters.country:
        query = query.where(or_(Facility.country == filters.country,
                                and_(Alert.facility_id.is_(None), Alert.candidate_country == filters.country)))
    if filters.since:
        query = query.where(Alert.last_seen_at >= datetime.combine(filters.since, time.min, timezone.utc))
    if filters.until:
        query = query.where(Alert.first_seen_at < datetime.combine(filters.until + timedelta(days=1), time.min,
                                                                   timezone.utc))
    return query


def alert_page(session: Session, filters: AlertFilters, page: int = 1, page_size: int = 50) -> AlertPage:
    base = select(Alert, Facility.name, Facility.country).join(Facility, Facility.id == Alert.facility_id,
                                                                isouter=True)
    count_query = _filtered(select(func.count()).select_from(Alert).join(
        Facility, Facility.id == Alert.facility_id, isouter=True), filters)
    total = session.exec(count_query).one()
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    order = [Alert.last_seen_at.desc(), Alert.id.desc()]
    if filters.most_severe_first:
        rank = case({severity: n for n, severity in enumerate(SEVERITIES)}, value=Alert.severity, else_=-1)
        order.insert(0, rank.desc())
    rows = session.exec(_filtered(base, filters).order_by(*order)
                        .offset((page - 1) * page_size).limit(page_size)).all()
    ids = [alert.id for alert, _, _ in rows]
    counts = dict(session.exec(select(AlertArticle.alert_id, func.count()).where(AlertArticle.alert_id.in_(ids))
                               .group_by(AlertArticle.alert_id)).all()) if ids else {}
    result = []
    for alert, facility_name, facility_country in rows:
        place = facility_name or (f"{alert.candidate_name} (not in the list)" if alert.candidate_name
                                  else "unlinked report")
        country = facility_country or alert.candidate_country
        result.append({
            "id": alert.id, "severity": alert.severity, "status": alert.status, "place": place,
            "country": country_name(country) if country else "", "labels": ", ".join(alert.labels),
            "outlets": alert.outlet_count, "articles": counts.get(alert.id, 0),
            "first_seen": alert.first_seen_at, "last_seen": alert.last_seen_at,
        })
    return AlertPage(result, total, page, pages)


@dataclass
class SituationBoard:
    open_by_severity: dict[str, int] = field(default_factory=dict)
    cards: list[dict[str, Any]] = field(default_factory=list)
    cards_total: int = 0
    per_day: list[dict[str, Any]] = field(default_factory=list)


def _day_of(column, dialect: str):
    """The UTC calendar day of a timestamp column, as SQL (ISO text on SQLite, a DATE on PostgreSQL)."""
    if dialect == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def situation_board(session: Session, filters: AlertFilters) -> SituationBoard:
    """The top of the Alerts page: open alerts per severity, new critical/high alerts, alerts per day.

    It follows the page's place, label and date filters; its own statuses and severities are fixed, so
    the board tells the same story whichever rows the table below is narrowed to.
    """
    scope = replace(filters, severities=(), statuses=(), most_severe_first=False)
    joined = select(Alert.severity, func.count()).select_from(Alert).join(
        Facility, Facility.id == Alert.facility_id, isouter=True)
    counts = dict(session.exec(_filtered(joined, replace(scope, statuses=OPEN_ALERT_STATUSES))
                               .group_by(Alert.severity)).all())
    board = SituationBoard(open_by_severity={severity: counts.get(severity, 0) for severity in SEVERITIES})

    card_scope = replace(scope, statuses=("new",), severities=BOARD_CARD_SEVERITIES)
    rank = case({severity: n for n, severity in enumerate(SEVERITIES)}, value=Alert.severity, else_=-1)
    board.cards_total = session.exec(_filtered(select(func.count()).select_from(Alert).join(
        Facility, Facility.id == Alert.facility_id, isouter=True), card_scope)).one()
    rows = session.exec(_filtered(select(Alert, Facility.name, Facility.country).join(
        Facility, Facility.id == Alert.facility_id, isouter=True), card_scope)
        .order_by(rank.desc(), Alert.first_seen_at.desc(), Alert.id.desc()).limit(BOARD_CARD_LIMIT)).all()
    for alert, facility_name, facility_country in rows:
        place = facility_name or (f"{alert.candidate_name} (not in the list)" if alert.candidate_name
                                  else "unlinked report")
        country = facility_country or alert.candidate_country
        board.cards.append({
            "id": alert.id, "severity": alert.severity, "place": place,
            "country": country_name(country) if country else "", "labels": list(alert.labels),
            "outlets": alert.outlet_count, "first_seen": alert.first_seen_at,
            "reason": _short(alert.severity_reason.strip(), REASON_CHARS),
        })

    # Alerts per day by the day they were first seen; dismissed ones were not events.
    day = _day_of(Alert.first_seen_at, session.get_bind().dialect.name)
    per_day = select(day.label("day"), Alert.severity, func.count()).select_from(Alert).join(
        Facility, Facility.id == Alert.facility_id, isouter=True)
    per_day = _filtered(per_day, replace(scope, statuses=tuple(s for s in ALERT_STATUSES if s != "dismissed")))
    if scope.since:
        per_day = per_day.where(Alert.first_seen_at >= datetime.combine(scope.since, time.min, timezone.utc))
    for value, severity, count in session.exec(per_day.group_by(day, Alert.severity).order_by(day)):
        board.per_day.append({"day": value if isinstance(value, date) else date.fromisoformat(str(value)[:10]),
                              "severity": severity, "alerts": count})
    return board


def alert_filter_options(session: Session) -> dict[str, Any]:
    """Countries and facilities that actually have alerts, so the filters offer no dead ends."""
    with_alerts = session.exec(select(Facility.id, Facility.name, Facility.country)
                               .where(Facility.id.in_(select(Alert.facility_id).distinct()))
                               .order_by(Facility.name)).all()
    countries = {cc for _, _, cc in with_alerts}
    countries.update(c for c in session.exec(select(Alert.candidate_country).distinct()) if c)
    return {"facilities": [(fid, f"{name} ({cc})") for fid, name, cc in with_alerts],
            "countries": sorted(countries)}


def alert_detail(session: Session, alert_id: int, max_articles: int = 100) -> dict[str, Any] | None:
    alert = session.get(Alert, alert_id)
    if alert is None:
        return None
    facility = session.get(Facility, alert.facility_id) if alert.facility_id else None
    articles = articles_of_alert(session, alert_id, newest_first=True, limit=max_articles)
    article_ids = [a.id for a in articles]
    labels_by_article: dict[int, list[str]] = {}
    for article_id, labels in session.exec(select(Classification.article_id, Classification.labels)
                                           .where(Classification.article_id.in_(article_ids))
                                           .order_by(Classification.created_at)):
        labels_by_article[article_id] = labels
    mentions: dict[int, list[str]] = {}
    for m in session.exec(select(FacilityMention).where(FacilityMention.article_id.in_(article_ids))):
        what = m.matched or m.candidate_name or ""
        mentions.setdefault(m.article_id, []).append(f"{what} ({m.role}, {m.confidence:.2f})")
    audit = session.exec(select(AlertStatusChange).where(AlertStatusChange.alert_id == alert_id)
                         .order_by(AlertStatusChange.at.desc(), AlertStatusChange.id.desc())).all()
    mail = session.exec(select(Notification.status, func.count()).where(Notification.alert_id == alert_id)
                        .group_by(Notification.status)).all()
    return {
        "id": alert.id, "severity": alert.severity, "severity_reason": alert.severity_reason,
        "status": alert.status, "labels": list(alert.labels), "outlets": alert.outlet_count,
        "first_seen": alert.first_seen_at, "last_seen": alert.last_seen_at,
        "facility": ({"id": facility.id, "slug": facility.slug, "name": facility.name,
                      "country": country_name(facility.country), "population": facility.population,
                      "capacity": facility.capacity, "operator": facility.operator or "",
                      "conditions": facility.conditions or ""} if facility else None),
        "candidate": ({"name": alert.candidate_name, "country": alert.candidate_country}
                      if alert.candidate_name and facility is None else None),
        "articles": [{
            "id": a.id, "title": a.title, "outlet": a.outlet or "", "url": a.url,
            "published": a.published_at or a.first_seen_at,
            "snippet": _short(a.summary, SNIPPET_CHARS), "labels": ", ".join(labels_by_article.get(a.id, [])),
            "facilities": "; ".join(mentions.get(a.id, [])),
        } for a in articles],
        "audit": [{"when": c.at, "who": c.actor, "from": c.from_status or "", "to": c.to_status or "",
                   "note": c.note or ""} for c in audit],
        "mail": dict(mail),
    }


def facility_alerts(session: Session, facility_id: int, limit: int = 100) -> list[dict[str, Any]]:
    rows = session.exec(select(Alert).where(Alert.facility_id == facility_id)
                        .order_by(Alert.last_seen_at.desc()).limit(limit))
    return [{"id": a.id, "first_seen": a.first_seen_at, "last_seen": a.last_seen_at, "severity": a.severity,
             "labels": ", ".join(a.labels), "status": a.status, "outlets": a.outlet_count} for a in rows]


def feed_rows(session: Session) -> list[dict[str, Any]]:
    rows = []
    for f in session.exec(select(Feed).order_by(Feed.name)):
        rows.append({
            "name": f.name, "state": feed_state(f), "url": f.url, "managed_by": f.managed_by,
            "last_success": f.last_success_at, "last_checked": f.last_checked_at, "last_status": f.last_status,
            "errors": f.consecutive_errors, "next_check": f.next_check_at if f.enabled and not f.parked_at else None,
            "parked_since": f.parked_at, "last_error": f.last_error or "", "warning": f.last_warning or "",
            "enabled": f.enabled,
        })
    return rows


def recent_activity(session: Session, prefix: str, limit: int = 50) -> list[dict[str, Any]]:
    rows = session.exec(select(ActivityLog).where(ActivityLog.action.startswith(prefix))
                        .order_by(ActivityLog.at.desc(), ActivityLog.id.desc()).limit(limit))
    return [{"when": r.at, "who": r.actor, "action": r.action, "target": r.target, "detail": r.detail} for r in rows]

