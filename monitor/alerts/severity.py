"""Severity of a signal: from its labels, scale cues in the text, the facility's profile and corroboration.

The result always comes with a human-readable reason, stored beside it, so an analyst can see why.
"""

from __future__ import annotations

import re
from typing import Optional, Sequence

from monitor.facilities.exposure import FacilityExposure
from monitor.vocabulary import SEVERITIES

BASE_LEVEL = {
    "prison_break": 1, "attack_on_facility": 2, "riot_unrest": 1, "resurgence_signal": 1,
    "conditions_alert": 0, "transfer_repatriation": 0,
}
_NUMBER_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "dozen": 12, "dozens": 24, "scores": 40, "hundred": 100, "hundreds": 200, "thousand": 1000, "thousands": 2000,
}
_QUANTITY = r"(?P<n>\d[\d,]*|" + "|".join(_NUMBER_WORDS) + r")"
_KILLED = re.compile(_QUANTITY + r"\s+(?:\w+\s+){0,4}?(?:killed|dead|died|deaths|bodies|slain)", re.I)
_KILLED_AFTER = re.compile(r"(?:killed|killing|deaths? of|left)\s+(?:at least\s+|more than\s+|nearly\s+|some\s+)?"
                           + _QUANTITY, re.I)
_FREED = re.compile(_QUANTITY + r"\s+(?:\w+\s+){0,4}?(?:escaped|escapees|freed|fled|on the loose|broke out|at large|"
                    r"inmates escaped|prisoners escaped|detainees escaped|évadés|fugitives)", re.I)
_FREED_AFTER = re.compile(r"(?:freeing|freed|escape of|set)\s+(?:at least\s+|more than\s+|nearly\s+|some\s+)?"
                          + _QUANTITY, re.I)


def _quantity(match) -> int:
    raw = match.group("n").lower().replace(",", "")
    return int(raw) if raw.isdigit() else _NUMBER_WORDS.get(raw, 0)


def scale_cues(text: str) -> tuple[int, int]:
    """(people killed, people freed or escaped): the largest figures the text gives, 0 when none."""
    killed = max([_quantity(m) for m in _KILLED.finditer(text)] + [_quantity(m) for m in _KILLED_AFTER.finditer(text)]
                 + [0])
    freed = max([_quantity(m) for m in _FREED.finditer(text)] + [_quantity(m) for m in _FREED_AFTER.finditer(text)]
                + [0])
    return killed, freed


def assess_severity(labels: Sequence[str], text: str, facility: Optional[FacilityExposure] = None,
                    outlets: int = 1, cues: Optional[tuple[int, int]] = None) -> tuple[Optional[str], str]:
    """(severity, reason); severity is None when there is no signal.

    `cues` are (killed, freed) already found in the text (an alert keeps its articles' largest), in which
    case `text` is not searched again.
    """
    if not labels:
        return None, "no detention-risk signal"
    level = max(BASE_LEVEL[label] for label in labels)
    top = max(labels, key=lambda label: BASE_LEVEL[label])
    reasons = [f"{top.replace('_', ' ')} (base {SEVERITIES[level]})"]
    incident = any(label in ("prison_break", "attack_on_facility", "riot_unrest") for label in labels)
    killed, freed = cues if cues is not None else scale_cues(text)
    if killed >= 10 or freed >= 50:
        level += 1
        reasons.append(f"large scale: {killed or 'no'} killed, {freed or 'no'} freed or escaped reported")
    elif (killed >= 1 or freed >= 10) and level < 2:
        level = 2
        reasons.append(f"people harmed or at large: {killed} killed, {freed} freed or escaped reported")
    if "prison_break" in labels and "attack_on_facility" in labels:
        level += 1
        reasons.append("an armed attack that freed detainees")
    escape_risk = "prison_break" in labels or "attack_on_facility" in labels
    if facility is not None and incident:
        # Who is held matters most when they could get out: a break or an assault, not a riot inside.
        if facility.holds_jihadist_detainees and escape_risk:
            level += 1
            reasons.append(f"{facility.name} holds people suspected of jihadist membership")
        elif facility.population and facility.population >= 1000 and escape_risk:
            level += 1
            reasons.append(f"{facility.name} holds about {facility.population:,} people")
        if facility.population and facility.capacity and facility.population > facility.capacity:
            reasons.append(f"{facility.name} is over capacity ({facility.population:,} for {facility.capacity:,})")
        if "guard_shortage" in facility.condition_tags:
            reasons.append(f"{facility.name} is short of guards")
    if outlets >= 3:
        reasons.append(f"corroborated by {outlets} independent outlets")
    level = max(0, min(level, len(SEVERITIES) - 1))
    return SEVERITIES[level], "; ".join(reasons)
