"""Facility reports: every format parsed back (pypdf, csv, json, the HTML/Markdown text) and checked
against the store, on stores filled the real way (`monitor demo`, or a feed polled from a loopback server)."""

from __future__ import annotations

import csv
import json
import os
from contextlib import ExitStack
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from monitor.alerts.risk import recompute_risk
from monitor.classify.model import PACKAGED_MODEL
from monitor.cli import cli
from monitor.reports import FORMATS, FacilitySelection, ReportError, render_report
from monitor.spreadsheet import unguard_cell
from monitor.store.db import make_engine
from monitor.store.schema import (
    Alert,
    AlertArticle,
    Article,
    Classification,
    Facility,
    FacilityAlias,
    RiskScore,
    utcnow,
)
from tests.conftest import POSTGRES_URL, postgres_schema

pytestmark = pytest.mark.skipif(not PACKAGED_MODEL.is_file(), reason="no trained model in models/")

ALERT_COLUMNS = [
    "facility_slug", "facility_name", "country", "alert_id", "first_seen_utc", "last_seen_utc", "severity",
    "severity_reason", "labels", "independent_outlets", "status", "article_count", "source_urls",
    "risk_score", "risk_day", "period", "generated_utc", "model_version",
]
ARTICLE_COLUMNS = [
    "facility_slug", "facility_name", "country", "article_id", "published_utc", "first_seen_utc", "title",
    "outlet", "language", "url", "labels", "link_role", "alert_ids", "snippet", "period", "generated_utc",
    "model_version",
]
GHWAYRAN_ARABIC = "سجن غويران"
TREND_DAYS = 3


def _invoke(url: str, *args: str, expect: int = 0):
    result = CliRunner().invoke(cli, ["--database-url", url, *args], catch_exceptions=False)
    assert result.exit_code == expect, f"exit {result.exit_code}: {result.output}"
    return result


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def demo_url(request, tmp_path_factory):
    """One store per database with the demo feeds loaded through the pipeline, and a few days of
    Ghwayran risk history; the tests using it only read."""
    with ExitStack() as cleanup:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'monitor.db'}"
        else:
            if not POSTGRES_URL:
                pytest.skip("MONITOR_TEST_POSTGRES_URL is not set")
            url = cleanup.enter_context(postgres_schema())
        with pytest.MonkeyPatch.context() as patch:
            for name in list(os.environ):
                if name.startswith("MONITOR_") and name != "MONITOR_TEST_POSTGRES_URL":
                    patch.delenv(name)
            patch.chdir(tmp_path_factory.mktemp("cwd"))
            _invoke(url, "init")
            _invoke(url, "demo")
        engine = make_engine(url)
        with Session(engine) as session:
            ghwayran = session.exec(select(Facility).where(Facility.slug == "ghwayran-prison")).one()
        for days_ago in range(TREND_DAYS, 0, -1):
            recompute_risk(engine, [ghwayran.id], now=utcnow() - timedelta(days=days_ago))
        engine.dispose()
        yield url


@pytest.fixture
def demo_engine(demo_url):
    engine = make_engine(demo_url)
    yield engine
    engine.dispose()


def _pdf_pages(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(str(path)).pages]


def _flat(value: str) -> str:
    return " ".join(value.split())


def _facility(session, slug):
    return session.exec(select(Facility).where(Facility.slug == slug)).one()


def _alerts_of(session, facility_id):
    return list(session.exec(select(Alert).where(Alert.facility_id == facility_id, Alert.status != "dismissed")
                             .order_by(Alert.id)))


def _articles_of(session, alert_id):
    return list(session.exec(select(Article).join(AlertArticle, AlertArticle.article_id == Article.id)
                             .where(AlertArticle.alert_id == alert_id)))


