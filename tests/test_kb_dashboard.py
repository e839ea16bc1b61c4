"""The dashboard profile shows each historied fact over time, and an analyst's edit adds to that history."""

from __future__ import annotations

from sqlmodel import Session, select

from monitor.store.schema import Facility, FacilityFactValue
from tests.test_dashboard import app_for, go_to, logged_in, table_with, texts, users  # noqa: F401 (fixtures)

HAARETZ = "https://www.haaretz.com/middle-east-news/isis/"


def test_the_profile_shows_facts_over_time_and_an_edit_adds_to_them(app_for, users, engine):  # noqa: F811
    at = logged_in(app_for(engine.url.render_as_string(hide_password=False)), "ana")
    go_to(at, "Facilities")
    at.selectbox(key="profile_choice").set_value("ghwayran-prison").run()
    assert not at.exception, at.exception
    assert "Facts over time" in texts(at)
    assert "population: 3,000 (2026-01); range 3,000 to 5,000 over 6 figures" in texts(at)
    history = table_with(at, "as of")
    population = history[history["fact"] == "population"]
    assert len(population) == 6 and any(s.startswith(HAARETZ) for s in population["source"])
    assert set(population[population["as of"] == "2022-01-26"]["value"]) == {"5,000", "3,500", "3,000"}

    next(n for n in at.number_input if n.label == "Population").set_value(2500)
    next(t for t in at.text_input if t.label.startswith("Population as of")).input("2026-11-20")
    next(t for t in at.text_input if t.label.startswith("Source URL")).input("https://example.org/visit-2026-11")
    at.button(key="FormSubmitter:edit_profile-Save changes").click().run()
    assert not at.exception, at.exception

    history = table_with(at, "as of")
    population = history[history["fact"] == "population"]
    assert len(population) == 7  # the edit is added; the six sourced figures stay
    latest = population[population["as of"] == "2026-11-20"].iloc[0]
    assert latest["value"] == "2,500" and latest["added by"] == "analyst: ana"
    assert latest["source"] == "https://example.org/visit-2026-11"
    with Session(engine) as session:
        facility = session.exec(select(Facility).where(Facility.slug == "ghwayran-prison")).one()
        rows = session.exec(select(FacilityFactValue).where(FacilityFactValue.facility_id == facility.id,
                                                            FacilityFactValue.field == "population")).all()
    assert facility.population == 2500 and len(rows) == 7
