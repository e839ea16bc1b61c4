"""`monitor report`: a facility report written to a file. Registered in monitor/cli.py with
`cli.add_command(report)`; monitor.cli is imported inside the command only, so either module can be
imported first.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click
from sqlalchemy.exc import OperationalError

from monitor.reports import FORMATS, render_bundle
from monitor.reports.gather import FacilitySelection, Period, ReportError, gather_reports, parse_report_date


def write_atomically(path: Path, data: bytes) -> None:
    """Write next to the target and rename, so a failure never leaves half a report under its name."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@click.command("report")
@click.argument("name_or_alias", required=False)
@click.option("--country", metavar="CC", help="Every facility in this country (ISO code), one document.")
@click.option("--all", "all_facilities", is_flag=True, help="Every facility, one document.")
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), required=True, help="Output format.")
@click.option("--output", type=click.Path(path_type=Path), required=True, metavar="PATH",
              help="File to write (its folder must exist; an existing file is replaced).")
@click.option("--since", metavar="DATE", help="First day covered, YYYY-MM-DD (default: no limit).")
@click.option("--until", metavar="DATE", help="Last day covered, YYYY-MM-DD (default: no limit).")
@click.option("--articles", is_flag=True, help="CSV only: one row per article instead of one per alert.")
@click.pass_obj
def report(app, name_or_alias: str | None, country: str | None, all_facilities: bool, fmt: str, output: Path,
           since: str | None, until: str | None, articles: bool) -> None:
    """Write a facility report (profile, risk, alerts, evidence, numbered sources) as PDF, CSV, Markdown,
    HTML or GeoJSON. Name one facility by name or any alias, or use --country CC or --all."""
    from monitor.cli import _require_store

    if sum((bool(name_or_alias), bool(country), all_facilities)) != 1:
        raise click.UsageError("name one facility (NAME_OR_ALIAS), or give --country CC or --all; exactly one of them")
    if articles and fmt != "csv":
        raise click.UsageError("--articles (one row per article) goes with --format csv")
    if output.is_dir():
        example = output / f"report.{FORMATS[fmt][1]}"
        raise click.ClickException(f"--output {output} is a folder; give a file name, e.g. {example}")
    folder = output.parent
    if not folder.is_dir():
        raise click.ClickException(f"--output: the folder {folder} does not exist; create it first")
    try:
        period = Period(parse_report_date(since, "--since"), parse_report_date(until, "--until"))
    except ReportError as exc:
        raise click.UsageError(str(exc)) from None
    _require_store(app)
    selection = FacilitySelection(name_or_alias=name_or_alias, country=country, all_facilities=all_facilities)
    try:
        bundle = gather_reports(app.engine, selection, period)
        data = render_bundle(bundle, fmt, articles=articles)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None
    except OperationalError as exc:
        raise app.store_error(exc) from None
    try:
        write_atomically(output, data)
    except OSError as exc:
        raise click.ClickException(f"could not write {output}: {exc.strerror or exc}") from None
    alerts = sum(len(r.alerts) for r in bundle.reports)
    facilities = len(bundle.reports)
    click.echo(f"Wrote {output} ({fmt}, {len(data):,} bytes): {facilities} facilit{'y' if facilities == 1 else 'ies'}, "
               f"{alerts} alert{'s' if alerts != 1 else ''}, period {period.describe()}.")
