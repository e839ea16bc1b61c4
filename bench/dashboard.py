"""Dashboard page times on a large store versus an empty one, in the same process.

Builds two SQLite stores: one just initialised, one holding 100,000 articles (each classified), 10,000 alerts
(ten articles each, with audit rows) and a year of daily risk scores per facility. Then renders every page with
Streamlit's AppTest, logged in as an analyst, with the query cache cleared first (cold) and again with it warm.
Target: every page under 2 s on the large store.

    .venv/bin/python bench/dashboard.py [--articles 100000] [--alerts 10000]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from sqlalchemy import insert  # noqa: E402
from sqlmodel import Session, select  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from monitor.cli import cli  # noqa: E402
from monitor.store.db import make_engine, session_scope  # noqa: E402
from monitor.store.schema import (  # noqa: E402
    LABELS,
    SEVERITIES,
    Alert,
    AlertArticle,
    AlertStatusChange,
    Article,
    Classification,
    Facility,
    RiskScore,
    utcnow,
)
from monitor.users import create_user  # noqa: E402

PASSWORD = "bench-password-123"
PAGES = ("Alerts", "Facilities", "Feeds", "Model", "Reports")
BATCH = 5000


def initialise(url: str) -> None:
    result = CliRunner().invoke(cli, ["--database-url", url, "init"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    engine = make_engine(url)
    with session_scope(engine) as session:
        create_user(session, "bench", "analyst", PASSWORD, actor="bench")
    engine.dispose()


def fill(url: str, articles: int, alerts: int) -> None:
    rng = random.Random(7)
    engine = make_engine(url)
    now = utcnow()
    with Session(engine) as session:
        facility_ids = list(session.exec(select(Facility.id)))
    with engine.begin() as connection:
        for start in range(0, articles, BATCH):
            rows = []
            for i in range(start, min(articles, start + BATCH)):
                when = now - timedelta(minutes=i * 5)
                rows.append({"url": f"https://news.example.org/{i}", "guid": None,
                             "content_key": hashlib.sha256(str(i).encode()).hexdigest(),
                             "title": f"Report {i} on detention conditions and security in the region",
                             "summary": "A paragraph of news text standing in for an article summary. " * 4,
                             "published_at": when, "language": "en", "outlet": f"Outlet {i % 40}",
                             "first_seen_at": when, "classified_at": when})
            connection.execute(insert(Article), rows)
            connection.execute(insert(Classification), [
                {"article_id": n + 1, "model_version": "bench", "labels": [rng.choice(LABELS)] if n % 3 else [],
                 "scores": {}, "severity": None, "created_at": now} for n in range(start, start + len(rows))])
        per_alert = max(1, articles // alerts)
        for start in range(0, alerts, BATCH):
            rows, links, audit = [], [], []
            for i in range(start, min(alerts, start + BATCH)):
                when = now - timedelta(minutes=i * 50)
                facility = rng.choice(facility_ids)
                rows.append({"id": i + 1, "facility_id": facility, "group_key": f"facility:{facility}|bench{i}",
                             "labels": sorted(set(rng.sample(LABELS, 2))), "severity": rng.choice(SEVERITIES),
                             "severity_reason": "bench: severity from labels and scale cues",
                             "status": rng.choice(("new", "new", "confirmed", "escalated", "dismissed", "resolved")),
                             "outlet_count": rng.randint(1, 6), "first_seen_at": when, "last_seen_at": when,
                             "created_at": when, "updated_at": when})
                links.extend({"alert_id": i + 1, "article_id": i * per_alert + k + 1, "added_at": when}
                             for k in range(per_alert) if i * per_alert + k < articles)
                audit.append({"alert_id": i + 1, "from_status": "new", "to_status": "confirmed", "actor": "bench",
                              "note": "bench note", "at": when})
            connection.execute(insert(Alert), rows)
            connection.execute(insert(AlertArticle), links)
            connection.execute(insert(AlertStatusChange), audit)
        risk_rows = [{"facility_id": f, "day": (now - timedelta(days=d)).strftime("%Y-%m-%d"),
                      "score": rng.uniform(0, 100), "factors": [{"factor": "bench", "points": 1.0, "detail": ""}],
                      "computed_at": now} for f in facility_ids for d in range(365)]
        for start in range(0, len(risk_rows), BATCH):
            connection.execute(insert(RiskScore), risk_rows[start:start + BATCH])
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('alert', 'id'), (SELECT max(id) FROM alert))")
    engine.dispose()


def page_times(url: str) -> dict[str, tuple[float, float]]:
    os.environ["MONITOR_DATABASE_URL"] = url
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.text_input[0].input("bench")
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    times = {}
    for page in PAGES:
        st.cache_data.clear()
        started = time.perf_counter()
        at.sidebar.radio(key="page").set_value(page).run()
        cold = time.perf_counter() - started
        assert not at.exception, at.exception
        started = time.perf_counter()
        at.run()
        warm = time.perf_counter() - started
        times[page] = (cold, warm)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--alerts", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        empty_url = f"sqlite:///{tmp}/empty.db"
        large_url = f"sqlite:///{tmp}/large.db"
        initialise(empty_url)
        initialise(large_url)
        started = time.perf_counter()
        fill(large_url, args.articles, args.alerts)
        print(f"filled the large store with {args.articles:,} articles and {args.alerts:,} alerts "
              f"in {time.perf_counter() - started:.1f} s")
        os.chdir(tmp)
        empty = page_times(empty_url)
        large = page_times(large_url)
    print(f"{'page':<12} {'empty cold':>11} {'large cold':>11} {'ratio':>6} {'large warm':>11}")
    worst = 0.0
    for page in PAGES:
        ratio = large[page][0] / empty[page][0]
        worst = max(worst, large[page][0])
        print(f"{page:<12} {empty[page][0]:>10.2f}s {large[page][0]:>10.2f}s {ratio:>5.2f}x {large[page][1]:>10.2f}s")
    print(f"slowest page on the large store: {worst:.2f} s (target: under 2 s)")


if __name__ == "__main__":
    main()
