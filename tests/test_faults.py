"""Faults: a worker killed mid-send, the database away for a while, SMTP down for hours, a read-only or full
SQLite store, hostile feeds. After each, nothing is lost and nothing is doubled.

Faults are injected in the test's own servers (an SMTP handler that stalls, a TCP proxy that is cut, a lock
held from outside), never in product code. Feeds that hang, flood or lie about their encoding are covered
one by one in test_fetch.py (deadline, size cap, gzip bomb) and test_poll.py (bad feeds never stop a
cycle; a feed declaring utf-8 that is latin-1); here they are polled twice together to show nothing doubles.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import event, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, func, select

from monitor.classify.model import PACKAGED_MODEL
from monitor.flow import run_poll
from monitor.notify.outbox import GIVE_UP_AFTER, RETRY_CAP, STALE_SENDING, send_due
from monitor.settings import load_settings
from monitor.store.db import describe_store_error, make_engine, session_scope
from monitor.store.schema import Article, ArticleSource, Feed, Notification, utcnow
from tests.conftest import REPO_ROOT, _Inbox, free_port
from tests.feed_server import Response
from tests.test_worker import start_worker, wait_for

needs_model = pytest.mark.skipif(not PACKAGED_MODEL.is_file(), reason="no trained model in models/")


def _worker_env(database_url, feeds, **settings) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(MONITOR_DATABASE_URL=database_url, MONITOR_FEEDS_FILE=str(feeds), MONITOR_ALLOW_PRIVATE_FEEDS="true",
               MONITOR_WORKER_TICK_SECONDS="1",
               PYTHONPATH=str(REPO_ROOT))
    env.update({f"MONITOR_{name.upper()}": str(value) for name, value in settings.items()})
    return env


def _count(database_url, model) -> int:
    engine = make_engine(database_url)
    with Session(engine) as session:
        count = session.exec(select(func.count()).select_from(model)).one()
    engine.dispose()
    return count


def _notifications(database_url) -> list[Notification]:
    engine = make_engine(database_url)
    with Session(engine) as session:
        rows = list(session.exec(select(Notification).order_by(Notification.id)))
    engine.dispose()
    return rows


def _stop(worker) -> int:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
    try:
        return worker.wait(60)
    except Exception:
        worker.kill()
        raise


class StallingInbox(_Inbox):
    """An SMTP handler that keeps each message, then stalls before acknowledging it until released: the
    worst case for duplicates, a relay that has the mail while the sender does not know it."""

    def __init__(self):
        super().__init__()
        self.arrived = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        answer = await super().handle_DATA(server, session, envelope)
        self.arrived.set()
        while not self.release.is_set():
            await asyncio.sleep(0.05)
        return answer


@needs_model
def test_a_worker_killed_mid_send_then_restarted_sends_no_mail_twice(run_cli, database_url, feeds_file, feed_server,
                                                                     tmp_path):
    from aiosmtpd.controller import Controller

    feed_server.serve_file("/wire", "levant_wire.xml")
    feeds = feeds_file(("Wire", feed_server.url("/wire")))
    run_cli("--feeds-file", str(feeds), "init")
    for desk in ("syria-desk", "iraq-syria-desk", "duty-officer"):  # several mails, more than one sender can hold
        run_cli("subscribers", "add", f"{desk}@example.org", "--country", "SY")
    inbox, port = StallingInbox(), free_port()
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    env = _worker_env(database_url, feeds, smtp_host="127.0.0.1", smtp_port=port, smtp_starttls="false",
                      smtp_from="alerts@example.org")
    try:
        worker, _ = start_worker(env, tmp_path, "killed")
        try:
            assert inbox.arrived.wait(120), "the worker never reached the SMTP server"
            time.sleep(2)  # the worker's other sender (poll and outbox jobs both send) may stall too
            # SMTP has the whole message and has not answered yet: the worker dies right here.
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
        finally:
            if worker.poll() is None:
                worker.kill()
        inbox.release.set()
        at_kill = {row.message_id: row.status for row in _notifications(database_url)}
        half_sent = {mid for mid, status in at_kill.items() if status == "sending"}
        assert half_sent == {m["Message-ID"] for _, m in inbox.messages}, "the server has every half-sent mail"
        assert "pending" in at_kill.values(), "mail was left for the restarted worker"

        restarted, _ = start_worker(env, tmp_path, "restarted")
        try:
            # The restarted worker sends what was still pending, never what was in `sending`.
            wait_for(lambda: all(row.status == "sent" for row in _notifications(database_url)
                                 if row.message_id not in half_sent), 60, "the rest of the queue")
            time.sleep(3)  # a few more ticks
        finally:
            assert _stop(restarted) == 0
        message_ids = [m["Message-ID"] for _, m in inbox.messages]
        assert len(message_ids) == len(set(message_ids)), "no mail twice"
        rows = {row.message_id: row for row in _notifications(database_url)}
        assert {mid for mid, row in rows.items() if row.status == "sending"} == half_sent
        assert set(message_ids) - half_sent == {mid for mid, row in rows.items() if row.status == "sent"}

        # Ten minutes on, the half-sent row is shown as unconfirmed for a person to check, and never resent.
        engine = make_engine(database_url)
        settings = load_settings(env={}, flags={"smtp_host": "127.0.0.1", "smtp_port": port,
                                                "smtp_starttls": False, "database_url": database_url})
        report = send_due(engine, settings, now=utcnow() + STALE_SENDING + timedelta(minutes=1))
        engine.dispose()
        assert report.unconfirmed == len(half_sent) and report.sent == 0
        assert [m["Message-ID"] for _, m in inbox.messages] == message_ids
        assert {row.status for row in _notifications(database_url)} == {"sent", "unconfirmed"}
        assert len(message_ids) == len(at_kill)
        assert "unconfirmed" in run_cli("notify").output
    finally:
        smtp.stop()


class TcpProxy:
    """A loopback TCP forwarder the test can cut (every connection dropped, new ones refused) and restore."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.port = free_port()
        self.listener: socket.socket | None = None
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()

    def start(self) -> "TcpProxy":
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, server]
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


