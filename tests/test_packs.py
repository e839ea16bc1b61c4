"""Facility packs: listed with their manifests, imported through the CSV import path, idempotent, every row
sourced (on a store made with `monitor init`: SQLite, and PostgreSQL when MONITOR_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import csv
import json
from urllib.parse import urlparse

import pytest
from sqlmodel import Session, func, select

from monitor.facilities.lookup import resolve_facility
from monitor.facilities.packs import MANIFEST_FIELDS, PackError, count_rows, get_pack, import_pack, list_packs
from monitor.store.schema import Facility


def _rows(pack) -> list[dict]:
    with pack.csv_path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_shipped_pack_has_a_full_manifest_that_matches_its_rows():
    packs = list_packs()
    assert {p.name for p in packs} >= {"us-prisons", "it-istituti-penitenziari", "gb-england-wales-prisons"}
    assert sum(p.rows for p in packs) >= 990
    assert len({c for p in packs for c in p.countries}) >= 3
    for pack in packs:
        assert pack.rows == count_rows(pack), pack.name
        assert pack.sources and all(s.get("name") and s.get("url") and s.get("licence") for s in pack.sources)
        assert pack.licence and pack.retrieved and pack.description
        rows = _rows(pack)
        assert all(r["source_url"].startswith("https://") for r in rows), pack.name
        assert all(r["name"].strip() and r["country"] in pack.countries for r in rows), pack.name
        # Aliases are full names: never a bare town (the row's city) or a single word.
        for row in rows:
            for alias in filter(None, (a.strip() for a in row["aliases"].split(";"))):
                assert len(alias.split()) >= 2 and alias.casefold() != row["city"].casefold(), alias
        keys = [(r["name"].casefold(), r["country"]) for r in rows]
        assert len(keys) == len(set(keys)), f"{pack.name}: a facility twice"


# The government sites a pack row's source_url may point at: the agency's own page or list, never a compilation.
OFFICIAL_HOSTS = (".gov", "gov.uk", "giustizia.it", "fdc.myflorida.com", "dpscs.state.md.us")


def test_every_pack_row_cites_an_official_site_and_has_a_full_name():
    for pack in list_packs():
        rows = _rows(pack)
        for row in rows:
            host = urlparse(row["source_url"]).hostname or ""
            assert host.endswith(OFFICIAL_HOSTS), (pack.name, row["name"], host)
            # A name is more than a bare word or a bare town: "Tipton Correctional Center", never "Tipton"
            # ("MCI-Norfolk" is two words).
            words = row["name"].replace("-", " ").split()
            assert len(words) >= 2 and row["name"].casefold() != row["city"].casefold(), row["name"]


def test_the_us_pack_holds_the_missouri_and_virginia_lists_without_guessed_places():
    rows = _rows(get_pack("us-prisons"))
    missouri = [r for r in rows if r["admin_area"] == "Missouri"]
    virginia = [r for r in rows if r["admin_area"] == "Virginia"]
    assert len(missouri) == 19 and len(virginia) == 36
    assert all(r["source_url"] == "https://doc.mo.gov/facilities/adult-institutions/warden-listing" for r in missouri)
    # The compilation's Virginia addresses are misaligned, so no city or coordinates were taken from it.
    assert all(not (r["city"] or r["latitude"] or r["longitude"]) for r in virginia)
    # A name that reads as a generic phrase ("Washington state prison") is left out: it linked wrongly.
    assert not any(r["name"] == "Washington State Prison" for r in rows)


def test_packs_are_listed_by_the_command(run_cli):
    listed = [json.loads(line) for line in run_cli("facilities", "packs", "--json").output.splitlines()]
    by_name = {p["name"]: p for p in listed}
    assert by_name["us-prisons"]["countries"] == ["US"]
    assert by_name["us-prisons"]["rows"] == get_pack("us-prisons").rows
    assert set(MANIFEST_FIELDS) - {"rows"} <= set(by_name["it-istituti-penitenziari"])
    assert "us-prisons" in run_cli("facilities", "packs").output


def test_import_pack_adds_every_row_once_and_again_changes_nothing(run_cli, engine):
    pack = get_pack("it-istituti-penitenziari")
    with Session(engine) as session:
        before = session.exec(select(func.count()).select_from(Facility)).one()
    said = run_cli("facilities", "import-pack", pack.name).output
    assert f"{pack.rows} added, 0 updated, 0 unchanged" in said
    with Session(engine) as session:
        after = session.exec(select(func.count()).select_from(Facility)).one()
        assert after == before + pack.rows
        italian = list(session.exec(select(Facility).where(Facility.country == "IT")))
        assert len(italian) >= pack.rows
        assert all((f.facts or {}).get("city", {}).get("source", "").startswith("https://www.giustizia.it/")
                   for f in italian if f.city)
        # Found the forgiving way, like any facility.
        assert resolve_facility(session, "Casa circondariale di Torino").city == "Torino"
    again = run_cli("facilities", "import-pack", pack.name).output
    assert f"0 added, 0 updated, {pack.rows} unchanged" in again
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Facility)).one() == after


def test_the_large_pack_imports_and_is_searchable(engine):
    pack = get_pack("us-prisons")
    with Session(engine) as session:
        report = import_pack(session, pack.name, actor="test")
        session.commit()
        assert report.applied.created == pack.rows
        facility = resolve_facility(session, "Pelican Bay")
        assert facility.country == "US" and facility.latitude is not None
        assert (facility.facts or {})["latitude"]["source"].startswith("https://")


def test_bad_pack_names_and_broken_packs_say_so_and_import_nothing(run_cli, engine, tmp_path):
    assert "no facility pack named 'nope'" in run_cli("facilities", "import-pack", "nope", expect=1).output
    # A pack whose manifest disagrees with its file imports nothing.
    source = get_pack("it-istituti-penitenziari")
    (tmp_path / "broken.csv").write_bytes(source.csv_path.read_bytes())
    manifest = source.csv_path.with_suffix(".yaml").read_text(encoding="utf-8")
    (tmp_path / "broken.yaml").write_text(manifest.replace(f"name: {source.name}", "name: broken")
                                          .replace(f"rows: {source.rows}", f"rows: {source.rows + 1}"),
                                          encoding="utf-8")
    with Session(engine) as session:
        before = session.exec(select(func.count()).select_from(Facility)).one()
        with pytest.raises(PackError, match="manifest says"):
            import_pack(session, "broken", actor="test", directory=tmp_path)
        assert session.exec(select(func.count()).select_from(Facility)).one() == before
