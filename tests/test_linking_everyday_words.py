"""Everyday words of the supported languages never become facilities or places, however many facilities are known.

The gazetteer is the realistic one (bundled knowledge base + facilities named with everyday words + the real-news
facilities when ../shared is present), in a real SQLite store. Every sentence here was written for this test.
"""

from __future__ import annotations

import pytest
from wordfreq import top_n_list

from monitor.facilities.names import ORDINARY_WORD_LANGUAGES, is_ordinary_word
from tests.linking_support import realistic_gazetteer


@pytest.fixture(scope="module")
def gazetteer(tmp_path_factory):
    return realistic_gazetteer(tmp_path_factory.mktemp("everyday"))


@pytest.mark.parametrize("text", [
    "The Prison Service said staffing at several jails would improve next spring.",
    "Where the old prison stands, the river bends towards the sea.",
    "Ministers promised prison reform while inmates waited for news of their appeals.",
    "The houses next to the prison were searched by police on Tuesday.",
    "A court heard that the former inmate had found work as a cook.",
    "The United Nations criticised conditions for prisoners held without trial.",
    "Police said an inmate had been moved to a secure unit after the fight.",
    "Prisoners will be moved to new cells in March, the ministry said.",
    "Campaigners walked through the forest to the prison gates at dawn.",
    "The rock band played a concert for inmates in the prison yard.",
    "Detectives followed the leads that took them to a jail in the north.",
    "A red bank of cloud hung over the detention centre as guards changed shifts.",
    "The houses of parliament debated the prison budget while protesters gathered.",
    "Relatives said the service at the prison chapel was moving.",
    "Inmates took part in a moor court exercise run by law students.",
])
def test_english_everyday_words_link_nothing(gazetteer, text):
    assert gazetteer.link("", text).links == []


@pytest.mark.parametrize("title, text", [
    ("Réforme des prisons", "Le service pénitentiaire a annoncé une réforme pendant que la cour délibérait."),
    ("Surpopulation", "Les détenus de la prison ont été transférés vers une maison d'arrêt voisine en mars."),
    ("Cárceles", "La policía dijo que los presos de la cárcel fueron trasladados mientras llovía."),
    ("Presídio", "A polícia disse que os presos do presídio foram transferidos durante a noite."),
    ("السجون", "قالت الشرطة إن السجناء نقلوا إلى سجن آخر بعد الظهر."),
])
def test_everyday_words_of_other_languages_link_nothing(gazetteer, title, text):
    assert gazetteer.link(title, text).links == []


def test_the_issues_examples_are_everyday_words():
    for word in ("where", "reform", "while", "houses", "court", "former", "united", "secure", "police", "inmate",
                 "service", "march", "forest"):
        assert is_ordinary_word(word), word
    for name in ("weare", "ghwayran", "pentonville", "hasakah", "kuje", "badush"):
        assert not is_ordinary_word(name), name


# Sentence shapes with a detention word beside the slot, the setting in which spelling tolerance and place context
# used to fire. The slot gets each of the most frequent words of each supported language, as written in running
# text (lower case).
TEMPLATES = {
    "en": "Inmates said {word} the prison was calm.",
    "fr": "Les détenus ont dit que {word} la prison était calme.",
    "es": "Los presos dijeron que {word} la cárcel estaba tranquila.",
    "pt": "Os presos disseram que {word} a prisão estava calma.",
    "ar": "قال السجناء إن {word} في السجن هادئ.",
}


@pytest.mark.parametrize("language", ORDINARY_WORD_LANGUAGES)
def test_the_most_frequent_words_of_each_language_never_link(gazetteer, language):
    words = [w for w in top_n_list(language, 1500) if w.isalpha()]
    linked = {}
    for word in words:
        result = gazetteer.link("", TEMPLATES[language].format(word=word))
        if result.links:
            linked[word] = [(link.name, link.matched) for link in result.links]
    assert linked == {}
