"""Forgiving facility look-ups: names, aliases, distinctive parts, any script, near spellings; several listed,
none gives suggestions. On the bundled facilities of a store made with `monitor init` (SQLite, and PostgreSQL
when MONITOR_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import pytest
from pypdf import PdfReader
from sqlmodel import Session

from monitor.facilities.lookup import FacilityLookupError, lookup_facility, resolve_facility, resolve_lookup


@pytest.fixture
def session(engine):
    with Session(engine) as session:
        yield session


def _slug(session, query):
    return resolve_facility(session, query).slug


def test_names_aliases_distinctive_parts_and_scripts(session):
    expected = {
        "ghwayran-prison": ["ghwayran-prison", "Ghwayran prison", "Gweiran prison", "GHWAYRAN PRISON", "Gweiran",
                            "Ghwayran", "Sina'a", "al-Sinaa", "al-Sina'a prison", "سجن غويران"],
        "roj-camp": ["Roj", "Roj camp"],
        "saydnaya-prison": ["Saydnaya"],
    }
    for slug, queries in expected.items():
        for query in queries:
            assert _slug(session, query) == slug, query
    assert lookup_facility(session, "Gweiran prison").how == "exact"
    assert lookup_facility(session, "Gweiran").how == "distinctive"


def test_a_name_shared_with_a_small_neighbour_means_the_large_one_and_says_so(session):
    # al-Hol camp (over 73,000 people recorded in 2019) and the al-Hol jail (no figure) share "al-Hol".
    for query in ("al-Hol", "Hol", "الهول", "al-Hawl"):
        found = resolve_lookup(session, query)
        assert found.matches[0].slug == "al-hol-camp", query
        assert [f.slug for f in found.others] == ["al-hol-prison"], query
    assert _slug(session, "Hol prison") == "al-hol-prison"


def test_minor_misspellings_are_taken(session):
    for query, slug in (("Ghwayrn", "ghwayran-prison"), ("Ghwayran prisn", "ghwayran-prison"),
                        ("Gwiran prisen", "ghwayran-prison"), ("Saydnaia prison", "saydnaya-prison"),
                        ("Saydnyia jail", "saydnaya-prison"), ("Abu Graib", "abu-ghraib-prison")):
        found = lookup_facility(session, query)
        assert [f.slug for f in found.matches] == [slug], query
        assert found.how == "spelling", query


def test_several_are_listed_to_choose_from(session):
    # "Ghweran" is an alias of Hasakah central prison and a near spelling of Ghwayran/Gweiran prison.
    with pytest.raises(FacilityLookupError) as raised:
        resolve_facility(session, "Ghweran")
    assert {f.slug for f in raised.value.matches} == {"ghwayran-prison", "hasakah-central-prison"}
    message = str(raised.value)
    assert "matches several facilities" in message
    assert "ghwayran-prison" in message and "hasakah-central-prison" in message


def test_none_gives_ranked_suggestions_or_says_so(session):
    with pytest.raises(FacilityLookupError) as raised:
        resolve_facility(session, "Guwayrin")
    assert raised.value.matches == []
    assert raised.value.suggestions[0].slug == "ghwayran-prison"
    assert "did you mean: Ghwayran prison (ghwayran-prison)" in str(raised.value)
    with pytest.raises(FacilityLookupError) as raised:
        resolve_facility(session, "Nowhere jail")  # sharing the word "jail" makes nothing close
    assert raised.value.suggestions == [] and "see `monitor facilities list`" in str(raised.value)
    with pytest.raises(FacilityLookupError):
        resolve_facility(session, "   ")


def test_commands_take_the_forgiving_names(run_cli, initialised, tmp_path):
    for query, name in (("Gweiran", "Ghwayran prison"), ("Ghwayran", "Ghwayran prison"),
                        ("al-Hol", "al-Hol camp"), ("Ghwayrn", "Ghwayran prison")):
        assert run_cli("facilities", "show", query).stdout.startswith(name), query
    shown = run_cli("facilities", "show", "al-Hol")
    assert "also names: al-Hol prison (al-hol-prison)" in shown.stderr
    said = run_cli("facilities", "show", "Ghweran", expect=1).output
    assert "matches several facilities" in said and "hasakah-central-prison" in said
    pdf = tmp_path / "al-hol.pdf"
    run_cli("report", "al-Hol", "--format", "pdf", "--output", str(pdf))
    assert "al-Hol camp" in "".join(page.extract_text() for page in PdfReader(pdf).pages)
    run_cli("subscribers", "add", "desk@example.org", "--facility", "Gweiran", "--facility", "Hol")
    listed = run_cli("subscribers", "list").output
    assert "Ghwayran prison" in listed and "al-Hol camp" in listed
    said = run_cli("subscribers", "add", "other@example.org", "--facility", "Ghweran", expect=1).output
    assert "matches several facilities" in said
    assert "other@example.org" not in run_cli("subscribers", "list").output
