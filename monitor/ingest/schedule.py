"""When to check a feed next, from its interval and what the server asked for; backoff and parking."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class SchedulePolicy:
    default_interval: timedelta = timedelta(minutes=15)
    min_interval: timedelta = timedelta(minutes=5)
    max_interval: timedelta = timedelta(hours=24)
    park_after_errors: int = 10


def cache_max_age(cache_control: Optional[str]) -> Optional[timedelta]:
    if not cache_control:
        return None
    match = _MAX_AGE.search(cache_control)
    return timedelta(seconds=int(match.group(1))) if match else None


def _clamp(delay: timedelta, policy: SchedulePolicy) -> timedelta:
    return max(policy.min_interval, min(delay, policy.max_interval))


def next_check_after_success(
    now: datetime,
    policy: SchedulePolicy,
    interval_minutes: Optional[int],
    cache_control: Optional[str] = None,
    ttl_minutes: Optional[int] = None,
) -> datetime:
    """The feed's own interval, stretched (never shortened) by Cache-Control max-age or the feed's TTL."""
    delay = timedelta(minutes=interval_minutes) if interval_minutes else policy.default_interval
    for asked in (cache_max_age(cache_control), timedelta(minutes=ttl_minutes) if ttl_minutes else None):
        if asked is not None and asked > delay:
            delay = asked
    return now + _clamp(delay, policy)


def next_check_after_failure(
    now: datetime,
    policy: SchedulePolicy,
    interval_minutes: Optional[int],
    consecutive_errors: int,
    retry_after: Optional[timedelta] = None,
) -> datetime:
    """Exponential backoff from the feed's interval; a server's Retry-After is honoured when longer."""
    base = timedelta(minutes=interval_minutes) if interval_minutes else policy.default_interval
    delay = base * (2 ** max(consecutive_errors - 1, 0))
    if retry_after is not None and retry_after > delay:
        delay = retry_after
    return now + _clamp(delay, policy)


def should_park(consecutive_errors: int, policy: SchedulePolicy) -> bool:
    return consecutive_errors >= policy.park_after_errors
