"""Watch rules: the `watch` group (words, phrases or a facility to look for in every article)."""

from __future__ import annotations

import click

from monitor.cli import AppContext, actor, cli, emit, json_option, pass_app


@cli.group()
def watch() -> None:
    """Watch rules: words, phrases or a facility to look for in every article, signal or not."""


@watch.command("add")
@click.argument("name")
@click.option("--term", "terms", multiple=True, metavar="TEXT",
              help='A word or phrase (repeatable; "Roj or Shaddadi" and commas split into several). '
                   "Matched as whole words, any case, with or without diacritics, in any script.")
@click.option("--facility", metavar="NAME", help="Watch a facility: its name and every alias.")
@click.option("--subscriber", metavar="EMAIL|NAME", help="Notify only this subscriber (default: ordinary routing).")
@pass_app
def watch_add(app: AppContext, name: str, terms, facility, subscriber) -> None:
    """Add a watch rule: each new article it names becomes a low-severity watch alert."""
    from monitor.alerts.watch import add_rule, describe_rule

    def add(session) -> str:
        rule = add_rule(session, name, actor(), terms=terms, facility=facility, subscriber=subscriber)
        return describe_rule(session, rule)

    app.change(add, lambda shown: f"Watching {shown} as {name!r}, from the next classified article on "
                                  f"(see what it would have caught: `monitor watch test {name!r}`).")


@watch.command("list")
@click.option("--all", "include_removed", is_flag=True, help="Include removed rules.")
@json_option
@pass_app
def watch_list(app: AppContext, include_removed: bool, as_json: bool) -> None:
    """Every watch rule, what it watches, who it notifies and how many articles it caught."""
    from monitor.alerts.watch import rule_rows

    with app.reading() as session:
        rows = rule_rows(session, include_removed)

    def line(row) -> str:
        who = f"notifies {row['subscriber']}" if row["subscriber"] else "ordinary routing"
        return (f"{row['name']}: {row['watches']}  ({who}; {row['matches']} caught)"
                + ("" if row["active"] else "  [removed]"))

    emit(rows, as_json=as_json, line=line, empty="No watch rules; add one with `monitor watch add NAME --term WORD`.")


@watch.command("remove")
@click.argument("name")
@pass_app
def watch_remove(app: AppContext, name: str) -> None:
    """Stop a watch rule (its alerts stay)."""
    from monitor.alerts.watch import remove_rule

    app.change(lambda session: remove_rule(session, name, actor()), f"Removed watch rule {name!r}.")


@watch.command("test")
@click.argument("rule", required=False, default="")
@click.option("--facility", metavar="NAME", help="Test a facility rule (name and aliases) instead.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000), help="At most this many.")
@json_option
@pass_app
def watch_test(app: AppContext, rule: str, facility: str | None, limit: int, as_json: bool) -> None:
    """Which stored articles RULE would have caught, newest first.

    RULE is a saved rule's name, or words written out: monitor watch test "Roj or Shaddadi".
    """
    from monitor.alerts.watch import would_have_caught

    with app.reading() as session:
        described, caught = would_have_caught(session, rule, facility=facility, limit=limit)
    if as_json:
        emit(caught, as_json=True)
        return
    click.echo(f"{described}: {len(caught)} article(s)" + (" (limit reached)" if len(caught) >= limit else "") + ".")
    for c in caught:
        click.echo(f"  {c['published_at']:%Y-%m-%d}  {c['title'][:90]}  ({c['outlet'] or 'unknown outlet'}) "
                   f"— matched {', '.join(c['matched'])}")
        click.echo(f"      {c['url']}")
