"""Parsing details: text only, normalised links, UTC times, bytes only."""

from __future__ import annotations

import pytest

from monitor.ingest.parse import html_to_text, normalize_link, parse_feed
from tests.feed_server import FIXTURES


@pytest.mark.parametrize("raw, expected", [
    ("https://Example.ORG:443/a/b?utm_source=rss&id=7&fbclid=x#section", "https://example.org/a/b?id=7"),
    ("http://example.org:80", "http://example.org/"),
    ("https://example.org:8443/x?b=2&a=1", "https://example.org:8443/x?b=2&a=1"),
    ("javascript:alert(1)", ""),
    ("file:///etc/passwd", ""),
])
def test_links_are_normalised(raw, expected):
    assert normalize_link(raw) == expected


def test_markup_is_reduced_to_text():
    html = ('<p>Guards <b>fled</b> &amp; inmates<br>escaped.</p><script>evil()</script>'
            '<style>p{}</style><img src=x onerror=alert(1)><a href="javascript:x">link</a>')
    assert html_to_text(html) == "Guards fled & inmates\nescaped.\nlink"


def test_times_are_utc_and_languages_flow_from_the_feed():
    parsed = parse_feed((FIXTURES / "levant_wire.xml").read_bytes())
    first = parsed.entries[0]
    assert first.published.utcoffset().total_seconds() == 0 and first.published.hour == 18
    assert first.language == "en" and first.outlet == "Levant Wire Test Desk"
    assert parsed.ttl_minutes == 30


def test_parse_feed_refuses_anything_but_bytes():
    with pytest.raises(TypeError):
        parse_feed("https://example.org/feed.xml")
    with pytest.raises(TypeError):
        parse_feed(str(FIXTURES / "levant_wire.xml"))


def test_the_same_link_gives_the_same_key_across_feeds():
    wire = parse_feed((FIXTURES / "levant_wire.xml").read_bytes()).entries[0]
    second = parse_feed((FIXTURES / "second_outlet.xml").read_bytes()).entries[0]
    assert wire.content_key == second.content_key
