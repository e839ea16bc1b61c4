"""The store: SQLite pragmas, PostgreSQL, versioned migrations that match the models, validation on write."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from monitor.store.db import InvalidRow, make_engine, session_scope
from monitor.store.migrate import current_revision, downgrade_store, head_revision, upgrade_store
from monitor.store.schema import Alert, Facility, FacilityProfileChange, Feed, utcnow

FIRST_REVISION = "0001"
EXPECTED_TABLES = {
    "facility", "facilityalias", "facilityprofilechange", "feed", "article", "articlesource", "classification",
    "facilitymention", "alert", "alertarticle", "alertstatuschange", "subscriber", "notification", "feedback",
    "modelversion", "riskscore",
}


def test_init_creates_every_table_at_the_newest_schema(engine):
    assert current_revision(engine) == head_revision()
    assert EXPECTED_TABLES <= set(inspect(engine).get_table_names())


def test_migrations_produce_exactly_the_models(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    # Tables owned by other libraries (APScheduler's job store) are not ours to compare.
    differences = [d for d in differences if not (d[0] == "remove_table" and d[1].name.startswith("apscheduler"))]
    assert differences == []


def test_sqlite_runs_with_wal_busy_timeout_and_foreign_keys(sqlite_url):
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 5000


def test_foreign_keys_are_enforced(engine):
    with pytest.raises(IntegrityError):
        with session_scope(engine) as session:
            session.add(FacilityProfileChange(facility_id=999_999, field="x", changed_by="test"))


@pytest.mark.parametrize("bad, message", [
    (dict(latitude=123.0), "latitude"),
    (dict(country="ZZ"), "country"),
    (dict(capacity=-5), "capacity"),
    (dict(population_date="last spring"), "population_date"),
    (dict(nationalities=[{"country": "Atlantis"}]), "nationalit"),
])
def test_rows_are_validated_before_they_are_written(engine, bad, message):
    values = dict(slug="x-prison", name="X prison", country="SY") | bad
    with pytest.raises(InvalidRow, match=message):
        with session_scope(engine) as session:
            session.add(Facility(**values))
    with Session(engine) as session:
        assert session.exec(select(Facility).where(Facility.slug == "x-prison")).first() is None


def test_changes_to_existing_rows_are_validated_too(engine):
    with session_scope(engine) as session:
        facility = session.exec(select(Facility)).first()
        facility_id = facility.id
    with pytest.raises(InvalidRow, match="longitude"):
        with session_scope(engine) as session:
            facility = session.get(Facility, facility_id)
            facility.longitude = 500.0
    with pytest.raises(InvalidRow, match="severity"):
        with session_scope(engine) as session:
            session.add(Alert(severity="apocalyptic"))


def test_times_come_back_timezone_aware_in_utc(engine):
    now = utcnow()
    with session_scope(engine) as session:
        session.add(Feed(name="t", url="https://example.org/rss", next_check_at=now))
    with Session(engine) as session:
        stored = session.exec(select(Feed).where(Feed.name == "t")).one().next_check_at
    assert stored.tzinfo is not None and stored.utcoffset().total_seconds() == 0
    assert abs((stored - now).total_seconds()) < 1


def test_upgrading_a_store_from_the_first_schema_keeps_its_data(database_url):
    """Rows written by the oldest schema, with only the columns it had, survive every later migration."""
    engine = make_engine(database_url)
    upgrade_store(engine, FIRST_REVISION)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO facility (slug, name, kind, country, nationalities, condition_tags, incidents, facts,"
            " origin, local_fields, population, created_at, updated_at)"
            " VALUES ('kept', 'Kept prison', 'prison', 'IQ', '[]', '[]', '[]', '{}', 'analyst', '[]', 10,"
            " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        ))
        connection.execute(text(
            "INSERT INTO alert (labels, severity, severity_reason, status, outlet_count, first_seen_at, last_seen_at,"
            " created_at, updated_at) VALUES ('[\"riot_unrest\"]', 'medium', 'kept', 'new', 2, CURRENT_TIMESTAMP,"
            " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        ))
    before, after = upgrade_store(engine)
    assert (before, after) == (FIRST_REVISION, head_revision())
    with Session(engine) as session:
        assert session.exec(select(Facility.population).where(Facility.slug == "kept")).one() == 10
        alert = session.exec(select(Alert).where(Alert.severity_reason == "kept")).one()
    assert alert.outlet_count == 2 and alert.labels == ["riot_unrest"] and alert.group_key == ""
    engine.dispose()


def test_migrations_go_down_and_up_cleanly(database_url):
    engine = make_engine(database_url)
    upgrade_store(engine)
    downgrade_store(engine, "base")
    assert not (EXPECTED_TABLES & set(inspect(engine).get_table_names()))
    upgrade_store(engine)
    assert current_revision(engine) == head_revision()
    engine.dispose()
