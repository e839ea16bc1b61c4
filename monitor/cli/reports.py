"""`monitor report`: a facility report written to a file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from monitor.cli import AppContext, cli, library_errors, pass_app
from monitor.reports import FORMATS

_DAY = click.DateTime(["%Y-%m-%d"])


@cli.command("report")
@click.argument("name_or_alias", required=False)
@click.option("--country", metavar="CC", help="Every facility in this country (ISO code), one document.")
@click.option("--all", "all_facilities", is_flag=True, help="Every facility, one document.")
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), required=True, help="Output format.")
@click.option("--output", type=click.Path(path_type=Path), required=True, metavar="PATH",
              help="File to write (its folder must exist; an existing file is replaced).")
@click.option("--since", type=_DAY, metavar="DATE", help="First day covered, YYYY-MM-DD (default: no limit).")
@click.option("--until", type=_DAY, metavar="DATE", help="Last day covered, YYYY-MM-DD (default: no limit).")
@click.option("--articles", is_flag=True, help="CSV only: one row per article instead of one per alert.")
@pass_app
def report(app: AppContext, name_or_alias: str | None, country: str | None, all_facilities: bool, fmt: str,
           output: Path, since: datetime | None, until: datetime | None, articles: bool) -> None:
    """Write a facility report (profile, risk, alerts, evidence, numbered sources) as PDF, CSV, Markdown,
    HTML or GeoJSON. Name one facility by name or any alias, or use --country CC or --all."""
    from monitor.reports import FacilitySelection, Period, write_report

    if sum((bool(name_or_alias), bool(country), all_facilities)) != 1:
        raise click.UsageError("name one facility (NAME_OR_ALIAS), or give --country CC or --all; exactly one of them")
    if articles and fmt != "csv":
        raise click.UsageError("--articles (one row per article) goes with --format csv")
    if since and until and since > until:
        raise click.UsageError(f"--since {since:%Y-%m-%d} is after --until {until:%Y-%m-%d}")
    period = Period(since.date() if since else None, until.date() if until else None)
    selection = FacilitySelection(name_or_alias=name_or_alias, country=country, all_facilities=all_facilities)
    app.require_store()
    with library_errors(app):
        written = write_report(app.engine, selection, period, fmt, output, articles=articles)
    facilities, alerts = written.facilities, written.alerts
    click.echo(f"Wrote {output} ({fmt}, {written.size:,} bytes): {facilities} "
               f"facilit{'y' if facilities == 1 else 'ies'}, {alerts} alert{'s' if alerts != 1 else ''}, "
               f"period {period.describe()}.")
