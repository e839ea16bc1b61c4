"""Adding a candidate facility (an incident at a place not in the store) to the facility list.

The analyst supplies what they know with a source; the new facility goes through the same validated,
history-keeping path as every other profile write, then every alert and article mention that proposed
this candidate is linked to it, so later articles join the same alert and the gazetteer finds it.
"""

from __future__ import annotations

from typing import Optional

from sqlmodel import Session, select

from monitor.facilities.names import normalize_name
from monitor.facilities.profiles import FacilityProfile, apply_profiles, find_facilities
from monitor.store.schema import Alert, AlertStatusChange, Facility, FacilityMention, utcnow


class CandidateError(ValueError):
    pass


def _same_candidate(name: Optional[str], country: Optional[str], wanted_name: str,
                    wanted_country: Optional[str]) -> bool:
    return bool(name) and normalize_name(name) == normalize_name(wanted_name) \
        and (country or None) == (wanted_country or None)


def add_candidate_facility(session: Session, alert_id: int, profile: FacilityProfile, source_url: str,
                           actor: str) -> Facility:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise CandidateError(f"no alert #{alert_id}")
    if alert.facility_id is not None or not alert.candidate_name:
        raise CandidateError(f"alert #{alert_id} is already linked to a facility")
    if not source_url.strip().lower().startswith(("http://", "https://")):
        raise CandidateError("give the source of what you add as an http(s) URL")
    candidate_name, candidate_country = alert.candidate_name, alert.candidate_country
    if candidate_name.strip() not in profile.aliases and normalize_name(candidate_name) != normalize_name(profile.name):
        profile.aliases.append(candidate_name.strip())  # so the gazetteer finds it written the way the news did
    apply_profiles(session, [profile], actor=actor, origin="analyst", local=True, default_source=source_url.strip())
    matches = [f for f in find_facilities(session, profile.name) if f.country == profile.country.upper()]
    if not matches:
        raise CandidateError(f"{profile.name} was not stored")  # apply_profiles raises first on invalid values
    facility = matches[0]

    for other in session.exec(select(Alert).where(Alert.facility_id.is_(None), Alert.candidate_name.is_not(None))):
        if not _same_candidate(other.candidate_name, other.candidate_country, candidate_name, candidate_country):
            continue
        kind = other.group_key.rpartition("|")[2]
        other.facility_id = facility.id
        other.group_key = f"facility:{facility.id}|{kind}"
        other.updated_at = utcnow()
        session.add(AlertStatusChange(alert_id=other.id, from_status=other.status, to_status=other.status,
                                      actor=actor, note=f"Linked to the new facility {facility.name} ({source_url})"))
    for mention in session.exec(select(FacilityMention).where(FacilityMention.facility_id.is_(None),
                                                              FacilityMention.candidate_name.is_not(None))):
        if _same_candidate(mention.candidate_name, mention.candidate_country, candidate_name, candidate_country):
            mention.facility_id = facility.id
    session.flush()
    return facility
