"""Alerts and mail end to end: a real feed server, a real SMTP server (aiosmtpd), `monitor poll` driving it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from monitor.classify.model import PACKAGED_MODEL
from monitor.notify.outbox import STALE_SENDING, send_due
from monitor.settings import load_settings
from monitor.store.db import make_engine, session_scope
from monitor.store.schema import Alert, Notification, utcnow

pytestmark = pytest.mark.skipif(not PACKAGED_MODEL.is_file(), reason="no trained model in models/")


@pytest.fixture
def mail_store(run_cli, database_url, feeds_file, feed_server, smtp_server):
    feed_server.serve_file("/wire", "levant_wire.xml")
    feeds = feeds_file(("Wire", feed_server.url("/wire")))
    run_cli("--feeds-file", str(feeds), "init")
    run_cli("subscribers", "add", "syria-desk@example.org", "--country", "SY")
    run_cli("subscribers", "add", "nigeria-desk@example.org", "--country", "NG")
    return feeds


def smtp(smtp_server, *extra):
    return ["--set", "smtp_host=127.0.0.1", "--set", f"smtp_port={smtp_server.port}", "--set", "smtp_starttls=false",
            "--set", "smtp_from=alerts@example.org", *extra]


def _facility_id(database_url, slug):
    from monitor.store.schema import Facility

    engine = make_engine(database_url)
    with Session(engine) as session:
        facility_id = session.exec(select(Facility.id).where(Facility.slug == slug)).one()
    engine.dispose()
    return facility_id


def _alerts(database_url):
    engine = make_engine(database_url)
    with Session(engine) as session:
        rows = list(session.exec(select(Alert).order_by(Alert.id)))
    engine.dispose()
    return rows


def test_one_alert_one_mail_to_the_matching_subscriber_and_nothing_twice(run_cli, mail_store, smtp_server,
                                                                        database_url, feed_server, feeds_file):
    output = run_cli(*smtp(smtp_server), "poll").output
    assert "Mail: " in output and "sent" in output
    ghwayran_key = f"facility:{_facility_id(database_url, 'ghwayran-prison')}|incident"
    incident = [a for a in _alerts(database_url) if a.group_key == ghwayran_key]
    assert len(incident) == 1, output
    assert {"prison_break", "attack_on_facility"} & set(incident[0].labels)
    mails = smtp_server.inbox.to("syria-desk@example.org")
    assert len(mails) >= 1 and smtp_server.inbox.to("nigeria-desk@example.org") == []
    mail = next(m for m in mails if "Ghwayran prison" in m["Subject"])
    assert mail["Message-ID"].startswith("<alert-") and mail["From"] == "alerts@example.org"
    parts = {part.get_content_type(): part.get_payload(decode=True).decode() for part in mail.walk()
             if part.get_content_type() in ("text/plain", "text/html")}
    assert "Severity:" in parts["text/plain"] and "Population: 3,000 (as of 2026-01)" in parts["text/plain"]
    assert "http://localhost:8501/?alert=" in parts["text/plain"] and "<a href=" in parts["text/html"]
    count = len(smtp_server.inbox.messages)

    # Polling again sends nothing.
    run_cli(*smtp(smtp_server), "poll", "--all")
    run_cli(*smtp(smtp_server), "notify")
    assert len(smtp_server.inbox.messages) == count

    # A second outlet's report of the same event corroborates it instead of opening a new alert.
    feed_server.serve_file("/third", "third_outlet.xml")
    run_cli("--feeds-file", str(feeds_file(("Wire", feed_server.url("/wire")), ("Third", feed_server.url("/third")))),
            "init")
    run_cli(*smtp(smtp_server), "poll", "--feed", "Third")
    after = [a for a in _alerts(database_url) if a.group_key == ghwayran_key]
    assert [a.id for a in after] == [incident[0].id], "the second outlet joined the alert instead of opening one"
    assert after[0].outlet_count == incident[0].outlet_count + 1
    listing = run_cli("alerts", "list").output
    assert "Ghwayran prison [SY]" in listing and "2 outlets" in listing


def test_html_in_article_text_is_escaped_in_mail(run_cli, mail_store, smtp_server, feed_server, feeds_file):
    feed_server.serve_file("/third", "third_outlet.xml")
    run_cli("--feeds-file", str(feeds_file(("Third", feed_server.url("/third")))), "init")
    run_cli(*smtp(smtp_server), "poll")
    htmls = [part.get_payload(decode=True).decode() for _, m in smtp_server.inbox.messages for part in m.walk()
             if part.get_content_type() == "text/html"]
    joined = "\n".join(htmls)
    assert "overnight" in joined and "<b>overnight</b>" not in joined and "&lt;b&gt;overnight&lt;/b&gt;" in joined
    assert "<script" not in joined


def test_smtp_down_keeps_mail_queued_then_delivers_it_once(run_cli, mail_store, smtp_server, database_url):
    smtp_server.stop()
    output = run_cli(*smtp(smtp_server), "poll").output
    assert "to retry" in output
    engine = make_engine(database_url)
    with Session(engine) as session:
        queued = list(session.exec(select(Notification)))
    assert queued and all(n.status == "pending" and n.attempts == 1 and n.last_error for n in queued)
    smtp_server.start()
    # A minute later the backoff has passed: `monitor notify` (or the worker) delivers it.
    settings = load_settings(env={}, flags={"smtp_host": "127.0.0.1", "smtp_port": smtp_server.port,
                                            "smtp_starttls": False, "database_url": database_url})
    report = send_due(engine, settings, now=utcnow() + timedelta(minutes=1))
    assert report.sent == len(queued)
    assert len(smtp_server.inbox.messages) == len(queued)
    assert send_due(engine, settings, now=utcnow() + timedelta(hours=2)).sent == 0
    assert len(smtp_server.inbox.messages) == len(queued)
    engine.dispose()


def test_a_sender_that_died_mid_send_never_causes_a_duplicate(run_cli, mail_store, smtp_server, database_url):
    run_cli("poll")  # no SMTP configured: the mail waits in the outbox
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        # What a worker killed after SMTP accepted the mail, before recording it, leaves behind.
        row = session.exec(select(Notification)).first()
        row.status, row.sending_started_at = "sending", utcnow() - STALE_SENDING - timedelta(minutes=1)
        row_id, stale_message_id = row.id, row.message_id
    settings = load_settings(env={}, flags={"smtp_host": "127.0.0.1", "smtp_port": smtp_server.port,
                                            "smtp_starttls": False})
    report = send_due(engine, settings)
    with Session(engine) as session:
        row = session.get(Notification, row_id)
    assert row.status == "unconfirmed" and report.unconfirmed == 1
    sent_ids = [m["Message-ID"] for _, m in smtp_server.inbox.messages]
    assert stale_message_id not in sent_ids and len(sent_ids) == report.sent
    # Later runs leave it alone, and say it needs a person.
    output = run_cli(*smtp(smtp_server), "notify").output
    assert "1 unconfirmed in the outbox" in output
    assert stale_message_id not in [m["Message-ID"] for _, m in smtp_server.inbox.messages]
    engine.dispose()


def test_subscriber_commands(run_cli, initialised):
    run_cli("subscribers", "add", "a@example.org", "--facility", "Gweiran prison", "--label", "prison_break",
            "--min-severity", "high")
    assert "facilities: Ghwayran prison" in run_cli("subscribers", "list").output
    assert "unknown label" in run_cli("subscribers", "add", "b@example.org", "--label", "nope", expect=2).output
    assert "not an email address" in run_cli("subscribers", "add", "nobody", expect=2).output
    run_cli("subscribers", "remove", "a@example.org")
    assert "[inactive]" in run_cli("subscribers", "list").output


def test_a_severity_rise_notifies_again_and_a_repeat_does_not(run_cli, mail_store, smtp_server, database_url):
    from monitor.notify.outbox import enqueue_for_alerts

    run_cli(*smtp(smtp_server), "poll")
    first = len(smtp_server.inbox.to("syria-desk@example.org"))
    settings = load_settings(env={}, flags={"smtp_host": "127.0.0.1", "smtp_port": smtp_server.port,
                                            "smtp_starttls": False, "database_url": database_url})
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        alert = session.exec(select(Alert).where(Alert.severity != "critical")
                             .where(Alert.group_key.like("facility:%"))).first()
        assert alert is not None
        alert_id = alert.id
        alert.severity = "critical"  # what a new article with larger scale cues does
    assert enqueue_for_alerts(engine, settings, [alert_id]) == 1
    assert enqueue_for_alerts(engine, settings, [alert_id]) == 0  # same severity again: nothing
    send_due(engine, settings)
    mails = smtp_server.inbox.to("syria-desk@example.org")
    assert len(mails) == first + 1 and mails[-1]["Subject"].startswith("[CRITICAL] Raised: ")
    engine.dispose()


def test_mail_refused_too_often_is_marked_failed_not_retried_forever(run_cli, mail_store, database_url):
    """A 5xx refusal (here: every recipient refused) counts towards failure; an outage does not (test_faults)."""
    from aiosmtpd.controller import Controller

    from monitor.notify.outbox import MAX_ATTEMPTS
    from tests.conftest import free_port

    class Refuser:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            return "550 5.1.1 mailbox unavailable"

    run_cli("poll")
    engine = make_engine(database_url)
    port = free_port()
    refuser = Controller(Refuser(), hostname="127.0.0.1", port=port)
    refuser.start()
    try:
        settings = load_settings(env={}, flags={"smtp_host": "127.0.0.1", "smtp_port": port,
                                                "smtp_starttls": False})
        now = utcnow()
        for attempt in range(MAX_ATTEMPTS):
            send_due(engine, settings, now=now + timedelta(hours=attempt))
    finally:
        refuser.stop()
    with Session(engine) as session:
        rows = list(session.exec(select(Notification)))
    assert rows and all(n.status == "failed" and n.attempts == MAX_ATTEMPTS for n in rows)
    assert all(n.last_error.startswith("refused: ") and "550" in n.last_error for n in rows)
    assert "failed in the outbox" in run_cli("notify").output
    engine.dispose()
