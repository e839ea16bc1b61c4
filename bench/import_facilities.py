"""Importing 20,000 facility rows: `monitor facilities import`'s code path vs a bare CSV + executemany insert.

Prints seconds and the ratio to the baseline, measured in the same run (these machines are noisy).
The rows are synthetic benchmark data, written to a temporary folder and deleted afterwards.

    python bench/import_facilities.py [ROWS]
"""

from __future__ import annotations

import csv
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from monitor.facilities.csv_io import CSV_COLUMNS, import_facilities
from monitor.store.db import make_engine, session_scope
from monitor.store.migrate import upgrade_store

COUNTRIES = ["SY", "IQ", "NG", "CD", "AF", "PK", "YE", "LY", "MZ", "HT", "NE", "ML", "BF", "PH", "ID", "MX"]


def write_rows(path: Path, count: int) -> None:
    rng = random.Random(7)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for n in range(count):
            country = rng.choice(COUNTRIES)
            writer.writerow([
                f"Benchmark facility {n:05d}", f"Bench alias {n:05d};BF-{n:05d}", country, f"Town {n % 500}",
                rng.choice(["prison", "camp", "detention_centre"]), f"{rng.uniform(-60, 60):.4f}",
                f"{rng.uniform(-120, 120):.4f}", "Ministry of Justice", "operational", rng.randint(100, 9000),
                rng.randint(50, 12000), "2024-05", f"{country}:{rng.randint(1, 500)}", "crowded wings",
                "https://example.org/benchmark",
            ])


def bare_baseline(csv_path: Path, db_path: Path) -> float:
    start = time.perf_counter()
    connection = sqlite3.connect(db_path)
    connection.execute(f"CREATE TABLE facility ({', '.join(c + ' TEXT' for c in CSV_COLUMNS)})")
    with csv_path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        connection.executemany(f"INSERT INTO facility VALUES ({', '.join('?' * len(CSV_COLUMNS))})", reader)
    connection.commit()
    connection.close()
    return time.perf_counter() - start


def monitor_import(csv_path: Path, database_url: str) -> tuple[float, str]:
    engine = make_engine(database_url)
    start = time.perf_counter()
    with session_scope(engine) as session:
        report = import_facilities(session, csv_path, actor="bench")
    elapsed = time.perf_counter() - start
    engine.dispose()
    applied = report.applied
    return elapsed, f"{applied.created} added, {applied.updated} updated, {applied.unchanged} unchanged"


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        csv_path = folder / "facilities.csv"
        write_rows(csv_path, count)
        database_url = f"sqlite:///{folder / 'monitor.db'}"
        upgrade_store(make_engine(database_url))

        baseline = bare_baseline(csv_path, folder / "bare.db")
        first, first_summary = monitor_import(csv_path, database_url)
        again, again_summary = monitor_import(csv_path, database_url)

    print(f"facility import, {count:,} rows (SQLite)")
    print(f"  bare csv + executemany     {baseline:8.3f} s   1.0x")
    print(f"  monitor import, new store  {first:8.3f} s  {first / baseline:6.1f}x   ({first_summary})")
    print(f"  monitor re-import, same    {again:8.3f} s  {again / baseline:6.1f}x   ({again_summary})")
    print(f"  rows/s: bare {count / baseline:,.0f}; import {count / first:,.0f}; re-import {count / again:,.0f}")


if __name__ == "__main__":
    main()
