"""`monitor facilities list|show|import|export` as users run them."""

from __future__ import annotations

import csv
import io
import json

from sqlmodel import Session, func, select

from monitor.facilities.csv_io import CSV_COLUMNS
from monitor.store.schema import Facility, FacilityProfileChange

HEADER = ",".join(CSV_COLUMNS)


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_list_shows_the_bundled_facilities(run_cli, initialised):
    output = run_cli("facilities", "list").output
    assert "ghwayran-prison" in output and "Ghwayran prison" in output
    rows = [json.loads(line) for line in run_cli("facilities", "list", "--country", "sy", "--json").output.splitlines()]
    assert rows and all(row["country"] == "SY" for row in rows)


def test_show_finds_a_facility_by_any_spelling(run_cli, initialised):
    for query in ("ghwayran-prison", "Gweiran prison", "GHUWAYRAN PRISON", "al-Sina'a prison", "سجن غويران"):
        output = run_cli("facilities", "show", query).output
        assert output.startswith("Ghwayran prison"), query
    output = run_cli("facilities", "show", "Gweiran prison").output
    assert "population:" in output and "3,500" in output and "https://" in output


def test_show_says_clearly_when_nothing_matches(run_cli, initialised):
    result = run_cli("facilities", "show", "Nowhere jail", expect=1)
    assert "no facility named 'Nowhere jail'" in result.output


def test_commands_before_init_say_to_run_init(run_cli):
    result = run_cli("facilities", "list", expect=1)
    assert "monitor init" in result.output


def test_import_adds_and_reimport_updates_without_duplicating(run_cli, tmp_path, engine):
    path = _write(tmp_path / "new.csv", HEADER + "\n"
                  'Kashimpur Central Jail,Kashimpur jail;কাশিমপুর কারাগার,BD,Gazipur,prison,24.0,90.4,'
                  'Department of Prisons,operational,"2,500",3000,2024-08,BD:3000,overcrowded wings,'
                  "https://example.org/kashimpur\n")
    assert "1 added" in run_cli("facilities", "import", str(path)).output
    assert "1 unchanged" in run_cli("facilities", "import", str(path)).output
    _write(path, path.read_text().replace(",3000,2024-08,", ",3200,2024-09,"))
    assert "1 updated" in run_cli("facilities", "import", str(path), "--as", "analyst:jo").output
    with Session(engine) as session:
        rows = list(session.exec(select(Facility).where(Facility.name == "Kashimpur Central Jail")))
        assert len(rows) == 1 and rows[0].population == 3200 and rows[0].capacity == 2500
        change = session.exec(select(FacilityProfileChange).where(
            FacilityProfileChange.facility_id == rows[0].id, FacilityProfileChange.field == "population")).one()
    assert (change.old_value, change.new_value, change.changed_by) == (3000, 3200, "analyst:jo")
    assert change.source_url == "https://example.org/kashimpur"
    assert "Kashimpur Central Jail" in run_cli("facilities", "show", "কাশিমপুর কারাগার").output


def test_import_matches_existing_facilities_by_alias_and_keeps_empty_cells_as_unknown(run_cli, tmp_path, engine):
    path = _write(tmp_path / "update.csv", "name,country,capacity,operator,extra_notes\n"
                  "Gweiran prison,SY,5000,,a column we do not know\n")
    result = run_cli("facilities", "import", str(path))
    assert "1 updated" in result.output and "extra_notes" in result.output
    with Session(engine) as session:
        facility = session.exec(select(Facility).where(Facility.slug == "ghwayran-prison")).one()
    assert facility.capacity == 5000
    assert facility.operator  # the empty cell did not wipe it


def _csv_text(*rows: dict) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def test_bad_rows_are_reported_by_line_and_nothing_is_imported(run_cli, tmp_path, engine):
    path = _write(tmp_path / "bad.csv", _csv_text(
        {"name": "Good jail", "country": "KE", "city": "Nairobi", "kind": "prison"},   # line 2
        {"name": "", "country": "KE"},                                                # line 3
        {"name": "Bad country", "country": "QQ"},                                     # line 4
        {"name": "Far north", "country": "RU", "latitude": "95.5", "longitude": "10"},  # line 5
        {"name": "Multi\nline name", "country": "NG", "capacity": "lots"},           # lines 6-7
        {"name": "Good jail", "country": "KE"},                                       # line 8
    ))
    with Session(engine) as session:
        before = session.exec(select(func.count()).select_from(Facility)).one()
    result = run_cli("facilities", "import", str(path), expect=1)
    assert "line 3: name is missing" in result.output
    assert "line 4: country 'QQ' is not an ISO 3166-1 alpha-2 code" in result.output
    assert "line 5: latitude 95.5 is out of range" in result.output
    assert "line 6: capacity must be a whole number, got 'lots'" in result.output
    assert "line 8: same facility as line 2" in result.output
    assert "nothing was imported" in result.output
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Facility)).one() == before

    result = run_cli("facilities", "import", str(path), "--skip-invalid")
    assert "1 added" in result.output and "5 invalid row(s) skipped" in result.output


def test_a_file_without_the_required_columns_is_refused(run_cli, tmp_path, initialised):
    path = _write(tmp_path / "nohead.csv", "facility,place\nX,Y\n")
    result = run_cli("facilities", "import", str(path), expect=1)
    assert "lacks required column(s) name, country" in result.output


def test_export_round_trips_and_guards_against_formula_injection(run_cli, tmp_path, engine):
    evil = _write(tmp_path / "evil.csv", "name,country,operator,conditions\n"
                  '"=HYPERLINK(""http://evil.example"",""click"")",IQ,@SUM(1+1),-2+3 cells\n')
    run_cli("facilities", "import", str(evil))
    out = tmp_path / "out.csv"
    assert "Wrote" in run_cli("facilities", "export", str(out)).output
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    evil_row = next(r for r in rows if "HYPERLINK" in r["name"])
    assert evil_row["name"].startswith("'=") and evil_row["operator"] == "'@SUM(1+1)"
    assert evil_row["conditions"] == "'-2+3 cells"
    ghwayran = next(r for r in rows if r["slug"] == "ghwayran-prison")
    assert "سجن غويران" in ghwayran["aliases"] and ghwayran["source_url"].startswith("https://")
    hol = next(r for r in rows if r["slug"] == "al-hol-camp")
    assert hol["longitude"] and not hol["longitude"].startswith("'")  # numbers are left as numbers

    result = run_cli("facilities", "import", str(out))
    assert "0 added, 0 updated" in result.output
    with Session(engine) as session:
        names = list(session.exec(select(Facility.name).where(Facility.name.like("%HYPERLINK%"))))
    assert names == ['=HYPERLINK("http://evil.example","click")']


def test_a_later_row_naming_an_alias_of_an_earlier_new_row_updates_it(run_cli, tmp_path, engine):
    path = _write(tmp_path / "batch.csv", _csv_text(
        {"name": "Idah custodial centre", "aliases": "Idah prison", "country": "NG"},
        {"name": "Idah prison", "country": "NG", "capacity": "560"},
    ))
    assert "1 added, 1 updated" in run_cli("facilities", "import", str(path)).output
    with Session(engine) as session:
        rows = list(session.exec(select(Facility).where(Facility.country == "NG",
                                                        Facility.name.like("Idah%"))))
    assert [(r.name, r.capacity) for r in rows] == [("Idah custodial centre", 560)]