def _items(prefix: str, count: int) -> list[tuple[str, str, str]]:
    return [(f"{prefix} harbour report {n}", f"https://harbour.example/{prefix}/{n}",
             f"Port traffic note {n} from the {prefix} shift.") for n in range(count)]


def test_the_database_away_for_a_while_is_logged_and_the_worker_carries_on(run_cli, database_url, feeds_file,
                                                                           feed_server, tmp_path):
    """PostgreSQL: the worker reaches the server through a proxy that is cut for 20 s. SQLite: another
    process holds the write lock for 20 s, longer than the busy timeout."""
    feed_server.serve_generated("/harbour", "Harbour news", _items("morning", 2))
    feeds = feeds_file(("Harbour", feed_server.url("/harbour")))
    run_cli("--feeds-file", str(feeds), "init")
    postgres = make_url(database_url).get_backend_name() == "postgresql"
    proxy = None
    worker_url = database_url
    if postgres:
        url = make_url(database_url)
        proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432)).start()
        worker_url = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    worker, log = start_worker(_worker_env(worker_url, feeds, model_path=tmp_path / "no-model.skops"), tmp_path,
                               "outage")
    try:
        wait_for(lambda: _count(database_url, Article) == 2, 60, "the first poll")
        # During the outage the feed gets new stories and falls due again.
        feed_server.serve_generated("/harbour", "Harbour news", _items("evening", 3))
        past = utcnow() - timedelta(minutes=1)
        if postgres:
            proxy.stop()
            engine = make_engine(database_url)  # the test's own way in, around the proxy
            with session_scope(engine) as session:
                for feed in session.exec(select(Feed)):
                    feed.next_check_at = past
            engine.dispose()
            time.sleep(20)
            assert worker.poll() is None, "the worker survived the outage"
            proxy.start()
        else:
            engine = make_engine(database_url)
            holder = Session(engine)
            for feed in holder.exec(select(Feed)):
                feed.next_check_at = past
            holder.flush()  # from here the test holds SQLite's write lock, as a long write elsewhere would
            time.sleep(20)
            assert worker.poll() is None, "the worker survived the outage"
            holder.commit()
            holder.close()
            engine.dispose()
        wait_for(lambda: _count(database_url, Article) == 5, 90, "the poll after the outage")
        assert worker.poll() is None
    finally:
        returncode = _stop(worker)
        if proxy is not None:
            proxy.stop()
    assert returncode == 0
    output = log.read_text()
    expected = "cannot reach the database" if postgres else "stayed locked by another process"
    assert expected in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert _count(database_url, Article) == 5 and _count(database_url, ArticleSource) == 5


