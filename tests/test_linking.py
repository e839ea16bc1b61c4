"""Facility linking: spellings, scripts, word boundaries, place context, roles, candidates."""

from __future__ import annotations

import pytest

from monitor.facilities.gazetteer import Gazetteer, GazetteerEntry, skeleton

ENTRIES = [
    GazetteerEntry(1, "Ghwayran prison", "prison", "SY", "al-Hasakah", "Hasakah Governorate",
                   ("Gweiran prison", "al-Sina'a prison", "Hassakeh prison", "سجن غويران")),
    GazetteerEntry(2, "Panorama prison", "prison", "SY", "al-Hasakah", "Hasakah Governorate", ()),
    GazetteerEntry(3, "al-Hol camp", "camp", "SY", "al-Hol", "Hasakah Governorate", ("Hol camp", "مخيم الهول")),
    GazetteerEntry(4, "Abu Ghraib prison", "prison", "IQ", "Abu Ghraib", "Baghdad Governorate", ("سجن أبو غريب",)),
    GazetteerEntry(5, "Taji prison", "prison", "IQ", "Taji", None, ()),
    GazetteerEntry(6, "Kuje custodial centre", "prison", "NG", "Kuje", "Federal Capital Territory", ("Kuje prison",)),
]


@pytest.fixture(scope="module")
def gazetteer():
    return Gazetteer(ENTRIES)


def names(result, role=None):
    return [link.name for link in result.links if role is None or link.role == role]


@pytest.mark.parametrize("text", [
    "Inmates escape from Ghwayran prison", "Clashes at Gweiran prison", "Guards at GHUWAYRAN PRISON fought back",
    "A riot at Ghweran prison", "Fire at Ghwairan prison", "Attack on Guweiran jail", "Gunmen attack al-Sina'a prison",
    "هجوم على سجن غويران في الحسكة",
])
def test_spellings_and_scripts_of_ghwayran(gazetteer, text):
    result = gazetteer.link("", text)
    assert names(result, "primary") == ["Ghwayran prison"], result.links


def test_exact_matches_are_more_confident_than_fuzzy_ones(gazetteer):
    exact = gazetteer.link("", "Riot at Gweiran prison").links[0]
    fuzzy = gazetteer.link("", "Riot at Guweiran prison").links[0]
    assert exact.confidence > fuzzy.confidence >= 0.5
    assert fuzzy.matched == "Guweiran"


def test_matches_fall_on_word_boundaries(gazetteer):
    assert gazetteer.link("", "Tajikistan and Taji-based traders meet in Kujeville").links == []
    assert gazetteer.link("", "The Hollywood camp of supporters").links == []
    assert names(gazetteer.link("", "Militants stormed Kuje prison near Abuja")) == ["Kuje custodial centre"]


def test_transliterated_names_need_a_detention_word_nearby(gazetteer):
    assert gazetteer.link("", "Guweiran is a neighbourhood of Hasakah city").links == []


def test_a_place_beside_a_prison_links_that_places_prisons_with_low_confidence(gazetteer):
    result = gazetteer.link("", "Gunmen attacked a prison in Hasakeh overnight")
    assert sorted(names(result)) == ["Ghwayran prison", "Panorama prison"]
    assert all(link.confidence < 0.5 for link in result.links)
    camp = gazetteer.link("", "Women were smuggled out of a camp near al-Hol")
    assert names(camp) == ["al-Hol camp"]


def test_history_is_mentioned_and_the_event_is_primary(gazetteer):
    text = ("Gunmen attacked Taji prison on Tuesday night. The raid echoed the 2013 Abu Ghraib break, "
            "when hundreds of prisoners were freed.")
    result = gazetteer.link("Attack on Iraqi jail", text)
    assert names(result, "primary") == ["Taji prison"]
    assert names(result, "mentioned") == ["Abu Ghraib prison"]


def test_a_facility_named_in_the_title_is_primary(gazetteer):
    result = gazetteer.link("Abu Ghraib prison riot leaves two dead", "The ministry said order was restored.")
    assert names(result, "primary") == ["Abu Ghraib prison"]


def test_a_bare_name_needs_detention_context(gazetteer):
    assert gazetteer.link("", "Farmers protest in the Abu Ghraib district over water").links == []
    assert names(gazetteer.link("", "Inmates freed in the Abu Ghraib break")) == ["Abu Ghraib prison"]


def test_unknown_facilities_are_proposed_as_candidates(gazetteer):
    candidates = gazetteer.propose_candidates("", "Dozens escape from Zorgo Central Prison in Burkina Faso")
    assert [(c.name, c.place, c.country) for c in candidates] == [("Zorgo Central Prison", "Burkina Faso", "BF")]
    assert gazetteer.propose_candidates("", "Gunmen attacked a Syria jail") == []


def test_skeletons_fold_transliterations():
    assert skeleton("ghwayran") == skeleton("gweiran") == skeleton("guweiran") == skeleton("ghweran")


def test_french_words_for_kinds_of_prison_never_link_on_their_own():
    entries = [
        GazetteerEntry(11, "Niamey civil prison", "prison", "NE", "Niamey", None,
                       ("prison civile de Niamey", "maison d'arrêt de Niamey")),
        GazetteerEntry(12, "Nouna prison", "prison", "BF", "Nouna", None,
                       ("maison d'arrêt et de correction de Nouna",)),
    ]
    gazetteer = Gazetteer(entries)
    other_prison = gazetteer.link("Évasion à la maison d'arrêt de Kindia",
                                  "Des détenus se sont évadés de la prison civile de Kindia, en Guinée.")
    assert other_prison.links == []
    named = gazetteer.link("Mutinerie à la maison d'arrêt de Niamey", "Des détenus ont pris des gardiens en otage.")
    assert names(named, "primary") == ["Niamey civil prison"]
