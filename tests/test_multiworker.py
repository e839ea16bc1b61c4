"""Two `monitor worker` processes on one store: every feed polled once, every mail sent once, and when one
worker is killed the other finishes the work.

Real parts only: worker subprocesses, a loopback feed server whose request log counts the fetches of each
feed, and an aiosmtpd server whose inbox counts the mail.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections import Counter

import pytest
from sqlmodel import Session, func, select

from monitor.classify.model import PACKAGED_MODEL
from monitor.store.db import make_engine
from monitor.store.schema import Alert, Article, Classification, Feed, Notification
from tests.conftest import REPO_ROOT
from tests.test_worker import start_worker, wait_for

pytestmark = pytest.mark.skipif(not PACKAGED_MODEL.is_file(), reason="no trained model in models/")

GENERATED_FEEDS = 40
STORIES_PER_FEED = 2
# levant_wire.xml carries 3 stories (one the seed story), second_outlet.xml 2, one of them the wire's.
EXPECTED_ARTICLES = GENERATED_FEEDS * STORIES_PER_FEED + 3 + 1
FETCH_WORKERS = 2


def _generated_items(number: int) -> list[tuple[str, str, str]]:
    # Routine local news with nothing about detention: these feeds give the workers work, not alerts.
    return [(f"District {number} council approves budget item {item}",
             f"https://district{number}.example/news/{item}",
             f"The council of district {number} voted on spending item {item} for schools and roads.")
            for item in range(STORIES_PER_FEED)]


@pytest.fixture
def shared_store(run_cli, database_url, feeds_file, feed_server, smtp_server):
    """A store with 42 feeds (two of them carry the seed story) and a subscriber for Syria; returns the
    environment for worker processes and the feed paths."""
    paths = []
    for number in range(GENERATED_FEEDS):
        # Each answer takes half a second: a cycle lasts long enough for both workers to take part.
        feed_server.serve_generated(f"/f{number}", f"District {number} news", _generated_items(number), delay=0.5)
        paths.append(f"/f{number}")
    feed_server.serve_file("/wire", "levant_wire.xml")
    feed_server.serve_file("/second", "second_outlet.xml")
    paths += ["/wire", "/second"]
    feeds = feeds_file(*[(path.strip("/"), feed_server.url(path)) for path in paths])
    run_cli("--feeds-file", str(feeds), "init")
    run_cli("subscribers", "add", "syria-desk@example.org", "--country", "SY")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(MONITOR_DATABASE_URL=database_url, MONITOR_FEEDS_FILE=str(feeds), MONITOR_ALLOW_PRIVATE_FEEDS="true",
               MONITOR_WORKER_TICK_SECONDS="1", MONITOR_FETCH_WORKERS=str(FETCH_WORKERS),
               MONITOR_FETCH_TIMEOUT_SECONDS="3",
               MONITOR_SMTP_HOST="127.0.0.1", MONITOR_SMTP_PORT=str(smtp_server.port),
               MONITOR_SMTP_STARTTLS="false", MONITOR_SMTP_FROM="alerts@example.org",
               PYTHONPATH=str(REPO_ROOT))
    return env, paths


def _store_state(database_url) -> dict:
    engine = make_engine(database_url)
    with Session(engine) as session:
        state = {
            "checked": session.exec(select(func.count()).select_from(Feed)
                                    .where(Feed.last_checked_at.is_not(None))).one(),
            "articles": session.exec(select(func.count()).select_from(Article)).one(),
            "classifications": session.exec(select(func.count()).select_from(Classification)).one(),
            "notifications": Counter(session.exec(select(Notification.status)).all()),
            "alert_keys": Counter(session.exec(select(Alert.group_key)).all()),
        }
    engine.dispose()
    return state


def _all_done(database_url, feeds: int) -> bool:
    state = _store_state(database_url)
    mail = state["notifications"]
    return (state["checked"] == feeds and state["articles"] == EXPECTED_ARTICLES
            and state["classifications"] == EXPECTED_ARTICLES and mail.get("sent", 0) >= 1
            and set(mail) == {"sent"})


def _feeds_polled(log_text: str) -> int:
    """Feeds this worker polled, from its cycle summaries ("12 feeds: 12 fetched, ...")."""
    return sum(int(n) for n in re.findall(r"(\d+) feeds: ", log_text))


def _stop(*workers) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(60)
        except Exception:
            worker.kill()
            raise


def _assert_each_mail_once(smtp_server, database_url) -> None:
    message_ids = [m["Message-ID"] for _, m in smtp_server.inbox.messages]
    assert message_ids and len(message_ids) == len(set(message_ids)), message_ids
    assert len(message_ids) == _store_state(database_url)["notifications"]["sent"]
    assert smtp_server.inbox.to("syria-desk@example.org")


def test_two_workers_share_a_cycle_and_poll_and_mail_nothing_twice(shared_store, database_url, tmp_path,
                                                                   feed_server, smtp_server):
    env, paths = shared_store
    first, first_log = start_worker(env, tmp_path, "first")
    second, second_log = start_worker(env, tmp_path, "second")
    try:
        wait_for(lambda: _all_done(database_url, len(paths)), 120, "both workers to finish the cycle and mail")
        # A few more ticks of both workers: nothing is due again, nothing more is sent.
        requests_before = len(feed_server.requests)
        time.sleep(4)
        assert len(feed_server.requests) == requests_before
    finally:
        _stop(first, second)
    assert first.returncode == 0 and second.returncode == 0

    hits = Counter(path.split("?")[0] for path, _ in feed_server.requests)
    assert all(hits[path] == 1 for path in paths), {p: hits[p] for p in paths if hits[p] != 1}
    polled = [_feeds_polled(first_log.read_text()), _feeds_polled(second_log.read_text())]
    assert sum(polled) == len(paths) and min(polled) > 0, f"feeds polled per worker: {polled}"

    state = _store_state(database_url)
    assert state["articles"] == state["classifications"] == EXPECTED_ARTICLES  # each article classified once
    assert max(state["alert_keys"].values()) == 1, state["alert_keys"]          # no event split or doubled
    _assert_each_mail_once(smtp_server, database_url)


def test_when_one_worker_is_killed_the_other_finishes_the_work(shared_store, database_url, tmp_path, feed_server,
                                                               smtp_server):
    env, paths = shared_store
    doomed, _ = start_worker(env, tmp_path, "doomed")
    survivor, survivor_log = start_worker(env, tmp_path, "survivor")
    try:
        wait_for(lambda: _store_state(database_url)["checked"] >= 6, 60, "the first polled feeds")
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(10)
        # The dead worker's claims lapse (a few fetch rounds of 3 s); the survivor takes them over.
        wait_for(lambda: _all_done(database_url, len(paths)), 150, "the survivor to finish the work")
        assert survivor.poll() is None, "the surviving worker is still running"
    finally:
        if doomed.poll() is None:
            doomed.kill()
        _stop(survivor)
    assert survivor.returncode == 0

    hits = Counter(path.split("?")[0] for path, _ in feed_server.requests)
    assert all(hits[path] >= 1 for path in paths)
    # Only fetches the dead worker had in flight can have been repeated: at most one per fetch slot.
    assert sum(hits[path] for path in paths) - len(paths) <= FETCH_WORKERS, hits
    state = _store_state(database_url)
    assert state["articles"] == state["classifications"] == EXPECTED_ARTICLES
    assert max(state["alert_keys"].values()) == 1, state["alert_keys"]
    _assert_each_mail_once(smtp_server, database_url)
    assert "Traceback" not in survivor_log.read_text()
