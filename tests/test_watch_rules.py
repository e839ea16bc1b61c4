"""Watch rules: words, phrases or a facility, in en/fr/ar, caught in stored articles signal or not; their
low watch alerts route through the outbox (here to a loopback webhook) to the rule's owner only."""

from __future__ import annotations

import json

import pytest
from sqlmodel import Session, select

from monitor.alerts.watch import Matcher, split_terms
from monitor.classify.model import PACKAGED_MODEL
from monitor.store.db import make_engine
from monitor.store.schema import Alert, Notification, WatchMatch
from tests.test_webhook_delivery import WebhookReceiver


@pytest.mark.parametrize("terms, title, summary, expected", [
    (["Roj", "Shaddadi"], "Unrest in Roj camp", "nothing else", ["Roj"]),
    (["Roj"], "Rojava news", "the Roja river", []),  # whole words only
    (["Shaddadi"], "x", "Guards at SHADDĀDĪ prison", ["Shaddadi"]),  # case and diacritics
    (["évasion"], "L'Évasion de la prison", "", ["évasion"]),  # French elision and accents
    (["Alger"], "Procès d'Alger", "", ["Alger"]),
    (["الشدادي"], "هروب من سجن الشدادي", "", ["الشدادي"]),
    (["الشدادي"], "x", "وفي الشدادي اشتباكات", ["الشدادي"]),  # joined conjunction
    (["الشدادي"], "x", "بالشدادي", ["الشدادي"]),  # joined preposition and article
    (["مخيم الهول"], "x", "مُخيّم الهول", ["مخيم الهول"]),  # tashkeel dropped
    (["al-Hol camp"], "x", "aid at the Al Hol camp", ["al-Hol camp"]),
])
def test_terms_match_whole_words_in_every_supported_language(terms, title, summary, expected):
    assert Matcher.for_terms(terms).find(title, summary) == expected


def test_a_line_of_terms_splits_on_or_commas_and_keeps_quoted_phrases():
    assert split_terms('Roj or Shaddadi, "al-Hol camp" ou Ghwayran') == ["al-Hol camp", "Roj", "Shaddadi", "Ghwayran"]


@pytest.mark.skipif(not PACKAGED_MODEL.is_file(), reason="no trained model in models/")
def test_a_watch_rule_alerts_its_owner_on_new_articles_signal_or_not(run_cli, database_url, feeds_file, feed_server):
    receiver = WebhookReceiver().start()
    try:
        feed_server.serve_file("/wire", "levant_wire.xml")
        run_cli("--feeds-file", str(feeds_file(("Wire", feed_server.url("/wire")))), "init")
        run_cli("subscribers", "add", "watcher", "--url", f"json://127.0.0.1:{receiver.port}/hook",
                "--min-severity", "critical")
        run_cli("subscribers", "add", "bystander", "--url", f"json://127.0.0.1:{receiver.port}/other",
                "--min-severity", "critical")
        run_cli("watch", "add", "banks", "--term", "central bank or interest rates", "--subscriber", "watcher")
        run_cli("watch", "add", "hol", "--facility", "al-Hol camp")
        assert "already a watch rule" in run_cli("watch", "add", "banks", "--term", "x", expect=1).output
        assert "either words" in run_cli("watch", "add", "both", expect=1).output
        listed = run_cli("watch", "list").output
        assert 'banks: "central bank" or "interest rates"  (notifies watcher; 0 caught)' in listed
        assert "hol: facility" in listed

        output = run_cli("poll").output
        assert "Watch rules caught" in output, output
        engine = make_engine(database_url)
        with Session(engine) as session:
            matches = session.exec(select(WatchMatch)).all()
            alerts = {a.id: a for a in session.exec(select(Alert).where(Alert.group_key.startswith("watch:")))}
            notes = session.exec(select(Notification)).all()
        engine.dispose()
        by_rule = {m.rule_id: m for m in matches}
        assert len(by_rule) == 2 and all(alerts[m.alert_id].severity == "low" for m in matches)
        # The bank story carries no signal: the rule still caught it, and only its owner heard of it.
        bank_alerts = [a for a in alerts.values() if "banks" in a.severity_reason]
        assert len(bank_alerts) == 1 and bank_alerts[0].facility_id is None
        bank_notes = [n for n in notes if n.alert_id == bank_alerts[0].id]
        assert len(bank_notes) == 1 and bank_notes[0].status == "sent"
        assert [p["path"] for p in receiver.received if "central bank" in p["json"]["message"].lower()] == ["/hook"]
        # The unowned al-Hol rule routes like any low alert: both subscribers want critical only, so nobody.
        hol = [a for a in alerts.values() if "'hol'" in a.severity_reason]
        assert hol and not [n for n in notes if n.alert_id == hol[0].id]

        # Polling again raises nothing twice.
        run_cli("poll")
        engine = make_engine(database_url)
        with Session(engine) as session:
            assert len(session.exec(select(WatchMatch)).all()) == len(matches)
        engine.dispose()

        tested = run_cli("watch", "test", "hol").output
        assert "facility al-Hol" in tested and "water shortages" in tested
        said = run_cli("watch", "test", "Hasakah or central bank", "--json").output
        adhoc = [json.loads(line) for line in said.splitlines()]
        assert len(adhoc) == 2 and {m for row in adhoc for m in row["matched"]} == {"Hasakah", "central bank"}
        assert "0 article(s)" in run_cli("watch", "test", "Shaddadi").output
        run_cli("watch", "remove", "banks")
        assert "banks" not in run_cli("watch", "list").output
        assert "[removed]" in run_cli("watch", "list", "--all").output
        assert "no watch rule" in run_cli("watch", "remove", "banks", expect=1).output
    finally:
        receiver.stop()


