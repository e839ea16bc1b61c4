"""Ingestion benchmark: feeds served on loopback, through the whole fetch→parse→store cycle, and a burst
through alerts.

Prints, from one run (these machines are noisy, so only ratios within a run mean anything):
  1. pipeline entries/s vs bare `feedparser.parse` on the same bytes   (target: pipeline >= 0.5x bare)
  2. a second cycle where every feed answers 304                       (target: >= 10x faster than the first)
  3. the first cycle again on a store already holding 10x more articles (target: within 1.3x)

    python bench/ingest.py [FEEDS] [ENTRIES]                  (default 200 x 50)

The burst (`burst`, default 400 feeds x 50 entries) is a big story's day: a fifth or so of the entries
carry a signal, many of them the same reports under many mastheads. It prints
  4. `monitor poll --all` end to end (fetch, parse, store, classify and link, alerts, mail queue) against
     bare `feedparser.parse` plus bare classification of the same entries   (target: within 3x)
  5. one more article joining an alert that already holds 2,000             (target: under 50 ms)

    python bench/ingest.py burst [FEEDS] [ENTRIES]

Feeds are generated here: synthetic filler and the training corpus's own examples (our writing), kept in a
temporary folder only.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import feedparser
from sqlalchemy import insert

from monitor.facilities.knowledge_base import load_knowledge_base
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
        sync_feeds(session, [FeedSpec(name=path, url=server.url(path)) for path in paths], allow_private=True)
    return engine


def timed_cycle(engine, settings):
    start = time.perf_counter()
    report = run_cycle(engine, settings, all_feeds=True)
    return time.perf_counter() - start, report


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "burst":
        burst(int(sys.argv[2]) if len(sys.argv) > 2 else 400, int(sys.argv[3]) if len(sys.argv) > 3 else 50)
        return
    feeds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    entries = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    total = feeds * entries
    bodies = {f"/feed/{n}": make_feed(n, entries, "a") for n in range(feeds)}
    server = Server(bodies)
    paths = sorted(bodies)
    # One loopback host serves every feed here, so the per-host limit is lifted to the pool size.
    # The publishers are on loopback, which feeds may reach only with allow_private_feeds.
    settings = load_settings(env={}, flags={"fetch_per_host": 8, "fetch_workers": 8, "allow_private_feeds": True})

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


# --- The burst --------------------------------------------------------------------------------------------

# A fixed share of entries comes from the corpus, about half of which the model finds a signal in.
CORPUS_SHARE = 0.36


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def make_burst_feed(feed_no: int, entries: int, documents: list[dict], rng) -> bytes:
    start = datetime.now(timezone.utc) - timedelta(hours=2)
    items = []
    for n in range(entries):
        if rng.random() < CORPUS_SHARE:
            # Popular reports are carried by many outlets: a skewed pick makes wire copies and big stories.
            document = documents[min(int(rng.paretovariate(1.2)) - 1, len(documents) - 1) if rng.random() < 0.5
                                 else rng.randrange(len(documents))]
            title, text = document["title"] or document["text"][:80], document["text"]
        else:
            title = f"Item {n} of bench feed {feed_no}"
            text = " ".join(WORDS[(feed_no * 7 + n * 3 + k) % len(WORDS)] for k in range(40))
        when = format_datetime(start - timedelta(minutes=n))
        items.append(f"<item><title>{_escape(title)}</title><link>https://burst{feed_no}.example/story/{n}</link>"
                     f"<guid isPermaLink=\"false\">burst-{feed_no}-{n}</guid><pubDate>{when}</pubDate>"
                     f"<description>{_escape(_escape(text))}</description></item>")
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Outlet {feed_no}</title>'
            f"<link>https://burst{feed_no}.example/</link><description>benchmark</description>"
            + "".join(items) + "</channel></rss>").encode()


def burst(feeds: int, entries: int) -> None:
    import random

    from sqlalchemy import func
    from sqlmodel import Session, select

    from monitor.classify.corpus import load_corpus
    from monitor.classify.model import load_packaged_model
    from monitor.classify.train import document_for
    from monitor.flow import FlowReport, classify_new_articles, queue_alerts
    from monitor.notify.outbox import send_due
    from monitor.store.schema import Alert, AlertArticle, Subscriber

    rng = random.Random(14)
    documents = [document_for(example) for example in load_corpus()]
    rng.shuffle(documents)
    total = feeds * entries
    bodies = {f"/feed/{n}": make_burst_feed(n, entries, documents, rng) for n in range(feeds)}
    server = Server(bodies)
    paths = sorted(bodies)
    settings = load_settings(env={}, flags={"fetch_per_host": 8, "fetch_workers": 8, "allow_private_feeds": True})
    classifier = load_packaged_model()

    # Bare: feedparser on the bytes, then the model's predict on the parsed entries, nothing stored.
    start = time.perf_counter()
    parsed = [feedparser.parse(body) for body in bodies.values()]
    bare_parse = time.perf_counter() - start
    bare_documents = [{"title": e.get("title", ""), "text": e.get("summary", "")} for p in parsed for e in p.entries]
    assert len(bare_documents) == total
    start = time.perf_counter()
    predictions = classifier.predict(bare_documents)
    bare_classify = time.perf_counter() - start
    bare_signal = sum(1 for p in predictions if p.labels)
    # The bare TF-IDF + LogisticRegression of bench/classify.py, on the same texts, for reference.
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts = [f"{d['title']} {d['text']}" for d in bare_documents]
    vectorizer = TfidfVectorizer(sublinear_tf=True, min_df=2, ngram_range=(1, 2))
    corpus = load_corpus()
    model = LogisticRegression(max_iter=200).fit(
        vectorizer.fit_transform([e.text for e in corpus]), [bool(e.labels) for e in corpus])
    start = time.perf_counter()
    model.predict(vectorizer.transform(texts))
    bare_tfidf = time.perf_counter() - start
    del parsed

    with tempfile.TemporaryDirectory() as folder:
        engine = new_store(Path(folder), "burst.db", server, paths, settings)
        with session_scope(engine) as session:
            load_knowledge_base(session)  # the bundled facilities, as `monitor init` loads them
            session.add(Subscriber(email="desk@example.org"))
            session.add(Subscriber(email="syria@example.org", countries=["SY"], min_severity="high"))
        report = FlowReport()
        from monitor.flow import load_classifier

        load_classifier(engine, settings)  # a running worker has its model loaded already, as bare has
        # What `monitor poll --all` runs (monitor.flow.run_poll), phase by phase; sending is not configured.
        start = time.perf_counter()
        report.cycle = run_cycle(engine, settings, all_feeds=True)
        fetched = time.perf_counter()
        classify_new_articles(engine, settings, report)
        classified = time.perf_counter()
        queue_alerts(engine, settings, report)
        send_due(engine, settings)
        end = time.perf_counter()
        assert report.cycle.new_articles == total, report.cycle.summary()
        with Session(engine) as session:
            signal = session.exec(select(func.count(func.distinct(AlertArticle.article_id)))).one()
            alerts = session.exec(select(func.count(Alert.id))).one()
            biggest = session.exec(select(func.count()).select_from(AlertArticle).group_by(AlertArticle.alert_id)
                                   .order_by(func.count().desc()).limit(1)).first()
        engine.dispose()

        join_times, small_join_times = join_benchmark(Path(folder), 2000), join_benchmark(Path(folder), 20)
    server.stop()

    end_to_end = end - start
    bare = bare_parse + bare_classify
    print(f"burst: {feeds} feeds x {entries} entries = {total:,} new entries on loopback (SQLite store), "
          f"{bare_signal:,} with a signal (model on the bare entries)")
    print(f"  bare feedparser.parse                       {bare_parse:7.2f} s")
    print(f"  bare classification (the model's predict)   {bare_classify:7.2f} s")
    print(f"  bare TF-IDF(1-2) + LR predict, reference    {bare_tfidf:7.2f} s")
    print(f"  poll --all end to end                       {end_to_end:7.2f} s   -> {end_to_end / bare:.2f}x bare "
          f"parse + bare classification (target <= 3); {end_to_end / (bare_parse + bare_tfidf):.2f}x bare parse "
          f"+ bare TF-IDF+LR")
    print(f"    fetch, parse, store {fetched - start:6.2f} s | classify and link {classified - fetched:6.2f} s | "
          f"alerts, risk, mail queue {end - classified:6.2f} s")
    print(f"    {signal:,} signal articles in {alerts:,} alerts (largest {biggest or 0:,} articles), "
          f"{report.queued} notifications queued")
    print(f"  join one article to an alert of 2,000: median {statistics.median(join_times) * 1000:6.1f} ms, "
          f"max {max(join_times) * 1000:6.1f} ms over {len(join_times)} joins (target < 50 ms); "
          f"to an alert of 20: median {statistics.median(small_join_times) * 1000:6.1f} ms")


def join_benchmark(folder: Path, size: int, joins: int = 20) -> list[float]:
    """Seconds for `build_alerts` to add one article to an alert of `size`, once per join, `joins` times."""
    import random

    from sqlmodel import Session, select

    from monitor.alerts.events import build_alerts
    from monitor.store.schema import Classification, Facility, FacilityMention

    engine = make_engine(f"sqlite:///{folder / f'join{size}.db'}")
    upgrade_store(engine)
    with session_scope(engine) as session:
        load_knowledge_base(session)
    with Session(engine) as session:
        facility_id = session.exec(select(Facility.id).where(Facility.slug == "ghwayran-prison")).one()
    rng = random.Random(size)
    outlets = 400
    leads = [" ".join(rng.choice(WORDS) + str(rng.randrange(3000)) for _ in range(30)) for _ in range(outlets)]
    now = datetime.now(timezone.utc)

    def add_articles(first: int, count: int) -> list[int]:
        rows = [{"url": f"https://outlet{n % outlets}.example/{n}",
                 "content_key": hashlib.sha256(f"{size}-{n}".encode()).hexdigest(),
                 "title": f"Prison break report {n}", "summary": f"{leads[n % outlets]} update {n}",
                 "outlet": f"Outlet {n % outlets}", "published_at": now, "first_seen_at": now, "classified_at": now}
                for n in range(first, first + count)]
        with session_scope(engine) as session:
            session.execute(insert(Article), rows)
            ids = list(session.exec(select(Article.id).where(Article.id > first).order_by(Article.id)))
            session.execute(insert(Classification), [{"article_id": i, "model_version": "bench",
                                                      "labels": ["prison_break"], "scores": {}} for i in ids])
            session.execute(insert(FacilityMention), [{"article_id": i, "facility_id": facility_id, "role": "primary",
                                                       "confidence": 0.9, "matched": "Ghwayran prison"} for i in ids])
        return ids

    build_alerts(engine, add_articles(0, size))
    times = []
    for n in range(joins):
        [article_id] = add_articles(size + n, 1)
        start = time.perf_counter()
        changes = build_alerts(engine, [article_id])
        times.append(time.perf_counter() - start)
        assert changes.joined and not changes.created
    engine.dispose()
    return times


if __name__ == "__main__":
    main()
