"""Shared fixtures: real SQLite files, a real PostgreSQL schema per test, the CLI runner."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from monitor.cli import cli
from monitor.store.db import make_engine

POSTGRES_URL = os.environ.get("MONITOR_TEST_POSTGRES_URL")
REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch, tmp_path):
    """No test sees the developer's own MONITOR_* settings or monitor.toml."""
    for name in list(os.environ):
        if name.startswith("MONITOR_") and name != "MONITOR_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    # Every feed server in these tests is on loopback, which the address guard refuses by default; the
    # SSRF tests (tests/test_ssrf*.py) turn it back off to check the refusals.
    monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_FEEDS", "true")
    monkeypatch.chdir(tmp_path)


def _postgres_schema_url(base_url: str, schema: str) -> str:
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}options=-csearch_path%3D{schema}"


@contextmanager
def postgres_schema():
    """A fresh, empty schema on the test PostgreSQL server (its URL), dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield _postgres_schema_url(POSTGRES_URL, schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def postgres_url():
    if not POSTGRES_URL:
        pytest.skip("MONITOR_TEST_POSTGRES_URL is not set")
    with postgres_schema() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'store' / 'monitor.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request, tmp_path) -> str:
    """Each test using this runs on SQLite and, when configured, on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store' / 'monitor.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def run_cli(database_url):
    """Invoke `monitor` against the test store; fails the test on an unexpected exit code."""
    runner = CliRunner()

    def invoke(*args: str, expect: int = 0, input: str | None = None):
        result = runner.invoke(cli, ["--database-url", database_url, *args], input=input, catch_exceptions=False)
        assert result.exit_code == expect, f"exit {result.exit_code}: {result.output}"
        return result

    return invoke


@pytest.fixture
def initialised(run_cli, database_url):
    run_cli("init")
    return database_url


@pytest.fixture
def engine(initialised):
    engine = make_engine(initialised)
    yield engine
    engine.dispose()


@pytest.fixture
def feed_server():
    from tests.feed_server import FeedServer

    server = FeedServer().start()
    yield server
    server.stop()


@pytest.fixture
def feeds_file(tmp_path):
    """Write a feeds.yaml naming (name, url) pairs; returns the path."""
    def write(*feeds: tuple[str, str], **extra) -> Path:
        import yaml

        path = tmp_path / "feeds.yaml"
        path.write_text(yaml.safe_dump({"feeds": [{"name": n, "url": u, **extra} for n, u in feeds]}))
        return path

    return write


class _Inbox:
    """Messages an aiosmtpd server on loopback received."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        import email

        message = email.message_from_bytes(envelope.content)
        self.messages.append((envelope.rcpt_tos, message))
        return "250 Message accepted for delivery"

    def to(self, address):
        return [m for rcpts, m in self.messages if address in rcpts]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on a loopback port; `.stop()` and `.start()` simulate an outage."""
    from aiosmtpd.controller import Controller

    class Server:
        def __init__(self):
            self.inbox = _Inbox()
            self.port = free_port()
            self.controller = None

        def start(self):
            self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
            self.controller.start()

        def stop(self):
            if self.controller is not None:
                self.controller.stop()
                self.controller = None

    server = Server()
    server.start()
    yield server
    server.stop()
