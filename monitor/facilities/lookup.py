"""Finding facilities the way users name them, for every command and dashboard field that takes one.

A query is tried, in order, as: a slug, a name or alias (after normalize_name), the distinctive part of a
name or alias ("Gweiran", "al-Hol", "Hol": the name without generic words such as prison, camp or سجن), and
a minor misspelling of either (rapidfuzz). The first step that finds anything decides; one facility is used,
several are listed for the user to choose from, none gives ranked suggestions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from rapidfuzz import fuzz, process
from sqlmodel import Session, select

from monitor.facilities.gazetteer import GENERIC_TOKENS
from monitor.facilities.names import normalize_name
from monitor.facilities.profiles import fact_history, find_facilities
from monitor.store.schema import Facility, FacilityAlias, FacilityProfileChange

# A misspelling is taken as the facility only when it is this close (rapidfuzz ratio, 0-100) ...
SPELLING_ACCEPT = 85
# ... and no other facility comes within this many points; otherwise the close ones are listed.
SPELLING_TIE = 3
# Distinctive parts shorter than this must match exactly: "Hol" and "Roj" are one letter from many words.
SPELLING_MIN_LENGTH = 5
SUGGESTIONS = 5
SUGGESTION_CUTOFF = 70
# Suggestions far behind the best one are noise, such as a shared word "prison".
SUGGESTION_SPREAD = 12
# When a distinctive part names several facilities ("al-Hol": the camp and the jail beside it), the one holding
# at least this many times the people of each other (the most it has been recorded holding or built for, over
# its whole fact history: an emptied camp is still the one its name means) is the one meant; the others are
# reported beside it. A facility with no recorded figure does not contest; with no figures at all, all are listed.
PROMINENCE_RATIO = 10


def distinctive_part(normalized: str) -> str:
    """A normalised name without its generic words (the gazetteer's): "hol camp" -> "hol", "سجن غويران" -> "غويران"."""
    return " ".join(word for word in normalized.split() if word not in GENERIC_TOKENS)


@dataclass
class FacilityLookup:
    """What a query found: `matches` (one to use, or several to choose from), how, and suggestions when none."""

    query: str
    matches: list[Facility] = field(default_factory=list)
    how: Optional[str] = None  # "exact", "distinctive", "spelling"
    suggestions: list[Facility] = field(default_factory=list)
    # Facilities that also answer to the query but were passed over for a far larger one.
    others: list[Facility] = field(default_factory=list)

    @property
    def facility(self) -> Optional[Facility]:
        return self.matches[0] if len(self.matches) == 1 else None


class FacilityLookupError(LookupError):
    """No facility, or several, answer to what the user typed; `matches` holds the several and
    `suggestions` the close names when there was none."""

    def __init__(self, query: str, matches: list[Facility], suggestions: Optional[list[Facility]] = None):
        self.query = query
        self.matches = matches
        self.suggestions = list(suggestions or [])
        if matches:
            names = "\n".join(f"  {f.slug}  {f.name} ({f.country})" for f in matches)
            message = f"{query!r} matches several facilities; name one by slug:\n{names}"
        elif self.suggestions:
            message = f"no facility named {query!r}; did you mean: {describe_facilities(self.suggestions)}?"
        else:
            message = f"no facility named {query!r}; see `monitor facilities list`"
        super().__init__(message)


def describe_facilities(facilities: list[Facility]) -> str:
    return ", ".join(f"{f.name} ({f.slug})" for f in facilities)


def _names(session: Session) -> tuple[dict[int, Facility], list[tuple[int, str]]]:
    """Every facility, and every (facility id, normalised name or alias) pair."""
    facilities = {f.id: f for f in session.exec(select(Facility))}
    names = [(f.id, normalize_name(f.name)) for f in facilities.values()]
    names += [(facility_id, normalized) for facility_id, normalized
              in session.exec(select(FacilityAlias.facility_id, FacilityAlias.normalized))]
    return facilities, [(facility_id, name) for facility_id, name in names if name]


def _sorted(facilities: dict[int, Facility], ids) -> list[Facility]:
    return sorted((facilities[i] for i in set(ids) if i in facilities), key=lambda f: (f.name, f.slug))


def lookup_facility(session: Session, query: str) -> FacilityLookup:
    """Every facility the query could mean, by the first of exact, distinctive-part and misspelling that finds
    any; with ranked suggestions when none does."""
    query = (query or "").strip()
    result = FacilityLookup(query)
    if not query:
        return result
    exact = find_facilities(session, query)
    if exact:
        result.matches, result.how = exact, "exact"
        return result
    normalized = normalize_name(query)
    if not normalized:
        return result
    wanted = distinctive_part(normalized) or normalized
    facilities, names = _names(session)
    keyed = [(facility_id, distinctive_part(name)) for facility_id, name in names]
    found = {facility_id for facility_id, part in keyed if part and part == wanted}
    if found:
        result.matches, result.how = _sorted(facilities, found), "distinctive"
        prominent = _prominent(session, result.matches)
        if prominent is not None:
            result.others = [f for f in result.matches if f is not prominent]
            result.matches = [prominent]
        return result
    best: dict[int, float] = {}
    for facility_id, name in names:
        score = fuzz.ratio(normalized, name)
        part = distinctive_part(name)
        if part and len(part) >= SPELLING_MIN_LENGTH and len(wanted) >= SPELLING_MIN_LENGTH:
            score = max(score, fuzz.ratio(wanted, part))
        best[facility_id] = max(best.get(facility_id, 0.0), score)
    top = max(best.values(), default=0.0)
    if top >= SPELLING_ACCEPT:
        result.matches = _sorted(facilities, [i for i, s in best.items() if s >= top - SPELLING_TIE])
        result.how = "spelling"
        return result
    result.suggestions = _suggestions(facilities, names, normalized)
    return result


def _largest_recorded(session: Session, facility: Facility) -> int:
    """The most people a facility has been recorded holding or built for, in its profile or fact history."""
    figures = [v for v in (facility.population, facility.capacity) if isinstance(v, int)]
    for name, summary in fact_history(session, facility.id).items():
        if name in ("population", "capacity"):
            figures += [v.value for v in summary.values if isinstance(v.value, int)]
    return max(figures, default=0)


def _prominent(session: Session, facilities: list[Facility]) -> Optional[Facility]:
    """The one of several facilities that has held PROMINENCE_RATIO times the people of each other, if any."""
    if len(facilities) < 2:
        return None
    sizes = {f.id: _largest_recorded(session, f) for f in facilities}
    ranked = sorted(facilities, key=lambda f: sizes[f.id], reverse=True)
    largest = sizes[ranked[0].id]
    if largest and all(sizes[f.id] * PROMINENCE_RATIO <= largest for f in ranked[1:]):
        return ranked[0]
    return None


def _suggestions(facilities: dict[int, Facility], names: list[tuple[int, str]], normalized: str) -> list[Facility]:
    """Facilities with names close to the query, best first. A query with a distinctive part is compared with
    distinctive parts, so that sharing the word "jail" makes nothing close."""
    wanted = distinctive_part(normalized)
    if wanted:
        names = [(facility_id, part) for facility_id, part in
                 ((facility_id, distinctive_part(name)) for facility_id, name in names) if part]
    choices = [name for _facility_id, name in names]
    found = process.extract(wanted or normalized, choices, scorer=fuzz.WRatio, limit=SUGGESTIONS * 3,
                            score_cutoff=SUGGESTION_CUTOFF)
    chosen: list[Facility] = []
    best = found[0][1] if found else 0
    for _name, score, index in found:
        if score < best - SUGGESTION_SPREAD:
            break
        facility = facilities[names[index][0]]
        if facility not in chosen:
            chosen.append(facility)
    return chosen[:SUGGESTIONS]


def suggest_facilities(session: Session, query: str) -> list[Facility]:
    """Close names for a query, best first (the suggestions a failed look-up gives)."""
    facilities, names = _names(session)
    normalized = normalize_name(query or "")
    return _suggestions(facilities, names, normalized) if normalized else []


def resolve_lookup(session: Session, query: str) -> FacilityLookup:
    """lookup_facility when it found exactly one facility (its `others` may name the ones passed over);
    FacilityLookupError (with the several, or with suggestions) otherwise."""
    found = lookup_facility(session, query)
    if len(found.matches) != 1:
        raise FacilityLookupError(query, found.matches, found.suggestions)
    return found


def resolve_facility(session: Session, query: str) -> Facility:
    """The one facility a slug, name, alias, distinctive part or near spelling means; FacilityLookupError
    (with the several, or with suggestions) otherwise."""
    return resolve_lookup(session, query).matches[0]


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
