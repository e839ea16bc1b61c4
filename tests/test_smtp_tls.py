"""Mail over STARTTLS with a login, against a real aiosmtpd server that demands both; a certificate made
for the test with the openssl command; and the ways it must refuse to send (stripped STARTTLS, an
untrusted certificate, a wrong password) while keeping the mail queued."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from monitor.classify.model import PACKAGED_MODEL
from monitor.notify.outbox import send_due
from monitor.settings import load_settings
from monitor.store.db import make_engine
from monitor.store.schema import Notification, utcnow
from tests.conftest import _Inbox, free_port

pytestmark = [pytest.mark.skipif(not PACKAGED_MODEL.is_file(), reason="no trained model in models/"),
              pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")]

USER, PASSWORD = "alerts-sender", "correct horse battery staple"


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1; returns (cert, key) paths."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


class TlsInbox(_Inbox):
    """Records, with each message, whether it came over TLS and who logged in."""

    def __init__(self):
        super().__init__()
        self.sessions = []

    async def handle_DATA(self, server, session, envelope):
        self.sessions.append((session.ssl is not None, session.authenticated,
                              session.auth_data.login.decode() if session.auth_data else None))
        return await super().handle_DATA(server, session, envelope)


def _authenticator(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult

    ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


@pytest.fixture
def tls_smtp(certificate):
    """aiosmtpd that requires STARTTLS before anything and a login before mail."""
    from aiosmtpd.controller import Controller

    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    inbox, port = TlsInbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            auth_required=True, auth_require_tls=True, authenticator=_authenticator)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def queued_mail(run_cli, database_url, feeds_file, feed_server):
    """The seed story polled with no SMTP configured: its mail waits in the outbox."""
    feed_server.serve_file("/wire", "levant_wire.xml")
    run_cli("--feeds-file", str(feeds_file(("Wire", feed_server.url("/wire")))), "init")
    run_cli("subscribers", "add", "syria-desk@example.org", "--country", "SY")
    run_cli("poll")
    engine = make_engine(database_url)
    with Session(engine) as session:
        assert session.exec(select(Notification)).first() is not None
    yield engine
    engine.dispose()


def _settings(port, **extra):
    flags = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_user": USER, "smtp_password": PASSWORD,
             "smtp_from": "alerts@example.org", "smtp_starttls": True}
    flags.update(extra)
    return load_settings(env={}, flags=flags)


def _rows(engine) -> list[Notification]:
    with Session(engine) as session:
        return list(session.exec(select(Notification)))


def test_mail_is_sent_over_starttls_with_a_login(queued_mail, tls_smtp, certificate, monkeypatch):
    inbox, port = tls_smtp
    # The test's certificate authority, as an operator with a private CA would configure it.
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    queued = len(_rows(queued_mail))

    wrong = send_due(queued_mail, _settings(port, smtp_password="not the password"))
    assert wrong.sent == 0 and inbox.messages == []
    assert all(row.status == "pending" and "535" in row.last_error for row in _rows(queued_mail))
    assert all(PASSWORD not in row.last_error for row in _rows(queued_mail))

    plain = send_due(queued_mail, _settings(port, smtp_starttls=False), now=utcnow() + timedelta(hours=1))
    assert plain.sent == 0 and inbox.messages == []  # this server takes no login or mail in the clear

    report = send_due(queued_mail, _settings(port), now=utcnow() + timedelta(hours=2))
    assert report.sent == queued and len(inbox.messages) == queued
    assert inbox.sessions == [(True, True, USER)] * queued
    assert {row.status for row in _rows(queued_mail)} == {"sent"}


def test_a_server_without_starttls_gets_no_login_and_no_mail(queued_mail, smtp_server):
    # What a man in the middle who strips STARTTLS from the server's answer looks like to the sender.
    report = send_due(queued_mail, _settings(smtp_server.port))
    assert report.sent == 0 and smtp_server.inbox.messages == []
    rows = _rows(queued_mail)
    assert all(row.status == "pending" and "does not offer STARTTLS" in row.last_error for row in rows)


def test_an_untrusted_certificate_keeps_the_mail_queued(queued_mail, tls_smtp, tmp_path, monkeypatch):
    inbox, port = tls_smtp
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-ca.pem"))  # trust nothing
    report = send_due(queued_mail, _settings(port))
    assert report.sent == 0 and inbox.messages == []
    assert all(row.status == "pending" and "CERTIFICATE_VERIFY_FAILED" in row.last_error
               for row in _rows(queued_mail))
