"""Facility profiles: the plain record every source produces, and the one path that writes it to the store.

The bundled knowledge base, CSV imports and analysts' edits all go through `apply_profiles`, so every
change is validated, kept in the profile history with who/when/source, and analysts' own values are
never overwritten by a later reload of the bundled file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

from sqlalchemy import insert
from sqlmodel import Session, select

from monitor.facilities.names import normalize_name, slugify
from monitor.store.db import validated_rows
from monitor.store.schema import Facility, FacilityAlias, FacilityProfileChange, utcnow

# Profile fields that map one-to-one onto Facility columns, in display order.
PROFILE_FIELDS = (
    "name", "kind", "country", "admin_area", "city", "latitude", "longitude", "location_precision",
    "operator", "status", "capacity", "population", "population_date", "nationalities", "conditions",
    "condition_tags", "incidents",
)

KIND_SYNONYMS = {
    "penitentiary": "prison", "correctional_centre": "prison", "correctional_center": "prison",
    "correctional_facility": "prison", "custodial_centre": "prison", "custodial_center": "prison",
    "gaol": "prison", "maison_d_arret": "prison", "centre_penitentiaire": "prison",
    "detention_center": "detention_centre", "detention_facility": "detention_centre",
    "holding_centre": "detention_centre", "holding_center": "detention_centre",
    "immigration_detention": "detention_centre", "migrant_detention_centre": "detention_centre",
    "prison_camp": "camp", "displacement_camp": "camp", "idp_camp": "camp",
    "juvenile_center": "juvenile_centre", "youth_detention": "juvenile_centre",
}


def normalize_kind(raw: str) -> str:
    key = normalize_name(raw).replace(" ", "_")
    return KIND_SYNONYMS.get(key, key)


@dataclass
class FacilityProfile:
    """What is known of one facility, from one source. None means unknown (never clears a value)."""

    name: str
    country: str
    slug: Optional[str] = None
    kind: Optional[str] = None
    admin_area: Optional[str] = None
    city: Optional[str] = None
    latitude: Optional[float] = None
    longitude: Optional[float] = None
    location_precision: Optional[str] = None
    operator: Optional[str] = None
    status: Optional[str] = None
    capacity: Optional[int] = None
    population: Optional[int] = None
    population_date: Optional[str] = None
    nationalities: Optional[list[dict[str, Any]]] = None
    conditions: Optional[str] = None
    condition_tags: Optional[list[str]] = None
    incidents: Optional[list[dict[str, Any]]] = None
    aliases: list[str] = field(default_factory=list)
    # Provenance per field: {"capacity": {"source": "https://...", "as_of": "2022"}}
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def known_fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in PROFILE_FIELDS if getattr(self, name) is not None}


@dataclass
class ApplyResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_local: int = 0  # fields left alone because an analyst had set them


class FacilityIndex:
    """Lookup of existing facilities by slug and by (normalised name or alias, country)."""

    def __init__(self, session: Session):
        self.by_slug: dict[str, Facility] = {}
        self.by_id: dict[int, Facility] = {}
        self.by_name_country: dict[tuple[str, str], Facility] = {}
        self.aliases: dict[int, set[str]] = {}
        for facility in session.exec(select(Facility)):
            self._add_facility(facility)
        for facility_id, normalized in session.exec(select(FacilityAlias.facility_id, FacilityAlias.normalized)):
            self.aliases.setdefault(facility_id, set()).add(normalized)
            facility = self.by_id.get(facility_id)
            if facility is not None:
                self.by_name_country.setdefault((normalized, facility.country), facility)

    def _add_facility(self, facility: Facility) -> None:
        self.by_slug[facility.slug] = facility
        if facility.id is not None:
            self.by_id[facility.id] = facility
        self.by_name_country[(normalize_name(facility.name), facility.country)] = facility

    def find(self, profile: FacilityProfile) -> Optional[Facility]:
        if profile.slug and profile.slug in self.by_slug:
            return self.by_slug[profile.slug]
        country = profile.country.upper()
        for name in [profile.name, *profile.aliases]:
            found = self.by_name_country.get((normalize_name(name), country))
            if found is not None:
                return found
        return None

    def unique_slug(self, profile: FacilityProfile) -> str:
        base = profile.slug or slugify(profile.name, profile.country)
        slug, n = base, 2
        while slug in self.by_slug:
            slug, n = f"{base}-{n}", n + 1
        return slug

    def register(self, facility: Facility, aliases: Iterable[str] = ()) -> None:
        self._add_facility(facility)
        for alias in aliases:
            self.by_name_country.setdefault((normalize_name(alias), facility.country), facility)


class _NewFacility:
    """A facility waiting in a batch for its bulk INSERT; the index can match later rows to it."""

    def __init__(self, values: dict[str, Any], profile: FacilityProfile):
        self.values = values
        self.profile = profile
        self.slug = values["slug"]
        self.name = values["name"]
        self.country = values["country"]
        self.id: Optional[int] = None


def apply_profiles(
    session: Session,
    profiles: Iterable[FacilityProfile],
    *,
    actor: str,
    origin: str,
    local: bool,
    default_source: Optional[str] = None,
) -> ApplyResult:
    """Create or update facilities from profiles, recording each change.

    `local=True` marks the written fields as the analyst's own (imports, dashboard edits), so that
    `local=False` writers (the bundled knowledge base) leave them alone afterwards.
    """
    result = ApplyResult()
    index = FacilityIndex(session)
    now = utcnow()
    pending: list[_NewFacility] = []
    for profile in profiles:
        facility = index.find(profile)
        if facility is None:
            new = _NewFacility(_new_facility_values(index, profile, origin=origin, local=local, now=now), profile)
            pending.append(new)
            index.register(new, profile.aliases)
            continue
        if isinstance(facility, _NewFacility):
            # Matched, by an alias, a facility created earlier in this batch: write the batch first.
            result.created += _insert_new(session, index, pending, actor=actor, now=now,
                                          default_source=default_source)
            pending = []
            facility = session.get(Facility, facility.id)
            index.register(facility)
        changed, kept = _update(session, index, facility, profile, actor=actor, local=local,
                                default_source=default_source, now=now)
        result.kept_local += kept
        if changed:
            result.updated += 1
        else:
            result.unchanged += 1
    result.created += _insert_new(session, index, pending, actor=actor, now=now, default_source=default_source)
    session.flush()
    return result


def _new_facility_values(index: "FacilityIndex", profile: FacilityProfile, *, origin: str, local: bool,
                         now) -> dict[str, Any]:
    values = profile.known_fields()
    values["kind"] = values.get("kind") or "prison"
    values.update(slug=index.unique_slug(profile), origin=origin, facts=dict(profile.facts),
                  local_fields=sorted(values) if local else [], created_at=now, updated_at=now)
    return values


def _insert_new(session: Session, index: "FacilityIndex", pending: list[_NewFacility], *, actor: str, now,
                default_source: Optional[str]) -> int:
    """Bulk-insert new facilities with their aliases and a 'created' history entry each.

    One INSERT ... RETURNING per table instead of an ORM object per row: a 20,000-row import spends
    seconds here rather than most of a minute building and flushing instrumented objects.
    """
    if not pending:
        return 0
    session.flush()
    rows = validated_rows(Facility, [new.values for new in pending])
    ids = session.execute(insert(Facility).returning(Facility.id, sort_by_parameter_order=True), rows).scalars().all()
    aliases: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    for new, facility_id in zip(pending, ids):
        new.id = facility_id
        known = index.aliases.setdefault(facility_id, set())
        own_name = normalize_name(new.name)
        for alias in new.profile.aliases:
            alias = alias.strip()
            normalized = normalize_name(alias)
            if normalized and normalized not in known and normalized != own_name:
                known.add(normalized)
                aliases.append({"facility_id": facility_id, "alias": alias, "normalized": normalized})
        history.append({"facility_id": facility_id, "field": "created", "new_value": new.name, "changed_by": actor,
                        "changed_at": now, "source_url": default_source or _first_source(new.profile)})
    if aliases:
        session.execute(insert(FacilityAlias), validated_rows(FacilityAlias, aliases))
    session.execute(insert(FacilityProfileChange), validated_rows(FacilityProfileChange, history))
    return len(pending)


def _source_for(profile: FacilityProfile, field_name: str, default_source: Optional[str]) -> Optional[str]:
    fact = profile.facts.get(field_name) or {}
    return fact.get("source") or default_source


def _first_source(profile: FacilityProfile) -> Optional[str]:
    for fact in profile.facts.values():
        if fact.get("source"):
            return fact["source"]
    return None


def _update(session, index, facility, profile, *, actor, local, default_source, now) -> tuple[bool, int]:
    changed = False
    kept = 0
    local_fields = set(facility.local_fields or [])
    facts = dict(facility.facts or {})
    for field_name, new_value in profile.known_fields().items():
        if field_name == "name":
            continue  # a facility is matched by name or alias; renaming is an explicit edit
        old_value = getattr(facility, field_name)
        if old_value == new_value:
            continue
        if not local and field_name in local_fields:
            kept += 1
            continue
        setattr(facility, field_name, new_value)
        session.add(FacilityProfileChange(
            facility_id=facility.id, field=field_name, old_value=old_value, new_value=new_value,
            changed_by=actor, changed_at=now, source_url=_source_for(profile, field_name, default_source),
        ))
        if field_name in profile.facts:
            facts[field_name] = profile.facts[field_name]
        if local:
            local_fields.add(field_name)
        changed = True
    if changed:
        facility.facts = facts
        facility.local_fields = sorted(local_fields)
        facility.updated_at = now
    added = _add_aliases(session, index, facility, profile.aliases)
    if added:
        session.add(FacilityProfileChange(
            facility_id=facility.id, field="aliases", old_value=None, new_value=added, changed_by=actor,
            changed_at=now, source_url=default_source or _first_source(profile),
        ))
        changed = True
    return changed, kept


def _add_aliases(session, index, facility: Facility, aliases: Iterable[str]) -> list[str]:
    known = index.aliases.setdefault(facility.id, set())
    added = []
    for alias in aliases:
        alias = alias.strip()
        normalized = normalize_name(alias)
        if not normalized or normalized in known or normalized == normalize_name(facility.name):
            continue
        known.add(normalized)
        session.add(FacilityAlias(facility_id=facility.id, alias=alias, normalized=normalized))
        index.by_name_country.setdefault((normalized, facility.country), facility)
        added.append(alias)
    return added


def aliases_of(session: Session, facility_id: int) -> list[str]:
    rows = session.exec(select(FacilityAlias.alias).where(FacilityAlias.facility_id == facility_id)
                        .order_by(FacilityAlias.id))
    return list(rows)


def find_facilities(session: Session, query: str) -> list[Facility]:
    """Facilities whose slug, name or alias equals the query after normalisation."""
    query = query.strip()
    exact = session.exec(select(Facility).where(Facility.slug == query)).first()
    if exact is not None:
        return [exact]
    normalized = normalize_name(query)
    if not normalized:
        return []
    ids = set(session.exec(select(FacilityAlias.facility_id).where(FacilityAlias.normalized == normalized)))
    ids.update(facility_id for facility_id, name in session.exec(select(Facility.id, Facility.name))
               if normalize_name(name) == normalized)
    if not ids:
        return []
    return list(session.exec(select(Facility).where(Facility.id.in_(ids)).order_by(Facility.name)))
