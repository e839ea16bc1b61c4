"""Rebuild the facility packs in monitor/facilities/packs/ from two public compilations of official lists.

Facts only (name, place, coordinates, the official page of each facility) are taken; each row's source_url is
the official agency page the compilation read. Run with the two repositories checked out (git directories):

    python tools/build_facility_packs.py STILES_PRISONS_GIT ONDATA_LIBERIAMOLI_GIT [MOJ_PRISON_REGISTER_GIT]

- github.com/stiles/prisons (MIT): US Federal Bureau of Prisons and state department of corrections pages.
- github.com/ondata/liberiamoli-tutti (data CC BY 4.0): Italian Ministry of Justice "Istituti penitenziari" pages.
- github.com/ministryofjustice/prison-register (MIT; the register's data is Crown copyright, OGL v3): prisons
  in England and Wales (optional third argument).
"""

from __future__ import annotations

import csv
import html
import io
import re
import subprocess
import sys
from pathlib import Path

PACKS = Path(__file__).resolve().parent.parent / "monitor" / "facilities" / "packs"
COLUMNS = ("name", "aliases", "country", "admin_area", "city", "kind", "latitude", "longitude", "operator",
           "source_url")


def _git_csv(git_dir: str, path: str) -> list[dict[str, str]]:
    text = subprocess.run(["git", "--git-dir", git_dir, "show", f"HEAD:{path}"], check=True,
                          capture_output=True, text=True).stdout
    return list(csv.DictReader(io.StringIO(text)))


def _clean(text: str | None) -> str:
    text = html.unescape((text or "").strip())
    return "" if text.upper() in ("NULL", "NA", "NAN", "NONE") else " ".join(text.split())


def _title(text: str) -> str:
    """Names written in capitals by some agencies, in the case the rest use."""
    return text.title() if text.isupper() else text


# A name without one of these (or an agency abbreviation such as MCI, FTC) is a bare town or person's name.
FACILITY_WORD = re.compile(r"\b(prison|correctional|correction|penitentiary|cent(er|re)|facility|institution|unit|"
                           r"camp|jail|complex|reformatory|farm|detention|institute|annex|hospital|colony|"
                           r"reentry|release|treatment|diagnostic|medical|work|school)\b", re.IGNORECASE)
ABBREVIATION = re.compile(r"\b[A-Z]{2,6}\b")
NOT_FACILITIES = re.compile(r"\b(HQ|headquarters|central office)\b", re.IGNORECASE)


def _full_name(name: str, facility_type: str) -> str:
    """The name as the agency writes it, with the kind the agency gives when the name alone is a bare word
    ("Douglas" + "Prison Complex"); empty when neither says what the place is."""
    if NOT_FACILITIES.search(name):
        return ""
    if FACILITY_WORD.search(name) or ABBREVIATION.search(name):
        return name
    if facility_type and FACILITY_WORD.search(facility_type):
        return f"{name} {facility_type}"
    return ""


def us_rows(git_dir: str) -> list[dict[str, str]]:
    files = subprocess.run(["git", "--git-dir", git_dir, "ls-tree", "-r", "--name-only", "HEAD", "data/"],
                           check=True, capture_output=True, text=True).stdout.split()
    rows = []
    for path in sorted(p for p in files if p.endswith("_prisons.csv")):
        for raw in _git_csv(git_dir, path):
            url = _clean(raw.get("facility_url") or raw.get("detail_url") or raw.get("url"))
            if path.startswith("data/federal/"):
                if raw.get("locationtype") != "inst":
                    continue  # regional offices and headquarters, not places of detention
                url = "https://www.bop.gov" + url if url.startswith("/") else url
                kind_name = _clean(raw.get("faclTypeDescription"))
                name = f"{_clean(raw.get('type'))} {_clean(raw['name'])}".strip()
                aliases = f"{kind_name} {_clean(raw['name'])}" if kind_name else ""
                operator = "Federal Bureau of Prisons"
            else:
                name = _full_name(_title(_clean(raw.get("unit_full_name") or raw.get("name"))),
                                  _clean(raw.get("facility_type")))
                aliases = ""
                operator = _clean(raw.get("agency"))
            if not url.startswith(("http://", "https://")) or not name:
                continue  # every row must say where it comes from
            rows.append({
                "name": name, "aliases": aliases, "country": "US", "admin_area": _clean(raw.get("state")),
                "city": _title(_clean(raw.get("city"))), "kind": "prison",
                "latitude": _clean(raw.get("latitude")), "longitude": _clean(raw.get("longitude")),
                "operator": operator, "source_url": url,
            })
    return rows


