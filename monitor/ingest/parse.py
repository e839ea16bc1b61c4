"""Turning fetched bytes into entries: feedparser on bytes (never a URL or a path), text without HTML.

feedparser recovers what it can from malformed feeds; what it complained about is returned as
`problem` so the feed's health can show it. Entry HTML is reduced to plain text here (scripts, styles
and every tag dropped, entities decoded): nothing downstream ever renders a publisher's markup.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import unescape
from html.parser import HTMLParser
from typing import Optional
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import feedparser

# Query parameters that only track the reader; removing them makes one story one URL.
TRACKING_PARAMS = {
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid", "_hsenc",
    "_hsmi", "ocid", "cmpid", "ito", "at_medium", "at_campaign", "at_custom1", "at_custom2", "at_custom3",
    "at_custom4", "ns_mchannel", "ns_source", "ns_campaign", "ns_linkname", "ns_fee", "CMP", "smid", "partner",
    "ref", "ref_src", "src", "rss", "feed", "outputType", "taid", "guccounter",
}
_DOCTYPE_WITH_SUBSET = re.compile(rb"<!DOCTYPE[^>\[]*\[.*?\]\s*>", re.DOTALL | re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
MAX_TEXT = 20_000  # characters kept per entry: enough for any summary, bounded for hostile feeds
MAX_ENTRIES = 1_000


@dataclass
class ParsedEntry:
    guid: Optional[str]
    link: str
    title: str
    text: str
    published: Optional[datetime]
    language: Optional[str]
    outlet: Optional[str]

    @property
    def content_key(self) -> str:
        """One key per story: the normalised link, else the guid, else the title and time."""
        basis = self.link or self.guid or f"{self.title}|{self.published.isoformat() if self.published else ''}"
        return hashlib.sha256(basis.encode("utf-8")).hexdigest()


@dataclass
class ParsedFeed:
    entries: list[ParsedEntry] = field(default_factory=list)
    title: Optional[str] = None
    ttl_minutes: Optional[int] = None
    problem: Optional[str] = None
    # The body parsed to no feed at all (an HTML page, junk): the fetch counts as failed, not as an empty feed.
    not_a_feed: bool = False


class _TextExtractor(HTMLParser):
    _SKIP = {"script", "style", "noscript", "template", "iframe", "object"}
    _BREAKS = {"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "section"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BREAKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    if not html:
        return ""
    if "<" not in html and "&" not in html:
        text = html
    else:
        extractor = _TextExtractor()
        try:
            extractor.feed(html)
            extractor.close()
            text = "".join(extractor.parts)
        except Exception:  # html.parser is forgiving; keep the text if it ever gives up
            text = re.sub(r"<[^>]*>", " ", unescape(html))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return text[:MAX_TEXT]


def normalize_link(url: str) -> str:
    url = (url or "").strip()
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return ""  # javascript:, data:, file: links are not stories
    host = (parts.hostname or "").lower()
    port = parts.port if parts.port and parts.port not in (80, 443) else None
    netloc = f"{host}:{port}" if port else host
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not k.lower().startswith("utm_") and k not in TRACKING_PARAMS]
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))


def _when(entry) -> Optional[datetime]:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc)
            except (OverflowError, ValueError, TypeError):
                continue
    return None


def _entry_text(entry) -> str:
    candidates = []
    for content in entry.get("content") or []:
        candidates.append(content.get("value") or "")
    candidates.append(entry.get("summary") or "")
    best = max(candidates, key=len)
    return html_to_text(best)


def _ttl(feed_info) -> Optional[int]:
    raw = feed_info.get("ttl")
    try:
        return int(str(raw).strip()) if raw else None
    except ValueError:
        return None


def parse_feed(body: bytes, headers: dict[str, str] | None = None, *, default_language: Optional[str] = None,
               default_outlet: Optional[str] = None) -> ParsedFeed:
    """Parse feed bytes. Never raises for bad input: the problem is reported on the result."""
    if not isinstance(body, bytes):
        raise TypeError("parse_feed takes the fetched bytes, never a URL or a path")
    # An internal DTD subset is how entity-expansion ("billion laughs") attacks are carried; feeds have
    # no use for one, so it is removed before any parser sees the document.
    stripped = _DOCTYPE_WITH_SUBSET.sub(b"", body, count=1)
    problems = []
    if stripped != body:
        problems.append("removed an inline DOCTYPE with entity declarations")
    # feedparser's HTML sanitiser and URI resolver would rewrite markup we then throw away: every
    # entry is reduced to plain text below (stronger than sanitising), so both are switched off.
    parsed = feedparser.parse(stripped, response_headers=headers or {}, sanitize_html=False,
                              resolve_relative_uris=False)
    if parsed.get("bozo"):
        exception = parsed.get("bozo_exception")
        problems.append(f"malformed feed, parsed as far as possible: {type(exception).__name__}: {exception}"
                        if exception else "malformed feed, parsed as far as possible")
    info = parsed.get("feed", {})
    not_a_feed = not parsed.entries and not info.get("title") and not parsed.get("version")
    if not_a_feed:
        problems.append("not an RSS or Atom feed (no feed elements found; an HTML page?)")
    feed_language = (info.get("language") or default_language or None)
    outlet_default = default_outlet or html_to_text(info.get("title") or "") or None
    result = ParsedFeed(title=html_to_text(info.get("title") or "") or None, ttl_minutes=_ttl(info),
                        not_a_feed=not_a_feed)
    for entry in parsed.entries[:MAX_ENTRIES]:
        link = normalize_link(entry.get("link") or "")
        guid = (entry.get("id") or "").strip() or None
        title = html_to_text(entry.get("title") or "")
        text = _entry_text(entry)
        if not (link or guid or title):
            continue
        source = entry.get("source") or {}
        outlet = html_to_text(source.get("title") or "") if isinstance(source, dict) else ""
        language = entry.get("language") or (entry.get("title_detail") or {}).get("language") or feed_language
        result.entries.append(ParsedEntry(
            guid=guid[:2000] if guid else None, link=link[:2000], title=title[:1000], text=text,
            published=_when(entry), language=(language or None) and str(language)[:10],
            outlet=(outlet or outlet_default or None) and (outlet or outlet_default)[:200],
        ))
    if len(parsed.entries) > MAX_ENTRIES:
        problems.append(f"feed has {len(parsed.entries)} entries; kept the first {MAX_ENTRIES}")
    result.problem = "; ".join(problems) or None
    return result
