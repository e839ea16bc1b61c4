"""Feeds as users bring them: a web page's own feed (autodiscovery), and the feed list in and out as OPML.

Pages are fetched through the project's fetcher (monitor.ingest.fetch: http(s) only, size and time caps,
and the address guard where it is on) and read with the standard library's HTML parser; feeds are
checked with feedparser on bytes. OPML is parsed with defusedxml (no DTD, no entity expansion); an import
checks every outline first and writes nothing when any is bad.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Optional
from urllib.parse import urljoin, urlsplit

import defusedxml.ElementTree as SafeElementTree
import feedparser
from defusedxml import DefusedXmlException
from sqlmodel import Session, select

from monitor.ingest.fetch import FetchRequest, fetch_feed, make_client
from monitor.store.schema import Feed

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/rdf+xml")
MAX_OPML_BYTES = 5 * 1024 * 1024


class FeedSourceError(ValueError):
    """A page with no feed, a feed that does not parse, or a bad OPML file; nothing was added."""


class _FeedLinks(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        if tag != "link":
            return
        values = {k.lower(): (v or "") for k, v in attrs}
        rels = values.get("rel", "").lower().split()
        if "alternate" in rels and values.get("type", "").lower().split(";")[0].strip() in FEED_TYPES \
                and values.get("href"):
            self.links.append((values["href"].strip(), values.get("title", "").strip()))


def feed_links(html: bytes | str, base_url: str) -> list[tuple[str, str]]:
    """(absolute feed URL, title) of each <link rel="alternate" type="application/rss+xml|atom+xml"> on a page."""
    text = html.decode("utf-8", "replace") if isinstance(html, bytes) else html
    parser = _FeedLinks()
    parser.feed(text)
    parser.close()
    return [(urljoin(base_url, href), title) for href, title in parser.links]


def _parsed_feed(body: bytes):
    parsed = feedparser.parse(body)
    return parsed if parsed.get("version") else None


@dataclass
class DiscoveredFeed:
    url: str
    title: str
    page_url: Optional[str] = None


def discover_feed(url: str, limits) -> DiscoveredFeed:
    """The feed at `url`, or the first feed a web page at `url` links to."""
    with make_client(limits) as client:
        result = fetch_feed(client, FetchRequest(url=url), limits)
        if not result.ok:
            raise FeedSourceError(f"could not read {url}: {result.error}")
        parsed = _parsed_feed(result.body)
        if parsed is not None:
            return DiscoveredFeed(url, parsed.feed.get("title", "").strip())
        links = feed_links(result.body, result.final_url or url)
        if not links:
            raise FeedSourceError(f"{url} is neither a feed nor a page that links to one "
                                  '(no <link rel="alternate" type="application/rss+xml"> or atom+xml)')
        problems = []
        for feed_url, link_title in links:
            found = fetch_feed(client, FetchRequest(url=feed_url), limits)
            parsed = _parsed_feed(found.body) if found.ok else None
            if parsed is not None:
                return DiscoveredFeed(feed_url, parsed.feed.get("title", "").strip() or link_title, page_url=url)
            problems.append(f"{feed_url}: {found.error or 'not an RSS or Atom feed'}")
        raise FeedSourceError(f"{url} links to feeds, but none could be read: {'; '.join(problems)}")


def name_for(session: Session, title: str, url: str) -> str:
    """A feed name from its title (or host), made unique among the stored feeds."""
    base = (title or urlsplit(url).hostname or "feed").strip()[:180]
    name, number = base, 2
    while session.exec(select(Feed.id).where(Feed.name == name)).first() is not None:
        name, number = f"{base} ({number})", number + 1
    return name


# --- OPML ------------------------------------------------------------------------------------------------------

@dataclass
class Outline:
    position: int
    name: str
    url: str
    language: Optional[str] = None


@dataclass
class OpmlReport:
    added: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    bad: list[str] = field(default_factory=list)


def read_opml(data: bytes) -> tuple[list[Outline], list[str]]:
    """(feed outlines, problems) of an OPML document; folders are walked, outlines without xmlUrl skipped."""
    if len(data) > MAX_OPML_BYTES:
        raise FeedSourceError(f"the OPML file is larger than {MAX_OPML_BYTES:,} bytes")
    try:
        root = SafeElementTree.fromstring(data, forbid_dtd=True)
    except (DefusedXmlException, ElementTree.ParseError) as exc:
        raise FeedSourceError(f"not a usable OPML file: {type(exc).__name__}: {exc}") from None
    if root.tag != "opml" or root.find("body") is None:
        raise FeedSourceError("not an OPML file (no <opml><body>)")
    outlines, problems = [], []
    for position, node in enumerate(root.find("body").iter("outline"), 1):
        url = (node.get("xmlUrl") or "").strip()
        label = (node.get("text") or node.get("title") or "").strip()
        if not url:
            continue  # a folder
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.append(f"outline {position} ({label or 'no name'}): xmlUrl {url!r} is not an http(s) URL")
            continue
        outlines.append(Outline(position, label[:200], url, (node.get("language") or "").strip()[:10] or None))
    return outlines, problems


def import_opml(session: Session, data: bytes, actor: str, skip_invalid: bool = False,
                allow_private: bool = False) -> OpmlReport:
    """Add every feed of an OPML file not polled yet; with any bad outline nothing is added (unless skip_invalid)."""
    from monitor.ingest.feed_admin import FeedAdminError, add_feed

    outlines, problems = read_opml(data)
    report = OpmlReport(bad=problems)
    known = set(session.exec(select(Feed.url)))
    seen: set[str] = set()
    planned: list[Outline] = []
    for outline in outlines:
        if outline.url in known:
            report.already.append(outline.url)
        elif outline.url in seen:
            report.bad.append(f"outline {outline.position}: {outline.url} appears twice in the file")
        else:
            seen.add(outline.url)
            planned.append(outline)
    if report.bad and not skip_invalid:
        return report
    for outline in planned:
        name = name_for(session, outline.name, outline.url)
        try:
            add_feed(session, name, outline.url, actor, language=outline.language, allow_private=allow_private)
        except FeedAdminError as exc:
            report.bad.append(f"outline {outline.position}: {exc}")
            if not skip_invalid:
                raise FeedSourceError("; ".join(report.bad)) from None
            continue
        report.added.append(name)
    return report


def export_opml(session: Session) -> bytes:
    """The feed list as OPML 2.0 (demo feeds and feeds removed from feeds.yaml left out)."""
    root = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(root, "head")
    ElementTree.SubElement(head, "title").text = "Detention-facility risk monitor feeds"
    body = ElementTree.SubElement(root, "body")
    for feed in session.exec(select(Feed).where(Feed.managed_by != "demo", Feed.removed_at.is_(None))
                             .order_by(Feed.name)):
        attributes = {"type": "rss", "text": feed.name, "title": feed.name, "xmlUrl": feed.url}
        if feed.language:
            attributes["language"] = feed.language
        ElementTree.SubElement(body, "outline", attributes)
    ElementTree.indent(root)
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
