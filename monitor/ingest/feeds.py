"""feeds.yaml: reading it, and syncing it into the store (added, changed, removed feeds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml
from sqlmodel import Session, select

from monitor.ingest.address_guard import AddressRefused
from monitor.ingest.fetch import check_feed_address
from monitor.store.schema import Feed, utcnow

MANAGED_BY_FILE = "feeds_file"


class FeedsFileError(ValueError):
    pass


@dataclass(frozen=True)
class FeedSpec:
    name: str
    url: str
    language: Optional[str] = None
    interval_minutes: Optional[int] = None
    tags: tuple[str, ...] = ()


@dataclass
class FeedSyncResult:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    # (name, why): feeds whose address reaches inside the network; not added, or left at their old URL.
    refused: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        text = (f"Feeds: {len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
                f"{self.unchanged} unchanged.")
        for name, why in self.refused:
            text += f"\nRefused feed {name!r}: {why}"
        return text


def read_feeds_file(path: str | Path) -> list[FeedSpec]:
    path = Path(path)
    if not path.is_file():
        raise FeedsFileError(f"feeds file {path} does not exist (setting feeds_file)")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise FeedsFileError(f"{path}: not valid YAML: {exc}") from None
    entries = document.get("feeds") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise FeedsFileError(f"{path}: expected a top-level 'feeds:' list")
    specs: list[FeedSpec] = []
    names: set[str] = set()
    for position, entry in enumerate(entries, start=1):
        where = f"{path}: feed {position}"
        if not isinstance(entry, dict):
            raise FeedsFileError(f"{where}: expected name/url/language/interval_minutes/tags")
        name = str(entry.get("name") or "").strip()
        url = str(entry.get("url") or "").strip()
        if not name:
            raise FeedsFileError(f"{where}: name is missing")
        where = f"{path}: feed {name!r}"
        if name in names:
            raise FeedsFileError(f"{where}: the name is used twice")
        if not url.startswith(("http://", "https://")):
            raise FeedsFileError(f"{where}: url must start with http:// or https://, got {url!r}")
        interval = entry.get("interval_minutes")
        if interval is not None and (not isinstance(interval, int) or not 1 <= interval <= 10080):
            raise FeedsFileError(f"{where}: interval_minutes must be a whole number from 1 to 10080")
        tags = entry.get("tags") or []
        if not isinstance(tags, list):
            raise FeedsFileError(f"{where}: tags must be a list")
        unknown = sorted(set(entry) - {"name", "url", "language", "interval_minutes", "tags"})
        if unknown:
            raise FeedsFileError(f"{where}: unknown key(s) {', '.join(unknown)}")
        names.add(name)
        specs.append(FeedSpec(name=name, url=url, language=entry.get("language"), interval_minutes=interval,
                              tags=tuple(str(t) for t in tags)))
    return specs


def sync_feeds(session: Session, specs: list[FeedSpec], allow_private: bool = False) -> FeedSyncResult:
    """Make the store's file-managed feeds match the file. Removed feeds keep their row and history.

    A new or changed URL that reaches inside the network (setting allow_private_feeds off) is refused:
    listed in the result, the rest of the file still synced.
    """
    result = FeedSyncResult()
    now = utcnow()
    existing = {feed.name: feed for feed in session.exec(select(Feed))}
    wanted = {spec.name for spec in specs}
    for spec in specs:
        feed = existing.get(spec.name)
        if feed is None or feed.url != spec.url:
            try:
                check_feed_address(spec.url, allow_private)
            except AddressRefused as exc:
                result.refused.append((spec.name, str(exc)))
                continue
        if feed is None:
            session.add(Feed(name=spec.name, url=spec.url, language=spec.language,
                             interval_minutes=spec.interval_minutes, tags=list(spec.tags),
                             managed_by=MANAGED_BY_FILE, next_check_at=now))
            result.added.append(spec.name)
            continue
        changed = False
        if feed.removed_at is not None or feed.managed_by != MANAGED_BY_FILE:
            feed.removed_at = None
            feed.managed_by = MANAGED_BY_FILE
            feed.enabled = True
            changed = True
        if feed.url != spec.url:
            # A new address is a new conversation with a server: old validators and errors don't apply.
            feed.url = spec.url
            feed.etag = feed.last_modified = None
            feed.consecutive_errors = 0
            feed.parked_at = None
            feed.next_check_at = now
            changed = True
        for attribute, value in (("language", spec.language), ("interval_minutes", spec.interval_minutes),
                                 ("tags", list(spec.tags))):
            if getattr(feed, attribute) != value:
                setattr(feed, attribute, value)
                changed = True
        if changed:
            feed.updated_at = now
            result.changed.append(spec.name)
        else:
            result.unchanged += 1
    for name, feed in existing.items():
        if name not in wanted and feed.managed_by == MANAGED_BY_FILE and feed.removed_at is None:
            feed.removed_at = now
            feed.enabled = False
            feed.updated_at = now
            result.removed.append(name)
    session.flush()
    return result
