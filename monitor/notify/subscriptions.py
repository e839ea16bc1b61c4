"""Subscribers: who is told about which alerts, by mail and/or notification URLs (CLI and dashboard share this).

A subscriber is known by its email address, or, when it has notification URLs only, by a name. Its URLs
are kept as given (Apprise needs them whole) and shown only masked (`monitor.notify.channels.mask_url`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Optional

from sqlmodel import Session, select

from monitor.countries import is_country_code
from monitor.facilities.lookup import FacilityLookupError, resolve_facility
from monitor.notify.channels import ChannelError, check_url, mask_url
from monitor.store.schema import LABELS, SEVERITIES, ActivityLog, Facility, Subscriber
from monitor.vocabulary import SUBSCRIBER_MODES

EMAIL_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


class SubscriptionError(ValueError):
    """A subscriber change that cannot be made; nothing was changed. Never contains a URL's secrets."""


def is_email(text: str) -> bool:
    return bool(EMAIL_ADDRESS.match(text.strip()))


def subscriber_label(subscriber: Subscriber) -> str:
    return subscriber.email or subscriber.name or f"#{subscriber.id}"


def find_subscriber(session: Session, who: str) -> Optional[Subscriber]:
    """The subscriber with this email address (any case) or name."""
    who = who.strip()
    for subscriber in session.exec(select(Subscriber).where((Subscriber.email == who) | (Subscriber.name == who))):
        return subscriber
    lowered = who.lower()
    return next((s for s in session.exec(select(Subscriber).where(Subscriber.email.is_not(None)))
                 if s.email.lower() == lowered), None)


def subscriber_named(session: Session, who: str) -> Subscriber:
    subscriber = find_subscriber(session, who)
    if subscriber is None:
        raise SubscriptionError(f"no subscriber {who!r} (see `monitor subscribers list`)")
    return subscriber


def checked_urls(urls: Iterable[str]) -> list[str]:
    """Every URL usable by Apprise, duplicates dropped; SubscriptionError naming each bad one (masked)."""
    good, problems = [], []
    for url in urls:
        try:
            url = check_url(url)
        except ChannelError as exc:
            problems.append(str(exc))
            continue
        if url not in good:
            good.append(url)
    if problems:
        raise SubscriptionError("; ".join(problems))
    return good


@dataclass
class SubscriberChange:
    subscriber: Subscriber
    created: bool


def save_subscriber(session: Session, who: str, actor: str, *, urls: Optional[Iterable[str]] = None,
                    facilities: Iterable[str] = (), countries: Iterable[str] = (), labels: Iterable[str] = (),
                    min_severity: str = "low", mode: str = "immediate", digest_hour: Optional[int] = None,
                    ) -> SubscriberChange:
    """Add a subscriber, or replace the rules of an existing one.

    `who` is an email address, or a name for a subscriber reached only by URLs. `urls` None keeps the
    subscriber's URLs as they are; a list (possibly empty) replaces them.
    """
    who = who.strip()
    labels, countries = list(labels), [c.strip().upper() for c in countries]
    bad_labels = [label for label in labels if label not in LABELS]
    if bad_labels:
        raise SubscriptionError(f"unknown label(s) {bad_labels}; labels: {', '.join(LABELS)}")
    bad_countries = [c for c in countries if not is_country_code(c)]
    if bad_countries:
        raise SubscriptionError(f"not ISO country codes: {bad_countries}")
    if min_severity not in SEVERITIES:
        raise SubscriptionError(f"min severity must be one of {', '.join(SEVERITIES)}")
    if mode not in SUBSCRIBER_MODES:
        raise SubscriptionError(f"mode must be one of {', '.join(SUBSCRIBER_MODES)}")
    new_urls = checked_urls(urls) if urls is not None else None
    facility_ids = []
    for name in facilities:
        try:
            facility_ids.append(resolve_facility(session, name).id)
        except FacilityLookupError as exc:
            raise SubscriptionError(f"facility: {exc}") from None
    subscriber = find_subscriber(session, who)
    created = subscriber is None
    if created:
        if not who:
            raise SubscriptionError("give an email address, or a name for a subscriber reached by URLs only")
        if is_email(who):
            subscriber = Subscriber(email=who)
        elif "@" in who:
            raise SubscriptionError(f"{who!r} is not an email address")
        else:
            if not new_urls:
                raise SubscriptionError(f"{who!r} is not an email address; a subscriber known by a name needs at "
                                        "least one notification URL (--url)")
            subscriber = Subscriber(name=who)
    if new_urls is not None:
        if not new_urls and not subscriber.email:
            raise SubscriptionError(f"{who!r} has no email address, so it needs at least one notification URL")
        subscriber.notify_urls = new_urls
    subscriber.facility_ids, subscriber.countries, subscriber.labels = facility_ids, countries, labels
    subscriber.min_severity, subscriber.mode, subscriber.digest_hour = min_severity, mode, digest_hour
    subscriber.active = True
    session.add(subscriber)
    session.flush()
    session.add(ActivityLog(actor=actor, action="subscriber.add" if created else "subscriber.update",
                            target=subscriber_label(subscriber),
                            detail=", ".join(mask_url(u) for u in subscriber.notify_urls or [])))
    return SubscriberChange(subscriber, created)


