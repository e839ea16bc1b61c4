"""Label implications the model is not trusted to learn from a few thousand examples.

An attack on a detention facility that the text says freed people is also a prison break. The
evidence must sit in a sentence about now: "hundreds were freed from Abu Ghraib in 2013" is history.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

_SENTENCE = re.compile(r"(?<=[.!?؟])\s+|\n+")
_YEAR = re.compile(r"\b(19\d\d|20\d\d)\b")
ESCAPE_EVIDENCE = re.compile(
    r"\b(?:prison[- ]?break|jail[- ]?break|break-?out|escaped|escapees|on the loose|at large"
    r"|set\b(?:\W+\w+){0,6}?\W+free\b"
    r"|freed\s+(?:\w+\s+){0,3}(?:prisoners|inmates|detainees|fighters|militants)"
    r"|(?:prisoners|inmates|detainees)\s+(?:\w+\s+){0,3}(?:escaped|fled|broke out))",
    re.IGNORECASE,
)


def current_escape_evidence(text: str, this_year: int | None = None) -> str | None:
    """The first sentence reporting people freed or escaping that mentions no earlier year, if any."""
    this_year = this_year or datetime.now(timezone.utc).year
    for sentence in _SENTENCE.split(text):
        if not ESCAPE_EVIDENCE.search(sentence):
            continue
        if any(int(year) < this_year - 1 for year in _YEAR.findall(sentence)):
            continue
        return sentence.strip()
    return None


def apply_label_rules(document: dict, labels: list[str]) -> list[str]:
    if "attack_on_facility" in labels and "prison_break" not in labels:
        text = f"{document.get('title') or ''}\n{document.get('text') or ''}"
        if current_escape_evidence(text):
            return ["prison_break", *labels]
    return labels
