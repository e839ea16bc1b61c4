"""The same poll cycle on SQLite and on PostgreSQL: 200 feeds x 50 entries served on loopback by a separate
process, a first cycle (everything new) and a second where every feed answers 304.

Prints, from one run, each backend's times and PostgreSQL's as a ratio of SQLite's (the bare baseline
being bench/ingest.py's feedparser-only parse of the same bytes, printed here too).

PostgreSQL comes from MONITOR_BENCH_POSTGRES_URL or MONITOR_TEST_POSTGRES_URL (a scratch schema is made
and dropped); without either only SQLite is measured.

    python bench/store_backends.py [FEEDS] [ENTRIES]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import feedparser
from ingest import Server, make_feed, timed_cycle  # bench/ is the script's folder, so its siblings import
from sqlalchemy import text

from monitor.ingest.feeds import FeedSpec, sync_feeds
from monitor.settings import load_settings
from monitor.store.db import make_engine, session_scope
from monitor.store.migrate import upgrade_store


def measure(url: str, server: Server, paths: list[str], settings, total: int) -> tuple[float, float]:
    engine = make_engine(url)
    upgrade_store(engine)
    with session_scope(engine) as session:
        sync_feeds(session, [FeedSpec(name=path, url=server.url(path)) for path in paths], allow_private=True)
    first, report = timed_cycle(engine, settings)
    assert report.new_articles == total, report.summary()
    second, report304 = timed_cycle(engine, settings)
    assert report304.count("not_modified") == len(paths), report304.summary()
    engine.dispose()
    return first, second


def main() -> None:
    feeds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    entries = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    total = feeds * entries
    bodies = {f"/feed/{n}": make_feed(n, entries, "a") for n in range(feeds)}
    paths = sorted(bodies)
    server = Server(bodies)
    settings = load_settings(env={}, flags={"fetch_per_host": 8, "fetch_workers": 8,
                                                "allow_private_feeds": True})  # loopback publishers
    start = time.perf_counter()
    assert sum(len(feedparser.parse(body).entries) for body in bodies.values()) == total
    bare = time.perf_counter() - start

    results: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        results["SQLite"] = measure(f"sqlite:///{Path(folder) / 'bench.db'}", server, paths, settings, total)
    postgres = os.environ.get("MONITOR_BENCH_POSTGRES_URL") or os.environ.get("MONITOR_TEST_POSTGRES_URL")
    if postgres:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = make_engine(postgres)
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        try:
            separator = "&" if "?" in postgres else "?"
            url = f"{postgres}{separator}options=-csearch_path%3D{schema}"
            results["PostgreSQL"] = measure(url, server, paths, settings, total)
        finally:
            with admin.begin() as connection:
                connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            admin.dispose()
    server.stop()

    print(f"store backends: {feeds} feeds x {entries} entries = {total:,} entries on loopback, 8 fetch workers")
    print(f"  bare feedparser.parse on the same bytes      {bare:7.2f} s")
    sqlite_first, sqlite_second = results["SQLite"]
    for name, (first, second) in results.items():
        print(f"  {name:<10} first cycle {first:7.2f} s ({bare / first:.2f}x bare, {first / sqlite_first:.2f}x SQLite)"
              f"   304 cycle {second:6.2f} s ({second / sqlite_second:.2f}x SQLite)")
    if "PostgreSQL" not in results:
        print("  PostgreSQL not measured: set MONITOR_BENCH_POSTGRES_URL (or MONITOR_TEST_POSTGRES_URL)")


if __name__ == "__main__":
    main()
