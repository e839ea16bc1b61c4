"""`monitor demo`: the bundled sample feeds, run through the real pipeline without network access.

Only the fetch is replaced (the bytes come from the package instead of a server); parsing, dedup and
storage are the same code a live poll runs. Demo feeds are stored disabled, so the worker never polls
their placeholder addresses.

The files are dated 18-22 November 2026. So that a new user always sees recent alerts, every date in them
is moved forward by the same whole number of days at load time, just enough for the newest item to fall on
the last day before now (`dated_relative_to`); times of day and time zones stay as written. Stories are
deduplicated by link or guid, never by date, so loading again on a later day adds nothing.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import select

from monitor.ingest.fetch import FetchResult
from monitor.ingest.parse import parse_feed
from monitor.ingest.pipeline import CycleReport, FeedTask, policy_from, record_result
from monitor.settings import Settings
from monitor.store.db import session_scope
from monitor.store.schema import Feed, utcnow

DEMO_FEEDS_DIR = Path(__file__).parent / "feeds"
DEMO_MANAGER = "demo"
# A reserved top-level domain: these addresses can never reach anyone's server.
DEMO_URL_BASE = "https://demo.invalid/"


# The date elements of RSS 2.0 (RFC 822 dates) and Atom (RFC 3339 dates) that the demo files use.
_RSS_DATE = re.compile(rb"<(pubDate|lastBuildDate)>([^<]+)</\1>")
_ATOM_DATE = re.compile(rb"<(published|updated)>([^<]+)</\1>")


def demo_files() -> list[Path]:
    return sorted(DEMO_FEEDS_DIR.glob("*.xml"))


def _rss_date(text: bytes) -> datetime:
    moment = parsedate_to_datetime(text.decode("ascii").strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # "-0000": zone unknown, UTC


def _atom_date(text: bytes) -> datetime:
    return datetime.fromisoformat(text.decode("ascii").strip())


def _dates(body: bytes) -> list[datetime]:
    return [_rss_date(m.group(2)) for m in _RSS_DATE.finditer(body)] + \
        [_atom_date(m.group(2)) for m in _ATOM_DATE.finditer(body)]


def demo_shift(bodies: list[bytes], now: datetime) -> timedelta:
    """Whole days that bring the newest demo date to within the day before `now`, never past it."""
    newest = max(date for body in bodies for date in _dates(body))
    days = (now - newest).days  # floor: the newest item lands at most 24 hours before now
    return timedelta(days=max(days, 0))


def shift_dates(body: bytes, shift: timedelta) -> bytes:
    """The feed with every pubDate/lastBuildDate/published/updated moved by `shift`, zone kept."""
    if not shift:
        return body

    def rss(match: re.Match) -> bytes:
        moved = _rss_date(match.group(2)) + shift
        return b"<%s>%s</%s>" % (match.group(1), format_datetime(moved).encode("ascii"), match.group(1))

    def atom(match: re.Match) -> bytes:
        moved = _atom_date(match.group(2)) + shift
        return b"<%s>%s</%s>" % (match.group(1), moved.isoformat().encode("ascii"), match.group(1))

    return _ATOM_DATE.sub(atom, _RSS_DATE.sub(rss, body))


def dated_relative_to(now: datetime) -> list[tuple[Path, bytes]]:
    """Each demo file with its dates moved so the newest item is from the last day before `now`."""
    bodies = [(path, path.read_bytes()) for path in demo_files()]
    shift = demo_shift([body for _, body in bodies], now)
    return [(path, shift_dates(body, shift)) for path, body in bodies]


def load_demo(engine: Engine, settings: Settings, now: datetime | None = None) -> CycleReport:
    report = CycleReport()
    policy = policy_from(settings)
    for path, body in dated_relative_to(now or utcnow()):
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

