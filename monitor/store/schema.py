"""The store's tables. Times are timezone-aware UTC: SQLModel's UTCDateTime stores them as UTC and
hands them back aware on SQLite and PostgreSQL alike.

SQLModel table classes skip pydantic validation on construction; `monitor.store.db` validates every
new or changed row before flush, so the field constraints declared here hold on every write path.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Optional

from pydantic import field_validator
from sqlalchemy import JSON, Column, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from monitor.countries import GROUP_CODE, is_country_code
from monitor.vocabulary import (  # noqa: F401  (re-exported: older imports read them from here)
    ALERT_STATUSES,
    FACT_ORIGINS,
    HISTORIED_FACTS,
    INCIDENT_LABELS,
    LABELS,
    LINK_ROLES,
    SEVERITIES,
    SUBSCRIBER_MODES,
    USER_ROLES,
    require_one_of,
)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _empty_list() -> list:
    return []


def _empty_dict() -> dict:
    return {}


def _json(default_factory=_empty_list) -> Any:
    # Plain functions, not the builtins list/dict: pydantic inspects a factory's signature on every
    # call, and for builtins that means parsing a text signature (measured: most of a bulk import).
    return Field(default_factory=default_factory, sa_column=Column(JSON, nullable=False))


PARTIAL_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def _check_partial_date(value: Optional[str]) -> Optional[str]:
    if value is None or value == "":
        return None
    value = str(value)
    if not PARTIAL_DATE.match(value):
        raise ValueError(f"expected a date as YYYY, YYYY-MM or YYYY-MM-DD, got {value!r}")
    return value


class FacilityBase(SQLModel):
    """Facility columns and their checks, as a plain pydantic model: fast to validate in bulk."""

    slug: str = Field(index=True, unique=True, min_length=1, max_length=120)
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(default="prison", max_length=40)
    country: str = Field(index=True, min_length=2, max_length=2)
    admin_area: Optional[str] = Field(default=None, max_length=200)
    city: Optional[str] = Field(default=None, max_length=200)
    latitude: Optional[float] = Field(default=None, ge=-90, le=90)
    longitude: Optional[float] = Field(default=None, ge=-180, le=180)
    location_precision: Optional[str] = Field(default=None, max_length=20)
    operator: Optional[str] = Field(default=None, max_length=300)
    status: Optional[str] = Field(default=None, max_length=40)
    capacity: Optional[int] = Field(default=None, ge=0)
    population: Optional[int] = Field(default=None, ge=0)
    population_date: Optional[str] = Field(default=None, max_length=10)
    # [{"country": "IQ", "count": 1200, "note": "..."}]
    nationalities: list[dict[str, Any]] = _json()
    conditions: Optional[str] = Field(default=None, sa_column=Column(Text))
    condition_tags: list[str] = _json()
    # [{"date": "2022-01-20", "summary": "...", "source": "https://..."}]
    incidents: list[dict[str, Any]] = _json()
    # Provenance of each fact: {"capacity": {"source": "https://...", "as_of": "2022"}, ...}
    facts: dict[str, Any] = _json(_empty_dict)
    origin: str = Field(default="analyst", max_length=20)  # bundled | import | analyst | candidate
    # Fields an analyst or an import set by hand; reloading the bundled file never overwrites them.
    local_fields: list[str] = _json()
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        value = value.upper()
        if not is_country_code(value):
            raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
        return value

    @field_validator("population_date")
    @classmethod
    def _population_date(cls, value: Optional[str]) -> Optional[str]:
        return _check_partial_date(value)

    @field_validator("nationalities")
    @classmethod
    def _nationalities(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for item in value:
            code = str(item.get("country", "")).upper()
            if code != GROUP_CODE and not is_country_code(code):
                raise ValueError(f"nationality {code!r} is not an ISO 3166-1 alpha-2 country code")
            count = item.get("count")
            if count is not None and (not isinstance(count, int) or count < 0):
                raise ValueError(f"nationality count for {code} must be a whole number, got {count!r}")
        return value


class Facility(FacilityBase, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)


class FacilityAliasBase(SQLModel):
    facility_id: int = Field(foreign_key="facility.id", index=True, ondelete="CASCADE")
    alias: str = Field(min_length=1, max_length=300)
    normalized: str = Field(index=True, min_length=1, max_length=300)


class FacilityAlias(FacilityAliasBase, table=True):
    __table_args__ = (UniqueConstraint("facility_id", "normalized", name="uq_facility_alias"),)

    id: Optional[int] = Field(default=None, primary_key=True)


class FacilityProfileChangeBase(SQLModel):
    facility_id: int = Field(foreign_key="facility.id", index=True, ondelete="CASCADE")
    field: str = Field(max_length=60)
    old_value: Any = Field(default=None, sa_column=Column(JSON))
    new_value: Any = Field(default=None, sa_column=Column(JSON))
    changed_by: str = Field(min_length=1, max_length=200)
    changed_at: datetime = Field(default_factory=utcnow, index=True)
    source_url: Optional[str] = Field(default=None, max_length=2000)
    note: Optional[str] = Field(default=None, max_length=2000)


class FacilityProfileChange(FacilityProfileChangeBase, table=True):
    """Every change to a facility profile: what, from what, to what, who, when, on what source."""

    id: Optional[int] = Field(default=None, primary_key=True)


# --- Facility fact history (kb) ---------------------------------------------------------------------------


class FacilityFactValueBase(SQLModel):
    facility_id: int = Field(foreign_key="facility.id", index=True, ondelete="CASCADE")
    field: str = Field(max_length=40)
    # A string for operator/status, a whole number for capacity/population.
    value: Any = Field(sa_column=Column(JSON, nullable=False))
    source_url: Optional[str] = Field(default=None, max_length=2000)
    as_of: Optional[str] = Field(default=None, max_length=10)
    note: Optional[str] = Field(default=None, max_length=2000)
    # bundled rows follow the bundled file (a reload adds and removes them); import/analyst rows are kept.
    origin: str = Field(default="analyst", max_length=20)
    recorded_by: str = Field(min_length=1, max_length=200)
    recorded_at: datetime = Field(default_factory=utcnow)

    @field_validator("field")
    @classmethod
    def _field(cls, value: str) -> str:
        return require_one_of("field", value, HISTORIED_FACTS)

    @field_validator("as_of")
    @classmethod
    def _as_of(cls, value: Optional[str]) -> Optional[str]:
        return _check_partial_date(value)

    @field_validator("origin")
    @classmethod
    def _origin(cls, value: str) -> str:
        return require_one_of("origin", value, FACT_ORIGINS)


class FacilityFactValue(FacilityFactValueBase, table=True):
    """One dated value of a historied fact, with its source; several per field make its history."""

    id: Optional[int] = Field(default=None, primary_key=True)


# --- end facility fact history ------------------------------------------------------------------------------


class Feed(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(unique=True, min_length=1, max_length=200)
    url: str = Field(min_length=1, max_length=2000)
    language: Optional[str] = Field(default=None, max_length=10)
    interval_minutes: Optional[int] = Field(default=None, ge=1, le=10080)
    tags: list[str] = _json()
    enabled: bool = True
    # feeds_file: synced from feeds.yaml; dashboard: added by an analyst, never removed by a sync.
    managed_by: str = Field(default="feeds_file", max_length=20)
    # Set when the feed left feeds.yaml; the row and the articles it brought stay.
    removed_at: Optional[datetime] = None
    etag: Optional[str] = Field(default=None, max_length=500)
    last_modified: Optional[str] = Field(default=None, max_length=100)
    next_check_at: Optional[datetime] = Field(default=None, index=True)
    last_checked_at: Optional[datetime] = None
    last_success_at: Optional[datetime] = None
    last_status: Optional[int] = None
    last_error: Optional[str] = Field(default=None, sa_column=Column(Text))
    # What feedparser had to recover from on the last successful fetch (malformed XML, wrong charset).
    last_warning: Optional[str] = Field(default=None, sa_column=Column(Text))
    consecutive_errors: int = Field(default=0, ge=0)
    parked_at: Optional[datetime] = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ArticleBase(SQLModel):
    url: str = Field(index=True, max_length=2000)
    guid: Optional[str] = Field(default=None, max_length=2000)
    # Hash of the normalised link (or guid/title when there is none): one row per story across feeds.
    content_key: str = Field(unique=True, max_length=64)
    title: str = Field(default="", sa_column=Column(Text, nullable=False))
    summary: str = Field(default="", sa_column=Column(Text, nullable=False))
    published_at: Optional[datetime] = Field(default=None, index=True)
    language: Optional[str] = Field(default=None, max_length=10)
    outlet: Optional[str] = Field(default=None, max_length=200)
    first_seen_at: datetime = Field(default_factory=utcnow, index=True)
    classified_at: Optional[datetime] = None


class Article(ArticleBase, table=True):
    __table_args__ = (Index("ix_article_pending", "classified_at", "id"),)

    id: Optional[int] = Field(default=None, primary_key=True)


class ArticleSourceBase(SQLModel):
    article_id: int = Field(foreign_key="article.id", index=True, ondelete="CASCADE")
    feed_id: int = Field(foreign_key="feed.id", index=True, ondelete="CASCADE")
    guid: Optional[str] = Field(default=None, max_length=2000)
    seen_at: datetime = Field(default_factory=utcnow)


class ArticleSource(ArticleSourceBase, table=True):
    """Each feed that carried an article; the article itself is stored once."""

    __table_args__ = (UniqueConstraint("article_id", "feed_id", name="uq_article_source"),)

    id: Optional[int] = Field(default=None, primary_key=True)


class Classification(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("article_id", "model_version", name="uq_classification"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="article.id", index=True, ondelete="CASCADE")
    model_version: str = Field(max_length=80)
    labels: list[str] = _json()
    scores: dict[str, float] = _json(_empty_dict)
    severity: Optional[str] = Field(default=None, max_length=10)
    created_at: datetime = Field(default_factory=utcnow)

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: list[str]) -> list[str]:
        unknown = [label for label in value if label not in LABELS]
        if unknown:
            raise ValueError(f"unknown label(s) {unknown}")
        return value


class FacilityMention(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="article.id", index=True, ondelete="CASCADE")
    facility_id: Optional[int] = Field(default=None, foreign_key="facility.id", index=True, ondelete="CASCADE")
    role: str = Field(max_length=10)  # primary | mentioned
    confidence: float = Field(ge=0, le=1)
    matched: str = Field(default="", max_length=300)
    # An incident at a place not in the store proposes a candidate for an analyst to add.
    candidate_name: Optional[str] = Field(default=None, max_length=300)
    candidate_place: Optional[str] = Field(default=None, max_length=300)
    candidate_country: Optional[str] = Field(default=None, max_length=2)

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        return require_one_of("role", value, LINK_ROLES)


class Alert(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    facility_id: Optional[int] = Field(default=None, foreign_key="facility.id", index=True)
    candidate_name: Optional[str] = Field(default=None, max_length=300)
    candidate_country: Optional[str] = Field(default=None, max_length=2)
    # What groups articles into this event: the facility (or candidate) and the kind of signal.
    group_key: str = Field(default="", max_length=400, index=True)
    # The severity subscribers were last told about; a rise above it notifies again.
    notified_severity: Optional[str] = Field(default=None, max_length=10)
    labels: list[str] = _json()
    severity: str = Field(default="low", max_length=10, index=True)
    severity_reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    status: str = Field(default="new", max_length=12, index=True)
    outlet_count: int = Field(default=1, ge=0)
    first_seen_at: datetime = Field(default_factory=utcnow, index=True)
    last_seen_at: datetime = Field(default_factory=utcnow, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @field_validator("severity")
    @classmethod
    def _severity(cls, value: str) -> str:
        return require_one_of("severity", value, SEVERITIES)

    @field_validator("status")
    @classmethod
    def _status(cls, value: str) -> str:
        return require_one_of("status", value, ALERT_STATUSES)


class AlertArticle(SQLModel, table=True):
    alert_id: int = Field(foreign_key="alert.id", primary_key=True, ondelete="CASCADE")
    article_id: int = Field(foreign_key="article.id", primary_key=True, index=True, ondelete="CASCADE")
    added_at: datetime = Field(default_factory=utcnow)


class AlertStatusChange(SQLModel, table=True):
    """Audit trail of triage: every status change or note on an alert, with who and when."""

    id: Optional[int] = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True, ondelete="CASCADE")
    from_status: Optional[str] = Field(default=None, max_length=12)
    to_status: Optional[str] = Field(default=None, max_length=12)
    actor: str = Field(min_length=1, max_length=200)
    note: Optional[str] = Field(default=None, sa_column=Column(Text))
    at: datetime = Field(default_factory=utcnow)


class Subscriber(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    # Delivery (branch delivery): an email address and/or notification URLs; a subscriber with URLs only
    # is known by its name. The URLs hold secrets (tokens, passwords): shown only masked, see monitor/notify/channels.
    email: Optional[str] = Field(default=None, unique=True, min_length=3, max_length=320)
    name: Optional[str] = Field(default=None, unique=True, min_length=1, max_length=100)
    notify_urls: list[str] = _json()
    facility_ids: list[int] = _json()
    countries: list[str] = _json()
    labels: list[str] = _json()
    min_severity: str = Field(default="low", max_length=10)
    mode: str = Field(default="immediate", max_length=10)  # immediate | digest
    digest_hour: Optional[int] = Field(default=None, ge=0, le=23)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)

    @field_validator("mode")
    @classmethod
    def _mode(cls, value: str) -> str:
        return require_one_of("mode", value, SUBSCRIBER_MODES)


class Notification(SQLModel, table=True):
    """The outbox: one row per (alert, subscriber, reason); sending flips it to sent exactly once.

    status: pending -> sending -> sent; failed after too many attempts; unconfirmed when a sender died
    between handing the mail to SMTP and recording it (never resent automatically, shown instead).
    """

    id: Optional[int] = Field(default=None, primary_key=True)
    dedup_key: str = Field(unique=True, max_length=200)
    alert_id: Optional[int] = Field(default=None, foreign_key="alert.id", index=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    # Delivery (branch delivery): "email", or "url" for one of the subscriber's notification URLs, named by
    # a hash of the URL (target_key) and shown masked (target_shown); the URL itself stays on the subscriber.
    channel: str = Field(default="email", max_length=10)
    target_key: Optional[str] = Field(default=None, max_length=64)
    target_shown: Optional[str] = Field(default=None, max_length=2000)
    reason: str = Field(max_length=60)
    message_id: str = Field(unique=True, max_length=300)
    subject: str = Field(default="", max_length=500)
    body_text: str = Field(default="", sa_column=Column(Text, nullable=False))
    body_html: str = Field(default="", sa_column=Column(Text, nullable=False))
    status: str = Field(default="pending", max_length=12, index=True)
    sending_started_at: Optional[datetime] = None
    attempts: int = Field(default=0, ge=0)
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True)
    last_error: Optional[str] = Field(default=None, sa_column=Column(Text))
    sent_at: Optional[datetime] = None
    created_at: datetime = Field(default_factory=utcnow)


# --- Watch rules (branch delivery) -------------------------------------------------------------------------
WATCH_KINDS = ("terms", "facility")


class WatchRule(SQLModel, table=True):
    """Words, phrases or a facility to watch for in every stored article, signal or not.

    A rule owned by a subscriber notifies that subscriber only; a rule with no owner (the dashboard's)
    follows the ordinary subscriber routing. Removing a rule deactivates it: its alerts keep their history.
    """

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(unique=True, min_length=1, max_length=120)
    kind: str = Field(default="terms", max_length=10)
    terms: list[str] = _json()
    facility_id: Optional[int] = Field(default=None, foreign_key="facility.id", index=True)
    subscriber_id: Optional[int] = Field(default=None, foreign_key="subscriber.id", index=True)
    active: bool = True
    created_by: str = Field(min_length=1, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)
    # Articles classified up to this time have been checked against the rule (it never looks further back
    # than its creation, so adding a rule does not flood anyone with old news).
    checked_through: datetime = Field(default_factory=utcnow)

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if value not in WATCH_KINDS:
            raise ValueError(f"kind must be one of {', '.join(WATCH_KINDS)}, got {value!r}")
        return value


class WatchMatch(SQLModel, table=True):
    """One article a watch rule caught, and the low-severity alert it raised (which routes like any alert)."""

    __table_args__ = (UniqueConstraint("rule_id", "article_id", name="uq_watch_match"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    rule_id: int = Field(foreign_key="watchrule.id", index=True)
    article_id: int = Field(foreign_key="article.id", index=True, ondelete="CASCADE")
    alert_id: int = Field(foreign_key="alert.id", index=True, ondelete="CASCADE")
    # The facility the rule names, or the one the article was linked to; the alert itself carries none, so
    # a watch match never adds to a facility's risk score.
    facility_id: Optional[int] = Field(default=None, foreign_key="facility.id", index=True)
    matched: list[str] = _json()
    created_at: datetime = Field(default_factory=utcnow)
# --- end of watch rules ------------------------------------------------------------------------------------


class Feedback(SQLModel, table=True):
    """Analyst verdicts kept as labelled data for retraining."""

    id: Optional[int] = Field(default=None, primary_key=True)
    article_id: Optional[int] = Field(default=None, foreign_key="article.id", index=True, ondelete="CASCADE")
    alert_id: Optional[int] = Field(default=None, foreign_key="alert.id", index=True, ondelete="CASCADE")
    labels: list[str] = _json()
    verdict: str = Field(max_length=20)  # confirmed | dismissed | relabelled
    actor: str = Field(min_length=1, max_length=200)
    created_at: datetime = Field(default_factory=utcnow)


class RiskScore(SQLModel, table=True):
    """A facility's risk score, one row per day (the latest recomputation that day), for trend charts."""

    __table_args__ = (UniqueConstraint("facility_id", "day", name="uq_risk_score_day"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    facility_id: int = Field(foreign_key="facility.id", index=True, ondelete="CASCADE")
    day: str = Field(max_length=10, index=True)  # YYYY-MM-DD (UTC)
    score: float = Field(ge=0, le=100)
    # [{"factor": "...", "points": 12.5, "detail": "..."}]
    factors: list[dict[str, Any]] = _json()
    computed_at: datetime = Field(default_factory=utcnow)


class ModelVersion(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    version: str = Field(unique=True, max_length=80)
    sha256: str = Field(max_length=64)
    path: str = Field(max_length=2000)
    card: dict[str, Any] = _json(_empty_dict)
    active: bool = False
    # packaged: the model shipped in models/; retrained: trained here on the corpus plus analysts' feedback.
    origin: str = Field(default="packaged", max_length=20)
    trained_by: Optional[str] = Field(default=None, max_length=200)
    activated_by: Optional[str] = Field(default=None, max_length=200)
    activated_at: Optional[datetime] = None
    created_at: datetime = Field(default_factory=utcnow)


# Retrain requests: the dashboard queues, the worker trains.
RETRAIN_STATES = ("queued", "running", "done", "failed")


class RetrainRequest(SQLModel, table=True):
    """A request to retrain the classifier with analysts' feedback; the worker's retrain job runs it."""

    id: Optional[int] = Field(default=None, primary_key=True)
    requested_by: str = Field(max_length=200)
    requested_at: datetime = Field(default_factory=utcnow, index=True)
    # queued -> running -> done | failed (see RETRAIN_STATES)
    state: str = Field(default="queued", max_length=10, index=True)
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None
    # The last progress line while running; the error when failed.
    message: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    version: Optional[str] = Field(default=None, max_length=80)  # the version it trained, when done
    worker: Optional[str] = Field(default=None, max_length=200)  # host:pid of the worker running it




class User(SQLModel, table=True):
    """A dashboard login. Only a salted scrypt hash of the password is stored."""

    __tablename__ = "app_user"  # "user" is a reserved word in PostgreSQL

    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(unique=True, min_length=1, max_length=100)
    password_hash: str = Field(max_length=300)
    role: str = Field(default="viewer", max_length=10)
    active: bool = True
    failed_logins: int = Field(default=0, ge=0)
    locked_until: Optional[datetime] = None
    last_login_at: Optional[datetime] = None
    # Raised at every logout: a dashboard session started under an older epoch is over (logout everywhere).
    session_epoch: int = Field(default=0, ge=0)
    created_at: datetime = Field(default_factory=utcnow)

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        return require_one_of("role", value, USER_ROLES)


class ActivityLog(SQLModel, table=True):
    """Who did what outside alert triage: feed changes, model activations, users, logins."""

    id: Optional[int] = Field(default=None, primary_key=True)
    actor: str = Field(min_length=1, max_length=200)
    action: str = Field(max_length=60, index=True)
    target: str = Field(default="", max_length=300)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))
    at: datetime = Field(default_factory=utcnow, index=True)


# --- Incremental corroboration (branch bursts, issue 14) ---------------------------------------------


class ArticleFingerprint(SQLModel, table=True):
    """What alert building needs of an article, computed once when it first joins an alert.

    `minhash` is a MinHash signature (datasketch, uint32 values) of the article's words; `killed` and
    `freed` the largest figures its text reports, so an alert's severity never re-reads its articles.
    """

    article_id: int = Field(foreign_key="article.id", primary_key=True, ondelete="CASCADE")
    outlet: str = Field(default="", max_length=200)
    minhash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    killed: int = Field(default=0, ge=0)
    freed: int = Field(default=0, ge=0)


class AlertCorroborationKey(SQLModel, table=True):
    """An alert's index of its articles: one row per outlet and per LSH band of each article.

    `cluster` names the group of articles counted as one independent outlet (one publisher's pieces and
    wire copies of them); the alert's outlet_count is the number of distinct clusters. A new article
    finds its cluster by looking up its own keys, so joining costs the same whatever the alert's size.
    """

    __table_args__ = (Index("ix_alertcorroborationkey_alert_key", "alert_id", "key"),
                      Index("ix_alertcorroborationkey_alert_cluster", "alert_id", "cluster"))

    id: Optional[int] = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", ondelete="CASCADE")
    key: str = Field(max_length=40, index=True)
    article_id: int = Field(foreign_key="article.id", index=True, ondelete="CASCADE")
    cluster: int


# Table classes whose checks also live on a plain (non-table) model; validating through it skips
# SQLModel's instrumented attribute setting, which dominates bulk writes.
VALIDATION_MODELS: dict[type[SQLModel], type[SQLModel]] = {
    Facility: FacilityBase,
    FacilityAlias: FacilityAliasBase,
    FacilityProfileChange: FacilityProfileChangeBase,
    FacilityFactValue: FacilityFactValueBase,
    Article: ArticleBase,
    ArticleSource: ArticleSourceBase,
}
