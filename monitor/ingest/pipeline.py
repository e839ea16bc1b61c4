"""One polling cycle, the orchestrator: claim due feeds → fetch → parse → dedup/store, and the feed's health.

Each feed's entries are stored in the same transaction as its new state (validators, schedule, health:
monitor/ingest/health.py), so a crash mid-cycle loses nothing and a rerun doubles nothing. Claiming
(monitor/ingest/claims.py) keeps two workers from polling the same feed in one cycle.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Literal, Optional

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from monitor.ingest.articles import store_entries
from monitor.ingest.claims import REFILL_ROUNDS, ClaimQueue, FeedTask, host_of
from monitor.ingest.fetch import FetchLimits, FetchRequest, FetchResult, fetch_feed, make_client
from monitor.ingest.health import mark_failed, mark_fetched, mark_not_modified
from monitor.ingest.parse import ParsedFeed, parse_feed
from monitor.ingest.schedule import (
    SchedulePolicy,
)
from monitor.settings import Settings
from monitor.store.db import session_scope
from monitor.store.schema import Feed, utcnow

# 304s and failures are written together, this many feeds per transaction.
BODILESS_BATCH = 50



FeedStatus = Literal["fetched", "not_modified", "failed"]


@dataclass
class FeedOutcome:
    """What one feed's fetch came to in a cycle."""

    feed: str
    status: FeedStatus
    new_articles: int = 0
    error: Optional[str] = None
    warning: Optional[str] = None
    parked: bool = False


@dataclass
class CycleReport:
    outcomes: list[FeedOutcome] = field(default_factory=list)
    new_article_ids: list[int] = field(default_factory=list)
    skipped_claimed: int = 0

    def count(self, status: FeedStatus) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def new_articles(self) -> int:
        return len(self.new_article_ids)

    def summary(self) -> str:
        parked = sum(1 for o in self.outcomes if o.parked)
        text = (f"{len(self.outcomes)} feeds: {self.count('fetched')} fetched, {self.count('not_modified')} not "
                f"modified, {self.count('failed')} failed; {self.new_articles} new articles")
        if parked:
            text += f"; {parked} feed(s) parked after repeated errors"
        if self.skipped_claimed:
            text += f"; {self.skipped_claimed} feed(s) left to another worker"
        return text + "."


def policy_from(settings: Settings) -> SchedulePolicy:
    return SchedulePolicy(
        default_interval=timedelta(minutes=settings.poll_interval_minutes),
        min_interval=timedelta(minutes=settings.min_interval_minutes),
        max_interval=timedelta(minutes=settings.max_interval_minutes),
        park_after_errors=settings.park_after_errors,
    )


def limits_from(settings: Settings) -> FetchLimits:
    return FetchLimits(connect_timeout=float(settings.connect_timeout_seconds),
                       deadline=float(settings.fetch_timeout_seconds),
                       max_bytes=settings.max_feed_mb * 1024 * 1024,
                       allow_private=settings.allow_private_feeds)


def _apply_result(session: Session, task: FeedTask, result: FetchResult, parsed: Optional[ParsedFeed],
                  policy: SchedulePolicy, now: datetime) -> tuple[FeedOutcome, list[int]]:
    """Store one fetch's entries and the feed's new state inside the caller's transaction."""
    feed = session.get(Feed, task.id)
    if feed is None:  # removed while we fetched
        return FeedOutcome(task.name, "failed", error="feed removed during the cycle"), []
    error = result.error
    if result.ok and parsed is not None and parsed.not_a_feed:
        error = parsed.problem  # an HTML page or junk: a failure, not an empty feed
    cache_control = result.headers.get("cache-control")
    if error is None and result.ok:
        new_ids = store_entries(session, feed, parsed.entries, now).new_article_ids
        mark_fetched(feed, now, policy, status=result.status, etag=result.headers.get("etag"),
                     last_modified=result.headers.get("last-modified"), cache_control=cache_control,
                     ttl_minutes=parsed.ttl_minutes, warning=parsed.problem)
        return FeedOutcome(task.name, "fetched", new_articles=len(new_ids), warning=parsed.problem), new_ids
    if error is None and result.not_modified:
        mark_not_modified(feed, now, policy, status=result.status, cache_control=cache_control)
        return FeedOutcome(task.name, "not_modified"), []
    error = error or f"HTTP {result.status}"
    parked = mark_failed(feed, now, policy, status=result.status, error=error, retry_after=result.retry_after)
    return FeedOutcome(task.name, "failed", error=error, parked=parked), []


