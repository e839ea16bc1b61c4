"""Label implications and necessary conditions the model is not trusted to learn from a few thousand examples.

An attack on a detention facility that the text says freed people is also a prison break. The
evidence must sit in a sentence about now: "hundreds were freed from Abu Ghraib in 2013" is history.

An attack on a facility, a riot inside one or an alert about its conditions needs a place of detention
or the people held there somewhere in the text. Without one, the attack is on a city, a port or a base and the riot
is in the
street, whatever the n-grams say ("Russian rocket attack kills 20 in Vinnytsia", a gunman on a rooftop).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from monitor.classify.features import unglue_sentences

_SENTENCE = re.compile(r"(?<=[.!?؟])\s+|\n+")
_YEAR = re.compile(r"\b(19\d\d|20\d\d)\b")
ESCAPE_EVIDENCE = re.compile(
    r"\b(?:prison[- ]?break|jail[- ]?break|break-?out|escaped|escapees|on the loose|at large"
    r"|set\b(?:\W+\w+){0,6}?\W+free\b"
    r"|freed\s+(?:\w+\s+){0,3}(?:prisoners|inmates|detainees|fighters|militants)"
    r"|(?:prisoners|inmates|detainees)\s+(?:\w+\s+){0,3}(?:escaped|fled|broke out))",
    re.IGNORECASE,
)
# Words for a place of detention or the people held in one, in English, French and Arabic. Deliberately
# broad (it only ever removes a label): "camp", "cells", "guards" and "hostage" all let a label through.
DETENTION_PLACE = re.compile(
    r"\b(?:prison|jail|gaol|penitentiar|inmate|prisoner|detainee|detention|detained|custodial|convict|correctional"
    r"|corrections|cellblock|cells?\b|lock-?up|remand|borstal|penal|camps?\b|internment|gulag|stockade|brig\b"
    r"|hmp\b|yoi\b|reformator|juvenile|young offender|captiv|hostage|guards?\b|warders?\b|wardens?\b|escapee"
    r"|jailbreak|break-?out|lags?\b|nick\b|pow\b|pows\b|asylum seekers|migrants"
    r"|(?:reception|removal|processing|holding|repatriation|deportation|immigration|transit|migrant)"
    r" (?:centre|center|facility)"
    r"|hotspot|détenu|détention|pénitentiaire|maison d'arrêt|centre de rétention|geôle|mutin|évad|évasion|bagne"
    r"|codétenu|carcéra)"
    r"|سجن|سجون|سجناء|سجين|معتقل|محتجز|احتجاز|مخيم|زنزان|توقيف|نظارة|موقوف|إصلاح|نزلاء|نزيل|أسرى|الأسرى",
    re.IGNORECASE,
)
NEEDS_DETENTION_PLACE = ("attack_on_facility", "riot_unrest")
# Conditions are conditions of detention: "staff shortages" at a hospital or an airline are not. Custody
# counts here (deaths in police custody), and so do the camps named without the word "camp".
DETENTION_CONDITIONS_PLACE = re.compile(r"\b(?:custody|garde à vue|hmyoi|al-hol|roj)\b|الهول", re.IGNORECASE)
# A prison break also needs custody or getting away from it: "police free 77 people from a church" and
# "kidnapped aid workers freed" are rescues, not escapes.
CUSTODY_OR_GETTING_AWAY = re.compile(
    r"\b(?:escap|abscond|fled\b|flee|jailbreak|break-?out|broke out|on the run|at large|runaway|ran away|run away"
    r"|legged it|slip|smuggl|custody|court|dock\b|police station|marshals|fugitive|manhunt|recaptur|rearrest"
    r"|walked (?:away|out|off)|went missing|gone missing|missing from|fuite|fugitif|s'échapp|cavale|évad)"
    r"|فرار|فرّ|فروا|هرب|هروب|الفار|تهريب",
    re.IGNORECASE,
)


def current_escape_evidence(text: str, this_year: int | None = None) -> str | None:
    """The first sentence reporting people freed or escaping that mentions no earlier year, if any."""
    this_year = this_year or datetime.now(timezone.utc).year
    for sentence in _SENTENCE.split(unglue_sentences(text)):
        if not ESCAPE_EVIDENCE.search(sentence):
            continue
        if any(int(year) < this_year - 1 for year in _YEAR.findall(sentence)):
            continue
        return sentence.strip()
    return None


def apply_label_rules(document: dict, labels: list[str]) -> list[str]:
    if not labels:
        return labels
    text = f"{document.get('title') or ''}\n{document.get('text') or ''}"
    if not DETENTION_PLACE.search(text):
        labels = [label for label in labels if label not in NEEDS_DETENTION_PLACE]
        if "conditions_alert" in labels and not DETENTION_CONDITIONS_PLACE.search(text):
            labels.remove("conditions_alert")
        if "prison_break" in labels and not CUSTODY_OR_GETTING_AWAY.search(text):
            labels.remove("prison_break")
    if "attack_on_facility" in labels and "prison_break" not in labels:
        if current_escape_evidence(text):
            return ["prison_break", *labels]
    return labels
