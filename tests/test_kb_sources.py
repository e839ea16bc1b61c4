"""Sources that hold up: no Wikipedia mirrors, content farms, blogs or URL shorteners anywhere in the bundled
knowledge base, and every fact carries a source and a date."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from monitor.facilities.knowledge_base import DATA_DIR, SCALAR_FACTS

# Hosts that copy other pages (Wikipedia mirrors and scrapers, translation proxies, CDN copies of outlets),
# content farms, blogs and link shorteners. A fact cites the page they copied, or a reputable report.
WEAK_HOSTS = (
    "wikimili.com", "pledgetimes.com", "piglix.com", "de-academic.com", "knowpia.com", "wiki.av1.space",
    "xrl.us", "winabode.com", "substack.com", "wikial.top", "wiki.x.io", "zxc.wiki", "wiki.studentb.eu",
    "wiki.alquds.edu", "review.clateway.com", "dichtienghoa.com", "wikiwand.com", "wikiland.org", "frwiki.wiki",
    "granenciclopedia.com", "bdmobi.com", "absoluteastronomy.com", "knowledgr.com", "muhtawa.org",
    "blogspot.com", "wordpress.com", "medium.com", "febspot.com", "enstarz.com", "statesheadline.com",
    "latestnewsplus.com", "muslimparrot.com", "countrycoordinate.com", "heyi99.com", "hathalyoum.net",
    "headlinez.news", "newssummedup.com", "criminalwatch.com", "devdiscourse.com", "glance.com", "ground.news",
    "theoasisreport.com", "ptelegraph.com", "liabooks.com", "tolerance.ca", "nexnews.net", "pressbee.net",
    "dubainews.tv", "fdocuments.in", "lawsdocbox.com", "issuu.com", "arcg.is", "bit.ly", "tinyurl.com", "t.co",
    "goo.gl", "ow.ly", "is.gd", "buff.ly", "cutt.ly", "rebrand.ly",
    # Reposts of other outlets' or agencies' reports (Daily Trust, AP, BBC Mundo, Jeune Afrique, a UN report),
    # news aggregators and company or personal blogs.
    "cknnigeria.com", "yrtnews.com", "247newsagency.com", "afran.ir", "libyannewswire.com", "camerounweb.com",
    "khazen.org", "signalfire.org", "oodaloop.com", "dispatchrisk.com",
)
# Copies served from a CDN or a test host rather than the outlet's own address.
WEAK_HOST_PATTERNS = (
    re.compile(r"(^|\.)kiwix\."),                       # kiwix.* offline-Wikipedia mirrors
    re.compile(r"^[a-z0-9]{10,}\.cloudfront\.net$"),     # bare CloudFront copies of other sites
    re.compile(r"\.cdn\.arcpublishing\.com$"),           # a newspaper's CMS preview host
    re.compile(r"^(test|pre|staging)\."),                # test or preview copies of an outlet
)
URL = re.compile(r"""https?://[^\s"'<>)\]}]+""")


def _data_files() -> list[Path]:
    return sorted(DATA_DIR.glob("*.yaml"))


def weak_host(url: str) -> str | None:
    host = (urlsplit(url).hostname or "").lower()
    for weak in WEAK_HOSTS:
        if host == weak or host.endswith("." + weak):
            return weak
    for pattern in WEAK_HOST_PATTERNS:
        if pattern.search(host):
            return pattern.pattern
    return None


