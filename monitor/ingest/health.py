"""A feed's health: the state changes a fetch outcome makes to a feed row, one function each.

The pipeline decides which outcome a fetch had; these functions are the only code that writes a feed's
validators, schedule, error count and parking, so the rules live in one place (as in Miniflux's feed
state methods).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Optional

from monitor.ingest.schedule import SchedulePolicy, next_check_after_failure, next_check_after_success, should_park
from monitor.store.schema import Feed


def _checked(feed: Feed, now: datetime, status: Optional[int]) -> None:
    feed.last_checked_at = now
    feed.last_status = status
    feed.updated_at = now


def _healthy(feed: Feed, now: datetime, policy: SchedulePolicy, cache_control: Optional[str],
             ttl_minutes: Optional[int]) -> None:
    feed.last_success_at = now
    feed.last_error = None
    feed.consecutive_errors = 0
    feed.parked_at = None
    feed.next_check_at = next_check_after_success(now, policy, feed.interval_minutes, cache_control, ttl_minutes)


def mark_fetched(feed: Feed, now: datetime, policy: SchedulePolicy, *, status: int, etag: Optional[str],
                 last_modified: Optional[str], cache_control: Optional[str], ttl_minutes: Optional[int],
                 warning: Optional[str]) -> None:
    """A new body was fetched and parsed: keep its validators and any parse warning, schedule the next check."""
    _checked(feed, now, status)
    feed.etag = etag or None
    feed.last_modified = last_modified or None
    feed.last_warning = warning
    _healthy(feed, now, policy, cache_control, ttl_minutes)


def mark_not_modified(feed: Feed, now: datetime, policy: SchedulePolicy, *, status: int,
                      cache_control: Optional[str]) -> None:
    """The server answered 304: the feed is healthy and nothing changed."""
    _checked(feed, now, status)
    _healthy(feed, now, policy, cache_control, None)


def mark_failed(feed: Feed, now: datetime, policy: SchedulePolicy, *, status: Optional[int], error: str,
                retry_after: Optional[timedelta]) -> bool:
    """The fetch or the parse failed: count it, back off, and park the feed after too many; True when parked now."""
    _checked(feed, now, status)
    feed.consecutive_errors += 1
    feed.last_error = error
    feed.next_check_at = next_check_after_failure(now, policy, feed.interval_minutes, feed.consecutive_errors,
                                                  retry_after)
    if should_park(feed.consecutive_errors, policy) and feed.parked_at is None:
        feed.parked_at = now
        return True
    return False
