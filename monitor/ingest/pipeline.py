"""One polling cycle: due feeds → fetch → parse → dedup/store → (classification of new articles).

Each feed's entries are stored in the same transaction as its new state (validators, schedule,
health), so a crash mid-cycle loses nothing and a rerun doubles nothing. Feeds are claimed a few fetch
rounds at a time with a conditional UPDATE (over `FOR UPDATE SKIP LOCKED` on PostgreSQL) before they are
fetched, so two workers never poll the same feed in one cycle, share a long cycle between them, and a
dead worker's claims lapse within minutes.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Optional
from urllib.parse import urlsplit

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from monitor.ingest.articles import store_entries
from monitor.ingest.fetch import FetchLimits, FetchRequest, FetchResult, fetch_feed, make_client
from monitor.ingest.parse import ParsedFeed, parse_feed
from monitor.ingest.schedule import (
    SchedulePolicy,
    next_check_after_failure,
    next_check_after_success,
    should_park,
)
from monitor.settings import Settings
from monitor.store.db import session_scope
from monitor.store.schema import Feed, utcnow


# 304s and failures are written together, this many feeds per transaction.
BODILESS_BATCH = 50
# A worker claims this many fetch rounds' worth of feeds at a time, and claims more when fewer than
# REFILL_ROUNDS rounds are left in its queue: other workers get the rest, and a dead worker holds little.
CLAIM_ROUNDS = 4
REFILL_ROUNDS = 2


def claim_lease(settings: Settings, feeds: int, busiest_host: int = 0) -> timedelta:
    """How long claimed feeds stay out of other workers' reach: the fetch rounds they need, plus two.

    `feeds` counts what is queued ahead of and with the claimed ones; `busiest_host` how many of them
    share one host, which the per-host limit serialises. A worker that dies frees its feeds when this
    runs out.
    """
    rounds = max(-(-max(feeds, 1) // settings.fetch_workers), -(-busiest_host // settings.fetch_per_host))
    return timedelta(seconds=settings.fetch_timeout_seconds * (rounds + 2))


@dataclass
class FeedOutcome:
    feed: str
    status: str  # fetched | not_modified | failed
    new_articles: int = 0
    error: Optional[str] = None
    warning: Optional[str] = None
    parked: bool = False


@dataclass
class CycleReport:
    outcomes: list[FeedOutcome] = field(default_factory=list)
    new_article_ids: list[int] = field(default_factory=list)
    skipped_claimed: int = 0

    def count(self, status: str) -> int:
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


@dataclass(frozen=True)
class FeedTask:
    id: int
    name: str
    url: str
    etag: Optional[str]
    last_modified: Optional[str]
    language: Optional[str]
    claim_deadline: float = float("inf")  # time.monotonic() when this worker's claim runs out


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


def select_feeds(session: Session, now: datetime, *, all_feeds: bool = False,
                 feed_name: Optional[str] = None, limit: Optional[int] = None) -> list[Feed]:
    query = select(Feed).where(Feed.enabled == True)  # noqa: E712
    if feed_name is not None:
        query = select(Feed).where(Feed.name == feed_name)
    elif not all_feeds:
        query = query.where(Feed.parked_at.is_(None),
                            or_(Feed.next_check_at.is_(None), Feed.next_check_at <= now))
    query = query.order_by(Feed.next_check_at, Feed.id)
    return list(session.exec(query.limit(limit) if limit else query))


def claim_feeds(engine: Engine, ids: list[int], now: datetime, lease: timedelta, *, force: bool) -> set[int]:
    """Move claimed feeds' next check past the lease, only where nobody else did since we read them.

    A conditional UPDATE ... RETURNING: two workers racing for a feed cannot both get it back. On
    PostgreSQL the rows are picked with FOR UPDATE SKIP LOCKED, so a worker never waits on (or deadlocks
    with) another's claim in progress; it simply leaves those feeds to it. SQLite runs one writer at a
    time, so the condition alone decides. `force` (an operator's `poll --all` / `--feed`) takes the
    feeds whatever their schedule.
    """
    claimed: set[int] = set()
    with engine.begin() as connection:
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            due = or_(Feed.next_check_at.is_(None), Feed.next_check_at <= now)
            pick = select(Feed.id).where(Feed.id.in_(chunk))
            if not force:
                pick = pick.where(due)
            pick = pick.with_for_update(skip_locked=True)  # rendered only where the database has it
            statement = (update(Feed).where(Feed.id.in_(pick.scalar_subquery()))
                         .values(next_check_at=now + lease).returning(Feed.id))
            if not force:
                statement = statement.where(due)
            claimed.update(connection.execute(statement).scalars())
    return claimed


def _ttl_or_none(parsed: Optional[ParsedFeed]) -> Optional[int]:
    return parsed.ttl_minutes if parsed else None


def _apply_result(session: Session, task: FeedTask, result: FetchResult, parsed: Optional[ParsedFeed],
                  policy: SchedulePolicy, now: datetime) -> tuple[FeedOutcome, list[int]]:
    """Store one fetch's entries and the feed's new state inside the caller's transaction."""
    feed = session.get(Feed, task.id)
    if feed is None:  # removed while we fetched
        return FeedOutcome(task.name, "failed", error="feed removed during the cycle"), []
    error = result.error
    if result.ok and parsed is not None and not parsed.entries and parsed.problem \
            and "not an RSS or Atom feed" in parsed.problem:
        error = parsed.problem  # an HTML page or junk: a failure, not an empty feed
    feed.last_checked_at = now
    feed.last_status = result.status
    feed.updated_at = now
    new_ids: list[int] = []
    if error is None and (result.ok or result.not_modified):
        if result.ok:
            stored = store_entries(session, feed, parsed.entries, now)
            new_ids = stored.new_article_ids
            feed.etag = result.headers.get("etag") or None
            feed.last_modified = result.headers.get("last-modified") or None
            feed.last_warning = parsed.problem
            outcome = FeedOutcome(task.name, "fetched", new_articles=len(new_ids), warning=parsed.problem)
        else:
            outcome = FeedOutcome(task.name, "not_modified")
        feed.last_success_at = now
        feed.last_error = None
        feed.consecutive_errors = 0
        feed.parked_at = None
        feed.next_check_at = next_check_after_success(
            now, policy, feed.interval_minutes, result.headers.get("cache-control"), _ttl_or_none(parsed))
        return outcome, new_ids
    feed.consecutive_errors += 1
    feed.last_error = error or f"HTTP {result.status}"
    outcome = FeedOutcome(task.name, "failed", error=feed.last_error)
    feed.next_check_at = next_check_after_failure(now, policy, feed.interval_minutes, feed.consecutive_errors,
                                                  result.retry_after)
    if should_park(feed.consecutive_errors, policy) and feed.parked_at is None:
        feed.parked_at = now
        outcome.parked = True
    return outcome, new_ids


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


class _ClaimQueue:
    """Hands out claimed feeds a few fetch rounds at a time, for one cycle."""

    def __init__(self, engine: Engine, settings: Settings, now: datetime, *, all_feeds: bool,
                 feed_name: Optional[str]):
        self.engine, self.settings, self.now = engine, settings, now
        self.forced = all_feeds or feed_name is not None
        self.batch = settings.fetch_workers * CLAIM_ROUNDS
        self.skipped = 0
        self.exhausted = False
        self._forced_ids: list[int] = []
        if self.forced:
            with Session(engine) as session:
                self._forced_ids = [f.id for f in select_feeds(session, now, all_feeds=all_feeds,
                                                               feed_name=feed_name)]

    def claim(self, queued: list["FeedTask"]) -> list["FeedTask"]:
        """Claim the next batch; `queued` is what this worker already holds, for the lease."""
        while not self.exhausted:
            if self.forced:
                ids, self._forced_ids = self._forced_ids[:self.batch], self._forced_ids[self.batch:]
                with Session(self.engine) as session:
                    found = {f.id: f for f in session.exec(select(Feed).where(Feed.id.in_(ids)))} if ids else {}
                feeds = [found[feed_id] for feed_id in ids if feed_id in found]
            else:
                # Only feeds due when the cycle began: a cycle ends even while new feeds fall due.
                with Session(self.engine) as session:
                    feeds = select_feeds(session, self.now, limit=self.batch)
            if not feeds:
                self.exhausted = True
                break
            hosts = Counter(_host(t.url) for t in queued) + Counter(_host(f.url) for f in feeds)
            lease = claim_lease(self.settings, len(queued) + len(feeds), max(hosts.values()))
            claimed = claim_feeds(self.engine, [f.id for f in feeds], utcnow(), lease, force=self.forced)
            self.skipped += len(feeds) - len(claimed)
            deadline = time.monotonic() + lease.total_seconds()
            tasks = [FeedTask(f.id, f.name, f.url, f.etag, f.last_modified, f.language, deadline)
                     for f in feeds if f.id in claimed]
            if tasks:
                return tasks
            # Every one went to another worker; they are no longer due, so the next read finds others.
        return []


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""


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
    queue = _ClaimQueue(engine, settings, utcnow(), all_feeds=all_feeds, feed_name=feed_name)
    host_slots: dict[str, threading.Semaphore] = {}

    def fetch(task: FeedTask, client) -> FetchResult:
        if stopping is not None and stopping.is_set():
            return FetchResult(url=task.url, error_kind="stopped", error="worker stopping; fetch skipped")
        with host_slots[_host(task.url)]:
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
                    host_slots.setdefault(_host(task.url), threading.Semaphore(settings.fetch_per_host))
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
