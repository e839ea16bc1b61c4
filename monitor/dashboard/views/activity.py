"""Activity (admins): sign-in events — logins, failures, unknown names, lockouts, refusals, logouts, expired
sessions — and every other change the activity log keeps (feeds, users, models)."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from monitor.dashboard import queries
from monitor.dashboard.context import DashboardContext, when
from monitor.store.schema import utcnow
from monitor.users import sign_in_activity, sign_in_summary

SHOWN = 200


def render(ctx: DashboardContext) -> None:
    st.header("Activity")
    if not ctx.can("admin"):
        st.info("Only admins see the activity log.")
        return
    # Cached reads are keyed by their arguments: a day boundary rounded to the hour keeps the cache useful.
    since = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(hours=24)
    summary = ctx.read(sign_in_summary, since)
    columns = st.columns(5)
    for column, (label, value) in zip(columns, (
            ("Logins (24 h)", summary["login"]),
            ("Failed passwords (24 h)", summary["login.failed"]),
            ("Unknown names (24 h)", summary["login.unknown"]),
            ("Lockouts (24 h)", summary["login.locked"]),
            ("Accounts locked now", summary["locked_now"])), strict=True):
        column.metric(label, value)

    st.subheader("Sign-in events")
    only_problems = st.toggle("Only failures, lockouts and refusals", key="activity_problems")
    rows = ctx.read(sign_in_activity, SHOWN, only_problems)
    if rows:
        frame = pd.DataFrame(rows)
        frame["when"] = frame["when"].map(when)
        st.dataframe(frame, hide_index=True, width="stretch", key="sign_in_activity")
    else:
        st.caption("No sign-in events yet.")

    with st.expander("Every other change (feeds, users, models)"):
        changes = [row for row in ctx.read(queries.recent_activity, "", SHOWN)
                   if not row["action"].startswith(("login", "logout", "session."))]
        if changes:
            frame = pd.DataFrame(changes)
            frame["when"] = frame["when"].map(when)
            st.dataframe(frame, hide_index=True, width="stretch", key="other_activity")
        else:
            st.caption("No changes logged yet.")
