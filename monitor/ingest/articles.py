"""Dedup and storage of entries: one article per story, with every feed that carried it.

A story is the same story when its normalised link matches (tracking parameters removed), or, within
one feed, when its guid matches. Seeing it again only records the feed that carried it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert
from sqlmodel import Session, select

from monitor.ingest.parse import ParsedEntry
from monitor.store.db import validated_rows
from monitor.store.schema import Article, ArticleSource, Feed

_IN_CHUNK = 500  # keeps IN (...) lists well under every database's parameter limit


@dataclass
class StoreResult:
    new_article_ids: list[int] = field(default_factory=list)
    seen_again: int = 0
    added_sources: int = 0


def _chunks(items: list, size: int = _IN_CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def store_entries(session: Session, feed: Feed, entries: list[ParsedEntry], now: datetime) -> StoreResult:
    """Insert new articles and feed links for `entries`; runs inside the caller's transaction."""
    result = StoreResult()
    unique: dict[str, ParsedEntry] = {}
    for entry in entries:
        unique.setdefault(entry.content_key, entry)
    if not unique:
        return result

    keys = list(unique)
    known: dict[str, int] = {}
    for chunk in _chunks(keys):
        known.update(session.exec(select(Article.content_key, Article.id).where(Article.content_key.in_(chunk))).all())
    # Same guid in the same feed is the same story even if the publisher changed the link.
    guids = [e.guid for e in unique.values() if e.guid]
    by_guid: dict[str, int] = {}
    for chunk in _chunks(guids):
        by_guid.update(session.exec(select(ArticleSource.guid, ArticleSource.article_id).where(
            ArticleSource.feed_id == feed.id, ArticleSource.guid.in_(chunk))).all())

    new_rows, new_keys = [], []
    for key, entry in unique.items():
        if key in known:
            continue
        if entry.guid and entry.guid in by_guid:
            known[key] = by_guid[entry.guid]
            continue
        new_keys.append(key)
        new_rows.append({
            "url": entry.link, "guid": entry.guid, "content_key": key, "title": entry.title, "summary": entry.text,
            "published_at": entry.published, "language": entry.language or feed.language, "outlet": entry.outlet,
            "first_seen_at": now,
        })
    if new_rows:
        ids = session.execute(insert(Article).returning(Article.id, sort_by_parameter_order=True),
                              validated_rows(Article, new_rows)).scalars().all()
        result.new_article_ids = list(ids)
        known.update(zip(new_keys, ids))

    article_ids = list({known[key] for key in keys})
    already: set[int] = set()
    for chunk in _chunks(article_ids):
        already.update(session.exec(select(ArticleSource.article_id).where(
            ArticleSource.feed_id == feed.id, ArticleSource.article_id.in_(chunk))).all())
    source_rows = [
        {"article_id": known[key], "feed_id": feed.id, "guid": entry.guid, "seen_at": now}
        for key, entry in unique.items() if known[key] not in already
    ]
    # One link per (article, feed), even when a feed lists a story twice under different keys.
    source_rows = list({row["article_id"]: row for row in source_rows}.values())
    if source_rows:
        session.execute(insert(ArticleSource), validated_rows(ArticleSource, source_rows))
    result.added_sources = len(source_rows)
    result.seen_again = len(unique) - len(result.new_article_ids)
    return result
