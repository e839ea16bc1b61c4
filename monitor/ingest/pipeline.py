"""One polling cycle: due feeds → fetch → parse → dedup/store → (classification of new articles).

Each feed's entries are stored in the same transaction as its new state (validators, schedule,
health), so a crash mid-cycle loses nothing and a rerun doubles nothing. Feeds are claimed with a
conditional UPDATE before fetching, so two workers never poll the same feed in one cycle.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Optional
from urllib.parse import urlsplit

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
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


def claim_lease(settings: Settings, feeds: int) -> timedelta:
    """How long claimed feeds stay out of other workers' reach: the fetch rounds this cycle needs, plus one.

    A worker that dies mid-cycle frees its unfinished feeds when the lease runs out.
    """
    rounds = -(-max(feeds, 1) // settings.fetch_workers)
    return timedelta(seconds=settings.fetch_timeout_seconds * (rounds + 1))


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
                       max_bytes=settings.max_feed_mb * 1024 * 1024)


def select_feeds(session: Session, now: datetime, *, all_feeds: bool = False,
                 feed_name: Optional[str] = None) -> list[Feed]:
    query = select(Feed).where(Feed.enabled == True)  # noqa: E712
    if feed_name is not None:
        query = select(Feed).where(Feed.name == feed_name)
    elif not all_feeds:
        query = query.where(Feed.parked_at.is_(None),
                            or_(Feed.next_check_at.is_(None), Feed.next_check_at <= now))
    return list(session.exec(query.order_by(Feed.next_check_at, Feed.id)))


def claim_feeds(engine: Engine, feeds: list[Feed], now: datetime, lease: timedelta, *, force: bool) -> set[int]:
    """Move claimed feeds' next check past the lease, only where nobody else did since we read them.

    One conditional UPDATE ... RETURNING: two workers racing for a feed cannot both get it back.
    `force` (an operator's `poll --all` / `--feed`) takes the feeds whatever their schedule.
    """
    claimed: set[int] = set()
    ids = [feed.id for feed in feeds]
    with engine.begin() as connection:
        for start in range(0, len(ids), 500):
            statement = (update(Feed).where(Feed.id.in_(ids[start:start + 500]))
                         .values(next_check_at=now + lease).returning(Feed.id))
            if not force:
                statement = statement.where(or_(Feed.next_check_at.is_(None), Feed.next_check_at <= now))
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
    now = utcnow()
    policy = policy_from(settings)
    limits = limits_from(settings)
    report = CycleReport()
    with Session(engine) as session:
        candidates = select_feeds(session, now, all_feeds=all_feeds, feed_name=feed_name)
    lease = claim_lease(settings, len(candidates))
    claimed = claim_feeds(engine, candidates, now, lease, force=all_feeds or feed_name is not None) \
        if candidates else set()
    tasks = [FeedTask(f.id, f.name, f.url, f.etag, f.last_modified, f.language) for f in candidates
             if f.id in claimed]
    report.skipped_claimed = len(candidates) - len(tasks)
    if not tasks:
        return report

    host_slots: dict[str, threading.Semaphore] = defaultdict(lambda: threading.Semaphore(settings.fetch_per_host))
    for task in tasks:  # create every semaphore up front: defaultdict is not safe to fill from threads
        host_slots[urlsplit(task.url).hostname or ""]

    def fetch(task: FeedTask, client) -> FetchResult:
        if stopping is not None and stopping.is_set():
            return FetchResult(url=task.url, error_kind="stopped", error="worker stopping; fetch skipped")
        with host_slots[urlsplit(task.url).hostname or ""]:
            return fetch_feed(client, FetchRequest(task.url, task.etag, task.last_modified), limits)

    def done(outcome: FeedOutcome) -> None:
        report.outcomes.append(outcome)
        if on_feed_done is not None:
            on_feed_done(outcome)

    bodiless: list[tuple[FeedTask, FetchResult]] = []
    with make_client(limits) as client, ThreadPoolExecutor(max_workers=settings.fetch_workers) as pool:
        futures = {pool.submit(fetch, task, client): task for task in tasks}
        for future in as_completed(futures):
            task = futures[future]
            result = future.result()
            if result.error_kind == "stopped":
                continue  # its claim lapses and the next cycle polls it
            if not result.ok:
                bodiless.append((task, result))
                if len(bodiless) >= BODILESS_BATCH:
                    for outcome in record_bodiless_results(engine, bodiless, policy):
                        done(outcome)
                    bodiless = []
                continue
            outcome, new_ids = record_result(engine, task, result, policy)
            report.new_article_ids.extend(new_ids)
            done(outcome)
    for outcome in record_bodiless_results(engine, bodiless, policy):
        done(outcome)
    if report.new_article_ids and on_new_articles is not None:
        on_new_articles(report.new_article_ids)
    return report
