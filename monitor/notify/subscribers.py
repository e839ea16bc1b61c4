"""Subscribers: who is told about which alerts. The rules are checked here, once, for the CLI and the dashboard."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

from sqlmodel import Session, select

from monitor.countries import is_country_code
from monitor.facilities.lookup import FacilityLookupError, resolve_facility
from monitor.settings import EMAIL_ADDRESS
from monitor.store.schema import Facility, Subscriber
from monitor.vocabulary import LABELS, SEVERITIES, SUBSCRIBER_MODES, require_one_of


class SubscriberError(ValueError):
    """A subscriber rule that cannot be stored, with the reason in words."""


@dataclass
class SubscriberRules:
    email: str
    facilities: Sequence[str] = ()
    countries: Sequence[str] = ()
    labels: Sequence[str] = ()
    min_severity: str = "low"
    mode: str = "immediate"
    digest_hour: Optional[int] = None


@dataclass
class SubscriberView:
    """A subscriber with facility ids turned back into names."""

    subscriber: Subscriber
    facility_names: list[str] = field(default_factory=list)

    def rules_text(self) -> str:
        s = self.subscriber
        rules = [f"min {s.min_severity}",
                 s.mode + (f" at {s.digest_hour:02d}:00 UTC" if s.digest_hour is not None else "")]
        if self.facility_names:
            rules.append("facilities: " + ", ".join(self.facility_names))
        if s.countries:
            rules.append("countries: " + ", ".join(s.countries))
        if s.labels:
            rules.append("labels: " + ", ".join(s.labels))
        return "; ".join(rules)


def save_subscriber(session: Session, rules: SubscriberRules) -> bool:
    """Add a subscriber or replace an existing one's rules (it becomes active); True when it is new."""
    email = rules.email.strip()
    if not EMAIL_ADDRESS.match(email):
        raise SubscriberError(f"{email!r} is not an email address")
    bad_labels = [label for label in rules.labels if label not in LABELS]
    if bad_labels:
        raise SubscriberError(f"unknown label(s) {bad_labels}; labels: {', '.join(LABELS)}")
    bad_countries = [c for c in rules.countries if not is_country_code(c.upper())]
    if bad_countries:
        raise SubscriberError(f"not ISO country codes: {bad_countries}")
    try:
        require_one_of("minimum severity", rules.min_severity, SEVERITIES)
        require_one_of("mode", rules.mode, SUBSCRIBER_MODES)
    except ValueError as exc:
        raise SubscriberError(str(exc)) from None
    if rules.digest_hour is not None and not 0 <= rules.digest_hour <= 23:
        raise SubscriberError(f"the digest hour must be 0-23 (UTC), got {rules.digest_hour}")
    facility_ids = []
    for name in rules.facilities:
        try:
            facility_ids.append(resolve_facility(session, name).id)
        except FacilityLookupError as exc:
            raise SubscriberError(f"facility: {exc}") from None
    subscriber = session.exec(select(Subscriber).where(Subscriber.email == email)).first()
    created = subscriber is None
    subscriber = subscriber or Subscriber(email=email)
    subscriber.facility_ids = facility_ids
    subscriber.countries = [c.upper() for c in rules.countries]
    subscriber.labels = list(rules.labels)
    subscriber.min_severity, subscriber.mode, subscriber.digest_hour = rules.min_severity, rules.mode, rules.digest_hour
    subscriber.active = True
    session.add(subscriber)
    return created


def list_subscribers(session: Session) -> list[SubscriberView]:
    names = {f.id: f.name for f in session.exec(select(Facility))}
    return [SubscriberView(s, [names.get(i, f"#{i}") for i in s.facility_ids])
            for s in session.exec(select(Subscriber).order_by(Subscriber.email))]


def remove_subscriber(session: Session, email: str) -> None:
    """Stop notifying a subscriber; the outbox keeps what was sent as the audit."""
    subscriber = session.exec(select(Subscriber).where(Subscriber.email == email.strip())).first()
    if subscriber is None:
        raise SubscriberError(f"no subscriber {email!r}")
    subscriber.active = False