def record_result(engine: Engine, task: FeedTask, result: FetchResult, policy: SchedulePolicy,
                  now: Optional[datetime] = None) -> tuple[FeedOutcome, list[int]]:
    """Parse and store one fetch result with the feed's new state, in one transaction."""
    now = now or utcnow()
    parsed = parse_feed(result.body, result.headers, default_language=task.language) if result.ok else None
    try:
        with session_scope(engine) as session:
            return _apply_result(session, task, result, parsed, policy, now)
    except IntegrityError:
        # Another worker stored one of these stories between our dedup check and our insert (two
        # feeds carrying one story, polled at once). Run again: the dedup now finds its copy.
        with session_scope(engine) as session:
            return _apply_result(session, task, result, parsed, policy, now)


def record_bodiless_results(engine: Engine, pending: list[tuple[FeedTask, FetchResult]],
                            policy: SchedulePolicy) -> list[FeedOutcome]:
    """304s and failures carry no entries, so many feeds' new state can share one transaction."""
    if not pending:
        return []
    now = utcnow()
    with session_scope(engine) as session:
        return [_apply_result(session, task, result, None, policy, now)[0] for task, result in pending]


def run_cycle(
    engine: Engine,
    settings: Settings,
    *,
    all_feeds: bool = False,
    feed_name: Optional[str] = None,
    on_feed_done: Optional[Callable[[FeedOutcome], None]] = None,
    on_new_articles: Optional[Callable[[list[int]], None]] = None,
    stopping: Optional[threading.Event] = None,
) -> CycleReport:
    """Poll due feeds (or all, or one by name) and store what they carry."""
    policy = policy_from(settings)
    limits = limits_from(settings)
    report = CycleReport()
    queue = ClaimQueue(engine, settings, utcnow(), all_feeds=all_feeds, feed_name=feed_name)
    host_slots: dict[str, threading.Semaphore] = {}

    def fetch(task: FeedTask, client) -> FetchResult:
        if stopping is not None and stopping.is_set():
            return FetchResult(url=task.url, error_kind="stopped", error="worker stopping; fetch skipped")
        with host_slots[host_of(task.url)]:
            # A claim that ran out while this waited may already be another worker's: leave it to them.
            if time.monotonic() + settings.fetch_timeout_seconds > task.claim_deadline:
                return FetchResult(url=task.url, error_kind="stopped", error="claim ran out before the fetch")
            return fetch_feed(client, FetchRequest(task.url, task.etag, task.last_modified), limits)

    def done(outcome: FeedOutcome) -> None:
        report.outcomes.append(outcome)
        if on_feed_done is not None:
            on_feed_done(outcome)

    bodiless: list[tuple[FeedTask, FetchResult]] = []

    def flush_bodiless() -> None:
        nonlocal bodiless
        for outcome in record_bodiless_results(engine, bodiless, policy):
            done(outcome)
        bodiless = []

    in_flight: dict[Future, FeedTask] = {}
    with make_client(limits) as client, ThreadPoolExecutor(max_workers=settings.fetch_workers) as pool:
        while True:
            stopped = stopping is not None and stopping.is_set()
            if not queue.exhausted and not stopped and len(in_flight) < settings.fetch_workers * REFILL_ROUNDS:
                flush_bodiless()  # the state of what is done reaches the store before more is claimed
                for task in queue.claim(list(in_flight.values())):
                    # Semaphores are made here, in this thread: filling the dict from fetch threads is unsafe.
                    host_slots.setdefault(host_of(task.url), threading.Semaphore(settings.fetch_per_host))
                    in_flight[pool.submit(fetch, task, client)] = task
                continue
            if not in_flight:
                break
            finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in finished:
                task = in_flight.pop(future)
                result = future.result()
                if result.error_kind == "stopped":
                    continue  # its claim lapses and the next cycle polls it
                if not result.ok:
                    bodiless.append((task, result))
                    if len(bodiless) >= BODILESS_BATCH:
                        flush_bodiless()
                    continue
                outcome, new_ids = record_result(engine, task, result, policy)
                report.new_article_ids.extend(new_ids)
                done(outcome)
    flush_bodiless()
    report.skipped_claimed = queue.skipped
    if report.new_article_ids and on_new_articles is not None:
        on_new_articles(report.new_article_ids)
    return report