def test_pdf_report_has_the_profile_risk_alerts_evidence_sources_and_a_footer_on_every_page(
        demo_url, demo_engine, tmp_path):
    output = tmp_path / "ghwayran.pdf"
    said = _invoke(demo_url, "report", GHWAYRAN_ARABIC, "--format", "pdf", "--output", str(output)).output
    assert f"Wrote {output}" in said and "1 facility" in said
    assert output.read_bytes().startswith(b"%PDF-")
    pages = _pdf_pages(output)
    whole = _flat("\n".join(pages))
    bare = "".join("".join(pages).split())  # long addresses wrap mid-word; compare them without spaces
    with Session(demo_engine) as session:
        ghwayran = _facility(session, "ghwayran-prison")
        aliases = list(session.exec(select(FacilityAlias.alias).where(FacilityAlias.facility_id == ghwayran.id)))
        alerts = _alerts_of(session, ghwayran.id)
        evidence = {a.id: _articles_of(session, a.id) for a in alerts}
        versions = set(session.exec(select(Classification.model_version)))
        latest = session.exec(select(RiskScore).where(RiskScore.facility_id == ghwayran.id)
                              .order_by(RiskScore.day.desc())).first()
        history = list(session.exec(select(RiskScore.day).where(RiskScore.facility_id == ghwayran.id)
                                    .order_by(RiskScore.day)))

    # Title page: the name and every alias, Arabic ones included, shaped but extractable.
    title_page = _flat(pages[0])
    assert "Ghwayran prison" in title_page and GHWAYRAN_ARABIC in title_page
    assert all(_flat(alias) in title_page for alias in aliases)
    # Profile with its sources, risk score and factors.
    assert f"{ghwayran.population:,} ({ghwayran.population_date})" in whole
    for fact in ghwayran.facts.values():
        assert "".join(fact["source"].split()) in bare
    assert f"Risk score {latest.score:g} / 100 (computed {latest.day})" in whole
    assert all(factor["detail"] in whole for factor in latest.factors)
    # The trend chart spans the stored days.
    assert len(history) == TREND_DAYS + 1
    trend_page = next(p for p in pages if "Risk trend" in p)
    assert history[0] in trend_page and history[-1] in trend_page
    # Alerts with severity, corroboration and evidence, each article cited with its address.
    assert alerts, "the demo raises an alert at Ghwayran prison"
    for alert in alerts:
        assert f"Alert #{alert.id}:" in whole and alert.severity.upper() in whole
        assert f"{alert.outlet_count} independent outlet" in whole and _flat(alert.severity_reason) in whole
        for article in evidence[alert.id]:
            assert _flat(article.title)[:40] in whole and "".join(article.url.split()) in bare
    assert "[1]" in whole and "Sources" in whole
    # Footer on every page: generation time, model version, page number.
    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        footer = _flat(page)
        assert "Generated " in footer and f"page {number} of {len(pages)}" in footer
        assert any(version in footer for version in versions)


def test_html_and_markdown_say_the_same_with_arabic_aliases_and_nothing_external(demo_url, demo_engine, tmp_path):
    html_path, md_path = tmp_path / "g.html", tmp_path / "g.md"
    _invoke(demo_url, "report", "Gweiran prison", "--format", "html", "--output", str(html_path))
    _invoke(demo_url, "report", "Gweiran prison", "--format", "md", "--output", str(md_path))
    page, markdown = html_path.read_text(encoding="utf-8"), md_path.read_text(encoding="utf-8")
    with Session(demo_engine) as session:
        ghwayran = _facility(session, "ghwayran-prison")
        alerts = _alerts_of(session, ghwayran.id)
        urls = [a.url for alert in alerts for a in _articles_of(session, alert.id)]
    assert page.startswith("<!DOCTYPE html>") and "Content-Security-Policy" in page
    lowered = page.lower()
    assert not any(marker in lowered for marker in ("<script", "<link", " src=", "url(", "@import", "<iframe"))
    assert "<svg" in page  # the risk trend, drawn inline
    for document in (page, markdown):
        assert GHWAYRAN_ARABIC in document and "Ghwayran prison" in document
        assert all(f"Alert #{alert.id}:" in document for alert in alerts)
        assert "3,000 (2026-01)" in document and "2022-01-20: 3,500" in document
    assert all(f'href="{url}"' in page for url in urls)
    assert all(f"]({url})" in markdown for url in urls)
    cited_html = page.count('<li id="src-')
    sources_md = markdown.split("### Sources", 1)[1].split("---", 1)[0]
    cited_md = sum(1 for line in sources_md.splitlines() if line[:1].isdigit())
    assert cited_html == cited_md > len(urls)


