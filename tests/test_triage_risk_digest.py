"""Triage audit and feedback, facility risk scores with history, quiet coverage, and daily digests."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from monitor.alerts.risk import raise_quiet_coverage_alerts, recompute_risk
from monitor.classify.model import PACKAGED_MODEL
from monitor.notify.digest import queue_due_digests
from monitor.notify.outbox import send_due
from monitor.settings import load_settings
from monitor.store.db import session_scope
from monitor.store.schema import (
    Alert,
    AlertStatusChange,
    Article,
    Facility,
    FacilityMention,
    Feedback,
    RiskScore,
    utcnow,
)

pytestmark = pytest.mark.skipif(not PACKAGED_MODEL.is_file(), reason="no trained model in models/")


@pytest.fixture
def demo_store(run_cli, initialised):
    run_cli("demo")
    return initialised


def _facility(session, slug):
    return session.exec(select(Facility).where(Facility.slug == slug)).one()


def test_status_changes_keep_an_audit_trail_and_become_feedback(run_cli, demo_store, engine):
    with Session(engine) as session:
        alert = session.exec(select(Alert).where(Alert.severity == "critical")).first()
    run_cli("alerts", "set-status", str(alert.id), "confirmed", "--as", "amina", "--note", "field team agrees")
    run_cli("alerts", "note", str(alert.id), "calls to the camp unanswered", "--as", "jo")
    run_cli("alerts", "set-status", str(alert.id), "resolved", "--as", "amina")
    with Session(engine) as session:
        trail = list(session.exec(select(AlertStatusChange).where(AlertStatusChange.alert_id == alert.id)
                                  .order_by(AlertStatusChange.id)))
        feedback = list(session.exec(select(Feedback).where(Feedback.alert_id == alert.id)))
    assert [(c.actor, c.from_status, c.to_status) for c in trail] == [
        ("amina", "new", "confirmed"), ("jo", "confirmed", "confirmed"), ("amina", "confirmed", "resolved")]
    assert trail[0].note == "field team agrees" and trail[1].note == "calls to the camp unanswered"
    assert feedback and all(f.verdict == "confirmed" and f.labels == alert.labels for f in feedback)
    shown = run_cli("alerts", "show", str(alert.id)).output
    assert "amina: new -> confirmed: field team agrees" in shown and "jo: note" in shown
    assert "no alert #99999" in run_cli("alerts", "set-status", "99999", "dismissed", expect=1).output


def test_dismissing_stores_negative_feedback(run_cli, demo_store, engine):
    with Session(engine) as session:
        alert = session.exec(select(Alert).where(Alert.severity == "low")).first()
    run_cli("alerts", "set-status", str(alert.id), "dismissed", "--as", "amina", "--note", "not a detention site")
    with Session(engine) as session:
        feedback = list(session.exec(select(Feedback).where(Feedback.alert_id == alert.id)))
    assert feedback and all(f.verdict == "dismissed" and f.labels == [] for f in feedback)


def test_risk_scores_combine_decayed_signals_and_vulnerability_with_a_daily_history(run_cli, demo_store, engine):
    output = run_cli("risk", "--recompute", "--limit", "3").output
    assert "Ghwayran prison [SY]" in output and "signal +" in output
    with Session(engine) as session:
        ghwayran = _facility(session, "ghwayran-prison")
        today = session.exec(select(RiskScore).where(RiskScore.facility_id == ghwayran.id)).all()
    assert len(today) == 1 and 0 < today[0].score <= 100
    factors = {f["factor"] for f in today[0].factors}
    assert {"signal", "detainees"} <= factors
    # A later day adds a row; the same day overwrites its own.
    later = utcnow() + timedelta(days=30)
    recompute_risk(engine, [ghwayran.id], now=later)
    recompute_risk(engine, [ghwayran.id], now=later)
    with Session(engine) as session:
        history = session.exec(select(RiskScore).where(RiskScore.facility_id == ghwayran.id)
                               .order_by(RiskScore.day)).all()
    assert len(history) == 2
    assert history[1].score < history[0].score, "signals decay with time"


def test_a_facility_that_went_quiet_raises_one_low_alert(engine):
    old = utcnow() - timedelta(days=30)
    with session_scope(engine) as session:
        facility = _facility(session, "roj-camp")
        for n in range(6):
            article = Article(url=f"https://news.example/roj/{n}", content_key=f"roj-{n}", title=f"Roj report {n}",
                              summary="", first_seen_at=old - timedelta(days=n))
            session.add(article)
            session.flush()
            session.add(FacilityMention(article_id=article.id, facility_id=facility.id, role="primary",
                                        confidence=0.95, matched="Roj camp"))
        facility_id = facility.id
    created = raise_quiet_coverage_alerts(engine, quiet_days=14)
    assert len(created) == 1
    assert raise_quiet_coverage_alerts(engine, quiet_days=14) == []
    with Session(engine) as session:
        alert = session.get(Alert, created[0])
    assert alert.facility_id == facility_id and alert.severity == "low"
    assert "coverage went quiet" in alert.severity_reason


def test_a_digest_groups_several_alerts_once_a_day(run_cli, demo_store, engine, smtp_server, database_url):
    run_cli("subscribers", "add", "daily@example.org", "--mode", "digest", "--digest-hour", "0")
    run_cli("subscribers", "add", "later@example.org", "--mode", "digest", "--digest-hour", "23")
    settings = load_settings(env={}, flags={"smtp_host": "127.0.0.1", "smtp_port": smtp_server.port,
                                            "smtp_starttls": False, "database_url": database_url})
    now = utcnow().replace(hour=12)
    assert queue_due_digests(engine, settings, now=now) == 1
    assert queue_due_digests(engine, settings, now=now + timedelta(minutes=5)) == 0
    send_due(engine, settings)
    digests = smtp_server.inbox.to("daily@example.org")
    assert len(digests) == 1 and smtp_server.inbox.to("later@example.org") == []
    text = next(p.get_payload(decode=True).decode() for p in digests[0].walk() if p.get_content_type() == "text/plain")
    assert "Ghwayran prison [SY]" in text and "Kangbayi" in text
    assert text.count("[CRITICAL]") >= 2
