"""The `monitor` command: a thin layer over the library; each command opens the store and calls one function."""

from __future__ import annotations

import getpass
import json
import logging
import sys
from pathlib import Path
from typing import Any

import click
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from monitor.countries import country_name
from monitor.facilities.csv_io import CsvFormatError, export_facilities, import_facilities
from monitor.facilities.knowledge_base import KnowledgeBaseError, load_knowledge_base
from monitor.facilities.profiles import aliases_of, find_facilities
from monitor.ingest.feeds import FeedsFileError, read_feeds_file, sync_feeds
from monitor.settings import SETTINGS, Settings, SettingsError, load_settings
from monitor.store.db import InvalidRow, StoreError, describe_store_error, make_engine, session_scope
from monitor.store.migrate import upgrade_store
from monitor.store.schema import Facility, FacilityProfileChange, Feed, utcnow


class AppContext:
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


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no login name in some containers
        return "cli"


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


@cli.command()
@click.option("--demo", "with_demo", is_flag=True,
              help="Also load the bundled demo feeds when the store has no articles yet (first run).")
@click.option("--create-admin", is_flag=True,
              help="When no dashboard user exists, create 'admin' with a generated password and print it once.")
@click.pass_obj
def init(app: AppContext, with_demo: bool, create_admin: bool) -> None:
    """Create or upgrade the store, load the bundled facility knowledge base and sync feeds.yaml (safe to rerun)."""
    from monitor.classify.registry import register_packaged_model

    feeds_path = Path(app.settings.feeds_file)
    try:
        specs = read_feeds_file(feeds_path) if feeds_path.exists() else None
    except FeedsFileError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        before, after = upgrade_store(app.engine)
        with session_scope(app.engine) as session:
            result = load_knowledge_base(session)
            feed_sync = sync_feeds(session, specs) if specs is not None else None
            register_packaged_model(session)
    except KnowledgeBaseError as exc:
        raise click.ClickException(f"bundled facility data is invalid: {exc}") from None
    except OperationalError as exc:
        raise app.store_error(exc) from None
    if before is None:
        click.echo(f"Created the store at {app.settings.database_url} (schema {after}).")
    elif before != after:
        click.echo(f"Upgraded the store from schema {before} to {after}.")
    else:
        click.echo(f"Store is up to date (schema {after}).")
    click.echo(
        f"Facilities: {result.created} added, {result.updated} updated, {result.unchanged} unchanged"
        + (f", {result.kept_local} locally edited value(s) kept" if result.kept_local else "")
        + "."
    )
    if feed_sync is None:
        click.echo(f"No feeds file at {feeds_path}; no feeds to poll (setting feeds_file).")
    else:
        click.echo(feed_sync.summary())
    if with_demo:
        _load_demo_on_first_run(app)
    if create_admin:
        from monitor.users import ensure_first_admin

        with session_scope(app.engine) as session:
            password = ensure_first_admin(session)
        if password is not None:
            click.echo("")
            click.echo("First dashboard login (shown only now; change it with `monitor users set-password admin`):")
            click.echo("  user:     admin")
            click.echo(f"  password: {password}")
            click.echo("")


def _load_demo_on_first_run(app: AppContext) -> None:
    from monitor.store.schema import Article

    with Session(app.engine) as session:
        has_articles = session.exec(select(Article.id).limit(1)).first() is not None
    if has_articles:
        return
    click.echo("The store has no articles yet: loading the bundled demo feeds so the dashboard has something to show.")
    _run_demo(app)


@cli.command()
@click.option("--verbose", "-v", is_flag=True, help="Log every job run.")
@click.pass_obj
def worker(app: AppContext, verbose: bool) -> None:
    """Run the scheduler process: keeps feeds.yaml synced and runs the pipeline's jobs until stopped."""
    from monitor.worker import run_worker

    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    _require_store(app)
    run_worker(app.settings, app.engine)


