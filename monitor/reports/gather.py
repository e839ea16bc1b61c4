"""What a facility report says, gathered once from the store into the dataclasses of monitor/reports/model.py.

Every format (PDF, CSV, Markdown, HTML, GeoJSON) renders a `ReportBundle`; none of them queries the
store, so they all say the same thing. Reading only: gathering never computes or writes anything.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from monitor.countries import country_name, is_country_code
from monitor.facilities import lookup
from monitor.facilities.profiles import FactSummary, aliases_of, fact_history
from monitor.reports.model import (
    PROFILE_SOURCE,
    SNIPPET_CHARS,
    FacilityInfo,
    FacilityReport,
    FacilitySelection,
    Incident,
    Period,
    ProfileFact,
    ReportAlert,
    ReportArticle,
    ReportBundle,
    ReportError,
    RiskFactorLine,
    RiskPoint,
    RiskSummary,
    Source,
    clean_text,
)
from monitor.store.schema import (
    Alert,
    AlertArticle,
    Article,
    Classification,
    Facility,
    FacilityMention,
    ModelVersion,
    RiskScore,
    utcnow,
)


class _SourceList:
    """Numbers sources in order of first use; a URL cited twice keeps its first number."""

    def __init__(self):
        self.sources: list[Source] = []
        self._by_url: dict[str, Source] = {}

    def cite(self, url: Optional[str], date_text: Optional[str], title: str, outlet: Optional[str] = None,
             ) -> Optional[int]:
        url = clean_text(url).strip()
        if not url:
            return None
        source = self._by_url.get(url)
        if source is None:
            source = Source(len(self.sources) + 1, url, date_text, title, outlet)
            self.sources.append(source)
            self._by_url[url] = source
        elif title.startswith(PROFILE_SOURCE) and source.title.startswith(PROFILE_SOURCE):
            # One page behind several facts of the profile: say which.
            supported = source.title[len(PROFILE_SOURCE):].split(", ")
            if title[len(PROFILE_SOURCE):] not in supported:
                source.title += ", " + title[len(PROFILE_SOURCE):]
        if source.date is None and date_text:
            source.date = date_text
        return source.number


def _number(value: Optional[int]) -> str:
    return f"{value:,}"


def _nationality_text(items: list[dict[str, Any]]) -> str:
    return ", ".join(
        country_name(n["country"]) + (f" {n['count']:,}" if n.get("count") is not None else "")
        + (f" ({clean_text(n['note'])})" if n.get("note") else "")
        for n in items
    )


def _profile(facility: Facility, sources: _SourceList, histories: dict[str, FactSummary]) -> list[ProfileFact]:
    facts = facility.facts or {}
    rows: list[tuple[str, str, Optional[str], str]] = [("kind", "Kind", facility.kind.replace("_", " "), "kind")]
    place = ", ".join(p for p in (facility.city, facility.admin_area, country_name(facility.country)) if p)
    rows.append(("place", "Place", f"{clean_text(place)} [{facility.country}]", "city"))
    if facility.latitude is not None and facility.longitude is not None:
        rows.append(("location", "Location", f"{facility.latitude:.5f}, {facility.longitude:.5f} "
                                             f"({facility.location_precision or 'site'})", "latitude"))
    rows.append(("operator", "Operator", clean_text(facility.operator) or None, "operator"))
    rows.append(("status", "Status", clean_text(facility.status) or None, "status"))
    rows.append(("capacity", "Capacity",
                 _number(facility.capacity) if facility.capacity is not None else None, "capacity"))
    population = None
    if facility.population is not None:
        population = _number(facility.population) + (f" ({facility.population_date})"
                                                      if facility.population_date else "")
    rows.append(("population", "Population", population, "population"))
    rows.append(("nationalities", "Nationalities",
                 _nationality_text(facility.nationalities) if facility.nationalities else None, "nationalities"))
    rows.append(("conditions", "Conditions", clean_text(facility.conditions) or None, "conditions"))
    rows.append(("condition_tags", "Condition tags",
                 ", ".join(t.replace("_", " ") for t in facility.condition_tags) if facility.condition_tags else None,
                 "condition_tags"))
    profile = []
    for name, label, value, fact_key in rows:
        fact = facts.get(fact_key) or {}
        known = value is not None
        source_url = fact.get("source") if known else None
        as_of = fact.get("as_of") if known else None
        number = sources.cite(source_url, as_of, PROFILE_SOURCE + label.lower()) if source_url else None
        summary = histories.get(name)
        if known and summary is not None and len(summary.values) > 1:
            # The figure in use, then what the sources say over time: conflicting figures side by side.
            cited = []
            for entry in summary.values:
                n = sources.cite(entry.source, entry.as_of, PROFILE_SOURCE + label.lower()) if entry.source else None
                cited.append(f"{entry.as_of or 'undated'}: {clean_text(entry.text)}" + (f" [{n}]" if n else ""))
            value = f"{value} — {clean_text(summary.describe())}. History: " + "; ".join(cited)
        profile.append(ProfileFact(name, label, value if known else "unknown", as_of, source_url, number))
    return profile


def _incidents(facility: Facility, sources: _SourceList) -> list[Incident]:
    incidents = []
    for item in sorted(facility.incidents or [], key=lambda i: str(i.get("date", ""))):
        when = str(item.get("date") or "")
        url = item.get("source")
        number = sources.cite(url, when or None, PROFILE_SOURCE + "known incidents") if url else None
        incidents.append(Incident(when or "date unknown", clean_text(item.get("summary")), url, number))
    return incidents


def _risk(session: Session, facility_id: int, period: Period) -> RiskSummary:
    rows = list(session.exec(select(RiskScore).where(RiskScore.facility_id == facility_id).order_by(RiskScore.day)))
    latest = rows[-1] if rows else None
    since = f"{period.since:%Y-%m-%d}" if period.since else None
    until = f"{period.until:%Y-%m-%d}" if period.until else None
    history = [RiskPoint(r.day, r.score) for r in rows
               if (since is None or r.day >= since) and (until is None or r.day <= until)]
    if latest is None:
        return RiskSummary(None, None, [], history)
    factors = [RiskFactorLine(str(f.get("factor", "")), float(f.get("points", 0)), clean_text(str(f.get("detail", ""))))
               for f in sorted(latest.factors, key=lambda f: -float(f.get("points", 0)))]
    return RiskSummary(latest.score, latest.day, factors, history)


def _overlaps(query, period: Period):
    if period.start is not None:
        query = query.where(Alert.last_seen_at >= period.start)
    if period.end is not None:
        query = query.where(Alert.first_seen_at < period.end)
    return query


def _snippet(text: str) -> str:
    text = " ".join(clean_text(text).split())
    return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS].rstrip() + "…"


def _iso_day(when: Optional[datetime]) -> Optional[str]:
    return f"{when:%Y-%m-%d}" if when else None


def gather_facility_report(session: Session, facility: Facility, period: Period, generated_at: datetime,
                           ) -> FacilityReport:
    sources = _SourceList()
    aliases = [clean_text(a) for a in aliases_of(session, facility.id)]
    info = FacilityInfo(
        id=facility.id, slug=facility.slug, name=clean_text(facility.name), aliases=aliases, kind=facility.kind,
        country=facility.country, country_name=country_name(facility.country), city=clean_text(facility.city) or None,
        admin_area=clean_text(facility.admin_area) or None, latitude=facility.latitude, longitude=facility.longitude,
        location_precision=facility.location_precision, operator=clean_text(facility.operator) or None,
        status=clean_text(facility.status) or None, capacity=facility.capacity, population=facility.population,
        population_date=facility.population_date, nationalities=list(facility.nationalities or []),
        conditions=clean_text(facility.conditions) or None, condition_tags=list(facility.condition_tags or []),
    )
    profile = _profile(facility, sources, fact_history(session, facility.id))
    incidents = _incidents(facility, sources)
    risk = _risk(session, facility.id, period)

    in_period = _overlaps(select(Alert).where(Alert.facility_id == facility.id), period)
    all_alerts = list(session.exec(in_period.order_by(Alert.first_seen_at, Alert.id)))
    # Dismissed alerts are analysts' verdicts of false positives: counted, never presented as events.
    alerts = [a for a in all_alerts if a.status != "dismissed"]
    alert_articles: dict[int, list[int]] = {}
    if alerts:
        for alert_id, article_id in session.exec(select(AlertArticle.alert_id, AlertArticle.article_id)
                                                 .where(AlertArticle.alert_id.in_([a.id for a in alerts]))):
            alert_articles.setdefault(alert_id, []).append(article_id)

    # Articles: every article of the alerts above, and every article linked to the facility in the period.
    mention_query = select(FacilityMention.article_id, FacilityMention.role).where(
        FacilityMention.facility_id == facility.id)
    roles: dict[int, str] = {}
    for article_id, role in session.exec(mention_query):
        if roles.get(article_id) != "primary":
            roles[article_id] = role
    article_ids = {aid for ids in alert_articles.values() for aid in ids}
    linked = set(roles) - article_ids
    rows: list[Article] = []
    if article_ids:
        rows += session.exec(select(Article).where(Article.id.in_(sorted(article_ids)))).all()
    if linked:
        rows += [a for a in session.exec(select(Article).where(Article.id.in_(sorted(linked))))
                 if (period.start is None or (a.published_at or a.first_seen_at) >= period.start)
                 and (period.end is None or (a.published_at or a.first_seen_at) < period.end)]
    rows.sort(key=lambda a: (a.published_at or a.first_seen_at, a.id))
    labels: dict[int, list[str]] = {}
    versions: dict[str, datetime] = {}
    if rows:
        for article_id, version, row_labels, created in session.exec(
                select(Classification.article_id, Classification.model_version, Classification.labels,
                       Classification.created_at)
                .where(Classification.article_id.in_([a.id for a in rows])).order_by(Classification.created_at)):
            labels[article_id] = list(row_labels)  # the newest classification wins
            versions[version] = max(created, versions.get(version, created))
    alerts_of: dict[int, list[int]] = {}
    for alert_id, ids in alert_articles.items():
        for article_id in ids:
            alerts_of.setdefault(article_id, []).append(alert_id)
    articles = []
    for row in rows:
        title = clean_text(row.title).strip() or "(untitled)"
        number = sources.cite(row.url, _iso_day(row.published_at or row.first_seen_at), title,
                              clean_text(row.outlet) or None)
        articles.append(ReportArticle(
            id=row.id, title=title, url=clean_text(row.url), outlet=clean_text(row.outlet) or None,
            language=row.language, published_at=row.published_at, first_seen_at=row.first_seen_at,
            labels=labels.get(row.id, []), snippet=_snippet(row.summary), alert_ids=sorted(alerts_of.get(row.id, [])),
            role=roles.get(row.id), source_number=number or 0,
        ))
    by_id = {a.id: a for a in articles}
    report_alerts = []
    for alert in alerts:
        ids = sorted(alert_articles.get(alert.id, []), key=lambda i: (by_id[i].when, i))
        report_alerts.append(ReportAlert(
            id=alert.id, labels=list(alert.labels), severity=alert.severity,
            severity_reason=clean_text(alert.severity_reason), status=alert.status, outlet_count=alert.outlet_count,
            first_seen_at=alert.first_seen_at, last_seen_at=alert.last_seen_at, article_ids=ids,
        ))
    return FacilityReport(
        facility=info, profile=profile, incidents=incidents, risk=risk, alerts=report_alerts, articles=articles,
        dismissed_alerts=len(all_alerts) - len(alerts), sources=sources.sources, period=period,
        generated_at=generated_at, model_versions=sorted(versions, key=versions.get),
    )


def build_facility_report(engine: Engine, facility_id: int, since: Optional[date] = None,
                          until: Optional[date] = None, now: Optional[datetime] = None) -> FacilityReport:
    with Session(engine) as session:
        facility = session.get(Facility, facility_id)
        if facility is None:
            raise ReportError(f"no facility with id {facility_id}")
        return gather_facility_report(session, facility, Period(since, until), now or utcnow())


def suggest_facilities(session: Session, query: str) -> list[str]:
    """Close names for a query that matched nothing, as 'Name (slug)', best first."""
    return [f"{f.name} ({f.slug})" for f in lookup.suggest_facilities(session, query)]


def select_facilities(session: Session, selection: FacilitySelection) -> list[Facility]:
    chosen = [bool(selection.name_or_alias), bool(selection.country), selection.all_facilities,
              bool(selection.facility_ids)]
    if sum(chosen) != 1:
        raise ReportError("select one facility, a country or all facilities (exactly one of them)")
    if selection.facility_ids:
        rows = list(session.exec(select(Facility).where(Facility.id.in_(selection.facility_ids))
                                 .order_by(Facility.country, Facility.name)))
        missing = set(selection.facility_ids) - {f.id for f in rows}
        if missing:
            raise ReportError(f"no facility with id {', '.join(map(str, sorted(missing)))}")
        return rows
    if selection.all_facilities:
        rows = list(session.exec(select(Facility).order_by(Facility.country, Facility.name)))
        if not rows:
            raise ReportError("there are no facilities in the store yet; run `monitor init`")
        return rows
    if selection.country:
        code = selection.country.strip().upper()
        if not is_country_code(code):
            raise ReportError(f"country: {selection.country!r} is not an ISO 3166-1 alpha-2 country code")
        rows = list(session.exec(select(Facility).where(Facility.country == code).order_by(Facility.name)))
        if not rows:
            raise ReportError(f"no facilities in {country_name(code)} ({code}); see `monitor facilities list`")
        return rows
    query = selection.name_or_alias or ""
    try:
        return [lookup.resolve_facility(session, query)]
    except lookup.FacilityLookupError as exc:
        raise ReportError(str(exc)) from None


def _store_model_version(session: Session) -> Optional[str]:
    """The active model when one is registered, else the one that classified the latest article."""
    active = session.exec(select(ModelVersion.version).where(ModelVersion.active)).first()
    return active or session.exec(select(Classification.model_version)
                                  .order_by(Classification.created_at.desc())).first()


def gather_reports(engine: Engine, selection: FacilitySelection, period: Period,
                   now: Optional[datetime] = None) -> ReportBundle:
    generated_at = now or utcnow()
    with Session(engine) as session:
        facilities = select_facilities(session, selection)
        reports = [gather_facility_report(session, f, period, generated_at) for f in facilities]
        versions: list[str] = []
        for report in reports:
            versions += [v for v in report.model_versions if v not in versions]
        if not versions:
            latest = _store_model_version(session)
            versions = [latest] if latest else []
    title = (f"Facility report: {reports[0].facility.name}" if len(reports) == 1
             else f"Facility reports: {selection.describe()}")
    model_version = ", ".join(versions) if versions else "none (no article has been classified yet)"
    return ReportBundle(title=title, selection=selection.describe(), period=period, generated_at=generated_at,
                        model_version=model_version, reports=reports)


# Sentences every format uses, so that a PDF, a Markdown file and a web page say the same thing.
