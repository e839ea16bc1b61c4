"""Setting up and running: `init`, `config`, `worker`, `demo`."""

from __future__ import annotations

import logging

import click

from monitor.cli import AppContext, cli, emit, json_option, library_errors, pass_app


@cli.command()
@click.option("--demo", "with_demo", is_flag=True,
              help="Also load the bundled demo feeds when the store has no articles yet (first run).")
@click.option("--create-admin", is_flag=True,
              help="When no dashboard user exists, create 'admin' with a generated password and print it once.")
@pass_app
def init(app: AppContext, with_demo: bool, create_admin: bool) -> None:
    """Create or upgrade the store, load the bundled facility knowledge base and sync feeds.yaml (safe to rerun)."""
    from monitor.facilities.knowledge_base import KnowledgeBaseError
    from monitor.setup import initialise, store_has_articles

    try:
        with library_errors(app):
            report = initialise(app.engine, app.settings)
    except KnowledgeBaseError as exc:
        raise click.ClickException(f"bundled facility data is invalid: {exc}") from None
    for line in report.lines(app.settings.database_url):
        click.echo(line)
    if with_demo and not store_has_articles(app.engine):
        click.echo("The store has no articles yet: loading the bundled demo feeds so the dashboard has something "
                   "to show.")
        _run_demo(app)
    if create_admin:
        from monitor.users import ensure_first_admin

        with app.changing() as session:
            password = ensure_first_admin(session)
        if password is not None:
            click.echo("")
            click.echo("First dashboard login (shown only now; change it with `monitor users set-password admin`):")
            click.echo("  user:     admin")
            click.echo(f"  password: {password}")
            click.echo("")


@cli.command()
@click.option("--show-secrets", is_flag=True, help="Print secret values instead of masking them.")
@json_option
@pass_app
def config(app: AppContext, show_secrets: bool, as_json: bool) -> None:
    """Print the effective settings, where each came from, and how to set it."""
    from monitor.settings import SETTINGS

    rows = [{"name": name, "value": value, "source": source, "env": setting.env_name, "type": setting.type,
             "help": setting.help}
            for (name, value, source), setting in zip(app.settings.as_rows(reveal_secrets=show_secrets), SETTINGS)]
    width = max(len(s.name) for s in SETTINGS)
    emit(rows, as_json=as_json, line=lambda r: (
        f"{r['name']:<{width}}  {r['value'] or '(empty)'}",
        f"{'':<{width}}  from {r['source']}; env {r['env']}; {r['type']}: {r['help']}"))


@cli.command()
@click.option("--verbose", "-v", is_flag=True, help="Log every job run.")
@pass_app
def worker(app: AppContext, verbose: bool) -> None:
    """Run the scheduler process: keeps feeds.yaml synced and runs the pipeline's jobs until stopped."""
    from monitor.worker import run_worker

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    app.require_store()
    run_worker(app.settings, app.engine)


@cli.command()
@pass_app
def demo(app: AppContext) -> None:
    """Load the bundled sample feeds through the pipeline, so a new user sees it work offline."""
    app.require_store()
    _run_demo(app)


def _run_demo(app: AppContext) -> None:
    from monitor.flow import run_demo

    with library_errors(app):
        report = run_demo(app.engine, app.settings)
    click.echo(f"Demo feeds loaded: {report.summary()}")
    click.echo("They are fictional samples, stored as disabled feeds named 'Demo: ...'.")
