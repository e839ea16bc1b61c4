"""The bundled knowledge base: YAML files of real facilities, each fact with its source URL and as-of date."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session

from monitor.facilities.profiles import ApplyResult, FacilityProfile, apply_profiles, latest_group, normalize_kind
from monitor.store.schema import PARTIAL_DATE
from monitor.vocabulary import HISTORIED_FACTS

DATA_DIR = Path(__file__).parent / "data"
BUNDLED_ACTOR = "bundled knowledge base"
# Facts given as {value, source, as_of, note?} or as a list of them (their history).
SCALAR_FACTS = HISTORIED_FACTS
NUMERIC_FACTS = ("capacity", "population")


class KnowledgeBaseError(ValueError):
    pass


def _as_of(value: Any) -> str:
    text = str(value) if value is not None else ""
    if not PARTIAL_DATE.match(text):
        raise ValueError(f"as_of must be YYYY, YYYY-MM or YYYY-MM-DD, got {value!r}")
    return text


def _source(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise ValueError(f"source must be an http(s) URL, got {value!r}")
    return value


def _fact_value(key: str, value: Any) -> Any:
    if key in NUMERIC_FACTS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{key} value must be a whole number of people, got {value!r}")
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key} value must be text, got {value!r}")
    return value.strip()


def _fact_entry(key: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or "value" not in raw:
        raise ValueError(f"{key} must be {{value, source, as_of}} or a list of them")
    unknown = set(raw) - {"value", "source", "as_of", "note"}
    if unknown:
        raise ValueError(f"{key} has unknown key(s) {', '.join(sorted(unknown))}")
    entry = {"value": _fact_value(key, raw["value"]), "source": _source(raw.get("source")),
             "as_of": _as_of(raw.get("as_of"))}
    if raw.get("note"):
        entry["note"] = str(raw["note"]).strip()
    return entry


def _fact(entry: dict[str, Any], key: str) -> tuple[Any, dict[str, Any], list[dict[str, Any]]] | None:
    """(current value, its provenance, every dated value) of a historied fact, or None when absent.

    The current value is the one with the latest as-of date; when sources conflict on that date, the
    first of them as listed in the file.
    """
    raw = entry.get(key)
    if raw is None:
        return None
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise ValueError(f"{key} is an empty list; leave it out when nothing is known")
    history = []
    for position, item in enumerate(items, start=1):
        try:
            history.append(_fact_entry(key, item))
        except ValueError as exc:
            raise ValueError(f"{exc} (entry {position})" if isinstance(raw, list) else str(exc)) from None
    current = latest_group(history)[0]
    provenance = {"source": current["source"], "as_of": current["as_of"]}
    return current["value"], provenance, history


def profile_from_entry(entry: dict[str, Any]) -> FacilityProfile:
    for required in ("slug", "name", "country"):
        if not entry.get(required):
            raise ValueError(f"missing {required}")
    profile = FacilityProfile(
        slug=str(entry["slug"]),
        name=str(entry["name"]),
        country=str(entry["country"]).upper(),
        kind=normalize_kind(str(entry.get("kind") or "prison")),
        admin_area=entry.get("admin_area"),
        city=entry.get("city"),
        aliases=[str(a) for a in entry.get("aliases") or []],
    )
    location = entry.get("location")
    if location:
        profile.latitude = float(location["latitude"])
        profile.longitude = float(location["longitude"])
        profile.location_precision = location.get("precision") or "site"
        fact = {"source": _source(location.get("source"))}
        profile.facts["latitude"] = profile.facts["longitude"] = fact
    for key in SCALAR_FACTS:
        fact = _fact(entry, key)
        if fact is None:
            continue
        value, provenance, history = fact
        setattr(profile, key, value)
        profile.facts[key] = provenance
        profile.history[key] = history
    if profile.population is not None:
        profile.population_date = profile.facts["population"]["as_of"]
        profile.facts["population_date"] = profile.facts["population"]
    nationalities = entry.get("nationalities")
    if nationalities:
        items = []
        for item in nationalities.get("items") or []:
            row = {"country": str(item["country"]).upper()}
            if item.get("count") is not None:
                row["count"] = int(item["count"])
            if item.get("note"):
                row["note"] = str(item["note"])
            items.append(row)
        profile.nationalities = items
        profile.facts["nationalities"] = {"source": _source(nationalities.get("source")),
                                          "as_of": _as_of(nationalities.get("as_of"))}
    conditions = entry.get("conditions")
    if conditions:
        profile.conditions = conditions.get("text")
        profile.condition_tags = [str(t) for t in conditions.get("tags") or []]
        provenance = {"source": _source(conditions.get("source")), "as_of": _as_of(conditions.get("as_of"))}
        profile.facts["conditions"] = profile.facts["condition_tags"] = provenance
    incidents = entry.get("incidents")
    if incidents:
        profile.incidents = [
            {"date": _as_of(i.get("date")), "summary": str(i["summary"]), "source": _source(i.get("source"))}
            for i in incidents
        ]
    return profile


def load_bundled_profiles(data_dir: Path = DATA_DIR) -> list[FacilityProfile]:
    profiles: list[FacilityProfile] = []
    seen: dict[str, Path] = {}
    for path in sorted(data_dir.glob("*.yaml")):
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise KnowledgeBaseError(f"{path.name}: not valid YAML: {exc}") from None
        for position, entry in enumerate(document.get("facilities") or [], start=1):
            label = entry.get("slug") or f"entry {position}"
            try:
                profile = profile_from_entry(entry)
            except (KeyError, TypeError, ValueError) as exc:
                raise KnowledgeBaseError(f"{path.name}: facility {label}: {exc}") from None
            if profile.slug in seen:
                raise KnowledgeBaseError(f"{path.name}: slug {profile.slug} also appears in {seen[profile.slug].name}")
            seen[profile.slug] = path
            profiles.append(profile)
    return profiles


def load_knowledge_base(session: Session, data_dir: Path = DATA_DIR) -> ApplyResult:
    """Load the bundled facilities; idempotent, and analysts' local edits win over the bundled values."""
    return apply_profiles(session, load_bundled_profiles(data_dir), actor=BUNDLED_ACTOR, origin="bundled",
                          local=False)
