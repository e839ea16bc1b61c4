"""First run: an empty dashboard says what to do next, and the demo's stories are dated relative to today."""

# The shared dashboard fixtures are imported from test_dashboard; pytest passes them in as arguments.
# ruff: noqa: F811

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta, timezone

from sqlmodel import Session, func, select

from monitor.demo import _dates, dated_relative_to, demo_files, demo_shift, load_demo, shift_dates
from monitor.ingest.parse import parse_feed
from monitor.settings import load_settings
from monitor.store.schema import Alert, Article
from tests.conftest import REPO_ROOT
from tests.test_dashboard import app_for, logged_in, needs_model, texts, users  # noqa: F401 (fixtures)


def test_an_empty_store_says_what_to_do_next(app_for, users, initialised):
    at = logged_in(app_for(initialised), "ana")
    assert not at.exception
    guide = next(i.value for i in at.info if "Getting started" in i.value)
    assert "No feeds are configured yet" in guide
    for step in ("Feeds", "monitor feeds add", "monitor demo", "monitor worker", "monitor subscribers add"):
        assert step in guide
    # The board is there, empty, rather than an error.
    assert "None in this period" in texts(at) and "No alerts were first seen in this period." in texts(at)


def test_a_viewer_is_told_who_can_add_feeds(app_for, users, initialised):
    at = logged_in(app_for(initialised), "vera")
    guide = next(i.value for i in at.info if "Getting started" in i.value)
    assert "ask an analyst or admin" in guide


@needs_model
def test_the_guide_goes_once_there_are_alerts(app_for, users, initialised, run_cli):
    run_cli("demo")
    at = logged_in(app_for(initialised), "ana")
    assert not any("Getting started" in i.value for i in at.info)


def test_make_run_says_what_to_do_after_starting():
    dry_run = subprocess.run(["make", "-n", "-B", "run"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    steps = dry_run.stdout
    assert "Next steps:" in steps
    for step in ("log in", "users set-password admin", "Feeds page", "feeds add", "subscribers add"):
        assert step in steps


# --- demo dates -------------------------------------------------------------------------------------------------

def test_demo_dates_move_by_whole_days_so_the_newest_story_is_from_the_last_day():
    now = datetime(2027, 3, 9, 6, 30, tzinfo=timezone.utc)
    originals = {path.name: _dates(path.read_bytes()) for path in demo_files()}
    moved = {path.name: _dates(body) for path, body in dated_relative_to(now)}
    newest = max(d for dates in moved.values() for d in dates)
    assert now - timedelta(days=1) < newest <= now
    shift = demo_shift([p.read_bytes() for p in demo_files()], now)
    assert shift.seconds == 0 and shift.days > 0  # whole days: times of day as written
    for name, dates in originals.items():
        assert [d + shift for d in dates] == moved[name]
        assert [d.utcoffset() for d in dates] == [d.utcoffset() for d in moved[name]]  # zones kept
    # The parser reads the moved dates: RSS and Atom alike.
    for _path, body in dated_relative_to(now):
        published = [e.published for e in parse_feed(body).entries if e.published]
        assert published and max(published) <= now and min(published) >= now - timedelta(days=6)


def test_demo_files_already_in_the_future_are_left_alone():
    body = demo_files()[0].read_bytes()
    assert demo_shift([body], datetime(2020, 1, 1, tzinfo=timezone.utc)) == timedelta(0)
    assert shift_dates(body, timedelta(0)) == body


@needs_model
def test_the_demo_loaded_today_shows_recent_alerts_and_loading_later_adds_nothing(initialised, engine):
    settings = load_settings(flags={"database_url": initialised})
    now = datetime.now(timezone.utc)
    first = load_demo(engine, settings, now=now)
    assert first.new_article_ids
    with Session(engine) as session:
        newest = session.exec(select(func.max(Article.published_at))).one()
        stored = session.exec(select(func.count()).select_from(Article)).one()
    newest = newest if newest.tzinfo else newest.replace(tzinfo=timezone.utc)
    assert now - timedelta(days=1) < newest <= now
    again = load_demo(engine, settings, now=now + timedelta(days=40))  # a later day: dates move again
    assert not again.new_article_ids
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(Article)).one() == stored


@needs_model
def test_demo_alerts_fall_in_the_dashboards_default_period(run_cli, initialised, engine):
    from monitor.dashboard.views.alerts import DEFAULT_PERIOD_DAYS

    run_cli("demo")
    with Session(engine) as session:
        alerts = session.exec(select(Alert)).all()
    now = datetime.now(timezone.utc)
    assert alerts and all(now - timedelta(days=DEFAULT_PERIOD_DAYS) < a.last_seen_at <= now for a in alerts)
