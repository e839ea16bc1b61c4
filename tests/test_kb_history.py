"""Historied facts: every dated value of operator/status/capacity/population kept with its source,
conflicting figures side by side, analysts' edits adding to the history, and the profile's range and latest."""

from __future__ import annotations

import textwrap

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from monitor.facilities.knowledge_base import KnowledgeBaseError, load_bundled_profiles, load_knowledge_base
from monitor.facilities.profiles import FacilityProfile, FactSummary, FactValue, apply_profiles, fact_history
from monitor.reports.gather import Period, gather_facility_report
from monitor.store.db import make_engine, session_scope
from monitor.store.migrate import head_revision, upgrade_store
from monitor.store.schema import Facility, FacilityFactValue, utcnow

A = "https://www.example-agency.org/report-a"
B = "https://www.example-outlet.com/story-b"
C = "https://www.example-ngo.org/brief-c"

PRISON = """
facilities:
  - slug: test-prison
    name: Test prison
    country: SY
    operator:
      - {value: "Syrian Democratic Forces (SDF)", source: "%(A)s", as_of: 2022-01}
      - {value: "Iraqi Ministry of Justice (detainees transferred)", source: "%(B)s", as_of: 2026-02-13}
    status: {value: operational, source: "%(A)s", as_of: 2024-12}
    population:
      - {value: 3500, source: "%(A)s", as_of: 2022-01-20}
      - {value: 1000, source: "%(B)s", as_of: 2026-02, note: "about 1,000"}
      - {value: 4000, source: "%(C)s", as_of: 2026-02, note: "more than 4,000"}
""" % {"A": A, "B": B, "C": C}


def _data_dir(tmp_path, body: str):
    folder = tmp_path / "kb"
    folder.mkdir(exist_ok=True)
    (folder / "test.yaml").write_text(textwrap.dedent(body), encoding="utf-8")
    return folder


@pytest.fixture
def store(database_url):
    engine = make_engine(database_url)
    upgrade_store(engine)
    yield engine
    engine.dispose()


def _facility(session: Session) -> Facility:
    return session.exec(select(Facility).where(Facility.slug == "test-prison")).one()


def test_a_list_of_values_loads_as_history_with_the_latest_as_current(tmp_path):
    (profile,) = load_bundled_profiles(_data_dir(tmp_path, PRISON))
    assert profile.operator == "Iraqi Ministry of Justice (detainees transferred)"
    assert profile.facts["operator"] == {"source": B, "as_of": "2026-02-13"}
    # Two sources on the same date: the first listed is the figure in use, both are kept.
    assert profile.population == 1000 and profile.population_date == "2026-02"
    assert [e["value"] for e in profile.history["population"]] == [3500, 1000, 4000]
    assert profile.history["population"][2]["note"] == "more than 4,000"
    # A single mapping is still accepted, as a history of one.
    assert profile.status == "operational" and len(profile.history["status"]) == 1


@pytest.mark.parametrize("body, message", [
    ("population: []", "empty list"),
    ("population: [{value: 10, as_of: 2026}]", "source must be an http"),
    ("population: [{value: 10, source: 'https://x.org/a', as_of: 2026},"
     " {value: -3, source: 'https://x.org/b', as_of: 2026}]", "entry 2"),
    ("population: {value: many, source: 'https://x.org/a', as_of: 2026}", "whole number"),
    ("operator: [{value: SDF, source: 'https://x.org/a', as_of: last year}]", "as_of"),
    ("status: {value: closed, source: 'https://x.org/a', as_of: 2026, sourse: typo}", "unknown key"),
])
def test_bad_history_entries_are_refused_with_the_facility_named(tmp_path, body, message):
    document = f"facilities:\n  - slug: bad-prison\n    name: Bad prison\n    country: IQ\n    {body}\n"
    with pytest.raises(KnowledgeBaseError, match=message) as caught:
        load_bundled_profiles(_data_dir(tmp_path, document))
    assert "bad-prison" in str(caught.value)


def test_history_is_stored_and_a_reload_follows_the_file(store, tmp_path):
    folder = _data_dir(tmp_path, PRISON)
    with session_scope(store) as session:
        assert load_knowledge_base(session, folder).created == 1
    with session_scope(store) as session:
        result = load_knowledge_base(session, folder)
        assert (result.created, result.updated) == (0, 0)
        facility_id = _facility(session).id
        assert len(session.exec(select(FacilityFactValue)).all()) == 6  # 2 operator, 1 status, 3 population

    # The file drops the old figure and adds a newer one: the bundled history follows it.
    newer = PRISON.replace(f'      - {{value: 3500, source: "{A}", as_of: 2022-01-20}}\n',
                           f'      - {{value: 900, source: "{A}", as_of: 2026-06}}\n')
    with session_scope(store) as session:
        assert load_knowledge_base(session, _data_dir(tmp_path, newer)).updated == 1
        population = fact_history(session, facility_id)["population"]
        assert [v.value for v in population.values] == [1000, 4000, 900]
        assert _facility(session).population == 900


