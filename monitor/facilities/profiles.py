"""Facility profiles: the plain record every source produces, and the one path that writes it to the store.

The bundled knowledge base, CSV imports and analysts' edits all go through `apply_profiles`, so every
change is validated, kept in the profile history with who/when/source, and analysts' own values are
never overwritten by a later reload of the bundled file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Optional

from sqlalchemy import delete, insert
from sqlmodel import Session, select

from monitor.facilities.names import normalize_name, slugify
from monitor.store.db import validated_rows
from monitor.store.schema import Facility, FacilityAlias, FacilityFactValue, FacilityProfileChange, utcnow
from monitor.vocabulary import HISTORIED_FACTS

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
    # Every dated value of a historied fact (HISTORIED_FACTS), oldest or newest first, as
    # {"value", "source", "as_of", "note"}. A field left out here is recorded from its single value
    # and `facts` provenance instead.
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

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
    fact_origin = origin if origin in ("bundled", "import") else "analyst"
    ledger = _FactLedger(session, actor=actor, origin=fact_origin, now=now, default_source=default_source,
                         follows_file=fact_origin == "bundled" and not local)
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
                                          default_source=default_source, ledger=ledger)
            pending = []
            facility = session.get(Facility, facility.id)
            index.register(facility)
        changed, kept = _update(session, index, facility, profile, actor=actor, local=local,
                                default_source=default_source, now=now)
        changed = ledger.record(facility.id, profile) or changed
        result.kept_local += kept
        if changed:
            result.updated += 1
        else:
            result.unchanged += 1
    result.created += _insert_new(session, index, pending, actor=actor, now=now, default_source=default_source,
                                  ledger=ledger)
    ledger.flush()
    session.flush()
    return result


def _fact_key(field_name: str, value: Any, source: Optional[str], as_of: Optional[str],
              note: Optional[str]) -> tuple:
    return field_name, json.dumps(value, sort_keys=True, ensure_ascii=False), source or None, as_of or None, \
        note or None


def fact_entries(profile: FacilityProfile, default_source: Optional[str] = None) -> dict[str, list[dict[str, Any]]]:
    """The dated values a profile gives for each historied fact: its history, or its one value."""
    entries: dict[str, list[dict[str, Any]]] = {}
    for name in HISTORIED_FACTS:
        if name in profile.history:
            entries[name] = [dict(e) for e in profile.history[name]]
            continue
        value = getattr(profile, name)
        if value is None:
            continue
        fact = profile.facts.get(name) or {}
        as_of = fact.get("as_of") or (profile.population_date if name == "population" else None)
        entries[name] = [{"value": value, "source": fact.get("source") or default_source, "as_of": as_of}]
    return entries


class _FactLedger:
    """Writes each profile's dated fact values, skipping those already stored.

    Rows of the bundled file follow the file: a reload adds new entries and removes bundled entries the
    file no longer has. Analysts' and imports' rows are only ever added to, so an edit never loses the
    values it replaced.
    """

    def __init__(self, session: Session, *, actor: str, origin: str, now, default_source: Optional[str],
                 follows_file: bool):
        self.session = session
        self.actor = actor
        self.origin = origin
        self.now = now
        self.default_source = default_source
        self.follows_file = follows_file
        self._stored: Optional[dict[int, list[tuple[int, tuple, str]]]] = None
        self._rows: list[dict[str, Any]] = []
        self._added: dict[int, set[tuple]] = {}  # keys of rows waiting in _rows, per facility
        self._stale: list[int] = []

    def _existing(self, facility_id: int) -> list[tuple[int, tuple, str]]:
        if self._stored is None:
            # One query for the whole table: an import touching thousands of facilities stays one round trip.
            self._stored = {}
            columns = (FacilityFactValue.id, FacilityFactValue.facility_id, FacilityFactValue.field,
                       FacilityFactValue.value, FacilityFactValue.source_url, FacilityFactValue.as_of,
                       FacilityFactValue.note, FacilityFactValue.origin)
            for row_id, fid, name, value, source, as_of, note, origin in self.session.exec(select(*columns)):
                self._stored.setdefault(fid, []).append((row_id, _fact_key(name, value, source, as_of, note),
                                                         origin))
        return self._stored.get(facility_id, [])

    def record(self, facility_id: int, profile: FacilityProfile, *, new: bool = False) -> bool:
        existing = [] if new else self._existing(facility_id)
        added = self._added.setdefault(facility_id, set())
        known = {key for _, key, _ in existing} | added
        wanted: set[tuple] = set()
        changed = False
        for name, entries in fact_entries(profile, self.default_source).items():
            for entry in entries:
                value = entry.get("value")
                if value is None:
                    continue
                key = _fact_key(name, value, entry.get("source"), entry.get("as_of"), entry.get("note"))
                wanted.add(key)
                if key in known or (not self.follows_file and self._restates(known, key)):
                    continue
                known.add(key)
                added.add(key)
                self._rows.append({"facility_id": facility_id, "field": name, "value": value,
                                   "source_url": entry.get("source") or None, "as_of": entry.get("as_of") or None,
                                   "note": entry.get("note") or None, "origin": self.origin,
                                   "recorded_by": self.actor, "recorded_at": self.now})
                changed = True
        if self.follows_file:
            stale = [row_id for row_id, key, origin in existing if origin == "bundled" and key not in wanted]
            self._stale.extend(stale)
            changed = changed or bool(stale)
        return changed

    @staticmethod
    def _restates(known: set[tuple], key: tuple) -> bool:
        """An import or edit that repeats a stored value (same date, or no date given) adds nothing new:
        re-importing an export, whose rows carry one source per facility, must not double the history."""
        name, value, _source, as_of, _note = key
        return any(k[0] == name and k[1] == value and (as_of is None or k[3] == as_of) for k in known)

    def flush(self) -> None:
        if self._stale:
            self.session.execute(delete(FacilityFactValue).where(FacilityFactValue.id.in_(self._stale)))
        if self._rows:
            self.session.execute(insert(FacilityFactValue), validated_rows(FacilityFactValue, self._rows))
        self._stale, self._rows = [], []


def _new_facility_values(index: "FacilityIndex", profile: FacilityProfile, *, origin: str, local: bool,
                         now) -> dict[str, Any]:
    values = profile.known_fields()
    values["kind"] = values.get("kind") or "prison"
    values.update(slug=index.unique_slug(profile), origin=origin, facts=dict(profile.facts),
                  local_fields=sorted(values) if local else [], created_at=now, updated_at=now)
    return values


def _insert_new(session: Session, index: "FacilityIndex", pending: list[_NewFacility], *, actor: str, now,
                default_source: Optional[str], ledger: "_FactLedger") -> int:
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
        ledger.record(facility_id, new.profile, new=True)
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


# --- Fact history: the range and the latest of each historied fact ------------------------------------------

@dataclass
class FactValue:
    field: str
    value: Any
    source: Optional[str]
    as_of: Optional[str]
    note: Optional[str] = None
    origin: str = "bundled"
    recorded_by: str = ""
    recorded_at: Optional[datetime] = None

    @property
    def text(self) -> str:
        return format_fact_value(self.field, self.value)


def format_fact_value(field_name: str, value: Any) -> str:
    if field_name in ("capacity", "population") and isinstance(value, int):
        return f"{value:,}"
    return str(value)


def as_of_key(as_of: Optional[str]) -> str:
    """Sort key of a partial date: '2026' before '2026-01' before '2026-01-05'; undated first."""
    return as_of or ""


def latest_group(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries with the latest as-of date, in their given order (several when figures conflict)."""
    dated = [e for e in entries if e.get("value") is not None]
    if not dated:
        return []
    newest = max(as_of_key(e.get("as_of")) for e in dated)
    return [e for e in dated if as_of_key(e.get("as_of")) == newest]