def add_url(session: Session, who: str, url: str, actor: str) -> Subscriber:
    subscriber = subscriber_named(session, who)
    url = checked_urls([url])[0]
    if url in (subscriber.notify_urls or []):
        raise SubscriptionError(f"{subscriber_label(subscriber)} already has {mask_url(url)}")
    subscriber.notify_urls = [*(subscriber.notify_urls or []), url]
    session.add(ActivityLog(actor=actor, action="subscriber.url_add", target=subscriber_label(subscriber),
                            detail=mask_url(url)))
    return subscriber


def remove_url(session: Session, who: str, position: int, actor: str) -> str:
    """Remove the subscriber's URL at `position` (1-based, as listed); returns it masked."""
    subscriber = subscriber_named(session, who)
    urls = list(subscriber.notify_urls or [])
    if not 1 <= position <= len(urls):
        raise SubscriptionError(f"{subscriber_label(subscriber)} has {len(urls)} notification URL(s); "
                                f"there is no number {position}")
    if len(urls) == 1 and not subscriber.email:
        raise SubscriptionError(f"{subscriber_label(subscriber)} has no email address; removing its only URL "
                                "would leave no way to reach it (remove the subscriber instead)")
    removed = urls.pop(position - 1)
    subscriber.notify_urls = urls
    session.add(ActivityLog(actor=actor, action="subscriber.url_remove", target=subscriber_label(subscriber),
                            detail=mask_url(removed)))
    return mask_url(removed)


def remove_subscriber(session: Session, who: str, actor: str) -> Subscriber:
    """Stop notifying a subscriber; what was sent stays in the audit."""
    subscriber = subscriber_named(session, who)
    subscriber.active = False
    session.add(ActivityLog(actor=actor, action="subscriber.remove", target=subscriber_label(subscriber)))
    return subscriber


def subscriber_rows(session: Session) -> list[dict]:
    """Every subscriber with its rules and its URLs masked: what the CLI and the dashboard show."""
    subscribers = list(session.exec(select(Subscriber).order_by(Subscriber.email, Subscriber.name)))
    wanted = {i for s in subscribers for i in s.facility_ids or []}
    names = {i: n for i, n in session.exec(select(Facility.id, Facility.name).where(Facility.id.in_(wanted)))} \
        if wanted else {}
    rows = []
    for s in subscribers:
        rows.append({
            "id": s.id, "subscriber": subscriber_label(s), "email": s.email, "name": s.name,
            "urls": [mask_url(u) for u in s.notify_urls or []], "min_severity": s.min_severity, "mode": s.mode,
            "digest_hour": s.digest_hour, "facilities": [names.get(i, f"#{i}") for i in s.facility_ids or []],
            "countries": list(s.countries or []), "labels": list(s.labels or []), "active": s.active,
        })
    return rows
