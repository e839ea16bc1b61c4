"""An article has one primary facility (where its event happens) unless its lede reports events at several;
history and background are `mentioned`. Realistic gazetteer; sentences written for this test."""

from __future__ import annotations

import pytest

from tests.linking_support import links, realistic_gazetteer


@pytest.fixture(scope="module")
def gazetteer(tmp_path_factory):
    return realistic_gazetteer(tmp_path_factory.mktemp("primary"))


def test_the_event_is_primary_and_the_background_is_mentioned(gazetteer):
    title = "Inmates escape from Badush prison"
    text = ("Dozens of inmates escaped from Badush prison on Tuesday night, officials said. The man who led them had "
            "been moved there from Taji prison last year. The break recalled the 2013 Abu Ghraib jailbreak.")
    result = gazetteer.link(title, text)
    assert links(result, "primary") == ["Badush prison"]
    assert links(result, "mentioned") == ["Abu Ghraib prison", "Taji prison"]


def test_a_facility_named_only_as_history_is_not_primary(gazetteer):
    text = "Fighters freed hundreds of prisoners from Abu Ghraib prison in 2013, a report recalls."
    result = gazetteer.link("", text)
    assert links(result, "primary") == []
    assert links(result, "mentioned") == ["Abu Ghraib prison"]


def test_events_at_several_facilities_give_several_primaries(gazetteer):
    title = "Riots at Kuje prison and Maiduguri prison"
    text = "Inmates rioted at both jails on Friday, setting fire to cell blocks, officials said."
    result = gazetteer.link(title, text)
    assert links(result, "primary") == ["Kuje prison", "Maiduguri Maximum Security Custodial Centre"]


def test_a_second_facility_without_an_event_is_mentioned(gazetteer):
    title = "Gunmen attack Kuje prison"
    text = ("Gunmen attacked Kuje prison near Abuja on Tuesday and freed hundreds of inmates. Some of those held there "
            "had been transferred from Suleja prison, officials said.")
    result = gazetteer.link(title, text)
    assert links(result, "primary") == ["Kuje prison"]
    assert links(result, "mentioned") == ["Suleja Medium Security Custodial Centre"]


def test_an_earlier_event_at_another_facility_after_the_lede_is_mentioned(gazetteer):
    title = "Prisoner absconds from Ford open prison"
    text = ("A man serving a long sentence absconded from Ford open prison on Sunday, police said. He was last seen "
            "near Arundel. Officers asked the public not to approach him. His family said he had struggled. He had "
            "also absconded from Holloway once before, when he was held there on remand.")
    result = gazetteer.link(title, text)
    assert links(result, "primary") == ["HMP Ford"]


def test_without_event_words_the_facility_the_article_is_about_is_primary(gazetteer):
    title = "Inspectors praise education at Badush prison"
    text = "The report also compared Badush prison with Taji prison, where classes are rarer."
    result = gazetteer.link(title, text)
    assert links(result, "primary") == ["Badush prison"]
    assert links(result, "mentioned") == ["Taji prison"]
