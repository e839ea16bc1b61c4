"""Optional packs of large public facility lists, shipped with the package and imported on request.

Each pack is a facility CSV in the format `monitor facilities import` reads (monitor/facilities/csv_io.py) and
a manifest beside it (`<name>.yaml`: name, description, countries, rows, sources, licence, retrieved). Packs
are imported through the same library path as a CSV import, so importing one twice changes nothing.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session

from monitor.facilities.csv_io import ImportReport, import_facilities

MANIFEST_FIELDS = ("name", "description", "countries", "rows", "sources", "licence", "retrieved")


class PackError(LookupError):
    """No such pack, or a pack whose files are missing or disagree with its manifest."""


@dataclass
class FacilityPack:
    name: str
    description: str
    countries: list[str]
    rows: int
    sources: list[dict[str, Any]]
    licence: str
    retrieved: str
    csv_path: Path
    extra: dict[str, Any] = field(default_factory=dict)


def packs_directory() -> Path:
    return Path(str(resources.files("monitor.facilities") / "packs"))


def _load(manifest_path: Path) -> FacilityPack:
    try:
        data = yaml.safe_load(manifest_path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise PackError(f"{manifest_path.name}: not a readable manifest ({exc})") from None
    if not isinstance(data, dict):
        raise PackError(f"{manifest_path.name}: not a readable manifest")
    missing = [name for name in MANIFEST_FIELDS if data.get(name) in (None, "", [])]
    if missing:
        raise PackError(f"{manifest_path.name}: manifest lacks {', '.join(missing)}")
    csv_path = manifest_path.with_suffix(".csv")
    if not csv_path.is_file():
        raise PackError(f"pack {data['name']!r} has no {csv_path.name}")
    return FacilityPack(
        name=str(data["name"]), description=" ".join(str(data["description"]).split()),
        countries=[str(c).upper() for c in data["countries"]], rows=int(data["rows"]), sources=list(data["sources"]),
        licence=" ".join(str(data["licence"]).split()), retrieved=str(data["retrieved"]), csv_path=csv_path,
        extra={k: v for k, v in data.items() if k not in MANIFEST_FIELDS},
    )


def list_packs(directory: Path | None = None) -> list[FacilityPack]:
    """Every pack shipped (or in `directory`), by name."""
    directory = directory or packs_directory()
    return sorted((_load(path) for path in directory.glob("*.yaml")), key=lambda p: p.name)


def get_pack(name: str, directory: Path | None = None) -> FacilityPack:
    packs = {pack.name: pack for pack in list_packs(directory)}
    if name not in packs:
        known = ", ".join(packs) or "none"
        raise PackError(f"no facility pack named {name!r}; packs: {known} (see `monitor facilities packs`)")
    return packs[name]


def count_rows(pack: FacilityPack) -> int:
    with pack.csv_path.open(encoding="utf-8-sig", newline="") as handle:
        return sum(1 for _row in csv.DictReader(handle))


def import_pack(session: Session, name: str, *, actor: str, directory: Path | None = None) -> ImportReport:
    """Import a pack's facilities the way `monitor facilities import` imports a CSV; a second import of the
    same pack finds every row unchanged. A pack with any invalid row imports nothing."""
    pack = get_pack(name, directory)
    rows = count_rows(pack)
    if rows != pack.rows:
        raise PackError(f"pack {name!r}: its manifest says {pack.rows} rows but {pack.csv_path.name} has "
                        f"{rows}; nothing was imported")
    report = import_facilities(session, pack.csv_path, actor=actor)
    if not report.imported:
        first = "; ".join(str(e) for e in report.errors[:3])
        raise PackError(f"pack {name!r} has {len(report.errors)} invalid row(s); nothing was imported: {first}")
    return report
