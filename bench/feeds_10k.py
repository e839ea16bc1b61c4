"""Does one worker keep a 10-minute schedule over 10,000 feeds on 2 cores, and what do two workers do?

A separate process serves 10,000 distinct feed URLs on loopback (10 entries each, with ETags). After a
first cycle has stored everything, each measured cycle is a steady-state one: every feed is due, a fifth of
them have two new stories (200) and the rest answer 304 — the mix a news monitor sees between polls.
A cycle is what the worker runs each tick: claim, fetch, parse, store (run_cycle), then classify, link,
group into alerts and queue mail (analyse_and_mail), with the model already loaded as in a running worker.

Printed from one run: the bare baseline (the same 10,000 conditional GETs with httpx and the same number
of threads, nothing parsed or stored), then one worker's and two workers' cycle times as a ratio of that
baseline and as a share of the 600 s schedule.

    python bench/feeds_10k.py [FEEDS] [--database-url URL] [--latency S] [--fetch-workers N]

--database-url defaults to a temporary SQLite store. Loopback answers in microseconds, where real
publishers take a few hundred milliseconds: --latency makes the server wait that long before each answer
to the measured cycles (not the first fill), which is what decides how many fetch threads a worker needs.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
from ingest import BenchServer  # bench/ is the script's folder, so its siblings import
from sqlalchemy import update

from monitor.ingest.feeds import FeedSpec, sync_feeds
from monitor.settings import load_settings
from monitor.store.db import make_engine, session_scope
from monitor.store.migrate import upgrade_store
from monitor.store.schema import Feed, utcnow

SCHEDULE_SECONDS = 600
CHANGED_SHARE = 0.2
ENTRIES = 10
HOSTS = 32
WORDS = ("ministry council border market river convoy province election harvest bridge festival court "
         "school clinic airport rainfall budget railway factory coalition").split()


def feed_body(number: int, generation: int) -> bytes:
    # A sliding window: each new generation adds two stories and drops the two oldest.
    items = []
    for n in range(generation * 2, generation * 2 + ENTRIES):
        words = " ".join(WORDS[(number + n * 3 + k) % len(WORDS)] for k in range(30))
        items.append(f"<item><title>Story {n} of feed {number}</title><link>https://feed{number}.example/s/{n}</link>"
                     f"<guid>f{number}-s{n}</guid><description>{words}</description></item>")
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Feed {number}</title>'
            f"<link>https://feed{number}.example/</link><description>bench</description>{''.join(items)}"
            "</channel></rss>").encode()


def _serve(feeds: int, latency: float, port_queue) -> None:
    generation = [0] * feeds
    slow = [False]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _send(self, status: int, body: bytes = b"", etag: str = "") -> None:
            self.send_response(status)
            if etag:
                self.send_header("ETag", etag)
            if status == 200:
                self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/_slow":
                slow[0] = True
                return self._send(204)
            if slow[0] and latency and not self.path.startswith("/_"):
                time.sleep(latency)
            if self.path.startswith("/_advance/"):
                # Give the next fifth of the feeds (by the cycle's number) two new stories each.
                cycle = int(self.path.rsplit("/", 1)[1])
                step = round(1 / CHANGED_SHARE)
                for number in range(cycle % step, feeds, step):
                    generation[number] += 1
                return self._send(204)
            number = int(self.path.rsplit("/", 1)[1])
            etag = f'"{number}-{generation[number]}"'
            if self.headers.get("If-None-Match") == etag:
                return self._send(304, etag=etag)
            self._send(200, feed_body(number, generation[number]), etag)

    # One server per loopback address (127.0.0.1 .. 127.0.0.HOSTS, one port): the feeds spread over that
    # many hosts, so the per-host limit applies as it would on the internet.
    first = BenchServer(("127.0.0.1", 0), Handler)
    servers = [first] + [BenchServer((f"127.0.0.{n}", first.server_address[1]), Handler)
                         for n in range(2, HOSTS + 1)]
    for httpd in servers[1:]:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
    port_queue.put(first.server_address[1])
    first.serve_forever()


def feed_url(port: int, number: int) -> str:
    return f"http://127.0.0.{number % HOSTS + 1}:{port}/feed/{number}"


def make_all_due(engine) -> None:
    with engine.begin() as connection:
        connection.execute(update(Feed).values(next_check_at=utcnow() - timedelta(seconds=1)))


def _worker(url: str, flags: dict, ready, start, results) -> None:
    from monitor.flow import FlowReport, analyse_and_mail, load_classifier
    from monitor.ingest.pipeline import run_cycle

    engine = make_engine(url)
    settings = load_settings(env={}, flags=flags)
    load_classifier(engine, settings)  # a running worker has its model loaded already
    ready.wait()
    start.wait()
    began = time.perf_counter()
    report = FlowReport(cycle=run_cycle(engine, settings))
    fetched = time.perf_counter()
    analyse_and_mail(engine, settings, report)
    done = time.perf_counter()
    results.put((len(report.cycle.outcomes), report.cycle.new_articles, report.classified, fetched - began,
                 done - began))
    engine.dispose()


def run_workers(count: int, url: str, flags: dict) -> tuple[float, list[tuple]]:
    context = multiprocessing.get_context("spawn")
    ready, start, results = context.Barrier(count + 1), context.Barrier(count + 1), context.Queue()
    processes = [context.Process(target=_worker, args=(url, flags, ready, start, results)) for _ in range(count)]
    for process in processes:
        process.start()
    ready.wait()
    began = time.perf_counter()
    start.wait()
    outcomes = [results.get(timeout=3600) for _ in processes]
    wall = time.perf_counter() - began
    for process in processes:
        process.join(30)
    return wall, outcomes


def bare_gets(port: int, feeds: int, etags: dict[int, str], threads: int) -> float:
    limits = httpx.Limits(max_connections=threads, max_keepalive_connections=threads)
    with httpx.Client(timeout=30, limits=limits) as client:
        def get(number: int) -> int:
            headers = {"If-None-Match": etags[number]} if number in etags else {}
            return client.get(feed_url(port, number), headers=headers).status_code
        start = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            statuses = list(pool.map(get, range(feeds)))
        elapsed = time.perf_counter() - start
    assert set(statuses) <= {200, 304}, set(statuses)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("feeds", nargs="?", type=int, default=10_000)
    parser.add_argument("--database-url")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds the server waits before answering")
    parser.add_argument("--fetch-workers", type=int, default=8)
    args = parser.parse_args()
    ports = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve, args=(args.feeds, args.latency, ports), daemon=True)
    server.start()
    port = ports.get(timeout=30)
    base = f"http://127.0.0.1:{port}"
    # The default per-host limit (2) applies, over HOSTS hosts; loopback feeds need allow_private_feeds.
    flags = {"fetch_workers": args.fetch_workers, "allow_private_feeds": True}
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        flags["database_url"] = url
        engine = make_engine(url)
        upgrade_store(engine)
        with session_scope(engine) as session:
            sync_feeds(session, [FeedSpec(name=f"feed {n}", url=feed_url(port, n)) for n in range(args.feeds)],
                       allow_private=True)  # the publishers are on loopback
        started = time.perf_counter()
        first_wall, first = run_workers(1, url, flags)
        print(f"first cycle (every feed new, {first[0][1]:,} articles stored and classified): {first_wall:.1f} s")

        httpx.get(f"{base}/_slow")
        results = {}
        for cycle, workers in ((1, 1), (2, 2)):
            httpx.get(f"{base}/_advance/{cycle}")
            make_all_due(engine)
            results[workers] = run_workers(workers, url, flags)
        # The bare baseline: the same mix of conditional GETs (a fifth changed), nothing parsed or stored.
        httpx.get(f"{base}/_advance/3")
        etags = {n: f'"{n}-{1 if n % 5 in (1, 2) else 0}"' for n in range(args.feeds)}
        bare = bare_gets(port, args.feeds, etags, args.fetch_workers)
        engine.dispose()
    server.terminate()

    backend = url.split(":", 1)[0]
    print(f"{args.feeds:,} feeds on loopback, steady-state cycle ({CHANGED_SHARE:.0%} changed, rest 304), "
          f"{backend} store, {HOSTS} hosts, {args.fetch_workers} fetch threads per worker, "
          f"{args.latency * 1000:.0f} ms server latency, {multiprocessing.cpu_count()} cores "
          f"(whole run {time.perf_counter() - started:.0f} s)")
    print(f"  bare conditional GETs, nothing parsed or stored   {bare:7.1f} s")
    for workers, (wall, outcomes) in results.items():
        feeds_done = sum(o[0] for o in outcomes)
        new = sum(o[1] for o in outcomes)
        classified = sum(o[2] for o in outcomes)
        fetch = max(o[3] for o in outcomes)
        print(f"  {workers} worker{'s' if workers > 1 else ' '}: cycle {wall:7.1f} s = {wall / bare:5.1f}x bare, "
              f"{wall / SCHEDULE_SECONDS:6.1%} of the 10-minute schedule "
              f"(fetch+store {fetch:.1f} s; {feeds_done:,} feeds, {new:,} new articles, {classified:,} classified; "
              f"per worker {', '.join(str(o[0]) for o in outcomes)} feeds)")
    one, two = results[1][0], results[2][0]
    print(f"  two workers vs one: {one / two:.2f}x faster; one worker keeps the schedule: "
          f"{'yes' if one < SCHEDULE_SECONDS else 'no'} ({SCHEDULE_SECONDS / one:.1f}x headroom)")


if __name__ == "__main__":
    main()