def test_csv_has_stable_columns_one_row_per_alert_or_article(demo_url, demo_engine, tmp_path):
    alerts_path, articles_path = tmp_path / "alerts.csv", tmp_path / "articles.csv"
    _invoke(demo_url, "report", "--all", "--format", "csv", "--output", str(alerts_path))
    _invoke(demo_url, "report", "--all", "--format", "csv", "--articles", "--output", str(articles_path))
    with alerts_path.open(encoding="utf-8-sig", newline="") as handle:
        alert_rows = list(csv.reader(handle))
    with articles_path.open(encoding="utf-8-sig", newline="") as handle:
        article_rows = list(csv.DictReader(handle))
    assert alert_rows[0] == ALERT_COLUMNS
    assert list(article_rows[0]) == ARTICLE_COLUMNS
    with Session(demo_engine) as session:
        alerts = list(session.exec(select(Alert).where(Alert.facility_id.is_not(None), Alert.status != "dismissed")))
        slugs = {f.id: f.slug for f in session.exec(select(Facility))}
        alert_article_ids = {a.id: {x.id for x in _articles_of(session, a.id)} for a in alerts}
    by_id = {int(row[3]): dict(zip(ALERT_COLUMNS, row)) for row in alert_rows[1:]}
    assert set(by_id) == {a.id for a in alerts} and len(alert_rows) - 1 == len(alerts)
    for alert in alerts:
        row = by_id[alert.id]
        assert row["facility_slug"] == slugs[alert.facility_id] and row["severity"] == alert.severity
        assert row["independent_outlets"] == str(alert.outlet_count) and row["labels"] == ";".join(alert.labels)
        assert row["article_count"] == str(len(alert_article_ids[alert.id]))
        assert row["first_seen_utc"] == alert.first_seen_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    listed = {(row["facility_slug"], int(row["article_id"])) for row in article_rows}
    for alert in alerts:
        assert {(slugs[alert.facility_id], i) for i in alert_article_ids[alert.id]} <= listed


def test_geojson_is_a_feature_collection_with_points_where_known(demo_url, demo_engine, tmp_path):
    path = tmp_path / "all.geojson"
    _invoke(demo_url, "report", "--all", "--format", "geojson", "--output", str(path))
    collection = json.loads(path.read_text(encoding="utf-8"))
    with Session(demo_engine) as session:
        facilities = {f.slug: f for f in session.exec(select(Facility))}
        latest = {}
        for row in session.exec(select(RiskScore).order_by(RiskScore.day)):
            latest[row.facility_id] = row
        alert_counts = {}
        for alert in session.exec(select(Alert).where(Alert.status != "dismissed")):
            alert_counts[alert.facility_id] = alert_counts.get(alert.facility_id, 0) + 1
    assert collection["type"] == "FeatureCollection"
    features = {f["properties"]["slug"]: f for f in collection["features"]}
    assert set(features) == set(facilities)
    located = 0
    for slug, facility in facilities.items():
        feature = features[slug]
        assert feature["type"] == "Feature" and isinstance(feature["properties"], dict)
        if facility.latitude is None or facility.longitude is None:
            assert feature["geometry"] is None
        else:
            located += 1
            assert feature["geometry"]["type"] == "Point"
            lon, lat = feature["geometry"]["coordinates"]
            assert abs(lon - facility.longitude) < 1e-6 and abs(lat - facility.latitude) < 1e-6
        score = latest.get(facility.id)
        assert feature["properties"]["risk_score"] == (score.score if score else None)
        assert feature["properties"]["alerts_in_period"] == alert_counts.get(facility.id, 0)
        assert feature["properties"]["population"] == facility.population
    assert 0 < located < len(facilities)
    assert GHWAYRAN_ARABIC in features["ghwayran-prison"]["properties"]["aliases"]