@dataclass
class FactSummary:
    """Every recorded value of one fact, oldest first, with the latest and (for numbers) the range."""

    field: str
    values: list[FactValue]

    @property
    def latest(self) -> list[FactValue]:
        if not self.values:
            return []
        newest = max(as_of_key(v.as_of) for v in self.values)
        return [v for v in self.values if as_of_key(v.as_of) == newest]

    @property
    def latest_as_of(self) -> Optional[str]:
        latest = self.latest
        return latest[0].as_of if latest else None

    @property
    def conflicting(self) -> bool:
        """Sources disagree on the latest date: their figures are kept side by side."""
        return len({json.dumps(v.value, sort_keys=True) for v in self.latest}) > 1

    @property
    def numeric(self) -> bool:
        return self.field in ("capacity", "population")

    @property
    def low(self) -> Optional[int]:
        numbers = [v.value for v in self.values if isinstance(v.value, int)]
        return min(numbers) if self.numeric and numbers else None

    @property
    def high(self) -> Optional[int]:
        numbers = [v.value for v in self.values if isinstance(v.value, int)]
        return max(numbers) if self.numeric and numbers else None

    def latest_text(self) -> str:
        """'1,000 vs 4,000 (2026-02)': the latest value, or the conflicting latest values side by side."""
        seen: list[str] = []
        for value in self.latest:
            if value.text not in seen:
                seen.append(value.text)
        when = f" ({self.latest_as_of})" if self.latest_as_of else ""
        return " vs ".join(seen) + when

    def range_text(self) -> Optional[str]:
        """'1,000 to 5,000 over 6 figures, 2022-01 to 2026-02' for numbers with more than one value."""
        if not self.numeric or self.low is None or len(self.values) < 2:
            return None
        dates = [v.as_of for v in self.values if v.as_of]
        span = f", {dates[0]} to {dates[-1]}" if dates and dates[0] != dates[-1] else ""
        spread = f"{self.low:,}" if self.low == self.high else f"{self.low:,} to {self.high:,}"
        return f"{spread} over {len(self.values)} figures{span}"

    def describe(self) -> str:
        """One line for profiles and reports: the latest (with any conflict) and the range."""
        text = self.latest_text()
        if self.conflicting:
            text = f"sources differ: {text}"
        spread = self.range_text()
        if spread:
            text += f"; range {spread}"
        elif len(self.values) > 1:
            text += f"; {len(self.values)} recorded values since {self.values[0].as_of or 'an undated report'}"
        return text


