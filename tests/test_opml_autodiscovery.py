"""`monitor feeds add URL` finds a page's feed over real loopback HTTP; OPML import/export, parsed safely,
all-or-nothing."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from monitor.ingest.opml import FeedSourceError, feed_links, read_opml
from monitor.settings import SETTINGS_BY_NAME
from monitor.store.db import make_engine
from monitor.store.schema import Feed
from tests.feed_server import Response

# After branch `bursts` lands, loopback feeds need its allow_private_feeds setting on.
LOOPBACK = ["--set", "allow_private_feeds=true"] if "allow_private_feeds" in SETTINGS_BY_NAME else []
PAGE = b"""<!doctype html><html><head><title>Desk</title>
<link rel="stylesheet" href="/s.css">
<link rel="alternate" type="application/rss+xml" title="Desk feed" href="/wire">
</head><body><p>Our own test page.</p></body></html>"""


def _feeds(url):
    engine = make_engine(url)
    with Session(engine) as session:
        rows = {f.name: f.url for f in session.exec(select(Feed))}
    engine.dispose()
    return rows


def test_feed_links_are_read_with_an_html_parser():
    links = feed_links(b'<LINK REL="Alternate" TYPE="application/atom+xml" HREF="a.xml"><link rel=alternate '
                       b'type="text/html" href="x">', "https://example.org/news/")
    assert links == [("https://example.org/news/a.xml", "")]


def test_a_page_url_adds_the_feed_it_links_to_named_by_its_title(run_cli, initialised, database_url, feed_server):
    feed_server.serve_file("/wire", "levant_wire.xml")
    feed_server.routes["/page"] = Response(200, PAGE, {"Content-Type": "text/html; charset=utf-8"})
    output = run_cli(*LOOPBACK, "feeds", "add", feed_server.url("/page")).output
    assert "Added Levant Wire Test Desk" in output
    assert _feeds(database_url)["Levant Wire Test Desk"] == feed_server.url("/wire")
    # The same feed again is refused, however it is given.
    assert "already polled" in run_cli(*LOOPBACK, "feeds", "add", feed_server.url("/wire"), expect=1).output
    # The NAME URL form still works.
    run_cli(*LOOPBACK, "feeds", "add", "Named", feed_server.url("/wire2"))
    assert _feeds(database_url)["Named"] == feed_server.url("/wire2")
    feed_server.routes["/plain"] = Response(200, b"<html><body>no feed</body></html>", {"Content-Type": "text/html"})
    assert "neither a feed nor a page" in run_cli(*LOOPBACK, "feeds", "add", feed_server.url("/plain"),
                                                  expect=1).output


def test_opml_round_trip_and_bad_files_add_nothing(run_cli, initialised, database_url, tmp_path):
    good = tmp_path / "good.opml"
    good.write_text("""<?xml version="1.0"?><opml version="2.0"><head/><body>
      <outline text="Folder"><outline text="Sahel desk" xmlUrl="https://news.example.org/sahel.rss" language="fr"/>
      </outline><outline title="Gulf" xmlUrl="https://gulf.example.org/feed"/></body></opml>""")
    assert "Imported 2 feed(s); 0 already polled." in run_cli("feeds", "import", str(good)).output
    assert "Imported 0 feed(s); 2 already polled." in run_cli("feeds", "import", str(good)).output
    exported = tmp_path / "out.opml"
    run_cli("feeds", "export", str(exported))
    outlines, problems = read_opml(exported.read_bytes())
    assert not problems and {(o.name, o.url, o.language) for o in outlines} == {
        ("Sahel desk", "https://news.example.org/sahel.rss", "fr"), ("Gulf", "https://gulf.example.org/feed", None)}

    bad = tmp_path / "bad.opml"
    bad.write_text("""<opml version="2.0"><body><outline text="ok" xmlUrl="https://ok.example.org/rss"/>
      <outline text="local" xmlUrl="file:///etc/passwd"/></body></opml>""")
    output = run_cli("feeds", "import", str(bad), expect=1).output
    assert "nothing imported" in output and "outline 2 (local)" in output
    assert "ok" not in _feeds(database_url)
    assert "Imported 1 feed(s)" in run_cli("feeds", "import", str(bad), "--skip-invalid").output

    bomb = tmp_path / "bomb.opml"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
                    '<opml><body><outline text="&b;" xmlUrl="https://x.example.org/"/></body></opml>')
    assert "not a usable OPML file" in run_cli("feeds", "import", str(bomb), expect=1).output
    with pytest.raises(FeedSourceError, match="not an OPML file"):
        read_opml(b"<rss><channel/></rss>")
