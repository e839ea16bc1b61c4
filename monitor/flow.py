"""The whole flow, in the order the product describes it: poll feeds → store → classify and link → alerts → mail.

`monitor poll`, the worker and `monitor demo` all run this, so what a user tests by hand is what the
worker does on its schedule.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Optional

from sqlalchemy.engine import Engine

from monitor.classify.model import ModelError, SignalClassifier, load_packaged_model
from monitor.classify.service import SignalAnalyser, classify_pending
from monitor.alerts.events import AlertChanges, build_alerts
from monitor.ingest.pipeline import CycleReport, FeedOutcome, run_cycle
from monitor.alerts.risk import raise_quiet_coverage_alerts, recompute_risk
from monitor.notify.digest import queue_due_digests
from monitor.notify.outbox import SendReport, enqueue_for_alerts, send_due
from monitor.settings import Settings


@dataclass
class FlowReport:
    cycle: CycleReport = field(default_factory=CycleReport)
    classified: int = 0
    classification_skipped: Optional[str] = None
    classified_ids: list[int] = field(default_factory=list)
    alerts: AlertChanges = field(default_factory=AlertChanges)
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
        if self.queued:
            parts.append(f"{self.queued} notification(s) queued.")
        if self.mail is not None and (self.mail.sent or self.mail.waiting or self.mail.retrying or self.mail.failed
                                      or self.mail.unconfirmed or (self.mail.not_configured and self.queued)):
            parts.append(self.mail.summary())
        return " ".join(parts)


def load_classifier(settings: Settings) -> SignalClassifier:
    from pathlib import Path

    if settings.model_path:
        return SignalClassifier.from_file(Path(settings.model_path))
    return load_packaged_model()


def classify_new_articles(engine: Engine, settings: Settings, report: FlowReport) -> None:
    """Classify every stored article still waiting; without a model they wait, and the report says why."""
    try:
        classifier = load_classifier(settings)
    except ModelError as exc:
        report.classification_skipped = str(exc)
        return
    report.classified = classify_pending(engine, SignalAnalyser.from_store(engine, classifier),
                                         on_batch=report.classified_ids.extend)


def raise_alerts_and_mail(engine: Engine, settings: Settings, report: FlowReport) -> None:
    """Group what was just classified into alerts, queue mail for new and raised alerts, send what is due."""
    report.alerts = build_alerts(engine, report.classified_ids)
    recompute_risk(engine, alert_facility_ids(engine, report.alerts.created + report.alerts.joined))
    report.queued = enqueue_for_alerts(engine, settings, report.alerts.created + report.alerts.raised)
    report.queued += queue_due_digests(engine, settings)
    report.mail = send_due(engine, settings)


def run_daily(engine: Engine, settings: Settings) -> tuple[int, list[int], SendReport]:
    """The daily pass: every facility's risk score, "coverage went quiet" alerts, and their mail."""
    scored = recompute_risk(engine)
    quiet = raise_quiet_coverage_alerts(engine, settings.quiet_after_days)
    enqueue_for_alerts(engine, settings, quiet)
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
    classify_new_articles(engine, settings, report)
    raise_alerts_and_mail(engine, settings, report)
    return report
