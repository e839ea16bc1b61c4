"""The whole flow, in the order the product describes it: poll feeds → store → classify and link → alerts → mail.

`monitor poll`, the worker and `monitor demo` all run this, so what a user tests by hand is what the
worker does on its schedule.

Several workers (and a `monitor poll` by hand) may share one store. Polling shares out by claiming feeds
and sending by claiming mail; the steps that read, decide and write — classifying what is new, grouping
it into alerts, queueing mail — run in one process at a time (`exclusive(engine, ANALYSIS)`), and pick up
whatever a process that died half-way left undone: articles stored but not classified, classified but
in no alert, alerts nobody was told about.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable, Optional

from sqlalchemy import Text, cast, exists
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from monitor.alerts.events import AlertChanges, build_alerts
from monitor.alerts.risk import raise_quiet_coverage_alerts, recompute_risk
from monitor.alerts.watch import raise_watch_alerts
from monitor.classify.model import ModelError, SignalClassifier, load_model, load_packaged_model
from monitor.classify.service import SignalAnalyser, classify_pending
from monitor.ingest.pipeline import CycleReport, FeedOutcome, run_cycle
from monitor.notify.digest import queue_due_digests
from monitor.notify.outbox import SendReport, alerts_awaiting_mail, enqueue_for_alerts, send_due
from monitor.settings import Settings
from monitor.store.db import exclusive
from monitor.store.schema import AlertArticle, Article, Classification, utcnow

ANALYSIS = "analysis"
# How far back the catch-up looks for signal articles a dead process left out of every alert.
CATCH_UP_SPAN = timedelta(days=7)


@dataclass
class FlowReport:
    cycle: CycleReport = field(default_factory=CycleReport)
    classified: int = 0
    classification_skipped: Optional[str] = None
    classified_ids: list[int] = field(default_factory=list)
    alerts: AlertChanges = field(default_factory=AlertChanges)
    watch_alerts: list[int] = field(default_factory=list)
    queued: int = 0
    mail: Optional[SendReport] = None

    def summary(self) -> str:
        parts = [self.cycle.summary()]
        if self.classification_skipped:
            parts.append(f"Classification skipped: {self.classification_skipped}.")
        elif self.classified:
            parts.append(f"Classified and linked {self.classified} articles.")
        if self.alerts.created or self.alerts.joined:
            parts.append(f"Alerts: {len(self.alerts.created)} new, {len(set(self.alerts.joined))} updated"
                         + (f", {len(self.alerts.raised)} raised in severity" if self.alerts.raised else "") + ".")
        if self.watch_alerts:
            parts.append(f"Watch rules caught {len(self.watch_alerts)} article(s).")
        if self.queued:
            parts.append(f"{self.queued} notification(s) queued.")
        if self.mail is not None and (self.mail.sent or self.mail.waiting or self.mail.retrying or self.mail.failed
                                      or self.mail.unconfirmed or (self.mail.not_configured and self.queued)):
            parts.append(self.mail.summary())
        return " ".join(parts)


_loaded: dict[tuple, SignalClassifier] = {}


def load_classifier(engine: Engine, settings: Settings) -> SignalClassifier:
    """The active classifier, loaded once per model file: loading takes seconds, and the worker asks every tick.

    An admin activating another version (dashboard or `monitor models activate`) changes the file, so the
    next cycle loads it; a file replaced in place changes its stat, which drops the old model too.
    """
    from monitor.classify.model import PACKAGED_MODEL
    from monitor.classify.registry import active_model_file

    chosen, sha256 = active_model_file(engine, settings)
    path = chosen or PACKAGED_MODEL
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    except OSError:
        key = None  # missing: let the loader say so
    if key is not None and key in _loaded:
        return _loaded[key]
    # load_model reads the card beside the file: two stages when it names an encoder (branch encoder).
    classifier = load_model(path, expected_sha256=sha256) if chosen else load_packaged_model()
    if key is not None:
        _loaded.clear()  # a replaced or deactivated file drops the old model
        _loaded[key] = classifier
    return classifier


def has_unclassified(engine: Engine) -> bool:
    with Session(engine) as session:
        return session.exec(select(Article.id).where(Article.classified_at.is_(None)).limit(1)).first() is not None


def classify_new_articles(engine: Engine, settings: Settings, report: FlowReport) -> None:
    """Classify every stored article still waiting; without a model they wait, and the report says why."""
    if not has_unclassified(engine):
        return
    try:
        classifier = load_classifier(engine, settings)
    except ModelError as exc:
        report.classification_skipped = str(exc)
        return
    report.classified = classify_pending(engine, SignalAnalyser.from_store(engine, classifier),
                                         on_batch=report.classified_ids.extend)


def unalerted_signal_articles(engine: Engine) -> list[int]:
    """Recently classified articles with a signal that are in no alert (yet)."""
    with Session(engine) as session:
        return list(session.exec(
            select(Article.id).join(Classification, Classification.article_id == Article.id)
            .where(Article.classified_at >= utcnow() - CATCH_UP_SPAN,
                   cast(Classification.labels, Text).not_in(("[]", "null")),
                   ~exists().where(AlertArticle.article_id == Article.id))
            .distinct()))


def queue_alerts(engine: Engine, settings: Settings, report: FlowReport) -> None:
    """Alerts from what is classified and not yet grouped, then mail for every alert nobody was told about.

    Reading the store rather than this run's results is what lets a rerun finish a dead run's work.
    """
    # This run's signal articles are among them; articles without a signal never make an alert.
    report.alerts = build_alerts(engine, unalerted_signal_articles(engine))
    # Watch rules read every classified article, signal or not; their low alerts are mailed below with the rest.
    report.watch_alerts = raise_watch_alerts(engine)
    recompute_risk(engine, alert_facility_ids(engine, report.alerts.created + report.alerts.joined))
    report.queued = enqueue_for_alerts(engine, settings, alerts_awaiting_mail(engine))
    report.queued += queue_due_digests(engine, settings)


def run_daily(engine: Engine, settings: Settings) -> tuple[int, list[int], SendReport]:
    """The daily pass: every facility's risk score, "coverage went quiet" alerts, and their mail."""
    with exclusive(engine, ANALYSIS):
        scored = recompute_risk(engine)
        quiet = raise_quiet_coverage_alerts(engine, settings.quiet_after_days)
        enqueue_for_alerts(engine, settings, alerts_awaiting_mail(engine))
    return scored, quiet, send_due(engine, settings)


