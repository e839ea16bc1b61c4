"""The facility knowledge base: the `facilities` group."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli import AppContext, Column, actor, cli, emit, json_option, library_errors, pass_app
from monitor.countries import country_name


@cli.group()
def facilities() -> None:
    """The facility knowledge base: list, show, import, export."""


def _num(value: int | None) -> str:
    return f"{value:,}" if value is not None else "-"


def _fact_note(facility, field_name: str) -> str:
    fact = (facility.facts or {}).get(field_name) or {}
    parts = []
    if fact.get("as_of"):
        parts.append(f"as of {fact['as_of']}")
    if fact.get("source"):
        parts.append(fact["source"])
    return f"  [{'; '.join(parts)}]" if parts else ""


def _echo_fact_history(summary) -> None:
    """Below a historied fact: its latest (conflicting figures side by side), range and every dated value."""
    from monitor.facilities.profiles import history_lines

    if summary is None or len(summary.values) < 2:
        return
    click.echo(f"{'':16}{summary.describe()}")
    for line in history_lines(summary):
        click.echo(f"{'':18}{line}")


@facilities.command("list")
@click.option("--country", help="Only facilities in this country (ISO code).")
@click.option("--kind", help="Only this kind (prison, camp, detention_centre, ...).")
@json_option
@pass_app
def facilities_list(app: AppContext, country: str | None, kind: str | None, as_json: bool) -> None:
    """List facilities with place, population and capacity."""
    from monitor.facilities.lookup import list_facilities

    with app.reading() as session:
        rows = list_facilities(session, country=country, kind=kind)
    emit(rows, as_json=as_json,
         to_json=lambda f: {"slug": f.slug, "name": f.name, "kind": f.kind, "country": f.country, "city": f.city,
                            "population": f.population, "capacity": f.capacity, "operator": f.operator},
         columns=[Column("SLUG", 34, lambda f: f.slug), Column("NAME", 40, lambda f: f.name),
                  Column("KIND", 16, lambda f: f.kind), Column("CC", 3, lambda f: f.country),
                  Column("CITY", 22, lambda f: f.city), Column("POPULATION", 10, lambda f: _num(f.population), ">"),
                  Column("CAPACITY", 9, lambda f: _num(f.capacity), ">")],
         empty="No facilities match." if (country or kind) else "No facilities yet; run `monitor init`.",
         footer=f"{len(rows)} facilities.")


@facilities.command("show")
@click.argument("name_or_alias")
@click.option("--history", is_flag=True, help="Also print every recorded profile change.")
@pass_app
def facilities_show(app: AppContext, name_or_alias: str, history: bool) -> None:
    """Show one facility's profile with sources. NAME_OR_ALIAS is a slug, the name, any alias, the distinctive
    part of one ("Gweiran", "al-Hol"), in any script, or a near spelling; when several facilities answer they
    are listed to choose from, and when none does the closest names are suggested."""
    from monitor.facilities.lookup import profile_changes, resolve_lookup
    from monitor.facilities.profiles import aliases_of, fact_history

    with app.reading() as session:
        found = resolve_lookup(session, name_or_alias)
        f = found.matches[0]
        aliases = aliases_of(session, f.id)
        fact_summaries = fact_history(session, f.id)
        changes = profile_changes(session, f.id) if history else []
    if found.others:
        click.echo(f"{name_or_alias!r} also names: " + ", ".join(f"{o.name} ({o.slug})" for o in found.others)
                   + "; give a slug to see one of those.", err=True)
    click.echo(f"{f.name}  ({f.slug})")
    click.echo(f"  kind:         {f.kind}")
    place = ", ".join(p for p in (f.city, f.admin_area, country_name(f.country)) if p)
    click.echo(f"  place:        {place} [{f.country}]")
    if f.latitude is not None:
        click.echo(f"  location:     {f.latitude:.4f}, {f.longitude:.4f} ({f.location_precision or 'site'})"
                   f"{_fact_note(f, 'latitude')}")
    for label, field_name in (("operator", "operator"), ("status", "status")):
        value = getattr(f, field_name)
        click.echo(f"  {label + ':':<13} {value or 'unknown'}{_fact_note(f, field_name) if value else ''}")
        _echo_fact_history(fact_summaries.get(field_name))
    click.echo(f"  capacity:     {_num(f.capacity) if f.capacity is not None else 'unknown'}"
               f"{_fact_note(f, 'capacity') if f.capacity is not None else ''}")
    _echo_fact_history(fact_summaries.get("capacity"))
    population = "unknown"
    if f.population is not None:
        population = _num(f.population) + (f" ({f.population_date})" if f.population_date else "")
    click.echo(f"  population:   {population}{_fact_note(f, 'population') if f.population is not None else ''}")
    _echo_fact_history(fact_summaries.get("population"))
    if f.nationalities:
        items = ", ".join(
            country_name(n["country"]) + (f" {n['count']:,}" if n.get("count") is not None else "")
            + (f" ({n['note']})" if n.get("note") else "")
            for n in f.nationalities
        )
        click.echo(f"  nationalities: {items}{_fact_note(f, 'nationalities')}")
    if f.conditions or f.condition_tags:
        click.echo(f"  conditions:   {f.conditions or ''}{_fact_note(f, 'conditions')}")
        if f.condition_tags:
            click.echo(f"  tags:         {', '.join(f.condition_tags)}")
    if aliases:
        click.echo(f"  aliases:      {'; '.join(aliases)}")
    if f.incidents:
        click.echo("  incidents:")
        for incident in sorted(f.incidents, key=lambda i: str(i.get("date", ""))):
            click.echo(f"    {incident.get('date', '?')}: {incident.get('summary', '')}")
            if incident.get("source"):
                click.echo(f"      {incident['source']}")
    if f.local_fields:
        click.echo(f"  edited locally: {', '.join(f.local_fields)}")
    if history:
        click.echo("  history:")
        for change in changes:
            detail = "" if change.field in ("created",) else f": {change.old_value!r} -> {change.new_value!r}"
            source = f" (source {change.source_url})" if change.source_url else ""
            click.echo(f"    {change.changed_at:%Y-%m-%d %H:%M} {change.changed_by} {change.field}{detail}{source}")


@facilities.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Import the good rows even when some rows are bad.")
@click.option("--as", "actor_name", default=None, help="Name recorded in the profile history (default: your login).")
@pass_app
def facilities_import(app: AppContext, file: Path, skip_invalid: bool, actor_name: str | None) -> None:
    """Import or update facilities from a CSV file (see docs/cli.md for the columns)."""
    from monitor.facilities.csv_io import import_facilities
    from monitor.store.db import InvalidRow

    try:
        with app.changing() as session:
            report = import_facilities(session, file, actor=actor_name or actor(), skip_invalid=skip_invalid)
    except InvalidRow as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    if report.ignored_columns:
        click.echo(f"Ignored unknown column(s): {', '.join(report.ignored_columns)}", err=True)
    for error in report.errors:
        click.echo(f"{file}: {error}", err=True)
    if not report.imported:
        raise click.ClickException(
            f"{len(report.errors)} of {report.rows} row(s) are invalid; nothing was imported. "
            "Fix them, or rerun with --skip-invalid to import the valid rows."
        )
    applied = report.applied
    skipped = f", {len(report.errors)} invalid row(s) skipped" if report.errors else ""
    click.echo(f"Imported {file}: {applied.created} added, {applied.updated} updated, "
               f"{applied.unchanged} unchanged{skipped}.")


@facilities.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--country", help="Only facilities in this country (ISO code).")
@pass_app
def facilities_export(app: AppContext, file: Path, country: str | None) -> None:
    """Write facilities to a CSV file that `facilities import` reads back."""
    from monitor.facilities.csv_io import export_facilities

    with app.reading() as session, library_errors(app):
        count = export_facilities(session, file, country=country)
    click.echo(f"Wrote {count} facilities to {file}.")


@facilities.command("packs")
@json_option
def facilities_packs(as_json: bool) -> None:
    """List the optional facility packs shipped with the monitor (large public facility lists), with their
    countries, row counts, sources and licences. Import one with `monitor facilities import-pack NAME`."""
    from monitor.facilities.packs import list_packs

    packs = list_packs()
    emit(packs, as_json=as_json,
         to_json=lambda p: {"name": p.name, "description": p.description, "countries": p.countries,
                            "rows": p.rows, "sources": p.sources, "licence": p.licence, "retrieved": p.retrieved},
         columns=[Column("NAME", 28, lambda p: p.name), Column("COUNTRIES", 10, lambda p: ",".join(p.countries)),
                  Column("ROWS", 6, lambda p: f"{p.rows:,}", ">"), Column("RETRIEVED", 10, lambda p: p.retrieved),
                  Column("LICENCE", 60, lambda p: p.licence)],
         empty="No facility packs are installed.", footer=f"{len(packs)} packs.")


@facilities.command("import-pack")
@click.argument("name")
@click.option("--as", "actor_name", default=None, help="Name recorded in the profile history (default: your login).")
@pass_app
def facilities_import_pack(app: AppContext, name: str, actor_name: str | None) -> None:
    """Import one facility pack (see `monitor facilities packs`) the way `facilities import` imports a CSV.
    Importing a pack again changes nothing; facilities edited since keep their edits where the pack is silent."""
    from monitor.facilities.packs import PackError, import_pack

    try:
        with app.changing() as session:
            report = import_pack(session, name, actor=actor_name or actor())
    except PackError as exc:
        raise click.ClickException(str(exc)) from None
    applied = report.applied
    click.echo(f"Imported pack {name}: {applied.created} added, {applied.updated} updated, "
               f"{applied.unchanged} unchanged.")
