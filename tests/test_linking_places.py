"""A place named beside a facility word is at most a low-confidence `mentioned` unless exactly one known facility
of that kind is there and the text reports an event there. Realistic gazetteer; sentences written for this test."""

from __future__ import annotations

import pytest

from tests.linking_support import links, realistic_gazetteer


@pytest.fixture(scope="module")
def gazetteer(tmp_path_factory):
    return realistic_gazetteer(tmp_path_factory.mktemp("places"))


def test_a_place_with_several_facilities_is_only_mentioned(gazetteer):
    result = gazetteer.link("", "Gunmen attacked a prison in Hasakeh overnight, residents said.")
    assert result.links, "Hasakah's prisons should be offered as context"
    assert links(result, "primary") == []
    assert all(link.confidence < 0.5 for link in result.links)


def test_a_place_with_one_facility_and_an_event_is_primary(gazetteer):
    result = gazetteer.link("", "Militants attacked the prison in Bauchi and freed inmates, police said.")
    assert links(result, "primary") == ["Bauchi prison"]


def test_a_place_with_one_facility_and_no_event_is_context(gazetteer):
    result = gazetteer.link("", "Officials visited the prison in Bauchi to inspect the kitchens.")
    assert links(result, "primary") == []
    assert all(link.confidence < 0.5 for link in result.links)


def test_a_place_with_one_facility_in_a_past_sentence_is_context(gazetteer):
    result = gazetteer.link("", "Militants attacked the prison in Bauchi in 2010 and freed hundreds of inmates.")
    assert links(result, "primary") == []


def test_camps_and_prisons_of_a_place_are_told_apart(gazetteer):
    result = gazetteer.link("", "Women were smuggled out of a camp near al-Hol, a guard said.")
    assert links(result) == ["al-Hol camp"]


def test_an_everyday_word_is_never_a_place(gazetteer):
    # March (Cambridgeshire) is HMP Whitemoor's town; Forest (Brussels) is Forest prison's.
    assert gazetteer.link("", "Inmates at the prison will be moved in March, the ministry said.").links == []
    assert gazetteer.link("", "The prisoners escaped through the forest near the jail.").links == []


def test_a_big_city_says_nothing_about_which_prison(gazetteer):
    result = gazetteer.link("", "A riot broke out at a prison in Lagos on Monday.")
    assert links(result, "primary") == []
