"""Facility risk scores (0-100) with their factors, and "coverage went quiet" alerts.

score = recent signals (up to 60 points: each alert weighted by severity, halving every 14 days)
      + static vulnerability (up to 40 points: occupancy over capacity, conditions, who is held).
One row per facility per day is kept (the day's latest recomputation) for trend charts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Optional

from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from monitor.facilities.exposure import facility_exposures
from monitor.store.db import session_scope
from monitor.store.schema import Alert, Article, Facility, FacilityMention, RiskScore, utcnow
from monitor.vocabulary import OPEN_ALERT_STATUSES

SEVERITY_POINTS = {"low": 4.0, "medium": 10.0, "high": 20.0, "critical": 35.0}
SIGNAL_HALF_LIFE_DAYS = 14.0
SIGNAL_WINDOW = timedelta(days=90)
SIGNAL_CAP = 60.0
TAG_POINTS = {"overcrowded": 6.0, "guard_shortage": 8.0, "converted_school": 4.0, "makeshift": 4.0, "disease": 4.0,
              "funding_cut": 5.0, "foreign_nationals": 3.0, "children_held": 2.0}
STATIC_CAP = 40.0
# "Usually appears in the news": at least this many articles over the baseline window.
QUIET_BASELINE = timedelta(days=60)
QUIET_MIN_ARTICLES = 5


@dataclass
class RiskFactor:
    factor: str
    points: float
    detail: str

    def as_dict(self) -> dict:
        return {"factor": self.factor, "points": round(self.points, 1), "detail": self.detail}


def compute_risk(session: Session, facility: Facility, now: datetime,
                 holds_jihadist: bool) -> tuple[float, list[RiskFactor]]:
    factors: list[RiskFactor] = []
    alerts = session.exec(select(Alert).where(Alert.facility_id == facility.id, Alert.status != "dismissed",
                                              Alert.last_seen_at >= now - SIGNAL_WINDOW)).all()
    signal_points = 0.0
    for alert in alerts:
        age_days = max((now - alert.last_seen_at).total_seconds() / 86400, 0.0)
        points = SEVERITY_POINTS[alert.severity] * math.pow(0.5, age_days / SIGNAL_HALF_LIFE_DAYS)
        signal_points += points
        factors.append(RiskFactor("signal", points, f"{alert.severity} alert #{alert.id} ({', '.join(alert.labels)}), "
                                                    f"{age_days:.0f} days ago"))
    if signal_points > SIGNAL_CAP:
        factors.append(RiskFactor("signal cap", SIGNAL_CAP - signal_points,
                                  f"recent signals count at most {SIGNAL_CAP:g}"))
        signal_points = SIGNAL_CAP
    static = 0.0
    if facility.population and facility.capacity:
        occupancy = facility.population / facility.capacity
        if occupancy > 1:
            points = min(15.0, (occupancy - 1) * 15.0)
            static += points
            factors.append(RiskFactor("occupancy", points,
                                      f"{facility.population:,} held for {facility.capacity:,} places "
                                                           f"({occupancy:.0%})"))
    for tag in facility.condition_tags or []:
        if tag in TAG_POINTS:
            static += TAG_POINTS[tag]
            factors.append(RiskFactor("conditions", TAG_POINTS[tag], tag.replace("_", " ")))
    if holds_jihadist:
        static += 10.0
        factors.append(RiskFactor("detainees", 10.0, "holds people suspected of jihadist membership"))
    if static > STATIC_CAP:
        factors.append(RiskFactor("vulnerability cap", STATIC_CAP - static,
                                  f"vulnerability counts at most {STATIC_CAP:g}"))
        static = STATIC_CAP
    return round(min(100.0, signal_points + static), 1), factors


def recompute_risk(engine: Engine, facility_ids: Optional[Iterable[int]] = None, now: Optional[datetime] = None) -> int:
    """Recompute and store today's score for the given facilities (all when None); returns how many."""
    now = now or utcnow()
    day = now.strftime("%Y-%m-%d")
    with Session(engine) as session:
        jihadist = {fid: risk.holds_jihadist_detainees for fid, risk in facility_exposures(session).items()}
    with session_scope(engine) as session:
        query = select(Facility)
        if facility_ids is not None:
            ids = sorted(set(facility_ids))
            if not ids:
                return 0
            query = query.where(Facility.id.in_(ids))
        facilities = list(session.exec(query))
        for facility in facilities:
            score, factors = compute_risk(session, facility, now, jihadist.get(facility.id, False))
            row = session.exec(select(RiskScore).where(RiskScore.facility_id == facility.id,
                                                       RiskScore.day == day)).first()
            row = row or RiskScore(facility_id=facility.id, day=day, score=0)
            row.score, row.factors, row.computed_at = score, [f.as_dict() for f in factors], now
            session.add(row)
    return len(facilities)


def latest_risk_scores(session: Session, limit: Optional[int] = None) -> list[tuple[RiskScore, Facility]]:
    """Each facility's most recent daily score with the facility, highest score first."""
    latest: dict[int, RiskScore] = {}
    for row in session.exec(select(RiskScore).order_by(RiskScore.day)):
        latest[row.facility_id] = row
    facilities = {f.id: f for f in session.exec(select(Facility).where(Facility.id.in_(latest)))} if latest else {}
    ranked = sorted(latest.values(), key=lambda r: -r.score)
    return [(row, facilities[row.facility_id]) for row in ranked[:limit]]


def raise_quiet_coverage_alerts(engine: Engine, quiet_days: int, now: Optional[datetime] = None) -> list[int]:
    """A facility that usually appears in the news and has had none for `quiet_days` raises a low alert.

    Silence can mean a communications blackout or restricted access, which staff want to know about.
    """
    now = now or utcnow()
    quiet_since = now - timedelta(days=quiet_days)
    created = []
    with session_scope(engine) as session:
        counts = session.exec(
            select(FacilityMention.facility_id, func.count(), func.max(Article.first_seen_at))
            .join(Article, Article.id == FacilityMention.article_id)
            .where(FacilityMention.facility_id.is_not(None),
                   Article.first_seen_at >= quiet_since - QUIET_BASELINE)
            .group_by(FacilityMention.facility_id)).all()
        for facility_id, articles, last_seen in counts:
            if articles < QUIET_MIN_ARTICLES or last_seen >= quiet_since:
                continue
            key = f"facility:{facility_id}|quiet"
            if session.exec(select(Alert.id).where(Alert.group_key == key,
                                                   Alert.status.in_(OPEN_ALERT_STATUSES))).first():
                continue
            facility = session.get(Facility, facility_id)
            alert = Alert(facility_id=facility_id, group_key=key, labels=[], severity="low", outlet_count=0,
                          severity_reason=(f"coverage went quiet: {facility.name} appeared in {articles} articles "
                                           f"before, none since {last_seen:%Y-%m-%d} ({quiet_days}+ days)"),
                          first_seen_at=now, last_seen_at=now)
            session.add(alert)
            session.flush()
            created.append(alert.id)
    return created
