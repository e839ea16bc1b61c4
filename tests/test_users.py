"""Dashboard users from the command line: hashed passwords read without echo, roles, lockout, first admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from monitor.store.db import session_scope
from monitor.store.schema import ActivityLog, User, utcnow
from monitor.users import (
    LOCK_AFTER_FAILURES,
    UserError,
    authenticate,
    create_user,
    hash_password,
    verify_password,
)


def test_passwords_are_salted_scrypt_hashes():
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second and first.startswith("scrypt$")
    assert "correct horse" not in first
    assert verify_password("correct horse", first) and not verify_password("correct horsE", first)
    assert not verify_password("anything", "not-a-hash")


def test_users_add_reads_the_password_twice_and_stores_only_a_hash(run_cli, initialised, engine):
    result = run_cli("users", "add", "amina", "--role", "analyst", input="s3cret-enough-pw\ns3cret-enough-pw\n")
    assert "Created analyst amina." in result.output
    assert "s3cret-enough-pw" not in result.output  # not echoed
    with Session(engine) as session:
        user = session.exec(select(User).where(User.name == "amina")).one()
    assert user.role == "analyst" and user.password_hash.startswith("scrypt$")
    assert "s3cret-enough-pw" not in user.password_hash
    listing = run_cli("users", "list").output
    assert "amina" in listing and "analyst" in listing and "scrypt" not in listing


def test_bad_user_input_is_refused_clearly(run_cli, initialised):
    short = run_cli("users", "add", "jo", "--role", "viewer", input="short\nshort\n", expect=1).output
    assert "at least 10 characters" in short
    mismatch = run_cli("users", "add", "jo", "--role", "viewer",
                       input="first-password\nsecond-password\nfirst-password\nfirst-password\n").output
    assert "do not match" in mismatch.lower() or "Created viewer jo." in mismatch
    assert "already a user named 'jo'" in run_cli("users", "add", "jo", "--role", "viewer",
                                                  input="another-password\nanother-password\n", expect=1).output
    assert "'superuser' is not one of" in run_cli("users", "add", "kim", "--role", "superuser", expect=2).output
    assert "no user named 'ghost'" in run_cli("users", "set-role", "ghost", "admin", expect=1).output


def test_role_changes_disabling_and_password_resets_are_logged(run_cli, initialised, engine):
    run_cli("users", "add", "sam", "--role", "viewer", input="first-password\nfirst-password\n")
    run_cli("users", "set-role", "sam", "admin")
    run_cli("users", "disable", "sam")
    with Session(engine) as session:
        with pytest.raises(UserError, match="disabled"):
            authenticate(session, "sam", "first-password")
    run_cli("users", "enable", "sam")
    run_cli("users", "set-password", "sam", input="second-password\nsecond-password\n")
    with Session(engine) as session:
        assert authenticate(session, "sam", "second-password").role == "admin"
        with pytest.raises(UserError):
            authenticate(session, "sam", "first-password")
        actions = session.exec(select(ActivityLog.action).where(ActivityLog.target == "sam")
                               .order_by(ActivityLog.id)).all()
    assert actions[:5] == ["user.add", "user.role", "user.disable", "user.enable", "user.password"]


def test_repeated_failures_lock_an_account_for_a_while(initialised, engine):
    with session_scope(engine) as session:
        create_user(session, "lee", "viewer", "the-right-password", actor="test")
    now = utcnow()
    for _ in range(LOCK_AFTER_FAILURES):
        with session_scope(engine) as session:
            with pytest.raises(UserError, match="wrong user name or password"):
                authenticate(session, "lee", "a-wrong-password", now=now)
            session.commit()
    with session_scope(engine) as session:
        with pytest.raises(UserError, match="locked"):
            authenticate(session, "lee", "the-right-password", now=now)
        assert authenticate(session, "lee", "the-right-password", now=now + timedelta(minutes=16)).name == "lee"


def test_init_creates_the_first_admin_once_and_loads_the_demo_only_on_a_first_run(run_cli, database_url, engine):
    from monitor.classify.model import PACKAGED_MODEL
    from monitor.store.schema import Article

    first = run_cli("init", "--create-admin").output
    assert "user:     admin" in first
    password = first.split("password: ")[1].split()[0]
    with Session(engine) as session:
        assert authenticate(session, "admin", password).role == "admin"
    again = run_cli("init", "--create-admin").output
    assert "password:" not in again
    if PACKAGED_MODEL.is_file():
        loaded = run_cli("init", "--demo").output
        assert "loading the bundled demo feeds" in loaded
        with Session(engine) as session:
            count = len(session.exec(select(Article.id)).all())
        assert count > 0
        assert "demo" not in run_cli("init", "--demo").output.lower().replace("--demo", "")
        with Session(engine) as session:
            assert len(session.exec(select(Article.id)).all()) == count
