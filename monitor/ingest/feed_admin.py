"""Adding, disabling and re-enabling feeds by hand (CLI and dashboard), each change logged with who did it."""

from __future__ import annotations

from typing import Optional
from urllib.parse import urlsplit

from sqlmodel import Session, select

from monitor.ingest.address_guard import AddressRefused
from monitor.ingest.fetch import check_feed_address
from monitor.store.schema import ActivityLog, Feed, utcnow

DASHBOARD_MANAGER = "dashboard"


class FeedAdminError(ValueError):
    pass


def feed_named(session: Session, name: str) -> Feed:
    feed = session.exec(select(Feed).where(Feed.name == name)).first()
    if feed is None:
        raise FeedAdminError(f"no feed named {name!r}")
    return feed


def check_feed_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FeedAdminError(f"a feed URL must start with http:// or https:// and name a host, got {url!r}")
    return url


def add_feed(session: Session, name: str, url: str, actor: str, interval_minutes: Optional[int] = None,
             language: Optional[str] = None, allow_private: bool = False) -> Feed:
    """A feed added by an analyst: polled from the next cycle, never removed by a feeds.yaml sync.

    `allow_private` is the allow_private_feeds setting: off, a URL that reaches inside the network is refused.
    """
    name = name.strip()
    if not name:
        raise FeedAdminError("the feed needs a name")
    url = check_feed_url(url)
    try:
        check_feed_address(url, allow_private)
    except AddressRefused as exc:
        raise FeedAdminError(f"feed refused: {exc}") from None
    if session.exec(select(Feed.id).where(Feed.name == name)).first() is not None:
        raise FeedAdminError(f"there is already a feed named {name!r}")
    existing = session.exec(select(Feed.name).where(Feed.url == url)).first()
    if existing is not None:
        raise FeedAdminError(f"that URL is already polled as {existing!r}")
    feed = Feed(name=name, url=url, interval_minutes=interval_minutes, language=language or None,
                managed_by=DASHBOARD_MANAGER, next_check_at=utcnow())
    session.add(feed)
    session.add(ActivityLog(actor=actor, action="feed.add", target=name, detail=url))
    session.flush()
    return feed


def enable_feed(session: Session, name: str, actor: str) -> Feed:
    feed = feed_named(session, name)
    if feed.removed_at is not None:
        raise FeedAdminError(f"{name!r} was removed from the feeds file; add it there to poll it again")
    if feed.managed_by == "demo":
        raise FeedAdminError(f"{name!r} is a bundled demo feed with no real address; it cannot be polled")
    feed.enabled, feed.parked_at, feed.consecutive_errors = True, None, 0
    feed.next_check_at = utcnow()
    feed.updated_at = utcnow()
    session.add(ActivityLog(actor=actor, action="feed.enable", target=name))
    return feed


def disable_feed(session: Session, name: str, actor: str) -> Feed:
    feed = feed_named(session, name)
    feed.enabled = False
    feed.updated_at = utcnow()
    session.add(ActivityLog(actor=actor, action="feed.disable", target=name))
    return feed


def list_feeds(session: Session, *, problems_only: bool = False) -> list[Feed]:
    """Every feed by name; with problems_only, those failing, parked, disabled or warned."""
    rows = list(session.exec(select(Feed).order_by(Feed.name)))
    if problems_only:
        rows = [f for f in rows if f.consecutive_errors or f.parked_at or not f.enabled or f.last_warning]
    return rows


def feed_state(feed: Feed) -> str:
    """One word for a feed's health, as the CLI and dashboard show it."""
    if feed.managed_by == "demo":
        return "demo"
    if feed.removed_at:
        return "removed"
    if feed.parked_at:
        return "parked"
    if not feed.enabled:
        return "disabled"
    if feed.consecutive_errors:
        return "failing"
    if feed.last_success_at is None:
        return "new"
    return "ok"
