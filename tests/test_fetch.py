"""Fetching against a real loopback HTTP server: conditional GET, limits, hostile servers."""

from __future__ import annotations

import gzip
import time
import zlib
from datetime import timedelta

import pytest

from monitor.ingest.fetch import USER_AGENT, FetchLimits, FetchRequest, fetch_feed, make_client, parse_retry_after
from tests.feed_server import Response

# The test server is on loopback: allowed here as the allow_private_feeds setting allows it (tests/test_ssrf.py).
LIMITS = FetchLimits(connect_timeout=2, deadline=2, max_bytes=1024 * 1024, allow_private=True)


@pytest.fixture
def client():
    with make_client(LIMITS) as client:
        yield client


def test_conditional_get_sends_validators_and_handles_304(feed_server, client):
    def route(handler):
        if handler.headers.get("If-None-Match") == '"v1"':
            return Response(304, headers={"ETag": '"v1"'})
        return Response(200, b"<rss/>", {"ETag": '"v1"', "Last-Modified": "Fri, 20 Nov 2026 10:00:00 GMT"})

    feed_server.routes["/feed"] = route
    first = fetch_feed(client, FetchRequest(feed_server.url("/feed")), LIMITS)
    assert first.ok and first.headers["etag"] == '"v1"'
    second = fetch_feed(client, FetchRequest(feed_server.url("/feed"), etag='"v1"',
                                             last_modified=first.headers["last-modified"]), LIMITS)
    assert second.not_modified and second.error is None and second.body == b""
    sent = feed_server.requests[-1][1]
    assert sent["If-None-Match"] == '"v1"' and sent["If-Modified-Since"] == "Fri, 20 Nov 2026 10:00:00 GMT"
    assert sent["User-Agent"] == USER_AGENT


@pytest.mark.parametrize("status, header, expected", [
    (429, "120", timedelta(seconds=120)),
    (503, "Wed, 21 Oct 2099 07:28:00 GMT", None),
])
def test_retry_after_is_read_on_429_and_503(feed_server, client, status, header, expected):
    feed_server.routes["/busy"] = Response(status, b"slow down", {"Retry-After": header})
    result = fetch_feed(client, FetchRequest(feed_server.url("/busy")), LIMITS)
    assert result.error == f"HTTP {status} {'Too Many Requests' if status == 429 else 'Service Unavailable'}"
    if expected is not None:
        assert result.retry_after == expected
    else:
        assert result.retry_after > timedelta(days=365)


def test_retry_after_parsing_tolerates_junk():
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert parse_retry_after("0") == timedelta(0)


def test_a_slow_server_hits_the_deadline(feed_server, client):
    feed_server.routes["/slow"] = Response(200, b"x" * 20_000, {"Content-Type": "application/rss+xml"}, drip=0.2)
    started = time.monotonic()
    result = fetch_feed(client, FetchRequest(feed_server.url("/slow")), LIMITS)
    assert result.error_kind == "timeout"
    assert time.monotonic() - started < LIMITS.deadline + 1.5


def test_a_server_that_never_answers_hits_the_deadline(feed_server, client):
    feed_server.routes["/silent"] = Response(200, b"<rss/>", delay=4)
    result = fetch_feed(client, FetchRequest(feed_server.url("/silent")), LIMITS)
    assert result.error_kind == "timeout"


def test_an_oversized_body_is_refused(feed_server, client):
    feed_server.routes["/declared"] = Response(200, b"x" * (LIMITS.max_bytes + 10))
    assert fetch_feed(client, FetchRequest(feed_server.url("/declared")), LIMITS).error_kind == "too_large"
    # No Content-Length: the cap applies while streaming.
    feed_server.routes["/streamed"] = Response(200, b"y" * (LIMITS.max_bytes + 5000), drip=0)
    assert fetch_feed(client, FetchRequest(feed_server.url("/streamed")), LIMITS).error_kind == "too_large"


def test_a_gzip_bomb_is_stopped_at_the_decompressed_cap(feed_server, client):
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024), compresslevel=9)  # 50 MB that packs to ~50 KB
    assert len(bomb) < LIMITS.max_bytes
    feed_server.routes["/bomb"] = Response(200, bomb, {"Content-Encoding": "gzip"})
    result = fetch_feed(client, FetchRequest(feed_server.url("/bomb")), LIMITS)
    assert result.error_kind == "too_large" and "decompressed" in result.error


def test_gzip_and_deflate_bodies_are_decoded(feed_server, client):
    body = b"<rss><channel><title>Zipped</title></channel></rss>"
    feed_server.routes["/gz"] = Response(200, gzip.compress(body), {"Content-Encoding": "gzip"})
    feed_server.routes["/deflate"] = Response(200, zlib.compress(body), {"Content-Encoding": "deflate"})
    for path in ("/gz", "/deflate"):
        result = fetch_feed(client, FetchRequest(feed_server.url(path)), LIMITS)
        assert result.ok and result.body == body and "content-encoding" not in result.headers


def test_a_redirect_loop_stops_after_five_hops(feed_server, client):
    feed_server.routes["/a"] = Response(302, headers={"Location": "/b"})
    feed_server.routes["/b"] = Response(301, headers={"Location": "/a"})
    result = fetch_feed(client, FetchRequest(feed_server.url("/a")), LIMITS)
    assert result.error_kind == "redirect" and "more than 5 redirects" in result.error
    assert feed_server.hits("/a") + feed_server.hits("/b") == 6


def test_redirects_are_followed_but_never_to_another_scheme(feed_server, client):
    feed_server.routes["/moved"] = Response(301, headers={"Location": "/feed"})
    feed_server.routes["/feed"] = Response(200, b"<rss/>")
    result = fetch_feed(client, FetchRequest(feed_server.url("/moved")), LIMITS)
    assert result.ok and result.final_url.endswith("/feed")
    feed_server.routes["/sneaky"] = Response(302, headers={"Location": "file:///etc/passwd"})
    result = fetch_feed(client, FetchRequest(feed_server.url("/sneaky")), LIMITS)
    assert result.error_kind == "scheme"


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/feed", "/etc/passwd", "gopher://x"])
def test_only_http_and_https_are_fetched(client, url):
    result = fetch_feed(client, FetchRequest(url), LIMITS)
    assert result.error_kind in ("scheme", "url") and result.body == b""


def test_a_refused_connection_is_an_error_not_an_exception(client):
    result = fetch_feed(client, FetchRequest("http://127.0.0.1:9/feed"), LIMITS)
    assert result.error_kind == "network" and result.status is None
