"""A facility the text names is still linked as primary in the realistic gazetteer, including names made of
everyday words when the text writes them as names beside detention words. Sentences written for this test."""

from __future__ import annotations

import pytest

from tests.linking_support import links, realistic_gazetteer


@pytest.fixture(scope="module")
def gazetteer(tmp_path_factory):
    return realistic_gazetteer(tmp_path_factory.mktemp("named"))


@pytest.mark.parametrize("title, text, facility", [
    ("", "Gunmen stormed Ghwayran prison before dawn and freed dozens of detainees.", "Ghwayran prison"),
    ("Attack on Guweiran jail", "Fighters used a car bomb at the gate, officials said.", "Ghwayran prison"),
    ("هجوم على سجن غويران", "قال مسؤولون إن مسلحين هاجموا السجن ليلا.", "Ghwayran prison"),
    ("Évasion massive à la prison de Makala", "Des centaines de détenus se sont évadés dans la nuit.",
     "Makala central prison"),
    ("", "Bandits attacked Kuje prison near Abuja and hundreds of inmates escaped.", "Kuje prison"),
    ("Riot on HMP Weare", "Prisoners on the ship barricaded a deck on Saturday.", "HMP Weare"),
    ("", "Two men absconded from Ford open prison in West Sussex on Sunday, police said.", "HMP Ford"),
    ("", "Prisoners at Holloway staged a rooftop protest over visiting rules.", "Holloway prison"),
    ("", "Guards at Forest prison in Brussels went on strike after an assault.", "Forest prison"),
    ("", "Three inmates escaped from the Rock in a raft, the warden said.", "Alcatraz"),
])
def test_a_named_facility_is_primary(gazetteer, title, text, facility):
    result = gazetteer.link(title, text)
    assert links(result, "primary") == [facility], result.links
    assert result.primary[0].confidence >= 0.5


@pytest.mark.parametrize("text", [
    "A man was stabbed on Holloway Road on Friday evening.",
    "Ford said it would cut prices of its electric cars.",
    "The Forest of Dean is popular with walkers.",
    "Washington said it would send more aid to the region.",
    "Rock music festivals return this summer.",
])
def test_the_same_words_outside_detention_link_nothing(gazetteer, text):
    assert gazetteer.link("", text).links == []


def test_a_town_name_alone_is_a_place_not_a_name(gazetteer):
    # "Exeter" is HMP Exeter's town: beside a prison word without an event it is context only.
    result = gazetteer.link("", "Prisoners in Exeter said the jail was overcrowded.")
    assert links(result, "primary") == []
