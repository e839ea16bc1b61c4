"""Setting up a store: schema migrations, the bundled knowledge base, the packaged model and feeds.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from monitor.facilities.knowledge_base import load_knowledge_base
from monitor.ingest.feeds import read_feeds_file, sync_feeds
from monitor.settings import Settings
from monitor.store.db import session_scope
from monitor.store.migrate import upgrade_store
from monitor.store.schema import Article


@dataclass
class InitReport:
    schema_before: Optional[str]
    schema_after: str
    facilities: Any  # monitor.facilities.profiles.ApplyResult
    feeds_path: Path
    feed_sync: Any = None  # monitor.ingest.feeds.SyncResult, None when there is no feeds file

    def lines(self, database_url: str) -> list[str]:
        if self.schema_before is None:
            schema = f"Created the store at {database_url} (schema {self.schema_after})."
        elif self.schema_before != self.schema_after:
            schema = f"Upgraded the store from schema {self.schema_before} to {self.schema_after}."
        else:
            schema = f"Store is up to date (schema {self.schema_after})."
        result = self.facilities
        kept = f", {result.kept_local} locally edited value(s) kept" if result.kept_local else ""
        facilities = (f"Facilities: {result.created} added, {result.updated} updated, "
                      f"{result.unchanged} unchanged{kept}.")
        feeds = (self.feed_sync.summary() if self.feed_sync is not None
                 else f"No feeds file at {self.feeds_path}; no feeds to poll (setting feeds_file).")
        return [schema, facilities, feeds]


def initialise(engine: Engine, settings: Settings) -> InitReport:
    """Create or upgrade the store and load what ships with the product; running it twice changes nothing.

    Raises FeedsFileError or KnowledgeBaseError (bad files) before anything is written, and the driver's
    OperationalError when the store cannot be reached.
    """
    from monitor.classify.registry import register_packaged_model

    feeds_path = Path(settings.feeds_file)
    specs = read_feeds_file(feeds_path) if feeds_path.exists() else None
    before, after = upgrade_store(engine)
    with session_scope(engine) as session:
        facilities = load_knowledge_base(session)
        feed_sync = sync_feeds(session, specs, settings.allow_private_feeds) if specs is not None else None
        register_packaged_model(session)
    return InitReport(before, after, facilities, feeds_path, feed_sync)


def store_has_articles(engine: Engine) -> bool:
    with Session(engine) as session:
        return session.exec(select(Article.id).limit(1)).first() is not None