def italy_rows(git_dir: str) -> list[dict[str, str]]:
    rows = []
    for raw in _git_csv(git_dir, "istituti_penitenziari/data/anagrafica.csv"):
        place, kind_name, dedication = _clean(raw["titolo"]), _clean(raw["tipo"]), _clean(raw["nome"])
        url = _clean(raw["url"])
        if not place or not url.startswith("https://"):
            continue
        name = f"{kind_name} di {place}" if kind_name and kind_name != "Istituti di pena" else f"Istituto di {place}"
        aliases = f'{kind_name} "{dedication}" di {place}' if dedication and "&" not in dedication \
            and dedication.lower() not in ("nuovo complesso",) and kind_name else ""
        rows.append({
            "name": name, "aliases": aliases, "country": "IT", "admin_area": "", "city": _clean(raw["comune"]),
            "kind": "prison", "latitude": _clean(raw["latitude"]), "longitude": _clean(raw["longitude"]),
            "operator": "Ministero della Giustizia (DAP)", "source_url": url,
        })
    return rows


ENGLAND_WALES_LIST = "https://www.gov.uk/government/collections/prisons-in-england-and-wales"
_MIGRATIONS = "src/main/resources/db/migration"
_VALUES = re.compile(r"'((?:[^']|'')*)'|\b(true|false|null)\b", re.IGNORECASE)


def _sql_values(line: str) -> list[str]:
    return [(text.replace("''", "'") if text or not word else word.lower()) for text, word in _VALUES.findall(line)]


def england_wales_rows(git_dir: str) -> list[dict[str, str]]:
    """Active prisons of the MoJ prison register (its schema migrations, replayed in order: inserts, renames,
    closures), with the town and county of each address."""
    files = subprocess.run(["git", "--git-dir", git_dir, "ls-tree", "--name-only", "HEAD", _MIGRATIONS + "/"],
                           check=True, capture_output=True, text=True).stdout.split()
    version = lambda p: [int(n) for n in re.findall(r"V(\d+)_(\d+)__", p)[0]]  # noqa: E731
    prisons: dict[str, dict[str, object]] = {}
    towns: dict[str, tuple[str, str, str]] = {}
    for path in sorted((p for p in files if re.search(r"V\d+_\d+__", p)), key=version):
        text = subprocess.run(["git", "--git-dir", git_dir, "show", f"HEAD:{path}"], check=True,
                              capture_output=True, text=True).stdout
        statements = " ".join(text.split()).split(";")
        for statement in statements:
            upper = statement.upper().strip()
            if upper.startswith("INSERT INTO PRISON ") or upper.startswith("INSERT INTO PRISON("):
                values = _sql_values(statement[upper.index("VALUES"):])
                if len(values) >= 3:
                    prisons[values[0]] = {"name": values[1], "active": values[-1] == "true"}
            elif upper.startswith("INSERT INTO ADDRESS"):
                for group in re.findall(r"\(([^()]*)\)", statement[upper.index("VALUES"):]):
                    values = _sql_values(group)
                    if len(values) == 7:
                        towns[values[0]] = (values[3], values[4], values[5])
            match = re.match(r"UPDATE PRISON SET NAME = '((?:[^']|'')*)' WHERE PRISON_ID = '(\w+)'", statement.strip(),
                             re.IGNORECASE)
            if match and match.group(2) in prisons:
                prisons[match.group(2)]["name"] = match.group(1).replace("''", "'")
            match = re.match(r"UPDATE PRISON SET ACTIVE = (TRUE|FALSE) WHERE PRISON_ID ?= ?'(\w+)'",
                             statement.strip(), re.IGNORECASE)
            if match and match.group(2) in prisons:
                prisons[match.group(2)]["active"] = match.group(1).lower() == "true"
    rows = []
    for prison_id, prison in sorted(prisons.items()):
        found = re.match(r"(.+?) \((.+)\)$", str(prison["name"]))
        if not prison["active"] or not found:
            continue
        place, designation = found.group(1), found.group(2)
        if "HMP" in designation:
            name, aliases = f"HMP {place}", f"{place} prison"
        elif "YOI" in designation:
            name, aliases = f"HMYOI {place}", f"{place} Young Offender Institution"
        elif "STC" in designation:
            name, aliases = f"{place} Secure Training Centre", f"{place} STC"
        else:
            continue  # immigration removal centres and others are not in this list's scope
        town, _county, country = towns.get(prison_id, ("", "", ""))
        rows.append({
            "name": name, "aliases": aliases, "country": "GB", "admin_area": country,
            "city": town, "kind": "prison", "latitude": "", "longitude": "",
            "operator": "HM Prison and Probation Service", "source_url": ENGLAND_WALES_LIST,
        })
    return rows


def write(name: str, rows: list[dict[str, str]]) -> None:
    seen: set[tuple[str, str]] = set()
    unique = []
    for row in rows:
        key = (row["name"].casefold(), row["country"])
        if key in seen:
            continue  # the import keys facilities by name and country
        seen.add(key)
        unique.append(row)
    with (PACKS / f"{name}.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, COLUMNS)
        writer.writeheader()
        writer.writerows(unique)
    print(name, len(unique))


if __name__ == "__main__":
    write("us-prisons", us_rows(sys.argv[1]))
    write("it-istituti-penitenziari", italy_rows(sys.argv[2]))
    if len(sys.argv) > 3:
        write("gb-england-wales-prisons", england_wales_rows(sys.argv[3]))
