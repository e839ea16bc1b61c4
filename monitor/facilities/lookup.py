"""Finding facilities the way users name them, for every command and dashboard field that takes one."""

from __future__ import annotations

from typing import Optional

from sqlmodel import Session, select

from monitor.facilities.profiles import find_facilities
from monitor.store.schema import Facility, FacilityProfileChange


class FacilityLookupError(LookupError):
    """No facility, or several, answer to what the user typed; `matches` holds the several."""

    def __init__(self, query: str, matches: list[Facility]):
        self.query = query
        self.matches = matches
        if matches:
            names = "\n".join(f"  {f.slug}  {f.name} ({f.country})" for f in matches)
            message = f"{query!r} matches several facilities; name one by slug:\n{names}"
        else:
            message = f"no facility named {query!r}"
        super().__init__(message)


def resolve_facility(session: Session, query: str) -> Facility:
    """The one facility a name, slug or alias means; FacilityLookupError when none or several."""
    matches = find_facilities(session, query)
    if len(matches) != 1:
        raise FacilityLookupError(query, matches)
    return matches[0]


def list_facilities(session: Session, *, country: Optional[str] = None, kind: Optional[str] = None) -> list[Facility]:
    query = select(Facility).order_by(Facility.country, Facility.name)
    if country:
        query = query.where(Facility.country == country.upper())
    if kind:
        query = query.where(Facility.kind == kind)
    return list(session.exec(query))


def profile_changes(session: Session, facility_id: int) -> list[FacilityProfileChange]:
    """Every recorded change to a facility's profile, oldest first."""
    return list(session.exec(select(FacilityProfileChange).where(FacilityProfileChange.facility_id == facility_id)
                             .order_by(FacilityProfileChange.changed_at, FacilityProfileChange.id)))