@needs_model
def test_smtp_down_for_hours_keeps_mail_queued_then_delivers_it_once(run_cli, database_url, feeds_file, feed_server,
                                                                     smtp_server):
    feed_server.serve_file("/wire", "levant_wire.xml")
    run_cli("--feeds-file", str(feeds_file(("Wire", feed_server.url("/wire")))), "init")
    run_cli("subscribers", "add", "syria-desk@example.org", "--country", "SY")
    run_cli("poll")  # no SMTP configured yet: the mail is queued
    queued = _notifications(database_url)
    assert queued and {row.status for row in queued} == {"pending"}
    smtp_server.stop()
    engine = make_engine(database_url)
    settings = load_settings(env={}, flags={"smtp_host": "127.0.0.1", "smtp_port": smtp_server.port,
                                            "smtp_starttls": False, "database_url": database_url})
    start = utcnow()
    # Ten hours of outage, with the worker trying every ten minutes.
    for step in range(1, 61):
        now = start + timedelta(minutes=10 * step)
        assert send_due(engine, settings, now=now).sent == 0
        rows = _notifications(database_url)
        assert {row.status for row in rows} == {"pending"}, [row.last_error for row in rows]
        assert all(row.next_attempt_at <= now + RETRY_CAP for row in rows), "retried at least every RETRY_CAP"
    assert all(row.attempts > 8 and row.last_error.startswith("SMTP unreachable") for row in rows)
    smtp_server.start()
    back = start + timedelta(hours=10, minutes=31)
    assert send_due(engine, settings, now=back).sent == len(queued)
    assert send_due(engine, settings, now=back + timedelta(hours=1)).sent == 0
    message_ids = [m["Message-ID"] for _, m in smtp_server.inbox.messages]
    assert sorted(message_ids) == sorted(row.message_id for row in queued)
    assert {row.status for row in _notifications(database_url)} == {"sent"}

    # An outage longer than GIVE_UP_AFTER fails the mail: shown in `monitor notify`, never silently dropped.
    with session_scope(engine) as session:
        row = session.get(Notification, queued[0].id)
        row.status, row.sent_at = "pending", None
    smtp_server.stop()
    report = send_due(engine, settings, now=queued[0].created_at + GIVE_UP_AFTER + timedelta(minutes=1))
    assert report.failed == 1
    assert "failed in the outbox" in run_cli("notify").output
    engine.dispose()


def test_a_read_only_store_is_reported_clearly_and_left_intact(sqlite_url, feeds_file, feed_server):
    feed_server.serve_generated("/harbour", "Harbour news", _items("morning", 2))
    runner_args = ["--database-url", sqlite_url, "--feeds-file",
                   str(feeds_file(("Harbour", feed_server.url("/harbour"))))]
    from click.testing import CliRunner

    from monitor.cli import cli

    runner = CliRunner()
    assert runner.invoke(cli, [*runner_args, "init"]).exit_code == 0
    assert runner.invoke(cli, [*runner_args, "poll"]).exit_code == 0
    path = make_url(sqlite_url).database
    before = _count(sqlite_url, Article)
    # What SQLite says for a file it may not write (root ignores chmod, so the store is opened read-only).
    read_only = f"sqlite:///file:{path}?mode=ro&uri=true"
    feed_server.serve_generated("/harbour", "Harbour news", _items("evening", 2))
    result = runner.invoke(cli, ["--database-url", read_only, "poll", "--all"])
    assert result.exit_code == 1
    assert "is read-only: give the monitor write access to the file and its folder" in result.output
    assert "Traceback" not in result.output
    assert _count(sqlite_url, Article) == before
    # Writable again, the same poll stores the new stories once.
    assert runner.invoke(cli, [*runner_args, "poll", "--all"]).exit_code == 0
    assert _count(sqlite_url, Article) == before + 2


