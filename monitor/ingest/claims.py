"""Claiming due feeds so that several workers never poll the same feed in one cycle.

Feeds are claimed a few fetch rounds at a time with a conditional UPDATE (over `FOR UPDATE SKIP LOCKED` on
PostgreSQL) before they are fetched: two workers share a long cycle between them, and a dead worker's claims
lapse within minutes.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional
from urllib.parse import urlsplit

from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from monitor.settings import Settings
from monitor.store.schema import Feed, utcnow

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


@dataclass(frozen=True)
class FeedTask:
    id: int
    name: str
    url: str
    etag: Optional[str]
    last_modified: Optional[str]
    language: Optional[str]
    claim_deadline: float = float("inf")  # time.monotonic() when this worker's claim runs out


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


class ClaimQueue:
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
            hosts = Counter(host_of(t.url) for t in queued) + Counter(host_of(f.url) for f in feeds)
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




def host_of(url: str) -> str:
    return urlsplit(url).hostname or ""