# --- the dashboard's Subscriptions page (AppTest) -------------------------------------------------------------

def _by_label(elements, label):
    return next(e for e in elements if e.label == label)


def test_the_subscriptions_page_manages_rules_and_masked_urls(run_cli, initialised, engine, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from monitor.store.db import session_scope
    from monitor.users import create_user
    from tests.conftest import REPO_ROOT

    secret = "Zq8hookSecret"
    with session_scope(engine) as session:
        create_user(session, "adam", "admin", "a-long-test-password", actor="test")
        create_user(session, "vera", "viewer", "a-long-test-password", actor="test")
    run_cli("subscribers", "add", "desk@example.org")
    monkeypatch.setenv("MONITOR_DATABASE_URL", initialised)

    def logged_in(name):
        at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=90)
        at.run()
        at.text_input[0].input(name)
        at.text_input[1].input("a-long-test-password")
        at.button[0].click().run()
        at.sidebar.radio(key="page").set_value("Subscriptions").run()
        assert not at.exception, at.exception
        return at

    at = logged_in("adam")
    _by_label(at.text_input, "Rule name").input("camps")
    _by_label(at.text_input, "Words or phrases").input("Roj or Shaddadi")
    _by_label(at.button, "Add rule").click().run()
    assert not at.exception, at.exception
    assert "camps" in list(at.dataframe[0].value["name"])
    _by_label(at.text_input, "URL (Apprise form: json://…, slack://…, tgram://…, ntfy://…)").input(
        f"json://bot:{secret}@127.0.0.1:9/hook")
    _by_label(at.button, "Add URL").click().run()
    assert not at.exception, at.exception
    subscribers = next(f.value for f in at.dataframe if "urls" in f.value.columns)
    assert list(subscribers["urls"]) == ["json://bot:****@127.0.0.1:9/hook"]
    page = "\n".join(str(e.value) for kind in ("markdown", "text", "caption", "success", "error", "info")
                     for e in getattr(at, kind)) + subscribers.to_string()
    assert secret not in page
    run_output = run_cli("subscribers", "list").output
    assert secret not in run_output and "json://bot:****@127.0.0.1:9/hook" in run_output

    # A bad rule is refused with the reason; a viewer sees the rules and masked URLs but no forms.
    _by_label(at.text_input, "Rule name").input("empty")
    _by_label(at.text_input, "Words or phrases").input("")
    _by_label(at.button, "Add rule").click().run()
    assert any("either words" in str(e.value) for e in at.error), [e.value for e in at.error]
    viewer = logged_in("vera")
    assert not [b for b in viewer.button if b.label in ("Add rule", "Add URL", "Remove URL")]
    assert "Notification URLs are managed by admins." in [c.value for c in viewer.caption]