def test_a_full_disk_is_reported_clearly_and_a_rerun_stores_everything_once(sqlite_url, feeds_file, feed_server):
    """SQLite's page cap makes the store "full" without filling a real disk: the error is SQLITE_FULL."""
    feed_server.serve_generated("/big", "Harbour news", [
        (f"Harbour report {n}", f"https://harbour.example/big/{n}", f"Shift note {n}: " + "cargo manifest " * 60)
        for n in range(300)])
    feeds = feeds_file(("Big", feed_server.url("/big")))
    from click.testing import CliRunner

    from monitor.cli import cli

    assert CliRunner().invoke(cli, ["--database-url", sqlite_url, "--feeds-file", str(feeds), "init"]).exit_code == 0
    settings = load_settings(env={}, flags={"database_url": sqlite_url, "model_path": "missing.skops",
                                            "allow_private_feeds": True})  # the feed server is on loopback
    full = make_engine(sqlite_url)
    with full.connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()

    @event.listens_for(full, "connect")
    def cap(dbapi_connection, _record):
        dbapi_connection.execute(f"PRAGMA max_page_count={pages + 20}")

    full.dispose()  # connections made from here on carry the cap
    with pytest.raises(OperationalError) as caught:
        run_poll(full, settings)
    message = describe_store_error(caught.value, sqlite_url)
    assert message.startswith(f"the disk holding {sqlite_url} is full: nothing was half-written")
    full.dispose()

    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    assert _count(sqlite_url, Article) == 0  # the feed's transaction was undone whole
    report = run_poll(engine, settings, all_feeds=True)
    assert report.cycle.new_articles == 300
    assert run_poll(engine, settings, all_feeds=True).cycle.new_articles == 0
    assert _count(sqlite_url, Article) == _count(sqlite_url, ArticleSource) == 300
    engine.dispose()


def test_hostile_feeds_polled_twice_double_nothing(run_cli, database_url, feeds_file, feed_server):
    feed_server.serve_generated("/good", "Harbour news", _items("morning", 3))
    feed_server.routes["/hang"] = Response(200, b"<rss/>", delay=4)                     # answers after the deadline
    feed_server.routes["/flood"] = Response(200, b"<rss>" + b"x" * (2 * 1024 * 1024),  # over max_feed_mb=1
                                            {"Content-Type": "application/rss+xml"})
    feed_server.serve_file("/liar", "latin1.xml", content_type="application/rss+xml; charset=utf-8")
    feeds = feeds_file(*[(name, feed_server.url(f"/{name}")) for name in ("good", "hang", "flood", "liar")])
    run_cli("--feeds-file", str(feeds), "init")
    flags = ["--set", "fetch_timeout_seconds=2", "--set", "max_feed_mb=1", "--set", "model_path=missing.skops"]
    first = run_cli(*flags, "poll", "--all").output
    assert "4 feeds: 2 fetched, 0 not modified, 2 failed" in first
    stored = _count(database_url, Article)
    second = run_cli(*flags, "poll", "--all").output
    assert "4 feeds: 2 fetched, 0 not modified, 2 failed; 0 new articles" in second
    assert _count(database_url, Article) == stored and _count(database_url, ArticleSource) == stored
    engine = make_engine(database_url)
    with Session(engine) as session:
        errors = dict(session.exec(select(Feed.name, Feed.consecutive_errors)).all())
    engine.dispose()
    assert errors == {"good": 0, "hang": 2, "flood": 2, "liar": 0}
