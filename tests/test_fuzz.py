"""Fuzzing the input surfaces with hypothesis: feed bytes, facility CSV, JSONL for classification, subscriber
rules. Whatever comes in: no crash, a clear error, and nothing stored half-way.

Bounded: a modest number of examples each and no deadline (a loaded machine must not fail a test), so the
whole file runs in well under a minute on a quiet machine.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, func, select

from monitor.classify.model import PACKAGED_MODEL
from monitor.cli import cli
from monitor.facilities.csv_io import CSV_COLUMNS, CsvFormatError, import_facilities
from monitor.ingest.parse import parse_feed
from monitor.notify.outbox import subscriber_matches
from monitor.store.db import make_engine, session_scope
from monitor.store.schema import LABELS, SEVERITIES, Alert, Facility, FacilityProfileChange, Subscriber

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'monitor.db'}"
    result = CliRunner().invoke(cli, ["--database-url", url, "init"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    engine = make_engine(url)
    yield url, engine
    engine.dispose()


# --- Feed bytes -------------------------------------------------------------------------------------------

_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@st.composite
def feedish(draw) -> bytes:
    """Bytes that look like a feed, broken in the ways real ones are: bad nesting, entities, encodings."""
    items = []
    for _ in range(draw(st.integers(0, 4))):
        parts = [f"<{tag}>{draw(_TEXT)}</{tag}>" for tag in draw(st.lists(
            st.sampled_from(["title", "link", "description", "pubDate", "guid", "author", "category"]), max_size=5))]
        items.append("<item>" + "".join(parts) + draw(st.sampled_from(["</item>", "", "</channel>"])))
    declaration = draw(st.sampled_from(['<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.0" '
                                        'encoding="iso-8859-1"?>', "", '<!DOCTYPE rss [<!ENTITY x "y">]>']))
    root = draw(st.sampled_from(["rss", "feed", "rdf:RDF", "html"]))
    text = f"{declaration}<{root}><channel><title>{draw(_TEXT)}</title>{''.join(items)}</channel></{root}>"
    encoding = draw(st.sampled_from(["utf-8", "latin-1", "utf-16"]))
    return text.encode(encoding, errors="replace") + draw(st.binary(max_size=20))


@FUZZ
@given(body=st.one_of(st.binary(max_size=400), feedish()),
       content_type=st.sampled_from([None, "application/rss+xml", "text/html; charset=koi8-r", "text/xml;;"]))
def test_parse_feed_never_raises_on_any_bytes(body, content_type):
    headers = {"content-type": content_type} if content_type else {}
    parsed = parse_feed(body, headers)
    for entry in parsed.entries:
        assert isinstance(entry.title, str) and isinstance(entry.link, str)
    assert parsed.problem is None or isinstance(parsed.problem, str)


# --- Facility CSV -----------------------------------------------------------------------------------------

_CELL = st.one_of(_TEXT, st.sampled_from(["SY", "IQ", "xx", "-1", "1e9", "=cmd|' /C calc'!A0", "2022-13-40",
                                          "Kurdistan (IQ) 40; Syria 10", "https://example.org/a", '"', "\n"]))


@st.composite
def facility_csv(draw) -> bytes:
    header = draw(st.one_of(st.just(list(CSV_COLUMNS)), st.lists(st.sampled_from(list(CSV_COLUMNS) + ["extra"]),
                                                                   max_size=8)))
    rows = [header] + [draw(st.lists(_CELL, max_size=len(header) + 1)) for _ in range(draw(st.integers(0, 4)))]
    import csv
    import io

    out = io.StringIO()
    csv.writer(out).writerows(rows)
    text = out.getvalue()
    return text.encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1"])), errors="replace")


def _facility_state(engine) -> tuple[int, int]:
    with Session(engine) as session:
        return (session.exec(select(func.count()).select_from(Facility)).one(),
                session.exec(select(func.count()).select_from(FacilityProfileChange)).one())


@FUZZ
@given(content=st.one_of(facility_csv(), st.binary(max_size=200)))
def test_facility_import_refuses_clearly_and_stores_nothing_from_a_bad_file(store, tmp_path_factory, content):
    _, engine = store
    path = tmp_path_factory.mktemp("csv") / "facilities.csv"
    path.write_bytes(content)
    before = _facility_state(engine)
    try:
        with session_scope(engine) as session:
            report = import_facilities(session, path, actor="fuzz")
    except CsvFormatError as exc:
        assert str(exc).startswith(str(path))
        assert _facility_state(engine) == before
        return
    if not report.imported:
        assert report.errors and all(e.reason for e in report.errors)
        assert _facility_state(engine) == before, "a file with a bad row stores nothing"


# --- JSONL into classification ----------------------------------------------------------------------------

_JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TEXT,
                           lambda children: st.lists(children, max_size=3)
                           | st.dictionaries(_TEXT, children, max_size=3), max_leaves=6)


@st.composite
def jsonl_line(draw) -> str:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(_TEXT).replace("\n", " ")
    if kind == 1:
        return json.dumps(draw(_JSON_VALUE))
    row = {"id": draw(_JSON_VALUE), "title": draw(st.one_of(_TEXT, _JSON_VALUE)), "text": draw(_TEXT)}
    return json.dumps(row, ensure_ascii=draw(st.booleans()))


@pytest.fixture(scope="module")
def analyser(store):
    if not PACKAGED_MODEL.is_file():
        pytest.skip("no trained model in models/")
    from monitor.classify.service import SignalAnalyser

    return SignalAnalyser.from_store(store[1])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(documents=st.lists(st.fixed_dictionaries({"title": _TEXT, "text": st.text(max_size=300)}), max_size=5))
def test_the_analyser_takes_any_text(analyser, documents):
    signals = analyser.analyse(documents)
    assert len(signals) == len(documents)
    for signal in signals:
        assert set(signal.labels) <= set(LABELS)
        assert signal.severity is None or signal.severity in SEVERITIES
        json.dumps(signal.as_dict())


@settings(max_examples=1, deadline=None)
@given(lines=st.lists(jsonl_line(), min_size=20, max_size=40))
def test_classify_reads_any_jsonl_line_by_line_and_says_which_it_skipped(store, analyser, lines):
    """One run over many odd lines (loading the model is the slow part): good lines out, bad lines named."""
    url, _ = store
    lines = lines + [json.dumps({"id": "ok", "title": "Inmates escape after an attack on the central prison"})]
    result = CliRunner().invoke(cli, ["--database-url", url, "classify"], input="\n".join(lines) + "\n",
                                catch_exceptions=False)
    assert result.exit_code == 0
    out = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert out and out[-1]["id"] == "ok" and all("labels" in row for row in out)
    skipped = [line for line in result.stderr.splitlines() if ": skipped: " in line]
    good = sum(1 for line in lines if line.strip() and _good(line))
    assert len(out) == good and len(skipped) == sum(1 for line in lines if line.strip()) - good


def _good(line: str) -> bool:
    try:
        row = json.loads(line)
    except ValueError:
        return False
    return isinstance(row, dict) and bool(row.get("title") or row.get("text"))


# --- Subscriber rules -------------------------------------------------------------------------------------

_RULE = st.one_of(_TEXT, st.sampled_from(list(LABELS) + ["SY", "sy", "ZZ", "Ghwayran prison", "", "--x"]))


@FUZZ
@given(email=st.one_of(_TEXT, st.emails()), countries=st.lists(_RULE, max_size=3), labels=st.lists(_RULE, max_size=3),
       facility=st.lists(_RULE, max_size=1), severity=st.sampled_from(list(SEVERITIES) + ["extreme", ""]),
       mode=st.sampled_from(["immediate", "digest", "weekly"]), hour=st.sampled_from([None, "0", "23", "24", "x"]))
def test_subscriber_rules_are_checked_and_a_refused_one_stores_nothing(store, email, countries, labels, facility,
                                                                       severity, mode, hour):
    url, engine = store
    args = ["--database-url", url, "subscribers", "add", email]
    for flag, values in (("--country", countries), ("--label", labels), ("--facility", facility)):
        for value in values:
            args += [flag, value]
    args += ["--min-severity", severity, "--mode", mode] + (["--digest-hour", hour] if hour is not None else [])
    with Session(engine) as session:
        before = session.exec(select(func.count()).select_from(Subscriber)).one()
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    with Session(engine) as session:
        after = session.exec(select(func.count()).select_from(Subscriber)).one()
        # Addresses are stored normalised (lower case), so look the subscriber up the same way.
        stored = session.exec(select(Subscriber).where(func.lower(Subscriber.email) == email.strip().lower())).first()
    if result.exit_code == 0:
        assert stored is not None and stored.min_severity == severity and set(stored.labels) <= set(LABELS)
    else:
        assert result.exit_code in (1, 2) and result.output.strip()
        assert after == before
    # Whatever the rules, matching an alert against them is a yes or no.
    for subscriber in ([stored] if stored is not None else []):
        alert = Alert(labels=["prison_break"], severity="high", facility_id=None)
        assert subscriber_matches(subscriber, alert, "SY") in (True, False)
