"""Facility CSV import and export.

Columns (header row; only name and country required):
name,aliases,country,city,kind,latitude,longitude,operator,status,capacity,population,population_date,
nationalities,conditions,source_url  — plus the optional admin_area, condition_tags and slug that
exports add. `aliases`, `nationalities` and `condition_tags` are ;-separated; a nationality is a country
code with an optional count and note (IQ:1200, XX:949 (third-country nationals)). Empty cells mean unknown and
never clear a stored value.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from sqlmodel import Session, select

from monitor.countries import COUNTRIES, GROUP_CODE, is_country_code
from monitor.facilities.names import normalize_name
from monitor.facilities.profiles import ApplyResult, FacilityProfile, apply_profiles, normalize_kind
from monitor.spreadsheet import guard_cell, unguard_cell
from monitor.store.schema import PARTIAL_DATE, Facility, FacilityAlias

CSV_COLUMNS = (
    "name", "aliases", "country", "city", "kind", "latitude", "longitude", "operator", "status", "capacity",
    "population", "population_date", "nationalities", "conditions", "source_url",
)
EXTRA_COLUMNS = ("admin_area", "condition_tags", "slug")
KNOWN_COLUMNS = set(CSV_COLUMNS) | set(EXTRA_COLUMNS)
_COUNTRY_BY_NAME = {name.casefold(): code for code, name in COUNTRIES.items()}
_SCALAR_FACT_FIELDS = ("operator", "status", "capacity", "population", "conditions", "city", "admin_area")


@dataclass
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ParsedCsv:
    profiles: list[tuple[int, FacilityProfile]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    rows: int = 0
    applied: Optional[ApplyResult] = None
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    imported: bool = False


class CsvFormatError(ValueError):
    """The file as a whole cannot be read (encoding, missing header or required columns)."""


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(";") if part.strip()]


def _split_outside_parentheses(cell: str) -> list[str]:
    """Split on ; except inside a (note), which may itself hold ; and parentheses."""
    parts, current, depth = [], [], 0
    for char in cell:
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        if char == ";" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def _country(cell: str) -> str:
    text = cell.strip()
    if is_country_code(text.upper()):
        return text.upper()
    code = _COUNTRY_BY_NAME.get(text.casefold())
    if code:
        return code
    raise ValueError(f"country {text!r} is not an ISO 3166-1 alpha-2 code (e.g. SY, IQ, NG)")


def _number(cell: str, column: str, kind: type, low: float | None = None, high: float | None = None):
    text = cell.strip().replace(",", "") if kind is int else cell.strip()
    try:
        value = kind(text)
    except ValueError:
        noun = "a whole number" if kind is int else "a number"
        raise ValueError(f"{column} must be {noun}, got {cell!r}") from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{column} {value} is out of range ({low} to {high})")
    return value


def _nationalities(cell: str) -> list[dict[str, Any]]:
    """`IQ:1200;SY;XX:949 (foreign women and children)`: code, optional count, optional note."""
    items = []
    for part in _split_outside_parentheses(cell):
        note = ""
        if part.endswith(")") and "(" in part:
            part, _, note = part[:-1].partition("(")
            part, note = part.strip(), note.strip()
        code_text, _, count_text = part.partition(":")
        code_text = code_text.strip()
        code = GROUP_CODE if code_text.upper() == GROUP_CODE else _country(code_text)
        item: dict[str, Any] = {"country": code}
        if count_text.strip():
            item["count"] = _number(count_text, f"nationality count for {code}", int, 0)
        if note:
            item["note"] = note
        items.append(item)
    return items


def _profile_from_row(row: dict[str, str]) -> FacilityProfile:
    problems: list[str] = []

    def take(column: str, parse):
        cell = row.get(column, "")
        if not cell.strip():
            return None
        try:
            return parse(cell)
        except ValueError as exc:
            problems.append(str(exc))
            return None

    name = row.get("name", "").strip()
    if not name:
        problems.append("name is missing")
    if not row.get("country", "").strip():
        problems.append("country is missing")
    country = take("country", _country)
    latitude = take("latitude", lambda c: _number(c, "latitude", float, -90, 90))
    longitude = take("longitude", lambda c: _number(c, "longitude", float, -180, 180))
    if (latitude is None) != (longitude is None) and not problems:
        problems.append("latitude and longitude must be given together")
    capacity = take("capacity", lambda c: _number(c, "capacity", int, 0))
    population = take("population", lambda c: _number(c, "population", int, 0))
    population_date = take("population_date", _partial_date)
    nationalities = take("nationalities", _nationalities)
    source_url = take("source_url", _url)
    if problems:
        raise ValueError("; ".join(problems))

    text = lambda column: row.get(column, "").strip() or None  # noqa: E731
    profile = FacilityProfile(
        name=name,
        country=country,
        slug=text("slug"),
        kind=normalize_kind(row["kind"]) if row.get("kind", "").strip() else None,
        admin_area=text("admin_area"),
        city=text("city"),
        latitude=latitude,
        longitude=longitude,
        operator=text("operator"),
        status=text("status"),
        capacity=capacity,
        population=population,
        population_date=population_date,
        nationalities=nationalities,
        conditions=text("conditions"),
        condition_tags=_split(row["condition_tags"]) if row.get("condition_tags", "").strip() else None,
        aliases=_split(row.get("aliases", "")),
    )
    if source_url:
        for field_name in (*_SCALAR_FACT_FIELDS, "latitude", "longitude", "nationalities", "population_date"):
            if getattr(profile, field_name) is not None:
                fact = {"source": source_url}
                if field_name in ("population", "population_date") and population_date:
                    fact["as_of"] = population_date
                profile.facts[field_name] = fact
    return profile


def _partial_date(cell: str) -> str:
    text = cell.strip()
    if not PARTIAL_DATE.match(text):
        raise ValueError(f"population_date must be YYYY, YYYY-MM or YYYY-MM-DD, got {cell!r}")
    return text


def _url(cell: str) -> str:
    text = cell.strip()
    if not text.startswith(("http://", "https://")):
        raise ValueError(f"source_url must start with http:// or https://, got {cell!r}")
    return text


def parse_facility_csv(path: Path) -> ParsedCsv:
    try:
        content = Path(path).read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvFormatError(f"{path}: not UTF-8 text (byte {exc.start}); save the file as CSV UTF-8") from None
    reader = csv.reader(io.StringIO(content, newline=""))
    try:
        header = [unguard_cell(h).strip().lower() for h in next(reader)]
    except StopIteration:
        raise CsvFormatError(f"{path}: the file is empty; the first line must be a header row") from None
    missing = [c for c in ("name", "country") if c not in header]
    if missing:
        raise CsvFormatError(f"{path}: header row lacks required column(s) {', '.join(missing)}; "
                             f"expected columns: {','.join(CSV_COLUMNS)}")
    parsed = ParsedCsv(ignored_columns=[h for h in header if h and h not in KNOWN_COLUMNS])
    seen: dict[tuple[str, str], int] = {}
    line = reader.line_num
    for cells in reader:
        start_line, line = line + 1, reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            parsed.errors.append(RowError(start_line, f"{len(cells)} cells but the header has {len(header)} columns"))
            continue
        row = {column: unguard_cell(cell) for column, cell in zip(header, cells)}
        try:
            profile = _profile_from_row(row)
        except ValueError as exc:
            parsed.errors.append(RowError(start_line, str(exc)))
            continue
        key = (normalize_name(profile.name), profile.country)
        if key in seen:
            parsed.errors.append(RowError(start_line,
                                          f"same facility as line {seen[key]} ({profile.name}, {profile.country})"))
            continue
        seen[key] = start_line
        parsed.profiles.append((start_line, profile))
    return parsed


def import_facilities(session: Session, path: Path, *, actor: str, skip_invalid: bool = False) -> ImportReport:
    """Import a facility CSV. With any bad row nothing is written, unless `skip_invalid`."""
    parsed = parse_facility_csv(path)
    report = ImportReport(rows=len(parsed.profiles) + len(parsed.errors), errors=parsed.errors,
                          ignored_columns=parsed.ignored_columns)
    if parsed.errors and not skip_invalid:
        return report
    report.applied = apply_profiles(session, (p for _, p in parsed.profiles), actor=actor, origin="import",
                                    local=True)
    report.imported = True
    return report


def _main_source(facility: Facility) -> str:
    counts: dict[str, int] = {}
    for fact in (facility.facts or {}).values():
        source = fact.get("source") if isinstance(fact, dict) else None
        if source:
            counts[source] = counts.get(source, 0) + 1
    return max(counts, key=counts.get) if counts else ""


def _format_nationality(item: dict[str, Any]) -> str:
    text = item["country"]
    if item.get("count") is not None:
        text += f":{item['count']}"
    if item.get("note"):
        text += f" ({item['note']})"
    return text


def export_facilities(session: Session, path: Path, country: Optional[str] = None) -> int:
    query = select(Facility).order_by(Facility.country, Facility.name)
    if country:
        query = query.where(Facility.country == country.upper())
    facilities = list(session.exec(query))
    aliases: dict[int, list[str]] = {}
    for alias in session.exec(select(FacilityAlias).order_by(FacilityAlias.id)):
        aliases.setdefault(alias.facility_id, []).append(alias.alias)
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS + EXTRA_COLUMNS)
        for f in facilities:
            nationalities = ";".join(_format_nationality(n) for n in f.nationalities or [])
            row = [
                f.name, ";".join(aliases.get(f.id, [])), f.country, f.city, f.kind, f.latitude, f.longitude,
                f.operator, f.status, f.capacity, f.population, f.population_date, nationalities, f.conditions,
                _main_source(f), f.admin_area, ";".join(f.condition_tags or []), f.slug,
            ]
            writer.writerow([guard_cell(cell) for cell in row])
    return len(facilities)
