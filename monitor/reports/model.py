"""What a facility report is made of: plain dataclasses every format renders, and the report's own errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterable, Optional

from monitor.countries import country_name
from monitor.store.schema import (
    SEVERITIES,
)

SNIPPET_CHARS = 300
LABEL_NAMES = {
    "prison_break": "prison break",
    "attack_on_facility": "attack on facility",
    "riot_unrest": "riot or unrest",
    "resurgence_signal": "resurgence signal",
    "conditions_alert": "conditions alert",
    "transfer_repatriation": "transfer or repatriation",
}
# A quiet-coverage alert carries no labels; it is still worth a line in a report.
QUIET_LABEL = "coverage went quiet"
PROFILE_SOURCE = "Facility profile: "
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class ReportError(Exception):
    """A report cannot be made as asked (unknown facility, bad date, ...); the message says why."""


def clean_text(text: Optional[str]) -> str:
    """Text from feeds and analysts without control characters, which no format can show."""
    return _CONTROL.sub("", text or "")


def label_names(labels: Iterable[str]) -> str:
    names = [LABEL_NAMES.get(label, label.replace("_", " ")) for label in labels]
    return ", ".join(names) or QUIET_LABEL


@dataclass(frozen=True)
class FacilitySelection:
    """Which facilities a report covers: one by name or alias, every one in a country, or all."""

    name_or_alias: Optional[str] = None
    country: Optional[str] = None
    all_facilities: bool = False
    facility_ids: tuple[int, ...] = ()

    def describe(self) -> str:
        if self.all_facilities:
            return "all facilities"
        if self.country:
            return f"facilities in {country_name(self.country.upper())} ({self.country.upper()})"
        if self.facility_ids:
            return f"{len(self.facility_ids)} selected facilities"
        return self.name_or_alias or ""


@dataclass(frozen=True)
class Period:
    """The days a report covers, both ends included; None leaves that end open."""

    since: Optional[date] = None
    until: Optional[date] = None

    def __post_init__(self):
        if self.since and self.until and self.since > self.until:
            raise ReportError(f"the first day {self.since:%Y-%m-%d} is after the last day {self.until:%Y-%m-%d}")

    @property
    def start(self) -> Optional[datetime]:
        return datetime.combine(self.since, time(), timezone.utc) if self.since else None

    @property
    def end(self) -> Optional[datetime]:
        """The first moment after the period."""
        return datetime.combine(self.until + timedelta(days=1), time(), timezone.utc) if self.until else None

    def describe(self) -> str:
        if self.since and self.until:
            return f"{self.since:%Y-%m-%d} to {self.until:%Y-%m-%d}"
        if self.since:
            return f"from {self.since:%Y-%m-%d}"
        if self.until:
            return f"up to {self.until:%Y-%m-%d}"
        return "all dates"


def parse_report_date(value: Optional[str], what: str = "date") -> Optional[date]:
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ReportError(f"{what}: expected a date as YYYY-MM-DD, got {value!r}") from None


@dataclass
class Source:
    """One entry of a report's numbered source list."""

    number: int
    url: str
    date: Optional[str]  # as-of date of a profile fact, or an article's publication date (UTC)
    title: str  # what it is: an article's title, or which profile facts it supports
    outlet: Optional[str] = None


@dataclass
class ProfileFact:
    field: str
    label: str
    value: str
    as_of: Optional[str]
    source_url: Optional[str]
    source_number: Optional[int]


@dataclass
class Incident:
    date: str
    summary: str
    source_url: Optional[str]
    source_number: Optional[int]


@dataclass
class RiskFactorLine:
    factor: str
    points: float
    detail: str


@dataclass
class RiskPoint:
    day: str
    score: float


@dataclass
class RiskSummary:
    """The latest stored score (None: never computed) and the daily scores within the period."""

    score: Optional[float]
    day: Optional[str]
    factors: list[RiskFactorLine]
    history: list[RiskPoint]


@dataclass
class ReportArticle:
    id: int
    title: str
    url: str
    outlet: Optional[str]
    language: Optional[str]
    published_at: Optional[datetime]
    first_seen_at: datetime
    labels: list[str]
    snippet: str
    alert_ids: list[int]
    # How the classifier linked the article to the facility: primary, mentioned, or None when it
    # reached the facility's alert through its grouping only.
    role: Optional[str]
    source_number: int

    @property
    def when(self) -> datetime:
        return self.published_at or self.first_seen_at


@dataclass
class ReportAlert:
    id: int
    labels: list[str]
    severity: str
    severity_reason: str
    status: str
    outlet_count: int
    first_seen_at: datetime
    last_seen_at: datetime
    article_ids: list[int]


@dataclass
class FacilityInfo:
    id: int
    slug: str
    name: str
    aliases: list[str]
    kind: str
    country: str
    country_name: str
    city: Optional[str]
    admin_area: Optional[str]
    latitude: Optional[float]
    longitude: Optional[float]
    location_precision: Optional[str]
    operator: Optional[str]
    status: Optional[str]
    capacity: Optional[int]
    population: Optional[int]
    population_date: Optional[str]
    nationalities: list[dict[str, Any]]
    conditions: Optional[str]
    condition_tags: list[str]

    @property
    def place(self) -> str:
        return ", ".join(p for p in (self.city, self.admin_area, self.country_name) if p)


@dataclass
class FacilityReport:
    facility: FacilityInfo
    profile: list[ProfileFact]
    incidents: list[Incident]
    risk: RiskSummary
    alerts: list[ReportAlert]
    articles: list[ReportArticle]
    dismissed_alerts: int
    sources: list[Source]
    period: Period
    generated_at: datetime
    model_versions: list[str]

    def article(self, article_id: int) -> ReportArticle:
        return next(a for a in self.articles if a.id == article_id)

    @property
    def highest_severity(self) -> Optional[str]:
        return max((a.severity for a in self.alerts), key=SEVERITIES.index, default=None)


@dataclass
class ReportBundle:
    """One or more facility reports rendered as one document."""

    title: str
    selection: str
    period: Period
    generated_at: datetime
    model_version: str
    reports: list[FacilityReport] = field(default_factory=list)
