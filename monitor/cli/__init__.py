"""The `monitor` command: a thin layer over the library.

Each command module (one per command group) parses its options, calls one library function and prints the
result through `emit`. Everything shared lives here: the settings/engine context, the store check, the
translation of library errors into plain messages, the "change, commit, report" helper and the output helper.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from monitor.settings import Settings, SettingsError, load_settings
from monitor.store.db import InvalidRow, StoreError, describe_store_error, make_engine, session_scope


class AppContext:
    """Settings and the store engine, made on first use so `--help` and `config` need no store."""

    def __init__(self, config_file: str | None, flags: dict[str, Any]):
        self.config_file = config_file
        self.flags = flags
        self._settings: Settings | None = None
        self._engine = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config_file, flags=self.flags)
            except SettingsError as exc:
                raise click.ClickException(str(exc)) from None
        return self._settings

    @property
    def engine(self):
        if self._engine is None:
            try:
                self._engine = make_engine(self.settings.database_url)
            except StoreError as exc:
                raise click.ClickException(str(exc)) from None
        return self._engine

    def store_error(self, exc: Exception) -> click.ClickException:
        return click.ClickException(describe_store_error(exc, self.settings.database_url))

    def require_store(self) -> None:
        """Stop with a plain message unless the store exists and is at this program's schema."""
        from monitor.store.migrate import current_revision, head_revision

        try:
            revision = current_revision(self.engine)
        except OperationalError as exc:
            raise self.store_error(exc) from None
        if revision is None:
            raise click.ClickException(
                f"the store at {self.settings.database_url} is not initialised; run `monitor init`")
        if revision != head_revision():
            raise click.ClickException(f"the store is at schema {revision}, this program needs {head_revision()}; "
                                       "run `monitor init` to upgrade it")

    def engine_if_initialised(self):
        """The engine when the store has a schema (so the active model version can be read), else None."""
        from sqlalchemy.engine import make_url

        from monitor.store.migrate import current_revision

        url = make_url(self.settings.database_url)
        if url.get_backend_name() == "sqlite" and (not url.database or not Path(url.database).exists()):
            return None  # don't create an empty store file just to find there is no model version in it
        try:
            return self.engine if current_revision(self.engine) is not None else None
        except (OperationalError, click.ClickException):
            return None

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only session on an initialised store."""
        self.require_store()
        with library_errors(self), Session(self.engine) as session:
            yield session

    @contextmanager
    def changing(self) -> Iterator[Session]:
        """A session on an initialised store, committed when the block ends without an error."""
        self.require_store()
        with library_errors(self), session_scope(self.engine) as session:
            yield session

    def change(self, do: Callable[[Session], Any], done: str | Callable[[Any], str]) -> Any:
        """Run one change in a transaction and report it: the "change, commit, report" of most commands."""
        with self.changing() as session:
            result = do(session)
        click.echo(done(result) if callable(done) else done)
        return result


# Library errors whose text is already a sentence for the user; each becomes `Error: <text>` and exit 1.
def _user_errors() -> tuple[type[Exception], ...]:
    from monitor.alerts.queries import AlertNotFound
    from monitor.alerts.triage import TriageError
    from monitor.alerts.watch import WatchError
    from monitor.classify.model import ModelError
    from monitor.classify.registry import RegistryError
    from monitor.facilities.csv_io import CsvFormatError
    from monitor.facilities.knowledge_base import KnowledgeBaseError
    from monitor.facilities.lookup import FacilityLookupError
    from monitor.ingest.feed_admin import FeedAdminError
    from monitor.ingest.feeds import FeedsFileError
    from monitor.ingest.opml import FeedSourceError
    from monitor.notify.subscriptions import SubscriptionError
    from monitor.reports.model import ReportError
    from monitor.users import UserError

    return (AlertNotFound, TriageError, ModelError, RegistryError, CsvFormatError, KnowledgeBaseError,
            FacilityLookupError, FeedAdminError, FeedsFileError, SubscriptionError, WatchError, FeedSourceError,
            ReportError, UserError, InvalidRow, StoreError)


@contextmanager
def library_errors(app: AppContext | None = None) -> Iterator[None]:
    """Turn the library's named errors into plain messages (no traceback), and store outages into advice."""
    try:
        yield
    except OperationalError as exc:
        if app is None:
            raise
        raise app.store_error(exc) from None
    except click.ClickException:
        raise
    except _user_errors() as exc:
        raise click.ClickException(str(exc)) from None


def actor() -> str:
    """Who the audit trail names for a change made from the command line."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no login name in some containers
        return "cli"


class Column:
    """One column of a text table: a header, how wide, and how to get the cell from a row."""

    def __init__(self, header: str, width: int, get: Callable[[Any], Any], align: str = "<"):
        self.header, self.width, self.get, self.align = header, width, get, align

    def cell(self, row: Any) -> str:
        text = self.get(row)
        text = "-" if text is None or text == "" else str(text)
        return f"{text[:self.width]:{self.align}{self.width}}"


def emit(rows: Sequence[Any], *, as_json: bool, to_json: Callable[[Any], Mapping[str, Any]] | None = None,
         columns: Sequence[Column] | None = None, line: Callable[[Any], str | Iterable[str]] | None = None,
         empty: str = "Nothing to show.", footer: str | None = None) -> None:
    """The one output helper: JSON lines with --json (one object per line, for every command), else text.

    Text is a table when `columns` is given, or the lines `line` makes for each row.
    """
    if as_json:
        for row in rows:
            click.echo(json.dumps(to_json(row) if to_json else row, ensure_ascii=False, default=str))
        return
    if not rows:
        click.echo(empty)
        return
    if columns:
        click.echo(" ".join(f"{c.header:{c.align}{c.width}}" for c in columns).rstrip())
    for row in rows:
        if columns:
            click.echo(" ".join(c.cell(row) for c in columns).rstrip())
        if line:
            out = line(row)
            for text in ([out] if isinstance(out, str) else out):
                click.echo(text)
    if footer:
        click.echo(footer)


def json_option(function):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON lines (one object per line).")(function)


def _parse_set_option(values: tuple[str, ...]) -> dict[str, str]:
    flags = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r}", param_hint="--set")
        flags[name.strip()] = value
    return flags


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
              help="Settings file (TOML). Default: ./monitor.toml when present, or $MONITOR_CONFIG.")
@click.option("--database-url", default=None, help="Overrides the database_url setting.")
@click.option("--feeds-file", default=None, help="Overrides the feeds_file setting.")
@click.option("--set", "set_values", multiple=True, metavar="NAME=VALUE",
              help="Overrides any setting; repeatable. See `monitor config`.")
@click.version_option(package_name="detention-monitor")
@click.pass_context
def cli(ctx: click.Context, config_file, database_url, feeds_file, set_values) -> None:
    """Detention-facility risk monitor: news signals of attacks, escapes, riots and collapsing conditions,
    linked to what is known of each facility."""
    flags: dict[str, Any] = _parse_set_option(set_values)
    if database_url is not None:
        flags["database_url"] = database_url
    if feeds_file is not None:
        flags["feeds_file"] = feeds_file
    ctx.obj = AppContext(config_file, flags)


pass_app = click.pass_obj

# The command groups register themselves on `cli` when imported.
from monitor.cli import (  # noqa: E402,F401  (imported for their commands)
    alerts,
    classifier,
    facilities,
    feeds,
    notifications,
    reports,
    store,
    users,
    watch,
)


def main() -> None:
    cli(prog_name="monitor")