def test_country_report_has_a_section_per_facility(demo_url, demo_engine, tmp_path):
    md_path, pdf_path = tmp_path / "sy.md", tmp_path / "sy.pdf"
    said = _invoke(demo_url, "report", "--country", "sy", "--format", "md", "--output", str(md_path)).output
    _invoke(demo_url, "report", "--country", "SY", "--format", "pdf", "--output", str(pdf_path))
    markdown = md_path.read_text(encoding="utf-8")
    pdf_text = _flat("\n".join(_pdf_pages(pdf_path)))
    with Session(demo_engine) as session:
        syrian = list(session.exec(select(Facility).where(Facility.country == "SY")))
        elsewhere = session.exec(select(Facility).where(Facility.country == "NG")).first()
    assert f"{len(syrian)} facilities" in said and len(syrian) > 5
    assert markdown.startswith("# Facility reports: facilities in Syria (SY)")
    for facility in syrian:
        assert f"\n## {facility.name}\n" in markdown.replace("\\", "")
        assert facility.name in pdf_text
    assert f"## {elsewhere.name}\n" not in markdown
    assert markdown.count("\n### Sources\n") == len(syrian)


def test_a_facility_without_alerts_gets_an_honest_report(demo_url, demo_engine, tmp_path):
    with Session(demo_engine) as session:
        alerted = set(session.exec(select(Alert.facility_id).where(Alert.facility_id.is_not(None))))
        scored = set(session.exec(select(RiskScore.facility_id)))
        quiet = session.exec(select(Facility).where(Facility.id.not_in(alerted | scored))
                             .order_by(Facility.slug)).first()
    outputs = {}
    for fmt in ("pdf", "md", "html", "csv", "geojson"):
        outputs[fmt] = tmp_path / f"quiet.{fmt}"
        said = _invoke(demo_url, "report", quiet.slug, "--format", fmt, "--output", str(outputs[fmt])).output
        assert "0 alerts" in said
    texts = {"pdf": _flat("\n".join(_pdf_pages(outputs["pdf"]))),
             "md": outputs["md"].read_text(encoding="utf-8"), "html": outputs["html"].read_text(encoding="utf-8")}
    for fmt, document in texts.items():
        assert quiet.name in document, fmt
        assert "No alerts in this period." in document, fmt
        assert "No risk score has been computed for this facility yet" in _flat(document).replace("\\", ""), fmt
    with outputs["csv"].open(encoding="utf-8-sig", newline="") as handle:
        assert list(csv.reader(handle)) == [ALERT_COLUMNS]
    feature = json.loads(outputs["geojson"].read_text(encoding="utf-8"))["features"][0]
    assert feature["properties"]["alerts_in_period"] == 0 and feature["properties"]["risk_score"] is None


def test_since_and_until_keep_the_alerts_that_overlap_the_period(demo_url, demo_engine, tmp_path):
    with Session(demo_engine) as session:
        alerts = list(session.exec(select(Alert).where(Alert.facility_id.is_not(None), Alert.status != "dismissed")))
    days = sorted({a.first_seen_at.date() for a in alerts})
    assert len(days) >= 3, "the demo alerts span several days"
    since, until = days[1], days[-2]
    expected = {a.id for a in alerts if a.last_seen_at.date() >= since and a.first_seen_at.date() <= until}
    assert 0 < len(expected) < len(alerts)
    path = tmp_path / "period.csv"
    _invoke(demo_url, "report", "--all", "--format", "csv", "--output", str(path),
            "--since", since.isoformat(), "--until", until.isoformat())
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {int(r["alert_id"]) for r in rows} == expected
    assert {r["period"] for r in rows} == {f"{since} to {until}"}
    # After every alert: the report says there were none, and keeps the profile.
    later = tmp_path / "later.md"
    after = (max(a.last_seen_at for a in alerts) + timedelta(days=1)).date().isoformat()
    _invoke(demo_url, "report", "Ghwayran prison", "--format", "md", "--output", str(later), "--since", after)
    text_after = later.read_text(encoding="utf-8")
    assert "No alerts in this period." in text_after and "3,000 (2026-01)" in text_after