def fact_history(session: Session, facility_id: int) -> dict[str, FactSummary]:
    """Each historied fact of a facility with every value recorded for it, oldest first."""
    rows = session.exec(select(FacilityFactValue).where(FacilityFactValue.facility_id == facility_id)
                        .order_by(FacilityFactValue.id))
    by_field: dict[str, list[FactValue]] = {}
    for row in rows:
        by_field.setdefault(row.field, []).append(FactValue(
            row.field, row.value, row.source_url, row.as_of, row.note, row.origin, row.recorded_by, row.recorded_at))
    summaries = {}
    for name in HISTORIED_FACTS:
        values = by_field.get(name)
        if values:
            # Stable sort: entries of one date keep the order they were recorded in.
            values.sort(key=lambda v: as_of_key(v.as_of))
            summaries[name] = FactSummary(name, values)
    return summaries


def history_lines(summary: FactSummary) -> list[str]:
    """Each recorded value, oldest first: 'as_of  value  source  (note; who added it)'."""
    lines = []
    for value in summary.values:
        extra = [value.note] if value.note else []
        if value.origin != "bundled":
            extra.append(f"{value.origin}: {value.recorded_by}")
        suffix = f"  ({'; '.join(extra)})" if extra else ""
        lines.append(f"{value.as_of or 'undated':<10}  {value.text}  {value.source or 'no source'}{suffix}")
    return lines
