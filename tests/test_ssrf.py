"""Feeds that cannot reach inside: loopback, private, link-local, metadata (and friends) are refused when a
feed is added and when it is fetched, at every redirect hop, with allow_private_feeds off (the default).

Names are resolved through a stand-in for the system resolver (socket.getaddrinfo), so names like
"intranet.example" resolve to the addresses a hostile or careless DNS answer would give. "Public" servers
are the loopback test server reached through a stand-in route: connections to PUBLIC_IP go to it, as the
internet would carry them to a real publisher.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest
from sqlmodel import Session, select

from monitor.ingest.address_guard import AddressGuard, AddressRefused, address_category
from monitor.ingest.feed_admin import FeedAdminError, add_feed
from monitor.ingest.feeds import FeedSpec, sync_feeds
from monitor.ingest.fetch import FetchLimits, FetchRequest, fetch_feed, make_client
from monitor.store.db import session_scope
from monitor.store.schema import Feed
from tests.feed_server import Response

PUBLIC_ROUTE = "93.184.215.14"  # a public address (is_global) that the stand-in route sends to loopback
GUARDED = FetchLimits(connect_timeout=2, deadline=4, max_bytes=1024 * 1024)  # allow_private off: the default

NAMES = {
    "news.example": [PUBLIC_ROUTE],
    "intranet.example": ["10.20.30.40"],
    "metadata.example": ["169.254.169.254"],
    "mapped.example": ["::ffff:127.0.0.1"],
    "mixed.example": [PUBLIC_ROUTE, "192.168.1.10"],
    "v6-local.example": ["fd12:3456::1"],
}


@pytest.fixture(autouse=True)
def guard_on(monkeypatch):
    """These tests check the default: conftest allows private feeds for the loopback servers elsewhere."""
    monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_FEEDS", "false")


@pytest.fixture
def internet(monkeypatch, feed_server):
    """Resolve the names above, and carry connections to PUBLIC_ROUTE to the loopback test server."""
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.create_connection
    resolved: list[str] = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host in NAMES:
            resolved.append(host)
            return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                    for a in NAMES[host]]
        return real_getaddrinfo(host, port, *args, **kwargs)

    connected: list[tuple[str, int]] = []

    def create_connection(address, *args, **kwargs):
        connected.append(address)
        host, _port = address
        if host == PUBLIC_ROUTE:
            return real_connect(("127.0.0.1", feed_server.httpd.server_address[1]), *args, **kwargs)
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    feed_server.public = lambda path, host="news.example": f"http://{host}:{feed_server.httpd.server_address[1]}{path}"
    feed_server.connected = connected
    feed_server.resolved = resolved
    return feed_server


@pytest.mark.parametrize("address, category", [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
    ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.0.1", "private"), ("fd00::1", "private"),
    ("fec0::1", "private"),
    ("169.254.10.10", "link-local"), ("fe80::1", "link-local"),
    ("169.254.169.254", "cloud-metadata"), ("fd00:ec2::254", "cloud-metadata"), ("168.63.129.16", "cloud-metadata"),
    ("100.100.100.200", "cloud-metadata"),
    ("224.0.0.1", "multicast"), ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("240.0.0.1", "reserved"), ("100.64.0.1", "non-public"),
    # IPv6 forms that carry an IPv4 address reach that address.
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:169.254.169.254", "cloud-metadata"), ("64:ff9b::a00:1", "private"),
    ("2002:c0a8:0101::1", "private"),
    ("8.8.8.8", None), ("2606:4700:4700::1111", None), (PUBLIC_ROUTE, None),
])
def test_address_categories(address, category):
    assert address_category(ipaddress.ip_address(address)) == category


def test_allow_private_opens_labs_but_never_metadata_or_unspecified():
    lab = AddressGuard(allow_private=True, resolver=lambda host, port: NAMES[host])
    assert lab.checked_addresses("intranet.example", 80) == ["10.20.30.40"]
    with pytest.raises(AddressRefused, match="cloud-metadata"):
        lab.checked_addresses("metadata.example", 80)
    with pytest.raises(AddressRefused, match="unspecified"):
        lab.checked_addresses("0.0.0.0", 80)


def test_a_name_with_any_inside_address_is_refused():
    guard = AddressGuard(resolver=lambda host, port: NAMES[host])
    with pytest.raises(AddressRefused) as refused:
        guard.checked_addresses("mixed.example", 80)
    assert str(refused.value).startswith("mixed.example resolves to 192.168.1.10, a private address")
    assert "allow_private_feeds" in str(refused.value)


@pytest.mark.parametrize("host, why", [
    ("127.0.0.1", "127.0.0.1 is a loopback address"),
    ("localhost", "localhost resolves to"),
    ("[::1]", "::1 is a loopback address"),
    ("[::ffff:7f00:1]", "::ffff:7f00:1 is a loopback address"),
    ("intranet.example", "intranet.example resolves to 10.20.30.40, a private address"),
    ("metadata.example", "169.254.169.254, a cloud-metadata address"),
    ("mapped.example", "mapped.example resolves to ::ffff:127.0.0.1, a loopback address"),
    ("v6-local.example", "fd12:3456::1, a private address"),
])
def test_fetching_an_inside_address_is_refused_before_any_connection(internet, host, why):
    internet.routes["/feed"] = Response(200, b"<rss/>")
    with make_client(GUARDED) as client:
        result = fetch_feed(client, FetchRequest(internet.public("/feed", host)), GUARDED)
    assert result.error_kind == "address" and why in result.error and result.body == b""
    assert "feeds may only reach public internet addresses" in result.error
    assert internet.hits("/feed") == 0 and internet.connected == []


def test_a_public_feed_is_fetched(internet):
    internet.routes["/feed"] = Response(200, b"<rss/>")
    with make_client(GUARDED) as client:
        result = fetch_feed(client, FetchRequest(internet.public("/feed")), GUARDED)
    assert result.ok and result.body == b"<rss/>"
    assert internet.connected == [(PUBLIC_ROUTE, internet.httpd.server_address[1])]


@pytest.mark.parametrize("location", [
    "http://127.0.0.1:{port}/inside",
    "http://localhost:{port}/inside",
    "http://intranet.example:{port}/inside",
    "http://metadata.example/latest/meta-data/",
    "http://[::ffff:127.0.0.1]:{port}/inside",
    "http://169.254.169.254/latest/meta-data/iam/",
])
def test_a_redirect_into_the_network_is_refused_at_that_hop(internet, location):
    port = internet.httpd.server_address[1]
    internet.routes["/moved"] = Response(302, headers={"Location": location.format(port=port)})
    internet.routes["/inside"] = Response(200, b"<rss><channel><title>secret</title></channel></rss>")
    with make_client(GUARDED) as client:
        result = fetch_feed(client, FetchRequest(internet.public("/moved")), GUARDED)
    assert result.error_kind == "address" and result.body == b""
    assert result.error.startswith("refused http")
    assert internet.hits("/moved") == 1 and internet.hits("/inside") == 0
    assert {host for host, _ in internet.connected} == {PUBLIC_ROUTE}


def test_a_name_that_changes_its_answer_between_check_and_connect_is_never_connected_inside(internet, monkeypatch):
    """DNS rebinding: the first answer is public, the next one loopback. The transport connects only to
    what it checked itself, so the second answer is refused, not connected to."""
    answers = iter([[PUBLIC_ROUTE], ["127.0.0.1"], ["127.0.0.1"]])
    NAMES_REBIND = {"rebind.example"}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in NAMES_REBIND:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in next(answers)]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    internet.routes["/feed"] = Response(200, b"<rss/>")
    with make_client(GUARDED) as client:
        result = fetch_feed(client, FetchRequest(internet.public("/feed", "rebind.example")), GUARDED)
    assert result.error_kind == "address" and "rebind.example resolves to 127.0.0.1" in result.error
    assert internet.connected == [] and internet.hits("/feed") == 0


def test_allow_private_feeds_fetches_loopback(feed_server):
    feed_server.routes["/feed"] = Response(200, b"<rss/>")
    lab = FetchLimits(connect_timeout=2, deadline=4, allow_private=True)
    with make_client(lab) as client:
        assert fetch_feed(client, FetchRequest(feed_server.url("/feed")), lab).ok


# --- Adding feeds -----------------------------------------------------------------------------------------


def test_cli_feeds_add_refuses_an_inside_address(run_cli, initialised, internet):
    output = run_cli("feeds", "add", "Intranet", "http://intranet.example/rss", expect=1).output
    assert "feed refused: intranet.example resolves to 10.20.30.40, a private address" in output
    assert "allow_private_feeds" in output
    output = run_cli("feeds", "add", "Metadata", "http://169.254.169.254/latest/", expect=1).output
    assert "cloud-metadata" in output
    run_cli("feeds", "add", "Radio", "http://news.example/rss")
    assert "Radio" in run_cli("feeds", "list").output and "Intranet" not in run_cli("feeds", "list").output


def test_cli_feeds_add_with_the_setting_on_allows_a_lab_server(run_cli, initialised, internet):
    run_cli("--set", "allow_private_feeds=true", "feeds", "add", "Lab", "http://intranet.example/rss")
    assert "Lab" in run_cli("feeds", "list").output


def test_feeds_file_sync_refuses_inside_addresses_and_syncs_the_rest(run_cli, database_url, feeds_file, internet):
    feeds = feeds_file(("Public", "http://news.example/rss"), ("Inside", "http://localhost:8080/rss"),
                       ("Cloud", "http://metadata.example/latest/"))
    output = run_cli("--feeds-file", str(feeds), "init").output
    assert "1 added" in output
    assert "Refused feed 'Inside': localhost resolves to" in output and "Refused feed 'Cloud'" in output
    from monitor.store.db import make_engine

    engine = make_engine(database_url)
    with Session(engine) as session:
        assert sorted(session.exec(select(Feed.name))) == ["Public"]
    # A known feed moved to an inside address keeps its old, checked URL.
    with session_scope(engine) as session:
        result = sync_feeds(session, [FeedSpec("Public", "http://[::1]/rss")])
        assert result.refused and session.exec(select(Feed.url)).one() == "http://news.example/rss"
    engine.dispose()


def test_library_add_feed_refuses_by_default(engine, internet):
    with session_scope(engine) as session, pytest.raises(FeedAdminError, match="mapped.example resolves to"):
        add_feed(session, "Mapped", "http://mapped.example/rss", "ana")