@cli.command()
@click.option("--show-secrets", is_flag=True, help="Print secret values instead of masking them.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def config(app: AppContext, show_secrets: bool, as_json: bool) -> None:
    """Print the effective settings, where each came from, and how to set it."""
    rows = app.settings.as_rows(reveal_secrets=show_secrets)
    if as_json:
        click.echo(json.dumps([{"name": n, "value": v, "source": s} for n, v, s in rows], indent=2))
        return
    width = max(len(s.name) for s in SETTINGS)
    for (name, value, source), setting in zip(rows, SETTINGS):
        click.echo(f"{name:<{width}}  {value or '(empty)'}")
        click.echo(f"{'':<{width}}  from {source}; env {setting.env_name}; {setting.type}: {setting.help}")


def _feed_named(session: Session, name: str) -> Feed:
    feed = session.exec(select(Feed).where(Feed.name == name)).first()
    if feed is None:
        raise click.ClickException(f"no feed named {name!r}; see `monitor feeds list`")
    return feed


@cli.command()
@click.option("--all", "all_feeds", is_flag=True, help="Poll every enabled feed now, whatever its schedule.")
@click.option("--feed", "feed_name", metavar="NAME", help="Poll this one feed now (even if parked or disabled).")
@click.pass_obj
def poll(app: AppContext, all_feeds: bool, feed_name: str | None) -> None:
    """Run one polling cycle over the feeds that are due, and print what happened."""
    from monitor.flow import run_poll

    _require_store(app)
    if feed_name is not None:
        with Session(app.engine) as session:
            _feed_named(session, feed_name)
    interactive = sys.stdout.isatty()
    with Session(app.engine) as session:
        from monitor.ingest.pipeline import select_feeds

        expected = len(select_feeds(session, utcnow(), all_feeds=all_feeds, feed_name=feed_name))
    bar = click.progressbar(length=expected, label="Polling feeds") if interactive and expected else None
    try:
        if bar is not None:
            bar.__enter__()
        report = run_poll(app.engine, app.settings, all_feeds=all_feeds, feed_name=feed_name,
                          on_feed_done=(lambda _outcome: bar.update(1)) if bar is not None else None)
    except OperationalError as exc:
        raise app.store_error(exc) from None
    except StoreError as exc:  # e.g. the lock file beside a SQLite store cannot be created
        raise click.ClickException(str(exc)) from None
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


def _load_classifier(app: AppContext, model: Path | None):
    from monitor.classify.model import ModelError, SignalClassifier
    from monitor.classify.registry import load_active_classifier

    try:
        if model:
            return SignalClassifier.from_file(model)
        return load_active_classifier(_engine_if_initialised(app), app.settings)
    except ModelError as exc:
        raise click.ClickException(str(exc)) from None


def _engine_if_initialised(app: AppContext):
    """The store's engine when it has a schema (so the active model version can be read), else None."""
    from sqlalchemy.engine import make_url

    from monitor.store.migrate import current_revision

    url = make_url(app.settings.database_url)
    if url.get_backend_name() == "sqlite" and (not url.database or not Path(url.database).exists()):
        return None  # don't create an empty store file just to find there is no model version in it
    try:
        return app.engine if current_revision(app.engine) is not None else None
    except (OperationalError, click.ClickException):
        return None


@cli.command()
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of *.jsonl training files (default: the bundled monitor/corpus).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Model file to write (default: models/classifier.skops).")
@click.option("--card", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Model card to write (default: model_card.json beside the model).")
@click.option("--evaluate", "datasets", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Also evaluate on this labelled JSONL file (repeatable) and put the figures in the model card.")
def train(corpus: Path | None, output: Path | None, card: Path | None, datasets: tuple[Path, ...]) -> None:
    """Train the classifier on the corpus; write the model (skops) and its model card."""
    from monitor.classify.evaluate import evaluate as run_evaluation
    from monitor.classify.evaluate import format_evaluation
    from monitor.classify.model import PACKAGED_MODEL
    from monitor.classify.train import train as run_training
    from monitor.classify.train import write_model

    output = output or PACKAGED_MODEL
    card = card or output.with_name("model_card.json")
    result = run_training(corpus, progress=lambda message: click.echo(f"  {message}", err=True))
    evaluations = []
    for dataset in datasets:
        outcome = run_evaluation(result.classifier, dataset)
        evaluations.append({"dataset": dataset.name, **outcome.as_dict()})
        click.echo(f"== {dataset}")
        click.echo(format_evaluation(outcome))
    written = write_model(result, output, card, evaluations or None)
    click.echo(f"Wrote {output} (version {written['version']}, sha256 {written['sha256'][:12]}...) and {card}.")
    for label, figures in written["cross_validation"]["per_label"].items():
        click.echo(f"  {label:<22} cv precision {figures['precision']:.3f} recall {figures['recall']:.3f} "
                   f"f1 {figures['f1']:.3f} threshold {figures['threshold']:.2f}")


@cli.command()
@click.option("--dataset", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSONL with title, text and label (a label or none) per line.")
@click.option("--model", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Model file (default: the model_path setting, else the active model version).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.pass_obj
def evaluate(app: AppContext, dataset: Path, model: Path | None, as_json: bool) -> None:
    """Per-label precision/recall/F1, the incident figures and the misclassified ids on a labelled set."""
    from monitor.classify.evaluate import DatasetError, format_evaluation
    from monitor.classify.evaluate import evaluate as run_evaluation

    classifier = _load_classifier(app, model)
    try:
        outcome = run_evaluation(classifier, dataset)
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps({**outcome.as_dict(), "misclassified": outcome.misclassified}, indent=2))
    else:
        click.echo(f"model {classifier.version}")
        click.echo(format_evaluation(outcome))


@cli.command()
@click.option("--input", "input_file", type=click.File("r", encoding="utf-8"), default="-",
              help="JSONL with id, title, text per line (default: standard input).")
@click.option("--output", "output_file", type=click.File("w", encoding="utf-8"), default="-",
              help="Where to write the results (default: standard output).")
@click.option("--model", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Model file (default: the model_path setting, else the active model version).")
@click.option("--batch-size", default=1000, show_default=True, help="Items classified together.")
@click.pass_obj
def classify(app: AppContext, input_file, output_file, model: Path | None, batch_size: int) -> None:
    """Label JSONL news items and link them to known facilities (labels, scores, facilities, severity)."""
    from monitor.classify.service import SignalAnalyser

    _require_store(app)
    analyser = SignalAnalyser.from_store(app.engine, _load_classifier(app, model))
    batch: list[dict] = []
    problems = 0

    def flush() -> None:
        signals = analyser.analyse([{"title": str(r.get("title") or ""), "text": str(r.get("text") or "")}
                                    for r in batch])
        for row, signal in zip(batch, signals):
            out = dict(row)
            out.update({key: value for key, value in signal.as_dict().items() if key != "severity_reason"})
            out["severity_reason"] = signal.severity_reason
            output_file.write(json.dumps(out, ensure_ascii=False) + "\n")
        batch.clear()

    for number, line in enumerate(input_file, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("not a JSON object")
            if not (row.get("title") or row.get("text")):
                raise ValueError("no title or text")
        except ValueError as exc:
            problems += 1
            click.echo(f"line {number}: skipped: {exc}", err=True)
            continue
        batch.append(row)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    if problems:
        click.echo(f"{problems} line(s) skipped.", err=True)


@cli.command()
@click.pass_obj
def demo(app: AppContext) -> None:
    """Load the bundled sample feeds through the pipeline, so a new user sees it work offline."""
    _require_store(app)
    _run_demo(app)


def _run_demo(app: AppContext) -> None:
    from monitor.demo import load_demo
    from monitor.flow import FlowReport, analyse_and_mail

    report = FlowReport(cycle=load_demo(app.engine, app.settings))
    analyse_and_mail(app.engine, app.settings, report)
    click.echo(f"Demo feeds loaded: {report.summary()}")
    click.echo("They are fictional samples, stored as disabled feeds named 'Demo: ...'.")


@cli.group()
def feeds() -> None:
    """The feeds being polled and their health."""


def _ago(when, now) -> str:
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


@feeds.command("list")
@click.option("--problems", is_flag=True, help="Only feeds that are failing, parked, disabled or warned.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@click.pass_obj
def feeds_list(app: AppContext, problems: bool, as_json: bool) -> None:
    """Feed health: last success, last status, consecutive errors, parked, next check."""
    from monitor.ingest.feed_admin import feed_state

    _require_store(app)
    now = utcnow()
    with Session(app.engine) as session:
        rows = list(session.exec(select(Feed).order_by(Feed.name)))
    if problems:
        rows = [f for f in rows if f.consecutive_errors or f.parked_at or not f.enabled or f.last_warning]
    if as_json:
        for f in rows:
            click.echo(json.dumps({
                "name": f.name, "url": f.url, "enabled": f.enabled, "parked": f.parked_at is not None,
                "managed_by": f.managed_by, "removed": f.removed_at is not None,
                "last_status": f.last_status, "last_success_at": f.last_success_at.isoformat() if f.last_success_at else None,
                "consecutive_errors": f.consecutive_errors, "last_error": f.last_error, "last_warning": f.last_warning,
                "next_check_at": f.next_check_at.isoformat() if f.next_check_at else None,
            }, ensure_ascii=False))
        return
    if not rows:
        click.echo("No feeds." if not problems else "No feed has a problem.")
        return
    click.echo(f"{'FEED':<44} {'STATE':<9} {'LAST OK':<10} {'STATUS':>6} {'ERRORS':>6} {'NEXT CHECK':<11}")
    for f in rows:
        state = feed_state(f)
        click.echo(f"{f.name[:44]:<44} {state:<9} {_ago(f.last_success_at, now):<10} {f.last_status or '-':>6} "
                   f"{f.consecutive_errors:>6} {_ago(f.next_check_at, now) if f.enabled and not f.parked_at else '-':<11}")
        if f.last_error:
            click.echo(f"{'':<4}error: {f.last_error}")
        if f.last_warning:
            click.echo(f"{'':<4}warning: {f.last_warning}")
    parked = sum(1 for f in rows if f.parked_at)
    click.echo(f"{len(rows)} feeds" + (f", {parked} parked (re-enable with `monitor feeds enable NAME`)" if parked else "") + ".")


@feeds.command("add")
@click.argument("name_or_url")
@click.argument("url", required=False)
@click.option("--interval", "interval_minutes", type=click.IntRange(1, 10080), default=None,
              help="Minutes between polls (default: the poll_interval_minutes setting).")
@click.option("--language", default=None, help="Language code of the feed, e.g. en, ar, fr.")
@click.pass_obj
def feeds_add(app: AppContext, name_or_url: str, url: str | None, interval_minutes: int | None,
              language: str | None) -> None:
    """Add a feed by hand (kept when feeds.yaml is synced); it is polled at the next cycle.

    `monitor feeds add URL` takes a feed's URL or a web page's: a page's feed is found from its
    <link rel="alternate"> tags, and the name is taken from the feed's title. `monitor feeds add NAME URL`
    names it yourself (the URL is then used as given).
    """
    from monitor.ingest.feed_admin import FeedAdminError, add_feed
    from monitor.ingest.opml import FeedSourceError, discover_feed, name_for
    from monitor.ingest.pipeline import limits_from

    _require_store(app)
    try:
        found = discover_feed(name_or_url, limits_from(app.settings)) if url is None else None
        with session_scope(app.engine) as session:
            name, url = (name_for(session, found.title, found.url), found.url) if found else (name_or_url, url)
            add_feed(session, name, url, _actor(), interval_minutes=interval_minutes, language=language)
    except (FeedAdminError, FeedSourceError, InvalidRow) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Added {name} ({url}); it is polled at the next cycle.")


@feeds.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-invalid", is_flag=True, help="Add the good outlines and report the bad ones.")
@click.pass_obj
def feeds_import(app: AppContext, file: Path, skip_invalid: bool) -> None:
    """Add the feeds of an OPML file; any bad outline means nothing is added (unless --skip-invalid)."""
    from monitor.ingest.opml import FeedSourceError, import_opml

    _require_store(app)
    try:
        with session_scope(app.engine) as session:
            report = import_opml(session, file.read_bytes(), _actor(), skip_invalid=skip_invalid)
            if report.bad and not skip_invalid:
                raise FeedSourceError("nothing imported; bad outline(s): " + "; ".join(report.bad))
    except (FeedSourceError, InvalidRow) as exc:
        raise click.ClickException(str(exc)) from None
    for problem in report.bad:
        click.echo(f"skipped {problem}", err=True)
    click.echo(f"Imported {len(report.added)} feed(s); {len(report.already)} already polled"
               + (f"; {len(report.bad)} skipped" if report.bad else "") + ".")


@feeds.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def feeds_export(app: AppContext, file: Path) -> None:
    """Write the feed list as OPML 2.0 (for another reader, or `monitor feeds import` elsewhere)."""
    from monitor.ingest.opml import export_opml

    _require_store(app)
    with Session(app.engine) as session:
        file.write_bytes(export_opml(session))
    click.echo(f"Wrote {file}.")


@feeds.command("enable")
@click.argument("name")
@click.pass_obj
def feeds_enable(app: AppContext, name: str) -> None:
    """Re-enable a disabled or parked feed and check it at the next cycle."""
    from monitor.ingest.feed_admin import FeedAdminError, enable_feed

    _require_store(app)
    try:
        with session_scope(app.engine) as session:
            enable_feed(session, name, _actor())
    except FeedAdminError as exc:
        raise click.ClickException(f"{exc}; see `monitor feeds list`") from None
    click.echo(f"Enabled {name}; it is polled at the next cycle.")


@feeds.command("disable")
@click.argument("name")
@click.pass_obj
def feeds_disable(app: AppContext, name: str) -> None:
    """Stop polling a feed (its articles and history stay)."""
    from monitor.ingest.feed_admin import FeedAdminError, disable_feed

    _require_store(app)
    try:
        with session_scope(app.engine) as session:
            disable_feed(session, name, _actor())
    except FeedAdminError as exc:
        raise click.ClickException(f"{exc}; see `monitor feeds list`") from None
    click.echo(f"Disabled {name}.")


@cli.group()
def subscribers() -> None:
    """Who receives alert mail, and which alerts."""


@subscribers.command("add")
@click.argument("who", metavar="EMAIL|NAME")
@click.option("--url", "urls", multiple=True, metavar="URL",
              help="A notification URL (Apprise form: json://host/path, slack://..., tgram://..., ntfy://topic, "
                   "matrix://..., signal://...); repeatable; given, replaces the subscriber's URLs.")
@click.option("--no-urls", is_flag=True, help="Remove every notification URL (keeps mail).")
@click.option("--facility", "facilities_", multiple=True, metavar="NAME", help="Only alerts at this facility (repeatable).")
@click.option("--country", "countries", multiple=True, metavar="CC", help="Only alerts in this country (repeatable).")
@click.option("--label", "labels", multiple=True, metavar="LABEL", help="Only alerts with this label (repeatable).")
@click.option("--min-severity", type=click.Choice(["low", "medium", "high", "critical"]), default="low",
              show_default=True, help="Only alerts at or above this severity.")
@click.option("--mode", type=click.Choice(["immediate", "digest"]), default="immediate", show_default=True,
              help="A notification per alert, or one digest a day.")
@click.option("--digest-hour", type=click.IntRange(0, 23), default=None, help="UTC hour of the daily digest.")
@click.pass_obj
def subscribers_add(app: AppContext, who: str, urls, no_urls, facilities_, countries, labels, min_severity, mode,
                    digest_hour) -> None:
    """Add a subscriber, or replace the rules of an existing one.

    EMAIL|NAME is an email address, or a name for a subscriber reached only through --url. URLs are shown
    masked everywhere (their tokens and passwords as ****).
    """
    from monitor.notify.channels import mask_url
    from monitor.notify.subscriptions import SubscriptionError, is_email, save_subscriber

    _require_store(app)
    if "@" in who and not is_email(who):
        raise click.BadParameter(f"{who!r} is not an email address", param_hint="EMAIL|NAME")
    from monitor.store.schema import LABELS

    bad_labels = [label for label in labels if label not in LABELS]
    if bad_labels:
        raise click.BadParameter(f"unknown label(s) {bad_labels}; labels: {', '.join(LABELS)}", param_hint="--label")
    if not is_email(who) and not urls:
        raise click.BadParameter(f"{who!r} is not an email address; a subscriber known by a name needs --url",
                                 param_hint="EMAIL|NAME")
    try:
        with session_scope(app.engine) as session:
            change = save_subscriber(session, who, _actor(), urls=[] if no_urls else (list(urls) if urls else None),
                                     facilities=facilities_, countries=countries, labels=labels,
                                     min_severity=min_severity, mode=mode, digest_hour=digest_hour)
            shown = [mask_url(u) for u in change.subscriber.notify_urls or []]
    except (SubscriptionError, InvalidRow) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{'Added' if change.created else 'Updated'} {who}" + (f" (URLs: {', '.join(shown)})" if shown else "")
               + ".")


@subscribers.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (URLs masked).")
@click.pass_obj
def subscribers_list(app: AppContext, as_json: bool) -> None:
    """Every subscriber, its rules and its notification URLs (masked)."""
    from monitor.notify.subscriptions import subscriber_rows

    _require_store(app)
    with Session(app.engine) as session:
        rows = subscriber_rows(session)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("No subscribers; add one with `monitor subscribers add EMAIL` (or NAME --url URL).")
    for s in rows:
        rules = [f"min {s['min_severity']}",
                 s["mode"] + (f" at {s['digest_hour']:02d}:00 UTC" if s["digest_hour"] is not None else "")]
        if s["facilities"]:
            rules.append("facilities: " + ", ".join(s["facilities"]))
        if s["countries"]:
            rules.append("countries: " + ", ".join(s["countries"]))
        if s["labels"]:
            rules.append("labels: " + ", ".join(s["labels"]))
        click.echo(f"{s['subscriber']}  ({'; '.join(rules)})" + ("" if s["active"] else "  [inactive]"))
        for number, url in enumerate(s["urls"], 1):
            click.echo(f"    url {number}: {url}")


@subscribers.command("remove")
@click.argument("who", metavar="EMAIL|NAME")
@click.pass_obj
def subscribers_remove(app: AppContext, who: str) -> None:
    """Stop notifying a subscriber (what was sent stays in the audit)."""
    from monitor.notify.subscriptions import SubscriptionError, remove_subscriber

    _require_store(app)
    try:
        with session_scope(app.engine) as session:
            remove_subscriber(session, who, _actor())
    except SubscriptionError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Removed {who}.")


# --- watch rules (branch delivery; the lead moves this block into monitor/cli/watch.py) ----------------------
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
@click.pass_obj
def watch_add(app: AppContext, name: str, terms, facility, subscriber) -> None:
    """Add a watch rule: each new article it names becomes a low-severity watch alert."""
    from monitor.alerts.watch import WatchError, add_rule, describe_rule

    _require_store(app)
    try:
        with session_scope(app.engine) as session:
            rule = add_rule(session, name, _actor(), terms=terms, facility=facility, subscriber=subscriber)
            shown = describe_rule(session, rule)
    except (WatchError, InvalidRow) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Watching {shown} as {name!r}, from the next classified article on "
               f"(see what it would have caught: `monitor watch test {name!r}`).")


@watch.command("list")
@click.option("--all", "include_removed", is_flag=True, help="Include removed rules.")
@click.pass_obj
def watch_list(app: AppContext, include_removed: bool) -> None:
    """Every watch rule, what it watches, who it notifies and how many articles it caught."""
    from monitor.alerts.watch import rule_rows

    _require_store(app)
    with Session(app.engine) as session:
        rows = rule_rows(session, include_removed)
    if not rows:
        click.echo("No watch rules; add one with `monitor watch add NAME --term WORD`.")
    for row in rows:
        who = f"notifies {row['subscriber']}" if row["subscriber"] else "ordinary routing"
        click.echo(f"{row['name']}: {row['watches']}  ({who}; {row['matches']} caught)"
                   + ("" if row["active"] else "  [removed]"))


@watch.command("remove")
@click.argument("name")
@click.pass_obj
def watch_remove(app: AppContext, name: str) -> None:
    """Stop a watch rule (its alerts stay)."""
    from monitor.alerts.watch import WatchError, remove_rule

    _require_store(app)
    try:
        with session_scope(app.engine) as session:
            remove_rule(session, name, _actor())
    except WatchError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Removed watch rule {name!r}.")


@watch.command("test")
@click.argument("rule", required=False, default="")
@click.option("--facility", metavar="NAME", help="Test a facility rule (name and aliases) instead.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000), help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def watch_test(app: AppContext, rule: str, facility: str | None, limit: int, as_json: bool) -> None:
    """Which stored articles RULE would have caught, newest first.

    RULE is a saved rule's name, or words written out: monitor watch test "Roj or Shaddadi".
    """
    from monitor.alerts.watch import WatchError, would_have_caught

    _require_store(app)
    try:
        with Session(app.engine) as session:
            described, caught = would_have_caught(session, rule, facility=facility, limit=limit)
    except WatchError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps([c | {"published_at": c["published_at"].isoformat()} for c in caught], indent=2,
                              ensure_ascii=False))
        return
    click.echo(f"{described}: {len(caught)} article(s)" + (" (limit reached)" if len(caught) >= limit else "") + ".")
    for c in caught:
        click.echo(f"  {c['published_at']:%Y-%m-%d}  {c['title'][:90]}  ({c['outlet'] or 'unknown outlet'}) "
                   f"— matched {', '.join(c['matched'])}")
        click.echo(f"      {c['url']}")
# --- end of watch rules --------------------------------------------------------------------------------------


@cli.group()
def alerts() -> None:
    """Alerts: events that articles about one facility and signal add up to."""


@alerts.command("list")
@click.option("--status", type=click.Choice(["new", "confirmed", "dismissed", "escalated", "resolved"]),
              help="Only alerts in this state.")
@click.option("--min-severity", type=click.Choice(["low", "medium", "high", "critical"]), default="low",
              show_default=True, help="Only alerts at or above this severity.")
@click.option("--limit", default=50, show_default=True, help="Newest first, at most this many.")
@click.pass_obj
def alerts_list(app: AppContext, status: str | None, min_severity: str, limit: int) -> None:
    """One line per alert: facility (or candidate), labels, severity, outlets, status, first and last seen."""
    from monitor.alerts.events import alert_place
    from monitor.store.schema import SEVERITIES, Alert

    _require_store(app)
    with Session(app.engine) as session:
        query = select(Alert).order_by(Alert.last_seen_at.desc()).limit(limit)
        if status:
            query = query.where(Alert.status == status)
        query = query.where(Alert.severity.in_(SEVERITIES[SEVERITIES.index(min_severity):]))
        rows = [(a, alert_place(session, a)) for a in session.exec(query)]
    if not rows:
        click.echo("No alerts.")
        return
    for alert, (place, country) in rows:
        click.echo(f"#{alert.id:<5} {alert.severity.upper():<8} {alert.status:<9} {place}"
                   f"{' [' + country + ']' if country else ''} | {', '.join(alert.labels)} | "
                   f"{alert.outlet_count} outlet{'s' if alert.outlet_count != 1 else ''} | "
                   f"{alert.first_seen_at:%Y-%m-%d %H:%M} – {alert.last_seen_at:%Y-%m-%d %H:%M} UTC")


@alerts.command("show")
@click.argument("alert_id", type=int)
@click.pass_obj
def alerts_show(app: AppContext, alert_id: int) -> None:
    """One alert: why its severity, its articles, and its audit trail."""
    from monitor.alerts.events import alert_place
    from monitor.store.schema import Alert, AlertArticle, AlertStatusChange, Article

    _require_store(app)
    with Session(app.engine) as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise click.ClickException(f"no alert #{alert_id}")
        place, country = alert_place(session, alert)
        articles = list(session.exec(select(Article).join(AlertArticle, AlertArticle.article_id == Article.id)
                                     .where(AlertArticle.alert_id == alert_id).order_by(Article.first_seen_at)))
        audit = list(session.exec(select(AlertStatusChange).where(AlertStatusChange.alert_id == alert_id)
                                  .order_by(AlertStatusChange.at)))
    click.echo(f"Alert #{alert.id}: {place}{' [' + country + ']' if country else ''}")
    click.echo(f"  labels:    {', '.join(alert.labels) or 'coverage went quiet'}")
    click.echo(f"  severity:  {alert.severity} — {alert.severity_reason}")
    click.echo(f"  status:    {alert.status}; {alert.outlet_count} independent outlet(s); "
               f"{alert.first_seen_at:%Y-%m-%d %H:%M} – {alert.last_seen_at:%Y-%m-%d %H:%M} UTC")
    for article in articles:
        click.echo(f"  - {article.title} ({article.outlet or 'unknown outlet'})\n    {article.url}")
    for change in audit:
        what = f"{change.from_status} -> {change.to_status}" if change.from_status != change.to_status else "note"
        click.echo(f"  {change.at:%Y-%m-%d %H:%M} {change.actor}: {what}" + (f": {change.note}" if change.note else ""))


@alerts.command("set-status")
@click.argument("alert_id", type=int)
@click.argument("status", type=click.Choice(["new", "confirmed", "dismissed", "escalated", "resolved"]))
@click.option("--as", "actor", default=None, help="Who is deciding (default: your login).")
@click.option("--note", default=None, help="Why, kept in the audit trail.")
@click.pass_obj
def alerts_set_status(app: AppContext, alert_id: int, status: str, actor: str | None, note: str | None) -> None:
    """Confirm, dismiss (false positive), escalate or resolve an alert; confirmations and dismissals become
    labelled feedback for retraining."""
    from monitor.alerts.triage import TriageError, change_status

    _require_store(app)
    try:
        with session_scope(app.engine) as session:
            change_status(session, alert_id, status, actor or _actor(), note)
    except TriageError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Alert #{alert_id} is now {status}.")


@alerts.command("note")
@click.argument("alert_id", type=int)
@click.argument("text")
@click.option("--as", "actor", default=None, help="Who is writing (default: your login).")
@click.pass_obj
def alerts_note(app: AppContext, alert_id: int, text: str, actor: str | None) -> None:
    """Add a note to an alert's audit trail."""
    from monitor.alerts.triage import TriageError, add_note

    _require_store(app)
    try:
        with session_scope(app.engine) as session:
            add_note(session, alert_id, actor or _actor(), text)
    except TriageError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Noted on alert #{alert_id}.")


@cli.command()
@click.option("--recompute", is_flag=True, help="Recompute every facility's score now (the worker does it daily).")
@click.option("--limit", default=20, show_default=True, help="How many facilities to show, highest first.")
@click.pass_obj
def risk(app: AppContext, recompute: bool, limit: int) -> None:
    """Facility risk scores (0-100), highest first, with the factors behind each."""
    from monitor.alerts.risk import recompute_risk
    from monitor.store.schema import RiskScore

    _require_store(app)
    if recompute:
        recompute_risk(app.engine)
    with Session(app.engine) as session:
        latest = {}
        for row in session.exec(select(RiskScore).order_by(RiskScore.day)):
            latest[row.facility_id] = row
        names = {f.id: (f.name, f.country) for f in session.exec(select(Facility))}
    if not latest:
        click.echo("No risk scores yet; run `monitor risk --recompute` (the worker computes them daily).")
        return
    for row in sorted(latest.values(), key=lambda r: -r.score)[:limit]:
        name, country = names[row.facility_id]
        top = sorted(row.factors, key=lambda f: -f["points"])[:3]
        click.echo(f"{row.score:5.1f}  {name} [{country}]  ({row.day})  "
                   + "; ".join(f"{f['factor']} +{f['points']:g}: {f['detail']}" for f in top))


@cli.command()
@click.pass_obj
def notify(app: AppContext) -> None:
    """Send the mail that is due now from the outbox (the worker does this on its own)."""
    from monitor.notify.digest import queue_due_digests
    from monitor.notify.outbox import send_due
    from monitor.store.schema import Notification

    _require_store(app)
    queue_due_digests(app.engine, app.settings)
    click.echo(send_due(app.engine, app.settings).summary())
    with Session(app.engine) as session:
        for status, hint in (("unconfirmed", "a sender stopped mid-send; check with the recipient before resending"),
                             ("failed", "SMTP refused them repeatedly; see last_error")):
            count = len(session.exec(select(Notification.id).where(Notification.status == status)).all())
            if count:
                click.echo(f"{count} {status} in the outbox ({hint}).")


@cli.group()
def facilities() -> None:
    """The facility knowledge base: list, show, import, export."""


def _require_store(app: AppContext) -> None:
    from monitor.store.migrate import current_revision, head_revision

    try:
        revision = current_revision(app.engine)
    except OperationalError as exc:
        raise app.store_error(exc) from None
    if revision is None:
        raise click.ClickException(f"the store at {app.settings.database_url} is not initialised; run `monitor init`")
    if revision != head_revision():
        raise click.ClickException(f"the store is at schema {revision}, this program needs {head_revision()}; "
                                   "run `monitor init` to upgrade it")


@facilities.command("list")
@click.option("--country", help="Only facilities in this country (ISO code).")
@click.option("--kind", help="Only this kind (prison, camp, detention_centre, ...).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@click.pass_obj
def facilities_list(app: AppContext, country: str | None, kind: str | None, as_json: bool) -> None:
    """List facilities with place, population and capacity."""
    _require_store(app)
    with Session(app.engine) as session:
        query = select(Facility).order_by(Facility.country, Facility.name)
        if country:
            query = query.where(Facility.country == country.upper())
        if kind:
            query = query.where(Facility.kind == kind)
        rows = list(session.exec(query))
    if as_json:
        for f in rows:
            click.echo(json.dumps({"slug": f.slug, "name": f.name, "kind": f.kind, "country": f.country,
                                   "city": f.city, "population": f.population, "capacity": f.capacity,
                                   "operator": f.operator}, ensure_ascii=False))
        return
    if not rows:
        click.echo("No facilities match." if (country or kind) else "No facilities yet; run `monitor init`.")
        return
    click.echo(f"{'SLUG':<34} {'NAME':<40} {'KIND':<16} {'CC':<3} {'CITY':<22} {'POPULATION':>10} {'CAPACITY':>9}")
    for f in rows:
        click.echo(f"{f.slug[:34]:<34} {f.name[:40]:<40} {f.kind[:16]:<16} {f.country:<3} {(f.city or '')[:22]:<22} "
                   f"{_num(f.population):>10} {_num(f.capacity):>9}")
    click.echo(f"{len(rows)} facilities.")


def _num(value: int | None) -> str:
    return f"{value:,}" if value is not None else "-"


def _fact_note(facility: Facility, field_name: str) -> str:
    fact = (facility.facts or {}).get(field_name) or {}
    parts = []
    if fact.get("as_of"):
        parts.append(f"as of {fact['as_of']}")
    if fact.get("source"):
        parts.append(fact["source"])
    return f"  [{'; '.join(parts)}]" if parts else ""


@facilities.command("show")
@click.argument("name_or_alias")
@click.option("--history", is_flag=True, help="Also print every recorded profile change.")
@click.pass_obj
def facilities_show(app: AppContext, name_or_alias: str, history: bool) -> None:
    """Show one facility's profile with sources, found by slug, name or any alias."""
    _require_store(app)
    with Session(app.engine) as session:
        matches = find_facilities(session, name_or_alias)
        if not matches:
            raise click.ClickException(f"no facility named {name_or_alias!r}; try `monitor facilities list`")
        if len(matches) > 1:
            names = "\n".join(f"  {f.slug}  {f.name} ({f.country})" for f in matches)
            raise click.ClickException(f"{name_or_alias!r} matches several facilities; name one by slug:\n{names}")
        f = matches[0]
        aliases = aliases_of(session, f.id)
        changes = list(session.exec(select(FacilityProfileChange).where(FacilityProfileChange.facility_id == f.id)
                                    .order_by(FacilityProfileChange.changed_at, FacilityProfileChange.id)))
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
    click.echo(f"  capacity:     {_num(f.capacity) if f.capacity is not None else 'unknown'}"
               f"{_fact_note(f, 'capacity') if f.capacity is not None else ''}")
    population = "unknown"
    if f.population is not None:
        population = _num(f.population) + (f" ({f.population_date})" if f.population_date else "")
    click.echo(f"  population:   {population}{_fact_note(f, 'population') if f.population is not None else ''}")
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
@click.option("--as", "actor", default=None, help="Name recorded in the profile history (default: your login).")
@click.pass_obj
def facilities_import(app: AppContext, file: Path, skip_invalid: bool, actor: str | None) -> None:
    """Import or update facilities from a CSV file (see README for columns)."""
    _require_store(app)
    try:
        with session_scope(app.engine) as session:
            report = import_facilities(session, file, actor=actor or _actor(), skip_invalid=skip_invalid)
    except CsvFormatError as exc:
        raise click.ClickException(str(exc)) from None
    except InvalidRow as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    except OperationalError as exc:
        raise app.store_error(exc) from None
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
@click.pass_obj
def facilities_export(app: AppContext, file: Path, country: str | None) -> None:
    """Write facilities to a CSV file that `facilities import` reads back."""
    _require_store(app)
    with Session(app.engine) as session:
        count = export_facilities(session, file, country=country)
    click.echo(f"Wrote {count} facilities to {file}.")


@cli.group()
def users() -> None:
    """Dashboard logins: viewer (reads), analyst (also triages and edits), admin (also manages models)."""


def _read_new_password(name: str) -> str:
    from monitor.users import UserError, check_password_strength

    password = click.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)
    try:
        check_password_strength(name, password)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    return password


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "analyst", "admin"]), required=True,
              help="viewer reads; analyst also triages alerts and edits facilities and feeds; admin also models.")
@click.pass_obj
def users_add(app: AppContext, name: str, role: str) -> None:
    """Create a dashboard user; the password is read without echo (twice)."""
    from monitor.users import UserError, create_user

    _require_store(app)
    password = _read_new_password(name)
    try:
        with session_scope(app.engine) as session:
            create_user(session, name, role, password, _actor())
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {role} {name}.")


@users.command("list")
@click.pass_obj
def users_list(app: AppContext) -> None:
    """Users, their roles and last login (never the password hashes)."""
    from monitor.store.schema import User

    _require_store(app)
    with Session(app.engine) as session:
        rows = list(session.exec(select(User).order_by(User.name)))
    if not rows:
        click.echo("No users. Create one with `monitor users add NAME --role admin`.")
        return
    click.echo(f"{'USER':<24} {'ROLE':<8} {'STATE':<9} LAST LOGIN")
    for user in rows:
        state = "disabled" if not user.active else "locked" if user.locked_until and user.locked_until > utcnow() \
            else "active"
        last = user.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if user.last_login_at else "never"
        click.echo(f"{user.name:<24} {user.role:<8} {state:<9} {last}")


def _change_user(app: AppContext, change, done: str) -> None:
    """Run one change to a user in a transaction; a UserError becomes a plain message."""
    from monitor.users import UserError

    _require_store(app)
    try:
        with session_scope(app.engine) as session:
            change(session)
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(done)


@users.command("set-password")
@click.argument("name")
@click.pass_obj
def users_set_password(app: AppContext, name: str) -> None:
    """Set a new password (read without echo); also unlocks the account."""
    from monitor.users import set_password

    _require_store(app)
    password = _read_new_password(name)
    _change_user(app, lambda session: set_password(session, name, password, _actor()), f"Password of {name} changed.")


@users.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice(["viewer", "analyst", "admin"]))
@click.pass_obj
def users_set_role(app: AppContext, name: str, role: str) -> None:
    """Change what a user may do."""
    from monitor.users import set_role

    _change_user(app, lambda session: set_role(session, name, role, _actor()), f"{name} is now {role}.")


@users.command("disable")
@click.argument("name")
@click.pass_obj
def users_disable(app: AppContext, name: str) -> None:
    """Stop a user from logging in (their audit trail stays)."""
    from monitor.users import set_active

    _change_user(app, lambda session: set_active(session, name, False, _actor()), f"Disabled {name}.")


@users.command("enable")
@click.argument("name")
@click.pass_obj
def users_enable(app: AppContext, name: str) -> None:
    """Let a disabled user log in again."""
    from monitor.users import set_active

    _change_user(app, lambda session: set_active(session, name, True, _actor()), f"Enabled {name}.")


@cli.group()
def models() -> None:
    """Classifier versions: the packaged model and versions retrained with analysts' feedback."""


@models.command("list")
@click.pass_obj
def models_list(app: AppContext) -> None:
    """Every version, which one is active, and its cross-validated incident figures."""
    from monitor.classify.registry import versions

    _require_store(app)
    with Session(app.engine) as session:
        rows = versions(session)
    if not rows:
        click.echo("No model versions recorded; run `monitor init`.")
        return
    for row in rows:
        card = row.card or {}
        evaluation = (card.get("evaluation") or [{}])[0].get("incident", {}) if card.get("evaluation") else {}
        figures = f"dev incident F1 {evaluation['f1']:.3f}" if "f1" in evaluation else "no dev evaluation"
        marker = "*" if row.active else " "
        click.echo(f"{marker} {row.version:<32} {row.origin:<10} {figures}; trained by {row.trained_by or '-'}"
                   + (f"; active since {row.activated_at:%Y-%m-%d %H:%M} by {row.activated_by}" if row.active
                      and row.activated_at else ""))
    if app.settings.model_path:
        click.echo(f"Note: the model_path setting pins {app.settings.model_path}; the active version is not used.")


@models.command("retrain")
@click.option("--corpus", "corpus_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Corpus folder (default: the bundled monitor/corpus/).")
@click.pass_obj
def models_retrain(app: AppContext, corpus_dir: Path | None) -> None:
    """Train a new version on the corpus plus analysts' confirmed/dismissed alerts; it is not activated."""
    from monitor.classify.registry import RegistryError, retrain_with_feedback

    _require_store(app)
    try:
        row = retrain_with_feedback(app.engine, app.settings, _actor(), progress=lambda m: click.echo(f"  {m}"),
                                    corpus_dir=corpus_dir)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Trained {row.version}; compare it with `monitor models list`, then `monitor models activate "
               f"{row.version}`.")


@models.command("activate")
@click.argument("version")
@click.pass_obj
def models_activate(app: AppContext, version: str) -> None:
    """Make VERSION the model the worker classifies with (any earlier version can be re-activated)."""
    from monitor.classify.registry import RegistryError, activate_version

    _require_store(app)
    try:
        with session_scope(app.engine) as session:
            activate_version(session, version, _actor())
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{version} is now active; the worker uses it from its next cycle.")


from monitor.notify.command import notifications  # noqa: E402  (these modules import cli lazily)
from monitor.reports.command import report  # noqa: E402

cli.add_command(report)
cli.add_command(notifications)


def main() -> None:
    cli(prog_name="monitor")


if __name__ == "__main__":
    main()
