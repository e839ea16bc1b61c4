"""The worker process: scheduled polling, a clean SIGTERM, and a SIGKILL mid-cycle that loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlmodel import Session, func, select

from monitor.store.db import make_engine
from monitor.store.schema import Article, ArticleSource
from tests.conftest import REPO_ROOT
from tests.feed_server import FIXTURES, Response

UNIQUE_STORIES = 7   # levant_wire 3 + second_outlet 1 new (1 shared) + atom 1 + broken 1 + latin1 1
FEED_LINKS = 8       # every (story, feed) pair


def _counts(database_url) -> tuple[int, int]:
    engine = make_engine(database_url)
    with Session(engine) as session:
        counts = (session.exec(select(func.count()).select_from(Article)).one(),
                  session.exec(select(func.count()).select_from(ArticleSource)).one())
    engine.dispose()
    return counts


def wait_for(predicate, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def worker_env(run_cli, database_url, feeds_file, feed_server, tmp_path):
    for path, name in (("/wire", "levant_wire.xml"), ("/second", "second_outlet.xml"),
                       ("/atom", "atom_no_encoding.xml"), ("/broken", "broken.xml")):
        feed_server.serve_file(path, name)
    # The slow feed drips its body for about three seconds: the worker is mid-cycle while it runs.
    slow = (FIXTURES / "latin1.xml").read_bytes() + b" " * 14_000
    feed_server.routes["/slow"] = Response(200, slow, {"Content-Type": "application/rss+xml"}, drip=0.2)
    feeds = feeds_file(*[(name, feed_server.url(path)) for name, path in
                         (("Wire", "/wire"), ("Second", "/second"), ("Atom", "/atom"), ("Broken", "/broken"),
                          ("Slow", "/slow"))])
    run_cli("--feeds-file", str(feeds), "init")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(MONITOR_DATABASE_URL=database_url, MONITOR_FEEDS_FILE=str(feeds), MONITOR_ALLOW_PRIVATE_FEEDS="true",
               MONITOR_FETCH_TIMEOUT_SECONDS="6",
               MONITOR_WORKER_TICK_SECONDS="1", PYTHONPATH=str(REPO_ROOT))
    return env


def start_worker(env, tmp_path, name):
    """A real `monitor worker` process logging to tmp_path/NAME.log; returns (process, log path)."""
    log = open(tmp_path / f"{name}.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "monitor.cli", "worker"], env=env, cwd=tmp_path,
                               stdout=log, stderr=subprocess.STDOUT)
    return process, tmp_path / f"{name}.log"


def test_sigkill_mid_cycle_then_restart_loses_and_doubles_nothing(worker_env, database_url, tmp_path, feed_server):
    worker, _ = start_worker(worker_env, tmp_path, "first")
    try:
        # The fast feeds are stored while the slow one is still dripping: kill the worker right then.
        wait_for(lambda: _counts(database_url)[0] >= UNIQUE_STORIES - 1, 30, "the fast feeds")
        assert _counts(database_url)[0] < UNIQUE_STORIES, "the slow feed finished too early to test a kill"
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    restarted, log = start_worker(worker_env, tmp_path, "second")
    try:
        # The dead worker's claim on the slow feed runs out; the new worker polls it.
        wait_for(lambda: _counts(database_url) == (UNIQUE_STORIES, FEED_LINKS), 60, "the slow feed after restart")
        restarted.send_signal(signal.SIGTERM)
        assert restarted.wait(30) == 0
    finally:
        if restarted.poll() is None:
            restarted.kill()
    assert _counts(database_url) == (UNIQUE_STORIES, FEED_LINKS)
    assert feed_server.hits("/wire") == 1, "a feed stored before the kill is not fetched again early"
    assert "worker stopped" in log.read_text()


def test_sigterm_finishes_the_current_step_and_exits_cleanly(worker_env, database_url, tmp_path):
    worker, log = start_worker(worker_env, tmp_path, "term")
    try:
        wait_for(lambda: _counts(database_url)[0] >= 1, 30, "the first stored feed")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    text = log.read_text()
    assert "received SIGTERM: finishing the current step" in text and "worker stopped" in text
    # Whatever the worker had started was stored whole: every stored story has its feed link.
    articles, links = _counts(database_url)
    assert links >= articles
