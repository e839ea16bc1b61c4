"""`monitor notifications list`: the audit of who was sent what and when, filtered by status, subscriber
and alert, after real mail went through a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from monitor.classify.model import PACKAGED_MODEL
from monitor.notify.outbox import send_due
from monitor.settings import load_settings
from monitor.store.db import make_engine
from monitor.store.schema import utcnow

pytestmark = pytest.mark.skipif(not PACKAGED_MODEL.is_file(), reason="no trained model in models/")


@pytest.fixture
def audit(run_cli):
    """`monitor notifications ...` against the test store; returns what it printed."""
    def invoke(*args: str, expect: int = 0):
        return run_cli("notifications", *args, expect=expect).output
    return invoke


def test_the_audit_lists_who_was_sent_what_and_when(run_cli, database_url, feeds_file, feed_server, smtp_server,
                                                    audit):
    feed_server.serve_file("/wire", "levant_wire.xml")
    run_cli("--feeds-file", str(feeds_file(("Wire", feed_server.url("/wire")))), "init")
    assert "No notifications." in audit("list")
    run_cli("subscribers", "add", "syria-desk@example.org", "--country", "SY")
    smtp = ["--set", "smtp_host=127.0.0.1", "--set", f"smtp_port={smtp_server.port}", "--set", "smtp_starttls=false"]

    # SMTP is down at first: the audit shows each queued mail with its attempts and error.
    smtp_server.stop()
    run_cli(*smtp, "poll")
    waiting = audit("list", "--status", "pending").splitlines()
    assert waiting and waiting[1].strip().startswith("1 attempt(s); last error: SMTP unreachable")

    smtp_server.start()
    settings = load_settings(env={}, flags={"smtp_host": "127.0.0.1", "smtp_port": smtp_server.port,
                                            "smtp_starttls": False})
    engine = make_engine(database_url)
    send_due(engine, settings, now=utcnow() + timedelta(minutes=1))
    engine.dispose()
    delivered = {m["Message-ID"]: rcpts for rcpts, m in smtp_server.inbox.messages}
    assert delivered

    rows = [json.loads(line) for line in audit("list", "--json").splitlines()]
    assert {row["message_id"] for row in rows} == set(delivered) and {row["status"] for row in rows} == {"sent"}
    assert all(row["recipient"] in delivered[row["message_id"]] and row["sent_at"] and row["attempts"] == 2
               for row in rows)

    alert_id = rows[0]["alert_id"]
    lines = audit("list", "--alert", str(alert_id)).splitlines()
    assert lines and all(f"alert #{alert_id} (new)" in line and " sent " in line for line in lines)
    assert "syria-desk@example.org" in lines[0]
    assert "No notifications." in audit("list", "--subscriber", "nobody@example.org")
    assert "No notifications." in audit("list", "--status", "failed")
    assert len(audit("list", "--subscriber", "SYRIA-desk@example.org", "--limit", "1").splitlines()) == 1
    assert "'lost' is not one of 'pending'" in audit("list", "--status", "lost", expect=2)
