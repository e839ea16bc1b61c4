"""Engines and sessions for SQLite and PostgreSQL, with validation of every row on write."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from pydantic import ValidationError
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, SQLModel, create_engine

from monitor.settings import normalise_database_url
from monitor.store.schema import VALIDATION_MODELS

SQLITE_BUSY_TIMEOUT_MS = 15_000


class StoreError(RuntimeError):
    """The store cannot be opened or written; the message says what to do."""


class InvalidRow(ValueError):
    """A row failed validation before it reached the database."""


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def make_engine(database_url: str, *, echo: bool = False) -> Engine:
    url = normalise_database_url(database_url)
    sqlite_path = _sqlite_path(url)
    if sqlite_path is not None:
        try:
            sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder for the SQLite store {sqlite_path}: {exc}") from exc
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets the dashboard read while the worker writes; the busy timeout makes writers queue
        # instead of failing; SQLite leaves foreign keys off unless asked.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def validated(model: type[SQLModel], values: dict) -> SQLModel:
    """Validate column values for a table class; returns the validated instance (with defaults filled)."""
    checker = VALIDATION_MODELS.get(model, model)
    try:
        return checker.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise InvalidRow(f"invalid {model.__name__}: {problems}") from None


def validated_rows(model: type[SQLModel], rows: list[dict]) -> list[dict]:
    """Validated, default-filled column dicts for a bulk INSERT (which bypasses the flush-time check)."""
    return [validated(model, row).model_dump(exclude={"id"}) for row in rows]


def validate_row(obj: SQLModel) -> None:
    """Run the model's pydantic validation on a table row (SQLModel skips it for table classes)."""
    model = type(obj)
    validated(model, {name: getattr(obj, name) for name in model.model_fields})


@event.listens_for(OrmSession, "before_flush")
def _validate_before_flush(session: OrmSession, _context, _instances) -> None:
    for obj in session.new:
        if isinstance(obj, SQLModel):
            validate_row(obj)
    for obj in session.dirty:
        # `dirty` also holds rows merely touched; only rows whose columns changed need checking.
        if isinstance(obj, SQLModel) and session.is_modified(obj, include_collections=False):
            validate_row(obj)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()


def describe_store_error(exc: Exception, database_url: str) -> str:
    """A message a user can act on for the usual ways a store fails to open or write."""
    text = str(getattr(exc, "orig", exc))
    lowered = text.lower()
    where = database_url
    if "readonly" in lowered or "read-only" in lowered:
        return f"the store {where} is read-only: give the monitor write access to the file and its folder ({text})"
    if "disk" in lowered and "full" in lowered:
        return f"the disk holding {where} is full: free space and run the command again ({text})"
    if isinstance(exc, OperationalError) and ("connect" in lowered or "connection" in lowered):
        return f"cannot reach the database at {where}: is the server running and the URL right? ({text})"
    return f"store error on {where}: {text}"
