"""The bundled knowledge base: real facilities, every fact sourced, loaded idempotently, local edits kept."""

from __future__ import annotations

import yaml
from sqlmodel import Session, func, select

from monitor.facilities.knowledge_base import DATA_DIR, load_bundled_profiles, load_knowledge_base
from monitor.facilities.names import normalize_name
from monitor.facilities.profiles import FacilityProfile, apply_profiles
from monitor.store.db import session_scope
from monitor.store.schema import Facility, FacilityAlias, FacilityProfileChange


def _entries():
    for path in sorted(DATA_DIR.glob("*.yaml")):
        yield from yaml.safe_load(path.read_text(encoding="utf-8"))["facilities"]


def test_at_least_forty_facilities_across_the_regions_that_matter():
    profiles = load_bundled_profiles()
    assert len(profiles) >= 40
    countries = {p.country for p in profiles}
    # NE Syria and Iraq, plus the other theatres the monitor covers.
    assert {"SY", "IQ", "NG", "CD", "AF", "PK", "YE", "LY", "MZ", "HT"} <= countries
    assert countries & {"NE", "ML", "BF", "TD", "CM"}, "Sahel / Lake Chad"
    assert countries & {"TJ", "KZ", "KG", "UZ"}, "Central Asia"
    assert countries & {"ID", "PH", "MY"}, "South-East Asia"
    assert countries & {"MX", "EC", "BR", "CO", "HN", "VE"}, "Latin America"


def test_every_fact_has_a_source_url_and_an_as_of_date():
    for entry in _entries():
        slug = entry["slug"]
        for key in ("operator", "status", "capacity", "population"):
            if key in entry:
                # One {value, source, as_of} or a list of them (the fact's history).
                for fact in entry[key] if isinstance(entry[key], list) else [entry[key]]:
                    assert str(fact["source"]).startswith("http"), (slug, key)
                    assert fact.get("as_of"), (slug, key)
        for key in ("nationalities", "conditions"):
            if key in entry:
                assert str(entry[key]["source"]).startswith("http"), (slug, key)
                assert entry[key].get("as_of"), (slug, key)
        if "location" in entry:
            assert str(entry["location"]["source"]).startswith("http"), (slug, "location")
        for incident in entry.get("incidents") or []:
            assert str(incident["source"]).startswith("http") and incident.get("date"), (slug, incident)


def test_the_key_facilities_carry_their_press_spellings_in_both_scripts():
    by_slug = {p.slug: p for p in load_bundled_profiles()}
    ghwayran = by_slug["ghwayran-prison"]
    names = {normalize_name(a) for a in [ghwayran.name, *ghwayran.aliases]}
    assert {"gweiran prison", "ghuwayran prison", "sinaa prison"} <= names
    assert any("\u0600" <= ch <= "\u06ff" for alias in ghwayran.aliases for ch in alias), "an Arabic-script alias"
    assert ghwayran.country == "SY" and ghwayran.population
    for slug in ("al-hol-camp", "roj-camp", "abu-ghraib-prison"):
        assert slug in by_slug, slug


def test_init_twice_changes_nothing(run_cli, engine):
    with Session(engine) as session:
        facilities = session.exec(select(func.count()).select_from(Facility)).one()
        aliases = session.exec(select(func.count()).select_from(FacilityAlias)).one()
        changes = session.exec(select(func.count()).select_from(FacilityProfileChange)).one()
    output = run_cli("init").output
    assert "0 added, 0 updated" in output
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Facility)).one() == facilities
        assert session.exec(select(func.count()).select_from(FacilityAlias)).one() == aliases
        assert session.exec(select(func.count()).select_from(FacilityProfileChange)).one() == changes
    assert facilities == len(load_bundled_profiles())


def test_an_analysts_edit_survives_a_reload_and_is_kept_in_history(engine):
    with session_scope(engine) as session:
        apply_profiles(session, [FacilityProfile(name="Ghwayran prison", country="SY", population=4100,
                                                 population_date="2024-06")],
                       actor="analyst:amina", origin="analyst", local=True,
                       default_source="https://example.org/field-report")
    with session_scope(engine) as session:
        result = load_knowledge_base(session)
    assert result.kept_local >= 1
    with Session(engine) as session:
        facility = session.exec(select(Facility).where(Facility.slug == "ghwayran-prison")).one()
        assert facility.population == 4100 and facility.population_date == "2024-06"
        assert "population" in facility.local_fields
        change = session.exec(select(FacilityProfileChange).where(
            FacilityProfileChange.facility_id == facility.id, FacilityProfileChange.field == "population")).one()
    assert change.changed_by == "analyst:amina"
    bundled = next(p for p in load_bundled_profiles() if p.slug == "ghwayran-prison").population
    assert change.old_value == bundled and change.new_value == 4100
    assert change.source_url == "https://example.org/field-report"
