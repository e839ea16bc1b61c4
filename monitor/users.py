"""Dashboard users: salted scrypt password hashes, roles, lockout after repeated failures.

Roles are cumulative: a viewer reads, an analyst also triages alerts and edits facilities and feeds,
an admin also manages models. The CLI creates users; nothing is visible in the dashboard before login.

Sessions end: after `session_idle_minutes` without activity, and everywhere at logout (each user has a
session epoch, raised at logout; a dashboard session started under an older epoch is over). Every sign-in
event (login, failure, unknown name, lockout, refusal, logout, expiry) is in the activity log, which admins
see in the dashboard.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Optional

from sqlalchemy import func
from sqlmodel import Session, select

from monitor.store.schema import USER_ROLES, ActivityLog, User, utcnow

# scrypt work factors (RFC 7914 interactive-login range): about 50 ms and 16 MiB per check.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
MIN_PASSWORD_LENGTH = 10
LOCK_AFTER_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
# Activity-log actions of signing in and out, as admins review them.
SIGN_IN_ACTIONS = ("login", "login.failed", "login.unknown", "login.locked", "login.refused", "logout",
                   "session.expired")
_SHOWN_NAME = 100  # an unknown name typed at the login form is logged, cut to this length


class UserError(ValueError):
    pass


@dataclass(frozen=True)
class LoggedInUser:
    """What the dashboard keeps in a browser session: never the hash."""

    id: int
    name: str
    role: str
    # The user's session epoch when this session began; a logout anywhere raises the stored one.
    session_epoch: int = 0

    def can(self, role: str) -> bool:
        return USER_ROLES.index(self.role) >= USER_ROLES.index(role)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    def encode(raw: bytes) -> str:
        return base64.b64encode(raw).decode("ascii")

    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt)}${encode(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r),
                                p=int(p), dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def check_password_strength(name: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if password.strip().lower() == name.strip().lower():
        raise UserError("the password must not be the user name")


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def create_user(session: Session, name: str, role: str, password: str, actor: str) -> User:
    name = name.strip()
    if not name:
        raise UserError("the user name is empty")
    if role not in USER_ROLES:
        raise UserError(f"role must be one of {', '.join(USER_ROLES)}")
    if session.exec(select(User).where(User.name == name)).first() is not None:
        raise UserError(f"there is already a user named {name!r}")
    check_password_strength(name, password)
    user = User(name=name, role=role, password_hash=hash_password(password))
    session.add(user)
    session.add(ActivityLog(actor=actor, action="user.add", target=name, detail=f"role {role}"))
    session.flush()
    return user


def get_user(session: Session, name: str) -> User:
    user = session.exec(select(User).where(User.name == name.strip())).first()
    if user is None:
        raise UserError(f"no user named {name!r}")
    return user


def set_password(session: Session, name: str, password: str, actor: str) -> None:
    user = get_user(session, name)
    check_password_strength(user.name, password)
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    session.add(ActivityLog(actor=actor, action="user.password", target=user.name))


def set_role(session: Session, name: str, role: str, actor: str) -> None:
    if role not in USER_ROLES:
        raise UserError(f"role must be one of {', '.join(USER_ROLES)}")
    user = get_user(session, name)
    session.add(ActivityLog(actor=actor, action="user.role", target=user.name, detail=f"{user.role} -> {role}"))
    user.role = role


def set_active(session: Session, name: str, active: bool, actor: str) -> None:
    user = get_user(session, name)
    user.active = active
    session.add(ActivityLog(actor=actor, action="user.enable" if active else "user.disable", target=user.name))


def authenticate(session: Session, name: str, password: str, now: Optional[datetime] = None) -> LoggedInUser:
    """The user, if the name and password match and the account is usable; UserError otherwise.

    The error never says whether the name exists, and a wrong password costs the same scrypt work
    as a right one, so the login form can't be used to list accounts.
    """
    now = now or utcnow()
    user = session.exec(select(User).where(User.name == name.strip())).first()
    if user is None:
        verify_password(password, _dummy_hash())
        shown = name.strip()[:_SHOWN_NAME] or "(empty)"
        session.add(ActivityLog(actor="login form", action="login.unknown", target=shown,
                                detail="no user by this name"))
        raise UserError("wrong user name or password")
    if user.locked_until is not None and user.locked_until > now:
        session.add(ActivityLog(actor=user.name, action="login.refused", target=user.name,
                                detail=f"account locked until {user.locked_until:%Y-%m-%d %H:%M} UTC"))
        raise UserError("too many failed logins: this account is locked for a few minutes")
    if not verify_password(password, user.password_hash):
        user.failed_logins += 1
        session.add(ActivityLog(actor=user.name, action="login.failed", target=user.name,
                                detail=f"wrong password ({user.failed_logins} of {LOCK_AFTER_FAILURES})"))
        if user.failed_logins >= LOCK_AFTER_FAILURES:
            user.locked_until = now + LOCK_FOR
            user.failed_logins = 0
            session.add(ActivityLog(actor=user.name, action="login.locked", target=user.name,
                                    detail=f"{LOCK_AFTER_FAILURES} failed logins: locked for "
                                           f"{int(LOCK_FOR.total_seconds() // 60)} minutes"))
        raise UserError("wrong user name or password")
    if not user.active:
        session.add(ActivityLog(actor=user.name, action="login.refused", target=user.name,
                                detail="account disabled"))
        raise UserError("this account is disabled; ask an admin")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.add(ActivityLog(actor=user.name, action="login", target=user.name))
    return LoggedInUser(id=user.id, name=user.name, role=user.role, session_epoch=user.session_epoch)


def ensure_first_admin(session: Session, name: str = "admin") -> Optional[str]:
    """On a store with no users, create an admin and return its generated password (shown once)."""
    if session.exec(select(User.id)).first() is not None:
        return None
    password = generate_password()
    create_user(session, name, "admin", password, actor="monitor init")
    return password


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def list_users(session: Session) -> list[User]:
    return list(session.exec(select(User).order_by(User.name)))


def user_state(user: User, now: Optional[datetime] = None) -> str:
    """active, locked (too many failed logins, for now) or disabled."""
    if not user.active:
        return "disabled"
    if user.locked_until and user.locked_until > (now or utcnow()):
        return "locked"
    return "active"


def has_users(session: Session) -> bool:
    return session.exec(select(User.id)).first() is not None


def current_user(session: Session, user_id: int) -> Optional[LoggedInUser]:
    """The user as the store has them now, or None when disabled or removed."""
    user = session.get(User, user_id)
    if user is None or not user.active:
        return None
    return LoggedInUser(id=user.id, name=user.name, role=user.role, session_epoch=user.session_epoch)


def log_out_everywhere(session: Session, user_id: int) -> None:
    """End every session of this user, in every browser: their sessions' epoch is now out of date."""
    user = session.get(User, user_id)
    if user is None:
        return
    user.session_epoch += 1
    session.add(ActivityLog(actor=user.name, action="logout", target=user.name, detail="every session ended"))


