"""Feeds: `poll` and the `feeds` group."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from monitor.cli import AppContext, Column, actor, cli, emit, json_option, library_errors, pass_app


@cli.command()
@click.option("--all", "all_feeds", is_flag=True, help="Poll every enabled feed now, whatever its schedule.")
@click.option("--feed", "feed_name", metavar="NAME", help="Poll this one feed now (even if parked or disabled).")
@pass_app
def poll(app: AppContext, all_feeds: bool, feed_name: str | None) -> None:
    """Run one polling cycle over the feeds that are due, and print what happened."""
    from monitor.flow import run_poll
    from monitor.ingest.claims import select_feeds
    from monitor.ingest.feed_admin import feed_named
    from monitor.store.schema import utcnow

    with app.reading() as session:
        if feed_name is not None:
            feed_named(session, feed_name)
        expected = len(select_feeds(session, utcnow(), all_feeds=all_feeds, feed_name=feed_name))
    bar = click.progressbar(length=expected, label="Polling feeds") if sys.stdout.isatty() and expected else None
    try:
        if bar is not None:
            bar.__enter__()
        with library_errors(app):
            report = run_poll(app.engine, app.settings, all_feeds=all_feeds, feed_name=feed_name,
                              on_feed_done=(lambda _outcome: bar.update(1)) if bar is not None else None)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    for outcome in report.cycle.outcomes:
        if outcome.status == "failed":
            click.echo(f"  failed: {outcome.feed}: {outcome.error}" + (" (parked)" if outcome.parked else ""))
        elif outcome.warning:
            click.echo(f"  warning: {outcome.feed}: {outcome.warning}")
    if not (report.cycle.outcomes or report.cycle.skipped_claimed):
        click.echo("No feeds are due.")
    click.echo(report.summary())


@cli.group()
def feeds() -> None:
    """The feeds being polled and their health."""


def ago(when, now) -> str:
    """'3h ago' or 'in 5m' for a time relative to now; 'never' for none."""
    if when is None:
        return "never"
    seconds = (when - now).total_seconds()
    future = seconds > 0
    seconds = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            amount = f"{int(seconds // size)}{unit}"
            break
    else:
        amount = f"{int(seconds)}s"
    return f"in {amount}" if future else f"{amount} ago"


def _iso(when):
    return when.isoformat() if when else None


@feeds.command("list")
@click.option("--problems", is_flag=True, help="Only feeds that are failing, parked, disabled or warned.")
@json_option
@pass_app
def feeds_list(app: AppContext, problems: bool, as_json: bool) -> None:
    """Feed health: last success, last status, consecutive errors, parked, next check."""
    from monitor.ingest.feed_admin import feed_state, list_feeds
    from monitor.store.schema import utcnow

    now = utcnow()
    with app.reading() as session:
        rows = list_feeds(session, problems_only=problems)

    def errors_beneath(f) -> list[str]:
        lines = []
        if f.last_error:
            lines.append(f"    error: {f.last_error}")
        if f.last_warning:
            lines.append(f"    warning: {f.last_warning}")
        return lines

    parked = sum(1 for f in rows if f.parked_at)
    emit(rows, as_json=as_json, to_json=lambda f: {
        "name": f.name, "url": f.url, "enabled": f.enabled, "parked": f.parked_at is not None,
        "managed_by": f.managed_by, "removed": f.removed_at is not None, "last_status": f.last_status,
        "last_success_at": _iso(f.last_success_at), "consecutive_errors": f.consecutive_errors,
        "last_error": f.last_error, "last_warning": f.last_warning, "next_check_at": _iso(f.next_check_at)},
        columns=[Column("FEED", 44, lambda f: f.name), Column("STATE", 9, feed_state),
                 Column("LAST OK", 10, lambda f: ago(f.last_success_at, now)),
                 Column("STATUS", 6, lambda f: f.last_status, ">"),
                 Column("ERRORS", 6, lambda f: str(f.consecutive_errors), ">"),
                 Column("NEXT CHECK", 11, lambda f: ago(f.next_check_at, now) if f.enabled and not f.parked_at
                        else "-")],
        line=errors_beneath, empty="No feed has a problem." if problems else "No feeds.",
        footer=f"{len(rows)} feeds" + (f", {parked} parked (re-enable with `monitor feeds enable NAME`)"
                                       if parked else "") + ".")


@feeds.command("add")
@click.argument("name_or_url")
@click.argument("url", required=False)
@click.option("--interval", "interval_minutes", type=click.IntRange(1, 10080), default=None,
              help="Minutes between polls (default: the poll_interval_minutes setting).")
@click.option("--language", default=None, help="Language code of the feed, e.g. en, ar, fr.")
@pass_app
def feeds_add(app: AppContext, name_or_url: str, url: str | None, interval_minutes: int | None,
              language: str | None) -> None:
    """Add a feed by hand (kept when feeds.yaml is synced); it is polled at the next cycle.

    `monitor feeds add URL` takes a feed's URL or a web page's: a page's feed is found from its
    <link rel="alternate"> tags, and the name is taken from the feed's title. `monitor feeds add NAME URL`
    names it yourself (the URL is then used as given).
    """
    from monitor.ingest.feed_admin import add_feed
    from monitor.ingest.opml import discover_feed, name_for
    from monitor.ingest.pipeline import limits_from

    app.require_store()
    with library_errors(app):
        found = discover_feed(name_or_url, limits_from(app.settings)) if url is None else None

    def add(session):
        name, feed_url = (name_for(session, found.title, found.url), found.url) if found else (name_or_url, url)
        feed = add_feed(session, name, feed_url, actor(), interval_minutes=interval_minutes, language=language,
                        allow_private=app.settings.allow_private_feeds)
        return feed.name, feed.url

    app.change(add, lambda added: f"Added {added[0]} ({added[1]}); it is polled at the next cycle.")


@feeds.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Add the good outlines and report the bad ones.")
@pass_app
def feeds_import(app: AppContext, file: Path, skip_invalid: bool) -> None:
    """Add the feeds of an OPML file; any bad outline means nothing is added (unless --skip-invalid)."""
    from monitor.ingest.opml import FeedSourceError, import_opml

    with app.changing() as session:
        report = import_opml(session, file.read_bytes(), actor(), skip_invalid=skip_invalid,
                             allow_private=app.settings.allow_private_feeds)
        if report.bad and not skip_invalid:
            raise FeedSourceError("nothing imported; bad outline(s): " + "; ".join(report.bad))
    for problem in report.bad:
        click.echo(f"skipped {problem}", err=True)
    click.echo(f"Imported {len(report.added)} feed(s); {len(report.already)} already polled"
               + (f"; {len(report.bad)} skipped" if report.bad else "") + ".")


@feeds.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_app
def feeds_export(app: AppContext, file: Path) -> None:
    """Write the feed list as OPML 2.0 (for another reader, or `monitor feeds import` elsewhere)."""
    from monitor.ingest.opml import export_opml

    with app.reading() as session:
        file.write_bytes(export_opml(session))
    click.echo(f"Wrote {file}.")


@feeds.command("enable")
@click.argument("name")
@pass_app
def feeds_enable(app: AppContext, name: str) -> None:
    """Re-enable a disabled or parked feed and check it at the next cycle."""
    from monitor.ingest.feed_admin import enable_feed

    app.change(lambda session: enable_feed(session, name, actor()), f"Enabled {name}; it is polled at the next cycle.")


@feeds.command("disable")
@click.argument("name")
@pass_app
def feeds_disable(app: AppContext, name: str) -> None:
    """Stop polling a feed (its articles and history stay)."""
    from monitor.ingest.feed_admin import disable_feed

    app.change(lambda session: disable_feed(session, name, actor()), f"Disabled {name}.")
