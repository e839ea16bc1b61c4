"""Ingestion benchmark: 200 feeds x 50 entries served on loopback, through the whole fetch→parse→store cycle.

Prints, from one run (these machines are noisy, so only ratios within a run mean anything):
  1. pipeline entries/s vs bare `feedparser.parse` on the same bytes   (target: pipeline >= 0.5x bare)
  2. a second cycle where every feed answers 304                       (target: >= 10x faster than the first)
  3. the first cycle again on a store already holding 10x more articles (target: within 1.3x)

The feeds are synthetic benchmark data generated here and never stored outside a temporary folder.

    python bench/ingest.py [FEEDS] [ENTRIES]
"""

from __future__ import annotations

import hashlib
import multiprocessing
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feedparser
from sqlalchemy import insert

from monitor.ingest.feeds import FeedSpec, sync_feeds
from monitor.ingest.pipeline import run_cycle
from monitor.settings import load_settings
from monitor.store.db import make_engine, session_scope
from monitor.store.migrate import upgrade_store
from monitor.store.schema import Article

WORDS = ("ministry council border market river convoy province election harvest bridge festival court "
         "school clinic airport rainfall budget railway factory coalition").split()


def make_feed(feed_no: int, entries: int, run: str) -> bytes:
    start = datetime(2026, 11, 20, tzinfo=timezone.utc)
    items = []
    for n in range(entries):
        words = " ".join(WORDS[(feed_no * 7 + n * 3 + k) % len(WORDS)] for k in range(40))
        when = format_datetime(start - timedelta(minutes=feed_no * 50 + n))
        items.append(
            f"<item><title>Item {n} of bench feed {feed_no} {run}</title>"
            f"<link>https://bench{feed_no}.example/{run}/story/{n}?utm_source=rss</link>"
            f"<guid isPermaLink=\"false\">{run}-{feed_no}-{n}</guid><pubDate>{when}</pubDate>"
            f"<description>&lt;p&gt;{words}&lt;/p&gt;</description></item>")
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Bench feed {feed_no}'
            f"</title><link>https://bench{feed_no}.example/</link><description>benchmark</description>"
            + "".join(items) + "</channel></rss>").encode()


class BenchServer(ThreadingHTTPServer):
    # The default listen backlog (5) drops connection attempts when the pipeline opens 8 at once; each
    # dropped SYN costs the client a one-second retransmit, which made timings jump between runs.
    request_queue_size = 128
    daemon_threads = True


def _serve(bodies: dict[str, bytes], port_queue) -> None:
    etags = {path: '"' + hashlib.sha1(body).hexdigest() + '"' for path, body in bodies.items()}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            body = bodies.get(self.path)
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.headers.get("If-None-Match") == etags[self.path]:
                self.send_response(304)
                self.send_header("ETag", etags[self.path])
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("ETag", etags[self.path])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = BenchServer(("127.0.0.1", 0), Handler)
    port_queue.put(httpd.server_address[1])
    httpd.serve_forever()


class Server:
    """The publishers' side, in its own process: it must not share the pipeline's interpreter lock."""

    def __init__(self, bodies: dict[str, bytes]):
        ports = multiprocessing.Queue()
        self.process = multiprocessing.Process(target=_serve, args=(bodies, ports), daemon=True)
        self.process.start()
        self.port = ports.get(timeout=30)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(5)


def new_store(folder: Path, name: str, server: Server, paths: list[str], settings):
    engine = make_engine(f"sqlite:///{folder / name}")
    upgrade_store(engine)
    with session_scope(engine) as session:
        sync_feeds(session, [FeedSpec(name=path, url=server.url(path)) for path in paths])
    return engine


def timed_cycle(engine, settings):
    start = time.perf_counter()
    report = run_cycle(engine, settings, all_feeds=True)
    return time.perf_counter() - start, report


def main() -> None:
    feeds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    entries = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    total = feeds * entries
    bodies = {f"/feed/{n}": make_feed(n, entries, "a") for n in range(feeds)}
    server = Server(bodies)
    paths = sorted(bodies)
    # One loopback host serves every feed here, so the per-host limit is lifted to the pool size.
    settings = load_settings(env={}, flags={"fetch_per_host": 8, "fetch_workers": 8})

    start = time.perf_counter()
    parsed = sum(len(feedparser.parse(body).entries) for body in bodies.values())
    bare = time.perf_counter() - start
    assert parsed == total

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        engine = new_store(folder, "empty.db", server, paths, settings)
        first, report = timed_cycle(engine, settings)
        assert report.new_articles == total, report.summary()
        second, report304 = timed_cycle(engine, settings)
        assert report304.count("not_modified") == feeds, report304.summary()

        # The same first cycle, on a store that already holds ten times as many articles.
        big = new_store(folder, "big.db", server, paths, settings)
        now = datetime.now(timezone.utc)
        with session_scope(big) as session:
            rows = [{"url": f"https://old.example/{n}", "content_key": hashlib.sha256(str(n).encode()).hexdigest(),
                     "title": f"Older story {n}", "summary": " ".join(WORDS), "first_seen_at": now}
                    for n in range(total * 10)]
            for start_row in range(0, len(rows), 5000):
                session.execute(insert(Article), rows[start_row:start_row + 5000])
        third, report_big = timed_cycle(big, settings)
        assert report_big.new_articles == total, report_big.summary()
        engine.dispose()
        big.dispose()
    server.stop()

    print(f"ingestion: {feeds} feeds x {entries} entries = {total:,} entries, served on loopback (SQLite store)")
    print(f"  bare feedparser.parse on the same bytes   {bare:7.2f} s  {total / bare:8,.0f} entries/s")
    print(f"  pipeline, first cycle (fetch+parse+store)  {first:7.2f} s  {total / first:8,.0f} entries/s"
          f"   -> {bare / first:.2f}x bare speed (target >= 0.5)")
    print(f"  pipeline, second cycle, all 304            {second:7.2f} s"
          f"   -> {first / second:.1f}x faster than the first (target >= 10)")
    print(f"  first cycle with {total * 10:,} articles already stored {third:7.2f} s"
          f"   -> {third / first:.2f}x the empty-store cycle (target <= 1.3)")


if __name__ == "__main__":
    main()