def test_an_analysts_edit_adds_to_the_history_and_survives_a_reload(store, tmp_path):
    folder = _data_dir(tmp_path, PRISON)
    with session_scope(store) as session:
        load_knowledge_base(session, folder)
    edit = FacilityProfile(name="Test prison", country="SY", slug="test-prison", population=2800,
                           population_date="2026-11-20",
                           facts={"population": {"source": "https://field.example.org/visit", "as_of": "2026-11-20"}})
    with session_scope(store) as session:
        apply_profiles(session, [edit], actor="analyst:amina", origin="analyst", local=True)
    with session_scope(store) as session:
        load_knowledge_base(session, folder)
        facility = _facility(session)
        assert facility.population == 2800  # the analyst's value stays the one in use
        population = fact_history(session, facility.id)["population"]
    assert [v.value for v in population.values] == [3500, 1000, 4000, 2800]  # nothing the edit replaced is lost
    assert population.values[-1].origin == "analyst" and population.values[-1].recorded_by == "analyst:amina"
    assert population.latest_text() == "2,800 (2026-11-20)" and not population.conflicting


def test_repeating_a_stored_value_adds_no_history(store, tmp_path):
    with session_scope(store) as session:
        load_knowledge_base(session, _data_dir(tmp_path, PRISON))
    again = FacilityProfile(name="Test prison", country="SY", slug="test-prison", population=1000,
                            population_date="2026-02", facts={"population": {"source": "https://other.example.org/x"}})
    with session_scope(store) as session:
        apply_profiles(session, [again], actor="csv import", origin="import", local=True)
        assert len(fact_history(session, _facility(session).id)["population"].values) == 3


def test_summary_gives_the_latest_with_conflicts_side_by_side_and_the_range():
    values = [FactValue("population", 3500, A, "2022-01-20"), FactValue("population", 1000, B, "2026-02"),
              FactValue("population", 4000, C, "2026-02"), FactValue("population", 5000, A, "2021")]
    values.sort(key=lambda v: v.as_of)
    summary = FactSummary("population", values)
    assert summary.conflicting and [v.value for v in summary.latest] == [1000, 4000]
    assert (summary.low, summary.high) == (1000, 5000)
    assert summary.describe() == ("sources differ: 1,000 vs 4,000 (2026-02); "
                                  "range 1,000 to 5,000 over 4 figures, 2021 to 2026-02")
    operator = FactSummary("operator", [FactValue("operator", "SDF", A, "2022"),
                                        FactValue("operator", "Iraq", B, "2026-02-13")])
    assert operator.describe() == "Iraq (2026-02-13); 2 recorded values since 2022"
    # A year-only date sorts before the months of that year.
    mixed = FactSummary("status", [FactValue("status", "operational", A, "2026"),
                                   FactValue("status", "closed", B, "2026-02")])
    assert mixed.latest_text() == "closed (2026-02)"


def test_show_and_report_give_the_latest_the_conflict_and_every_source(store, tmp_path):
    with session_scope(store) as session:
        load_knowledge_base(session, _data_dir(tmp_path, PRISON))
    from click.testing import CliRunner

    from monitor.cli import cli
    url = store.url.render_as_string(hide_password=False)
    output = CliRunner().invoke(cli, ["--database-url", url, "facilities", "show", "test-prison"],
                                catch_exceptions=False).output
    assert "sources differ: 1,000 vs 4,000 (2026-02); range 1,000 to 4,000 over 3 figures" in output
    assert f"2026-02     4,000  {C}  (more than 4,000)" in output
    assert "Iraqi Ministry of Justice" in output and f"2022-01     Syrian Democratic Forces (SDF)  {A}" in output
    with Session(store) as session:
        report = gather_facility_report(session, _facility(session), Period(None, None), utcnow())
    population = next(p for p in report.profile if p.field == "population")
    assert "sources differ: 1,000 vs 4,000" in population.value
    cited = {s.url for s in report.sources}
    assert {A, B, C} <= cited


def test_upgrading_a_store_turns_its_current_facts_into_the_first_history_entries(database_url):
    engine = make_engine(database_url)
    upgrade_store(engine, "0004")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO facility (slug, name, kind, country, nationalities, condition_tags, incidents, facts,"
            " origin, local_fields, population, operator, created_at, updated_at)"
            " VALUES ('kept', 'Kept prison', 'prison', 'IQ', '[]', '[]', '[]',"
            " '{\"population\": {\"source\": \"https://a.example.org/p\", \"as_of\": \"2024-05\"}}',"
            " 'bundled', '[\"operator\"]', 10, 'Ministry of Justice', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        ))
    upgrade_store(engine)
    with Session(engine) as session:
        rows = {r.field: r for r in session.exec(select(FacilityFactValue))}
    assert rows["population"].value == 10 and rows["population"].as_of == "2024-05"
    assert rows["population"].source_url == "https://a.example.org/p" and rows["population"].origin == "bundled"
    assert rows["operator"].value == "Ministry of Justice" and rows["operator"].origin == "analyst"
    assert head_revision()
    engine.dispose()