@pytest.mark.parametrize("url, weak", [
    ("https://wikimili.com/en/Tikrit", True), ("https://kiwix.casplantje.nl/wikipedia_en_all/A/X", True),
    ("https://projectblack.substack.com/p/x", True), ("http://xrl.us/abc", True),
    ("https://db0nus869y26v.cloudfront.net/en/Al-Malikiyah", True), ("https://test.middleeasteye.net/news/x", True),
    ("https://thenational-the-national-prod.cdn.arcpublishing.com/mena/x", True),
    ("https://www.hrw.org/news/2026/02/17/x", False), ("https://en.wikipedia.org/wiki/Adra_Prison", False),
    ("https://www.thenationalnews.com/mena/x", False), ("https://reliefweb.int/report/x", False),
    ("https://yrtnews.com/formerly-detained-the-taliban-now-in-charge-in-a-kabul-prison-2/", True),
    ("https://mobile.camerounweb.com/CameroonHomePage/NewsArchive/x", True), ("http://afran.ir/francais/x", True),
    ("https://www.aljazeera.com/gallery/2021/9/14/inmates-taliban-charge-kabul-prison", False),
    ("https://www.journaldumali.com/x", False), ("https://libyaherald.com/2018/01/23/x", False),
])
def test_the_weak_host_rule_knows_mirrors_from_reputable_sources(url, weak):
    assert (weak_host(url) is not None) == weak


@pytest.mark.parametrize("path", _data_files(), ids=lambda p: p.name)
def test_no_mirror_content_farm_blog_or_shortener_is_cited(path):
    text = path.read_text(encoding="utf-8")
    offending = sorted({f"{url}  ({weak_host(url)})" for url in URL.findall(text) if weak_host(url)})
    assert not offending, f"{path.name} cites weak sources:\n" + "\n".join(offending)


def _facts(entry: dict):
    """(label, fact mapping, date key) for every sourced fact of an entry."""
    for key in SCALAR_FACTS:
        raw = entry.get(key)
        if raw is None:
            continue
        for position, item in enumerate(raw if isinstance(raw, list) else [raw], start=1):
            yield f"{key}[{position}]", item, "as_of"
    for key in ("nationalities", "conditions"):
        if entry.get(key):
            yield key, entry[key], "as_of"
    for position, incident in enumerate(entry.get("incidents") or [], start=1):
        yield f"incidents[{position}]", incident, "date"


@pytest.mark.parametrize("path", _data_files(), ids=lambda p: p.name)
def test_every_fact_has_a_source_and_a_date(path):
    problems = []
    for entry in yaml.safe_load(path.read_text(encoding="utf-8"))["facilities"]:
        for label, fact, date_key in _facts(entry):
            if not isinstance(fact, dict) or not str(fact.get("source", "")).startswith(("https://", "http://")):
                problems.append(f"{entry['slug']} {label}: no source")
            if isinstance(fact, dict) and not re.match(r"^\d{4}(-\d{2}(-\d{2})?)?$", str(fact.get(date_key) or "")):
                problems.append(f"{entry['slug']} {label}: no {date_key}")
        location = entry.get("location")
        if location and not str(location.get("source", "")).startswith(("https://", "http://")):
            problems.append(f"{entry['slug']} location: no source")
        if location and location.get("precision") not in ("site", "city"):
            problems.append(f"{entry['slug']} location: precision must be site or city")
    assert not problems, "\n".join(problems)


def test_the_transfer_to_iraq_and_the_camp_closures_are_recorded():
    """The 2026 facts the knowledge base must carry, as values with their sources."""
    entries = {e["slug"]: e for path in _data_files() for e in yaml.safe_load(path.read_text("utf-8"))["facilities"]}
    ghwayran = entries["ghwayran-prison"]
    assert isinstance(ghwayran["population"], list) and len({p["source"] for p in ghwayran["population"]}) >= 3
    assert any("centcom" in i["source"].lower() or "dvidshub" in i["source"] for i in ghwayran["incidents"])
    hol_status = entries["al-hol-camp"]["status"]
    assert [s for s in hol_status if s["value"] == "closed" and str(s["as_of"]) >= "2026-02"]
    karkh = entries["karkh-central-prison"]
    assert max(p["value"] for p in karkh["population"]) >= 5000
    shaddadi_figures = [i for i in entries["shaddadi-prison"]["incidents"] if str(i["date"]) == "2026-01-19"]
    assert len({i["source"] for i in shaddadi_figures}) >= 3, "the conflicting escape counts, each with its source"
    for slug in ("saydnaya-prison", "adra-prison", "fort-suse-prison"):
        assert slug in entries, slug
