"""Notification URLs through Apprise against a real webhook receiver on loopback: delivered once each,
queued (not dropped, not doubled) while the receiver is down, secrets masked in every output."""

from __future__ import annotations

import base64
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import update
from sqlmodel import Session, select

from monitor.classify.model import PACKAGED_MODEL
from monitor.notify.channels import ID_HEADER, ChannelError, check_url, mask_url, scrub
from monitor.notify.outbox import STALE_SENDING, send_due
from monitor.settings import load_settings
from monitor.store.db import make_engine
from monitor.store.schema import Notification, utcnow

pytestmark = pytest.mark.skipif(not PACKAGED_MODEL.is_file(), reason="no trained model in models/")
SECRET = "s3cretPassw0rd"


class WebhookReceiver:
    """An HTTP server on a loopback port that records every POST; stop() and start() make an outage."""

    def __init__(self):
        self.received: list[dict] = []
        self.port = 0
        self.server = None

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append({"path": self.path, "headers": dict(self.headers),
                                          "json": json.loads(body)})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def receiver():
    server = WebhookReceiver().start()
    yield server
    server.stop()


def _engine(url):
    return make_engine(url)


def test_urls_are_checked_and_masked():
    url = f"json://alerts:{SECRET}@127.0.0.1:9/hook"
    assert SECRET not in mask_url(url) and "127.0.0.1" in mask_url(url)
    slack = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"
    assert "TIiajkdnlazkcOXrIdevi7FQ" not in mask_url(slack)
    assert "TIiajkdnlazkcOXrIdevi7FQ" not in scrub(f"error posting to {slack}: token TIiajkdnlazkcOXrIdevi7FQ bad",
                                                   slack)
    with pytest.raises(ChannelError, match="not a service Apprise knows") as bad:
        check_url(f"bogus://user:{SECRET}@host/x")
    assert SECRET not in str(bad.value)
    with pytest.raises(ChannelError, match="not a notification URL"):
        check_url("hooks.example.org/x")


def test_webhook_down_then_back_is_delivered_once_with_secrets_masked(run_cli, database_url, feeds_file,
                                                                     feed_server, receiver):
    feed_server.serve_file("/wire", "levant_wire.xml")
    run_cli("--feeds-file", str(feeds_file(("Wire", feed_server.url("/wire")))), "init")
    hook = f"json://desk:{SECRET}@127.0.0.1:{receiver.port}/hook"
    added = run_cli("subscribers", "add", "syria-ops", "--url", hook, "--country", "SY").output
    assert SECRET not in added and "****" in added
    listed = run_cli("subscribers", "list").output + run_cli("subscribers", "list", "--json").output
    assert SECRET not in listed and f"127.0.0.1:{receiver.port}/hook" in listed

    receiver.stop()  # the receiver is down when the alerts are raised
    polled = run_cli("poll").output
    assert SECRET not in polled and "Notification URLs: 0 sent" in polled and "to retry" in polled
    audit = run_cli("notifications", "list").output
    assert SECRET not in audit and "syria-ops via json://desk:****@" in audit and "service unreachable" in audit
    engine = _engine(database_url)
    with Session(engine) as session:
        queued = session.exec(select(Notification)).all()
    assert queued and {n.status for n in queued} == {"pending"} and {n.channel for n in queued} == {"url"}
    assert all(SECRET not in (n.last_error or "") + (n.target_shown or "") for n in queued)

    settings = load_settings(env={})
    # Still down at the next due time: still queued, one more attempt each.
    send_due(engine, settings, now=utcnow() + timedelta(minutes=1))
    with Session(engine) as session:
        assert {(n.status, n.attempts) for n in session.exec(select(Notification))} == {("pending", 2)}

    receiver.start()  # back, on the same port
    report = send_due(engine, settings, now=utcnow() + timedelta(minutes=5))
    assert report.urls.sent == len(queued) == len(receiver.received)
    # Sending again sends nothing: each notification reached the receiver exactly once.
    assert send_due(engine, settings, now=utcnow() + timedelta(hours=2)).sent == 0
    assert len(receiver.received) == len(queued)
    with Session(engine) as session:
        rows = {n.message_id: n for n in session.exec(select(Notification))}
    for post in receiver.received:
        assert post["path"] == "/hook"
        assert base64.b64decode(post["headers"]["Authorization"].split()[1]).decode() == f"desk:{SECRET}"
        stable_id = post["headers"][ID_HEADER]
        assert rows[stable_id].status == "sent" and post["json"]["title"] == rows[stable_id].subject
        assert f"Reference: {stable_id}" in post["json"]["message"] and "Severity:" in post["json"]["message"]
    assert len({p["headers"][ID_HEADER] for p in receiver.received}) == len(receiver.received)
    audit = run_cli("notifications", "list", "--json").output
    assert SECRET not in audit and {json.loads(line)["status"] for line in audit.splitlines()} == {"sent"}
    engine.dispose()


def test_a_send_interrupted_mid_way_becomes_unconfirmed_and_is_never_resent(run_cli, database_url, feeds_file,
                                                                           feed_server, receiver):
    feed_server.serve_file("/wire", "levant_wire.xml")
    run_cli("--feeds-file", str(feeds_file(("Wire", feed_server.url("/wire")))), "init")
    run_cli("subscribers", "add", "ops@example.org", "--url", f"json://127.0.0.1:{receiver.port}/hook")
    receiver.stop()
    run_cli("poll")
    engine = _engine(database_url)
    started = utcnow()
    with engine.begin() as connection:  # a sender that claimed every URL row and died before recording
        connection.execute(update(Notification).where(Notification.channel == "url")
                           .values(status="sending", sending_started_at=started))
    receiver.start()
    report = send_due(engine, load_settings(env={}), now=started + STALE_SENDING + timedelta(minutes=1))
    assert report.unconfirmed and report.urls.sent == 0 and receiver.received == []
    with Session(engine) as session:
        statuses = {n.channel: n.status for n in session.exec(select(Notification))}
    assert statuses == {"url": "unconfirmed", "email": "pending"}  # mail waits for SMTP, on its own row
    send_due(engine, load_settings(env={}), now=started + timedelta(hours=3))
    assert receiver.received == []
    engine.dispose()


def test_a_refusing_service_fails_after_the_attempts_and_the_error_hides_the_secret(run_cli, database_url,
                                                                                   feeds_file, feed_server):
    from monitor.notify.outbox import MAX_ATTEMPTS

    class Refuser(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(403)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuser)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        feed_server.serve_file("/wire", "levant_wire.xml")
        run_cli("--feeds-file", str(feeds_file(("Wire", feed_server.url("/wire")))), "init")
        run_cli("subscribers", "add", "ops", "--url", f"json://x:{SECRET}@127.0.0.1:{server.server_address[1]}/h")
        run_cli("poll")
        engine = _engine(database_url)
        now = utcnow()
        for attempt in range(MAX_ATTEMPTS):
            send_due(engine, load_settings(env={}), now=now + timedelta(hours=attempt + 1))
        with Session(engine) as session:
            rows = session.exec(select(Notification)).all()
        assert rows and {n.status for n in rows} == {"failed"}
        assert all(n.last_error.startswith("refused: ") and SECRET not in n.last_error for n in rows)
        engine.dispose()
    finally:
        server.shutdown()
        server.server_close()