def alert_facility_ids(engine: Engine, alert_ids: list[int]) -> list[int]:
    if not alert_ids:
        return []
    from sqlmodel import Session, select

    from monitor.store.schema import Alert

    with Session(engine) as session:
        return [fid for fid in session.exec(select(Alert.facility_id).where(Alert.id.in_(alert_ids))) if fid]


def run_poll(engine: Engine, settings: Settings, *, all_feeds: bool = False, feed_name: Optional[str] = None,
             on_feed_done: Optional[Callable[[FeedOutcome], None]] = None,
             stopping: Optional[threading.Event] = None) -> FlowReport:
    report = FlowReport()
    report.cycle = run_cycle(engine, settings, all_feeds=all_feeds, feed_name=feed_name, on_feed_done=on_feed_done,
                             stopping=stopping)
    analyse_and_mail(engine, settings, report)
    return report


def analyse_and_mail(engine: Engine, settings: Settings, report: FlowReport) -> None:
    """Classify what is new, group it into alerts and queue their mail (one process at a time), then send."""
    with exclusive(engine, ANALYSIS):
        classify_new_articles(engine, settings, report)
        queue_alerts(engine, settings, report)
    # Sending claims each mail on its own, so it needs no lock (and a slow SMTP server holds none).
    report.mail = send_due(engine, settings)


def run_demo(engine: Engine, settings: Settings) -> FlowReport:
    """Load the bundled demo feeds through the same path as a poll, then analyse and queue their alerts."""
    from monitor.demo import load_demo

    report = FlowReport(cycle=load_demo(engine, settings))
    analyse_and_mail(engine, settings, report)
    return report
