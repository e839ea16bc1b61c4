"""Dashboard sessions that end: after an idle time, and everywhere at logout; every sign-in event is logged
and shown to admins. Streamlit's AppTest against a real store."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from monitor.dashboard.context import LAST_ACTIVITY, SESSION_USER, log_in, log_out, session_user
from monitor.settings import load_settings
from monitor.store.db import session_scope
from monitor.store.schema import ActivityLog, User, utcnow
from monitor.users import LOCK_AFTER_FAILURES, create_user, sign_in_activity
from tests.test_dashboard import PASSWORD, app_for, go_to, logged_in, table_with, texts, users  # noqa: F401, F811 (shared fixtures)


def _actions(engine, account: str) -> list[str]:
    with Session(engine) as session:
        return list(session.exec(select(ActivityLog.action).where(ActivityLog.target == account)
                                 .order_by(ActivityLog.id)))


def test_an_idle_session_ends_after_the_idle_time(app_for, users, initialised, engine):
    at = logged_in(app_for(initialised), "ana")
    assert at.header[0].value == "Alerts"
    # 29 idle minutes (the default allows 30): still logged in, and the run counts as activity.
    at.session_state[LAST_ACTIVITY] = utcnow() - timedelta(minutes=29)
    at.run()
    assert at.header[0].value == "Alerts" and at.session_state[LAST_ACTIVITY] > utcnow() - timedelta(minutes=1)
    at.session_state[LAST_ACTIVITY] = utcnow() - timedelta(minutes=31)
    at.run()
    assert "ended after 30 minutes without activity" in at.warning[0].value
    assert not at.header and at.button[0].label == "Log in"
    assert SESSION_USER not in at.session_state
    assert _actions(engine, "ana")[-2:] == ["login", "session.expired"]


def test_the_idle_time_is_a_setting(app_for, users, initialised, monkeypatch):
    monkeypatch.setenv("MONITOR_SESSION_IDLE_MINUTES", "5")
    at = logged_in(app_for(initialised), "vera")
    at.session_state[LAST_ACTIVITY] = utcnow() - timedelta(minutes=6)
    at.run()
    assert "ended after 5 minutes without activity" in at.warning[0].value


def test_logging_out_ends_every_session_of_the_account(app_for, users, initialised, engine):
    laptop = logged_in(app_for(initialised), "ana")
    phone = logged_in(app_for(initialised), "ana")
    other = logged_in(app_for(initialised), "vera")
    assert phone.header[0].value == "Alerts"
    laptop.sidebar.button(key="logout").click().run()
    assert laptop.button[0].label == "Log in" and not laptop.warning
    phone.run()
    assert "a logout ended every session of this account" in phone.warning[0].value and not phone.header
    other.run()
    assert other.header[0].value == "Alerts", "another user's session is not touched"
    # Logging in again starts a fresh session under the new epoch.
    logged_in(phone, "ana")
    assert phone.header[0].value == "Alerts"
    with Session(engine) as session:
        assert session.exec(select(User.session_epoch).where(User.name == "ana")).one() == 1
    assert _actions(engine, "ana")[-4:] == ["login", "login", "logout", "login"]


def test_every_failure_lockout_and_refusal_is_logged_and_admins_see_them(app_for, users, initialised, engine,
                                                                         run_cli):
    at = app_for(initialised)
    logged_in(at, "nobody-here", "whatever-password")
    for _ in range(LOCK_AFTER_FAILURES):
        at.text_input[0].input("ana")
        at.text_input[1].input("not-the-password")
        at.button[0].click().run()
    at.text_input[0].input("ana")
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert "locked" in at.error[0].value
    run_cli("users", "disable", "vera")
    logged_in(at, "vera")
    assert "disabled" in at.error[0].value

    assert _actions(engine, "ana") == ["user.add"] + ["login.failed"] * LOCK_AFTER_FAILURES + [
        "login.locked", "login.refused"]
    assert _actions(engine, "nobody-here") == ["login.unknown"]
    assert _actions(engine, "vera")[-1] == "login.refused"

    admin = logged_in(app_for(initialised), "adam")
    go_to(admin, "Activity")
    assert admin.header[0].value == "Activity"
    events = table_with(admin, "event")
    assert {"login.unknown", "login.failed", "login.locked", "login.refused", "login"} <= set(events["event"])
    assert "nobody-here" in set(events["account"])
    metrics = {m.label: m.value for m in admin.metric}
    assert metrics["Lockouts (24 h)"] == "1" and metrics["Accounts locked now"] == "1"
    assert metrics["Failed passwords (24 h)"] == str(LOCK_AFTER_FAILURES)
    admin.toggle(key="activity_problems").set_value(True).run()
    assert "login" not in set(table_with(admin, "event")["event"])


def test_only_admins_are_offered_the_activity_page(app_for, users, initialised):
    for name, offered in (("vera", False), ("ana", False), ("adam", True)):
        at = logged_in(app_for(initialised), name)
        assert ("Activity" in at.sidebar.radio(key="page").options) is offered, name


def test_session_rules_without_a_browser(engine):
    """The same rules on a plain dict, with the clock given: what every dashboard run applies."""
    with session_scope(engine) as session:
        create_user(session, "lee", "viewer", "the-right-password", actor="test")
    settings = load_settings(env={}, flags={"session_idle_minutes": 10})
    state: dict = {}
    assert log_in(engine, state, "lee", "wrong-password-here") == "wrong user name or password"
    assert log_in(engine, state, "lee", "the-right-password") is None
    started = state[LAST_ACTIVITY]
    user, ended = session_user(engine, settings, state, now=started + timedelta(minutes=9))
    assert user.name == "lee" and ended is None
    user, ended = session_user(engine, settings, state, now=started + timedelta(minutes=18))
    assert user is not None, "each run moves the idle deadline on"
    user, ended = session_user(engine, settings, state, now=started + timedelta(minutes=29))
    assert user is None and "10 minutes" in ended and state == {}

    other: dict = {}
    log_in(engine, state, "lee", "the-right-password")
    log_in(engine, other, "lee", "the-right-password")
    log_out(engine, state, state[SESSION_USER])
    assert state == {}
    user, ended = session_user(engine, settings, other)
    assert user is None and "logout ended every session" in ended
    with Session(engine) as session:
        events = [row["event"] for row in sign_in_activity(session)]
    assert events[:3] == ["logout", "login", "login"] and "session.expired" in events


@pytest.mark.parametrize("name", ["", " ", "x" * 500])
def test_odd_names_at_the_login_form_are_logged_safely(engine, name):
    state: dict = {}
    assert log_in(engine, state, name, "whatever-password") == "wrong user name or password"
    with Session(engine) as session:
        [row] = session.exec(select(ActivityLog).where(ActivityLog.action == "login.unknown")).all()
    assert 1 <= len(row.target) <= 100
