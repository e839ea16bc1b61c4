"""`monitor poll` end to end against feeds served on loopback: dedup, health, schedules, bad input."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlmodel import Session, func, select

from monitor.store.db import make_engine
from monitor.store.schema import Article, ArticleSource, Feed, utcnow
from tests.feed_server import FIXTURES, Response


@pytest.fixture
def store(run_cli, database_url, feeds_file, feed_server):
    """A store whose feeds.yaml points at the loopback server; returns a helper to (re)write the feeds."""
    def setup(*feeds, **extra):
        path = feeds_file(*[(name, feed_server.url(path)) for name, path in feeds], **extra)
        run_cli("--feeds-file", str(path), "init")
        return path
    return setup


def _count(database_url, model, *where):
    engine = make_engine(database_url)
    with Session(engine) as session:
        query = select(func.count()).select_from(model)
        for clause in where:
            query = query.where(clause)
        count = session.exec(query).one()
    engine.dispose()
    return count


def _feed(database_url, name) -> Feed:
    engine = make_engine(database_url)
    with Session(engine) as session:
        feed = session.exec(select(Feed).where(Feed.name == name)).one()
    engine.dispose()
    return feed


def test_the_same_story_in_two_feeds_is_stored_once_with_both_feeds(store, run_cli, feed_server, database_url):
    feed_server.serve_file("/wire", "levant_wire.xml")
    feed_server.serve_file("/second", "second_outlet.xml")
    store(("Levant Wire", "/wire"), ("Second Outlet", "/second"))
    # The wire first, so the stored text is deterministically the wire's (the first copy seen is kept).
    said = run_cli("poll", "--feed", "Levant Wire").output
    assert "1 feeds: 1 fetched, 0 not modified, 0 failed; 3 new articles." in said
    output = run_cli("poll").output
    assert "1 feeds: 1 fetched, 0 not modified, 0 failed; 1 new articles." in output
    assert _count(database_url, Article) == 4
    engine = make_engine(database_url)
    with Session(engine) as session:
        attack = session.exec(select(Article).where(Article.title.like("Gunmen attack prison%"))).one()
        carriers = session.exec(select(func.count()).select_from(ArticleSource)
                                .where(ArticleSource.article_id == attack.id)).one()
    engine.dispose()
    assert carriers == 2
    assert attack.url == "https://levantwire.example/2026/11/20/hasakah-prison-attack"
    assert "Ghwayran prison" in attack.summary and "steal()" not in attack.summary and "<" not in attack.summary
    assert attack.published_at.isoformat() == "2026-11-20T18:40:00+00:00"

    again = run_cli("poll", "--all").output
    assert "0 new articles" in again
    assert _count(database_url, Article) == 4 and _count(database_url, ArticleSource) == 5


def test_304_answers_are_not_modified_and_fetch_nothing(store, run_cli, feed_server, database_url):
    body = (FIXTURES / "levant_wire.xml").read_bytes()

    def route(handler):
        if handler.headers.get("If-None-Match") == '"w1"':
            return Response(304, headers={"ETag": '"w1"'})
        return Response(200, body, {"ETag": '"w1"', "Content-Type": "application/rss+xml"})

    feed_server.routes["/wire"] = route
    store(("Levant Wire", "/wire"))
    run_cli("poll")
    assert "1 not modified" in run_cli("poll", "--all").output
    feed = _feed(database_url, "Levant Wire")
    assert feed.etag == '"w1"' and feed.last_status == 304 and feed.consecutive_errors == 0


def test_a_failing_feed_backs_off_then_recovers(store, run_cli, feed_server, database_url):
    answers = iter([Response(500, b"oops"), Response(500, b"oops again")])
    body = (FIXTURES / "levant_wire.xml").read_bytes()
    feed_server.routes["/flaky"] = lambda handler: next(answers, Response(200, body))
    store(("Flaky", "/flaky"), interval_minutes=10)
    before = utcnow()
    assert "failed: Flaky: HTTP 500" in run_cli("poll").output
    first = _feed(database_url, "Flaky")
    run_cli("poll", "--all")
    second = _feed(database_url, "Flaky")
    assert (first.consecutive_errors, second.consecutive_errors) == (1, 2)
    # Backoff doubles the 10-minute interval per consecutive error.
    assert second.next_check_at - before >= timedelta(minutes=19)
    assert "1 fetched" in run_cli("poll", "--all").output
    recovered = _feed(database_url, "Flaky")
    assert recovered.consecutive_errors == 0 and recovered.last_error is None and recovered.last_success_at


def test_repeated_failures_park_a_feed_until_it_is_re_enabled(store, run_cli, feed_server, database_url):
    feed_server.routes["/dead"] = Response(404, b"gone")
    store(("Dead", "/dead"))
    run_cli("--set", "park_after_errors=2", "poll", "--all")
    output = run_cli("--set", "park_after_errors=2", "poll", "--all").output
    assert "(parked)" in output
    listing = run_cli("feeds", "list").output
    assert "parked" in listing and "HTTP 404" in listing
    rows = [json.loads(line) for line in run_cli("feeds", "list", "--json").output.splitlines()]
    assert rows[0]["parked"] is True
    # A parked feed is not due, even when its time comes.
    engine = make_engine(database_url)
    from monitor.store.db import session_scope
    with session_scope(engine) as session:
        session.exec(select(Feed).where(Feed.name == "Dead")).one().next_check_at = utcnow() - timedelta(hours=1)
    engine.dispose()
    assert "No feeds are due." in run_cli("poll").output
    run_cli("feeds", "enable", "Dead")
    assert not _feed(database_url, "Dead").parked_at


def test_retry_after_and_cache_control_push_the_next_check_back(store, run_cli, feed_server, database_url):
    feed_server.routes["/busy"] = Response(429, b"", {"Retry-After": "7200"})
    feed_server.serve_file("/cached", "levant_wire.xml", **{"Cache-Control": "public, max-age=5400"})
    store(("Busy", "/busy"), ("Cached", "/cached"))
    start = utcnow()
    run_cli("poll")
    assert _feed(database_url, "Busy").next_check_at - start >= timedelta(hours=2)
    assert _feed(database_url, "Cached").next_check_at - start >= timedelta(minutes=89)


def test_the_feeds_ttl_is_honoured_when_longer_than_its_interval(store, run_cli, feed_server, database_url):
    feed_server.serve_file("/wire", "levant_wire.xml")  # <ttl>30</ttl>
    store(("Levant Wire", "/wire"), interval_minutes=10)
    start = utcnow()
    run_cli("poll")
    delay = _feed(database_url, "Levant Wire").next_check_at - start
    assert timedelta(minutes=29) <= delay <= timedelta(minutes=31)


def test_bad_feeds_are_recorded_and_never_stop_the_cycle(store, run_cli, feed_server, database_url):
    feed_server.routes["/html"] = Response(200, b"<html><body><h1>Subscribe!</h1></body></html>",
                                           {"Content-Type": "text/html"})
    feed_server.serve_file("/broken", "broken.xml")
    feed_server.routes["/slow"] = Response(200, b"<rss>" + b" " * 30_000, drip=0.3)
    feed_server.serve_file("/latin1", "latin1.xml", content_type="application/rss+xml; charset=utf-8")
    feed_server.serve_file("/atom", "atom_no_encoding.xml", content_type="application/atom+xml")
    store(("HTML page", "/html"), ("Broken", "/broken"), ("Slow", "/slow"), ("Latin-1", "/latin1"),
          ("Atom", "/atom"))
    output = run_cli("--set", "fetch_timeout_seconds=2", "poll").output
    assert "5 feeds: 3 fetched, 0 not modified, 2 failed" in output
    assert "failed: HTML page: " in output and "not an RSS or Atom feed" in output
    assert "failed: Slow: " in output
    assert "warning: Broken: malformed feed" in output
    engine = make_engine(database_url)
    with Session(engine) as session:
        titles = set(session.exec(select(Article.title)))
    engine.dispose()
    assert "Tentative d'évasion déjouée à la prison centrale" in titles  # declared utf-8, really latin-1
    assert "Inmates riot over food shortages at city jail" in titles
    assert "Jailbreak reported in northern town" in titles


def test_an_entity_expansion_bomb_is_defused(store, run_cli, feed_server, database_url):
    entities = "".join(f'<!ENTITY e{i} "{"&e%d;" % (i - 1) * 10}">' for i in range(1, 10))
    bomb = (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY e0 "lol">{entities}]>'
            '<rss version="2.0"><channel><title>Bomb</title><item><title>&e9;</title>'
            '<link>https://bomb.example/1</link></item></channel></rss>').encode()
    feed_server.routes["/bomb"] = Response(200, bomb, {"Content-Type": "application/rss+xml"})
    store(("Bomb", "/bomb"))
    output = run_cli("poll").output
    assert "removed an inline DOCTYPE with entity declarations" in output
    engine = make_engine(database_url)
    with Session(engine) as session:
        longest = max(len(t) for t in session.exec(select(Article.title)))
    engine.dispose()
    assert longest < 100


def test_poll_one_feed_by_name(store, run_cli, feed_server, database_url):
    feed_server.serve_file("/wire", "levant_wire.xml")
    feed_server.serve_file("/second", "second_outlet.xml")
    store(("Levant Wire", "/wire"), ("Second Outlet", "/second"))
    assert "1 feeds: 1 fetched" in run_cli("poll", "--feed", "Second Outlet").output
    assert feed_server.hits("/wire") == 0
    assert "no feed named 'Nope'" in run_cli("poll", "--feed", "Nope", expect=1).output


def test_feeds_file_changes_are_synced_keeping_history(store, run_cli, feed_server, database_url, feeds_file):
    feed_server.serve_file("/wire", "levant_wire.xml")
    feed_server.serve_file("/second", "second_outlet.xml")
    store(("Levant Wire", "/wire"), ("Second Outlet", "/second"))
    run_cli("poll")
    path = feeds_file(("Levant Wire", feed_server.url("/wire?edition=intl")), ("New One", feed_server.url("/second")))
    output = run_cli("--feeds-file", str(path), "init").output
    assert "Feeds: 1 added, 1 changed, 1 removed, 0 unchanged." in output
    removed = _feed(database_url, "Second Outlet")
    assert removed.removed_at is not None and not removed.enabled
    assert _count(database_url, ArticleSource, ArticleSource.feed_id == removed.id) == 2  # its history stays
    assert "removed" in run_cli("feeds", "list").output
