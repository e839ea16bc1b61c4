"""Next-check rules: interval, Cache-Control, TTL, Retry-After, clamping, backoff, parking."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from monitor.ingest.schedule import (
    SchedulePolicy,
    cache_max_age,
    next_check_after_failure,
    next_check_after_success,
    should_park,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
POLICY = SchedulePolicy(default_interval=timedelta(minutes=15), min_interval=timedelta(minutes=5),
                        max_interval=timedelta(hours=24), park_after_errors=3)


def test_the_feeds_interval_or_the_default():
    assert next_check_after_success(NOW, POLICY, 30) == NOW + timedelta(minutes=30)
    assert next_check_after_success(NOW, POLICY, None) == NOW + timedelta(minutes=15)


def test_servers_may_stretch_the_interval_but_never_shorten_it():
    assert next_check_after_success(NOW, POLICY, 10, "max-age=3600") == NOW + timedelta(hours=1)
    assert next_check_after_success(NOW, POLICY, 60, "max-age=60") == NOW + timedelta(hours=1)
    assert next_check_after_success(NOW, POLICY, 10, None, ttl_minutes=45) == NOW + timedelta(minutes=45)


def test_everything_is_clamped_to_the_policy():
    assert next_check_after_success(NOW, POLICY, 1) == NOW + timedelta(minutes=5)
    assert next_check_after_success(NOW, POLICY, 10, "max-age=999999") == NOW + timedelta(hours=24)
    assert next_check_after_failure(NOW, POLICY, 15, 1, retry_after=timedelta(days=9)) == NOW + timedelta(hours=24)


def test_backoff_doubles_per_consecutive_error_and_honours_a_longer_retry_after():
    delays = [next_check_after_failure(NOW, POLICY, 15, n) - NOW for n in (1, 2, 3, 4)]
    assert delays == [timedelta(minutes=15), timedelta(minutes=30), timedelta(hours=1), timedelta(hours=2)]
    assert next_check_after_failure(NOW, POLICY, 15, 1, retry_after=timedelta(hours=3)) == NOW + timedelta(hours=3)


def test_cache_control_parsing():
    assert cache_max_age("public, max-age=600, must-revalidate") == timedelta(seconds=600)
    assert cache_max_age('s-maxage=5, max-age="120"') == timedelta(seconds=120)
    assert cache_max_age("no-cache") is None and cache_max_age(None) is None


def test_parking_threshold():
    assert not should_park(2, POLICY) and should_park(3, POLICY)
