"""Engines and sessions for SQLite and PostgreSQL, with validation of every row on write."""

from __future__ import annotations

import threading
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from pydantic import ValidationError
from sqlalchemy import event, text
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
    if parsed.database.startswith("file:"):  # a URI filename (`sqlite:///file:PATH?mode=ro&uri=true`)
        path = parsed.database[len("file:"):].split("?")[0]
        return None if not path or path == ":memory:" else Path(path)
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


_memory_locks: dict[tuple[int, str], threading.Lock] = {}
_memory_locks_guard = threading.Lock()


@contextmanager
def exclusive(engine: Engine, name: str) -> Iterator[None]:
    """Run a section in one process at a time among every worker and command sharing this store.

    Sections that read, decide and write (classifying new articles, grouping them into alerts, queueing
    mail) would otherwise double their work when two workers run them at once. PostgreSQL: a session
    advisory lock, keyed on the schema and `name`, held on a connection of its own. SQLite: an flock on a
    file beside the store (SQLite stores are on one host). Both are released by the operating system or
    the server when a holder dies, so a killed worker never leaves the section locked.
    """
    backend = engine.url.get_backend_name()
    if backend == "postgresql":
        with _advisory_lock(engine, name):
            yield
        return
    path = _sqlite_path(str(engine.url))
    if path is None:  # an in-memory store lives in one process: a thread lock is enough
        with _memory_locks_guard:
            lock = _memory_locks.setdefault((id(engine), name), threading.Lock())
        with lock:
            yield
        return
    with _file_lock(path.with_name(f"{path.name}.{name}.lock")):
        yield


@contextmanager
def _advisory_lock(engine: Engine, name: str) -> Iterator[None]:
    connection = engine.connect()
    try:
        schema = connection.execute(text("SELECT current_schema()")).scalar() or ""
        # pg advisory keys are one bigint per database; the schema keeps test schemas (and tenants) apart.
        key = zlib.crc32(f"{schema}:{name}".encode()) - 2**31
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        connection.commit()
        try:
            yield
        finally:
            try:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()
            except Exception:
                # The connection broke, and the lock went with its session; never pool it again.
                connection.invalidate()
    finally:
        connection.close()


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # no flock (Windows): one process per SQLite store is the supported set-up there
        yield
        return
    try:
        handle = open(path, "a+b")
    except OSError as exc:
        raise StoreError(f"cannot open the lock file {path} beside the SQLite store: {exc}") from exc
    try:
        # Blocks until the holder finishes; a separate open file per call, so threads exclude each other too.
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()


def describe_store_error(exc: Exception, database_url: str) -> str:
    """A message a user can act on for the usual ways a store fails to open or write."""
    text = str(getattr(exc, "orig", exc)).strip()
    lowered = text.lower()
    try:  # messages end up in logs: never with the database password
        where = make_url(database_url).render_as_string(hide_password=True)
    except Exception:
        where = "the configured database"
    if "readonly" in lowered or "read-only" in lowered:
        return f"the store {where} is read-only: give the monitor write access to the file and its folder ({text})"
    if "disk" in lowered and "full" in lowered:
        return (f"the disk holding {where} is full: nothing was half-written; free space and run the command "
                f"again ({text})")
    if "database is locked" in lowered:
        return (f"the store {where} stayed locked by another process (a long write, a backup or a stuck "
                f"program) for longer than the busy timeout; nothing was written, try again ({text})")
    if isinstance(exc, OperationalError) and ("connect" in lowered or "connection" in lowered):
        return f"cannot reach the database at {where}: is the server running and the URL right? ({text})"
    return f"store error on {where}: {text}"
