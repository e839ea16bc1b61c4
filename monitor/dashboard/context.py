"""What every dashboard view gets: settings, the cached engine, the logged-in user, and cached reads;
and logging in and out.

The engine (a connection pool) is cached for the process; sessions are opened per query and never
cached. Cached reads expire after a short ttl and are cleared after every write, so a triage action
shows at once and nothing cached outlives the data by more than the ttl.

A browser session lasts while it is used: each run checks, against the store, that the account is still
active and has not logged out since (a logout ends every session of the account), and that no more than
`session_idle_minutes` passed since the session's last run. Each of those ends it, logged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, MutableMapping, Optional, TypeVar

import streamlit as st
from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitor.settings import Settings
from monitor.store.db import make_engine, session_scope
from monitor.store.schema import utcnow
from monitor.users import (
    LoggedInUser,
    UserError,
    authenticate,
    current_user,
    has_users,
    log_out_everywhere,
    record_session_expired,
)

READ_TTL_SECONDS = 30
T = TypeVar("T")
TITLE = "Detention-facility risk monitor"
# Keys of st.session_state that make a login.
SESSION_USER = "user"
LAST_ACTIVITY = "last_activity"


@st.cache_resource(show_spinner=False)
def get_engine(database_url: str) -> Engine:
    return make_engine(database_url)


@dataclass
class DashboardContext:
    settings: Settings
    user: LoggedInUser

    @property
    def database_url(self) -> str:
        return self.settings.database_url

    @property
    def engine(self) -> Engine:
        return get_engine(self.database_url)

    def read(self, query: Callable[..., T], *args: Any) -> T:
        """Run a function of monitor.dashboard.queries, cached by its arguments for a short while."""
        return _cached_read(self.database_url, query.__module__, query.__name__, *args)

    def write(self, action: Callable[[Session], T]) -> T:
        """Run a change in one transaction, then drop cached reads so every view shows it."""
        with session_scope(self.engine) as session:
            result = action(session)
        st.cache_data.clear()
        return result

    def can(self, role: str) -> bool:
        return self.user.can(role)


@st.cache_data(ttl=READ_TTL_SECONDS, show_spinner=False, max_entries=500)
def _cached_read(database_url: str, module: str, name: str, *args: Any) -> Any:
    import importlib

    query = getattr(importlib.import_module(module), name)
    with Session(get_engine(database_url)) as session:
        return query(session, *args)


def when(value: datetime | None) -> str:
    """Times in the dashboard are UTC, written out so no reader guesses the zone."""
    if value is None or value != value:  # None, or pandas' NaT for a missing time in a table column
        return ""
    return value.strftime("%Y-%m-%d %H:%M")


# --- Logging in and out ---------------------------------------------------------------------------------


def session_user(engine: Engine, settings: Settings, state: MutableMapping[str, Any],
                 now: Optional[datetime] = None) -> tuple[Optional[LoggedInUser], Optional[str]]:
    """The user logged in to this browser session, or (None, why it ended); None, None: nobody logged in.

    A run is activity: it moves the idle deadline on.
    """
    now = now or utcnow()
    user = state.get(SESSION_USER)
    if user is None:
        return None, None
    idle_minutes = settings.session_idle_minutes
    last = state.get(LAST_ACTIVITY)
    with session_scope(engine) as session:
        if last is None or now - last > timedelta(minutes=idle_minutes):
            record_session_expired(session, user, idle_minutes)
            ended = f"Your session ended after {idle_minutes} minutes without activity; log in again."
        else:
            stored = current_user(session, user.id)
            if stored is None:
                ended = "Your account was disabled or removed; log in again."
            elif stored.session_epoch != user.session_epoch:
                ended = "You were logged out: a logout ended every session of this account. Log in again."
            else:
                state[LAST_ACTIVITY] = now
                return stored, None
    for key in (SESSION_USER, LAST_ACTIVITY):
        state.pop(key, None)
    return None, ended


def log_in(engine: Engine, state: MutableMapping[str, Any], name: str, password: str) -> Optional[str]:
    """Start a session for this name and password; the error to show when refused, else None."""
    with Session(engine) as session:
        try:
            user = authenticate(session, name, password)
            error = None
        except UserError as exc:
            user, error = None, str(exc)
        session.commit()  # failed attempts count towards the lockout, and every attempt is logged
    if user is not None:
        state[SESSION_USER] = user
        state[LAST_ACTIVITY] = utcnow()
    return error


def log_out(engine: Engine, state: MutableMapping[str, Any], user: LoggedInUser) -> None:
    """End this session and every other session of the user."""
    with session_scope(engine) as session:
        log_out_everywhere(session, user.id)
    for key in list(state.keys()):
        del state[key]


def require_login(settings: Settings) -> LoggedInUser:
    """The logged-in user, re-checked on every run; otherwise the login form, and the run stops there."""
    engine = get_engine(settings.database_url)
    user, ended = session_user(engine, settings, st.session_state)
    if user is not None:
        return user
    if ended:
        st.warning(ended)

    st.title(TITLE)
    with Session(engine) as session:
        any_users = has_users(session)
    if not any_users:
        st.info("No dashboard users exist yet. Create one with `monitor users add NAME --role admin` "
                "(or `monitor init --create-admin`).")
        st.stop()
    with st.form("login"):
        name = st.text_input("User name")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Log in")
    if submitted:
        error = log_in(engine, st.session_state, name, password)
        if error is None:
            st.rerun()
        st.error(error)
    st.stop()
