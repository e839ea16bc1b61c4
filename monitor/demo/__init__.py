"""`monitor demo`: the bundled sample feeds, run through the real pipeline without network access.

Only the fetch is replaced (the bytes come from the package instead of a server); parsing, dedup and
storage are the same code a live poll runs. Demo feeds are stored disabled, so the worker never polls
their placeholder addresses.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from monitor.ingest.fetch import FetchResult
from monitor.ingest.parse import parse_feed
from monitor.ingest.pipeline import CycleReport, FeedTask, policy_from, record_result
from monitor.settings import Settings
from monitor.store.db import session_scope
from monitor.store.schema import Feed

DEMO_FEEDS_DIR = Path(__file__).parent / "feeds"
DEMO_MANAGER = "demo"
# A reserved top-level domain: these addresses can never reach anyone's server.
DEMO_URL_BASE = "https://demo.invalid/"


def demo_files() -> list[Path]:
    return sorted(DEMO_FEEDS_DIR.glob("*.xml"))


def load_demo(engine: Engine, settings: Settings) -> CycleReport:
    report = CycleReport()
    policy = policy_from(settings)
    for path in demo_files():
        body = path.read_bytes()
        title = parse_feed(body).title or path.stem
        name = f"Demo: {title}"
        with session_scope(engine) as session:
            feed = session.exec(select(Feed).where(Feed.name == name)).first()
            if feed is None:
                feed = Feed(name=name, url=DEMO_URL_BASE + path.name, managed_by=DEMO_MANAGER, enabled=False,
                            tags=["demo"])
                session.add(feed)
                session.flush()
            task = FeedTask(feed.id, feed.name, feed.url, None, None, feed.language)
        result = FetchResult(url=task.url, final_url=task.url, status=200, body=body,
                             headers={"content-type": "application/xml"})
        outcome, new_ids = record_result(engine, task, result, policy)
        report.outcomes.append(outcome)
        report.new_article_ids.extend(new_ids)
    return report