def test_clear_errors_and_nothing_written(demo_url, tmp_path):
    output = tmp_path / "r.md"
    output.write_text("an earlier report\n")
    said = _invoke(demo_url, "report", "Guwayrin", "--format", "md", "--output", str(output), expect=1).output
    assert "no facility named 'Guwayrin'" in said and "did you mean: Ghwayran prison (ghwayran-prison)" in said
    said = _invoke(demo_url, "report", "Ghwayran prison", "--format", "md", "--output", str(output),
                   "--since", "2026-13-01", expect=2).output
    assert "'--since'" in said and "'2026-13-01' does not match the format '%Y-%m-%d'" in said
    said = _invoke(demo_url, "report", "Ghwayran prison", "--format", "md", "--output", str(output),
                   "--since", "2026-11-20", "--until", "2026-11-01", expect=2).output
    assert "--since 2026-11-20 is after --until 2026-11-01" in said
    missing = tmp_path / "no-such-folder" / "r.pdf"
    said = _invoke(demo_url, "report", "Ghwayran prison", "--format", "pdf", "--output", str(missing), expect=1).output
    assert "does not exist" in said and not missing.parent.exists()
    assert "exactly one" in _invoke(demo_url, "report", "--format", "md", "--output", str(output), expect=2).output
    assert "exactly one" in _invoke(demo_url, "report", "Ghwayran prison", "--all", "--format", "md",
                                    "--output", str(output), expect=2).output
    assert "--articles" in _invoke(demo_url, "report", "--all", "--format", "pdf", "--articles",
                                   "--output", str(output), expect=2).output
    assert "not an ISO 3166-1" in _invoke(demo_url, "report", "--country", "ZZ", "--format", "md",
                                          "--output", str(output), expect=1).output
    assert "no facilities in France (FR)" in _invoke(demo_url, "report", "--country", "FR", "--format", "md",
                                                     "--output", str(output), expect=1).output
    assert output.read_text() == "an earlier report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.md"]  # no temporary file left behind


def test_render_report_gives_the_dashboard_the_same_bytes_as_the_command(demo_url, demo_engine, tmp_path):
    now = utcnow()
    for fmt in FORMATS:
        data = render_report(demo_engine, FacilitySelection(name_or_alias="Roj camp"), fmt, now=now)
        assert data and isinstance(data, bytes)
    md = render_report(demo_engine, FacilitySelection(name_or_alias="Roj camp"), "md", since="2000-01-01", now=now)
    assert md.decode("utf-8").startswith("# Facility report: Roj camp")
    with pytest.raises(ReportError, match="YYYY-MM-DD"):
        render_report(demo_engine, FacilitySelection(name_or_alias="Roj camp"), "md", since="last week")
    with pytest.raises(ReportError, match="unknown report format"):
        render_report(demo_engine, FacilitySelection(name_or_alias="Roj camp"), "docx")
    with pytest.raises(ReportError, match="exactly one"):
        render_report(demo_engine, FacilitySelection(), "md")


def _hostile_feed() -> bytes:
    """Fictional items written for this test; the titles carry a spreadsheet formula, a function
    call and a script tag, the way a compromised or mischievous feed could."""
    now = utcnow()
    items = [
        ('=HYPERLINK("http://evil.example/x","open") Dozens of detainees escape Ghwayran prison in Hasakah',
         "Dozens of detainees escaped from Ghwayran prison in Hasakah overnight after gunmen attacked the gate, "
         "Kurdish-led forces said on Monday.", "escape", 6),
        ("@SUM(1+1) Gunmen storm Ghwayran prison in Hasakah as inmates flee",
         "Gunmen stormed Ghwayran prison in Hasakah with a car bomb and several inmates fled during the "
         "fighting, a local official said.", "storm", 5),
        # Escaped once in the feed's text, so it survives parsing as the literal characters <script>.
        ('&lt;script&gt;alert("x")&lt;/script&gt; Riot at Ghwayran prison in Hasakah as detainees break out',
         "Detainees rioted at Ghwayran prison in Hasakah and some broke out through a damaged wall, guards "
         "said.", "riot", 4),
    ]
    entries = "".join(
        f"<item><title>{_xml(title)}</title><link>https://hostile.example/{slug}</link>"
        f"<pubDate>{format_datetime(now - timedelta(hours=hours))}</pubDate>"
        f"<description>{_xml(body)}</description></item>"
        for title, body, slug, hours in items)
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Hostile Test Wire</title>'
            f"<link>https://hostile.example/</link><description>test</description>{entries}</channel></rss>"
            ).encode("utf-8")