def record_session_expired(session: Session, user: LoggedInUser, idle_minutes: int) -> None:
    session.add(ActivityLog(actor=user.name, action="session.expired", target=user.name,
                            detail=f"no activity for {idle_minutes} minutes"))


def sign_in_activity(session: Session, limit: int = 200, only_problems: bool = False) -> list[dict]:
    """The latest sign-in events, newest first, for admins: who, what, when, and why it was refused."""
    actions = SIGN_IN_ACTIONS if not only_problems else ("login.failed", "login.unknown", "login.locked",
                                                         "login.refused")
    rows = session.exec(select(ActivityLog).where(ActivityLog.action.in_(actions))
                        .order_by(ActivityLog.at.desc(), ActivityLog.id.desc()).limit(limit))
    return [{"when": r.at, "who": r.actor, "event": r.action, "account": r.target, "detail": r.detail} for r in rows]


def sign_in_summary(session: Session, since: datetime) -> dict[str, int]:
    """Counts of sign-in events since a time, and how many accounts are locked now."""
    counts = dict(session.exec(select(ActivityLog.action, func.count()).where(
        ActivityLog.action.in_(SIGN_IN_ACTIONS), ActivityLog.at >= since).group_by(ActivityLog.action)).all())
    locked = session.exec(select(func.count()).select_from(User).where(User.locked_until > utcnow())).one()
    return {**{action: counts.get(action, 0) for action in SIGN_IN_ACTIONS}, "locked_now": locked}
