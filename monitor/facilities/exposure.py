"""A facility's standing exposure: what of its profile makes a signal there more serious.

Not to be confused with the facility's risk score (monitor/alerts/risk.py), a 0-100 figure computed daily
from recent alerts. Severity (monitor/alerts/severity.py) reads this; the classifier and alert grouping
build it once per run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from sqlmodel import Session, select

from monitor.store.schema import Facility

# Words in a profile that say the facility holds jihadist detainees.
JIHADIST_MARKERS = ("islamic state", "isis", "isil", "daesh", "jihadist", "al-qaeda", "al qaeda", "boko haram",
                    "iswap", "taliban", "al-shabaab", "aqap", " adf ", "is suspects", "is fighters", "is members",
                    "is detainees", "is militants", "is-affiliated", "is families", "is-linked")


@dataclass(frozen=True)
class FacilityExposure:
    """What of a facility's profile bears on severity."""
    name: str
    population: Optional[int] = None
    capacity: Optional[int] = None
    condition_tags: tuple[str, ...] = ()
    holds_jihadist_detainees: bool = False


def facility_exposures(session: Session) -> dict[int, FacilityExposure]:
    exposures = {}
    for f in session.exec(select(Facility)):
        profile_text = " " + " ".join([f.conditions or "", f.operator or "", f.name,
                                       *[str(i.get("summary", "")) for i in f.incidents or []]]).lower() + " "
        jihadist = any(marker in profile_text for marker in JIHADIST_MARKERS)
        exposures[f.id] = FacilityExposure(f.name, f.population, f.capacity, tuple(f.condition_tags or ()), jihadist)
    return exposures