def _xml(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_hostile_titles_are_guarded_in_csv_and_escaped_in_html_and_markdown(run_cli, database_url, feeds_file,
                                                                           feed_server, tmp_path):
    from tests.feed_server import Response

    feed_server.routes["/hostile"] = Response(200, _hostile_feed(), {"Content-Type": "application/rss+xml"})
    run_cli("--feeds-file", str(feeds_file(("Hostile", feed_server.url("/hostile")))), "init")
    run_cli("poll")
    engine = make_engine(database_url)
    with Session(engine) as session:
        stored = {a.id: a.title for a in session.exec(select(Article))}
        ghwayran = _facility(session, "ghwayran-prison")
        alerts = _alerts_of(session, ghwayran.id)
    assert len(stored) == 3 and alerts, "the poll raised an alert at Ghwayran prison"
    assert any(title.startswith('<script>alert("x")</script>') for title in stored.values())

    for articles in (False, True):
        path = tmp_path / f"hostile-{articles}.csv"
        run_cli("report", "Ghwayran prison", "--format", "csv", "--output", str(path),
                *(["--articles"] if articles else []))
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
        assert len(rows) > 1
        for row in rows[1:]:
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")) or cell.lstrip("+-").replace(
                    ".", "", 1).isdigit(), cell
        if articles:
            titles = {int(r[3]): r[6] for r in rows[1:]}
            assert titles and all(unguard_cell(titles[i]) == stored[i] for i in titles)
            assert any(t.startswith("'=HYPERLINK(") for t in titles.values())
            assert any(t.startswith("'@SUM(") for t in titles.values())

    html_path, md_path = tmp_path / "hostile.html", tmp_path / "hostile.md"
    run_cli("report", "Ghwayran prison", "--format", "html", "--output", str(html_path))
    run_cli("report", "Ghwayran prison", "--format", "md", "--output", str(md_path))
    page, markdown = html_path.read_text(encoding="utf-8"), md_path.read_text(encoding="utf-8")
    assert "<script" not in page.lower() and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "<script" not in markdown.lower() and "&lt;script&gt;" in markdown
    assert 'href="http://evil.example' not in page and "](http://evil.example" not in markdown

    # An analyst's dismissal takes the alert out of the report, which says so.
    dismissed = alerts[0]
    run_cli("alerts", "set-status", str(dismissed.id), "dismissed", "--as", "amina")
    run_cli("report", "Ghwayran prison", "--format", "md", "--output", str(md_path))
    after = md_path.read_text(encoding="utf-8")
    assert f"Alert #{dismissed.id}:" not in after
    assert "dismissed by analysts as false positive" in after
    engine.dispose()


def test_unusual_text_never_breaks_a_report(run_cli, initialised, tmp_path):
    """Characters the PDF font lacks, an unbroken 400-character word, a formula-like operator and an
    address with brackets and quotes: every format still renders, and says exactly what was stored."""
    source = 'https://example.org/a(b)<c>"d'
    path = tmp_path / "odd.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "aliases", "country", "kind", "latitude", "longitude", "operator", "conditions",
                         "source_url"])
        writer.writerow(["Camp 🚨 营地 Test", "سجن التجربة;Lager Ü", "SY", "camp", "36.5", "41.1",
                         "=cmd|' /C calc'!A0", "x" * 400, source])
    run_cli("facilities", "import", str(path))
    outputs = {fmt: tmp_path / f"odd.{fmt}" for fmt in FORMATS}
    for fmt, output in outputs.items():
        run_cli("report", "Lager Ü", "--format", fmt, "--output", str(output))
    pages = _pdf_pages(outputs["pdf"])
    assert "Camp \ufffd \ufffd\ufffd Test" in pages[0] and "سجن التجربة" in pages[0]
    assert "x" * 40 in "".join(pages[1].split()) and "=cmd|' /C calc'!A0" in pages[1]
    page, markdown = outputs["html"].read_text(encoding="utf-8"), outputs["md"].read_text(encoding="utf-8")
    assert "Camp 🚨 营地 Test" in page and "Camp 🚨 营地 Test" in markdown
    assert 'href="https://example.org/a(b)&lt;c&gt;&quot;d"' in page
    assert "<https://example.org/a%28b%29%3Cc%3E%22d>" in markdown
    feature = json.loads(outputs["geojson"].read_text(encoding="utf-8"))["features"][0]
    assert feature["geometry"] == {"type": "Point", "coordinates": [41.1, 36.5]}
    assert feature["properties"]["operator"] == "=cmd|' /C calc'!A0"
    assert feature["properties"]["name"] == "Camp 🚨 营地 Test"
