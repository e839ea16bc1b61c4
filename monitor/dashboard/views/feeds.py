"""Feeds: the health of every feed, and adding, disabling or re-enabling one."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from monitor.dashboard import queries
from monitor.dashboard.context import DashboardContext, when
from monitor.ingest.feed_admin import FeedAdminError, add_feed, disable_feed, enable_feed
from monitor.ingest.opml import FeedSourceError, discover_feed, name_for
from monitor.ingest.pipeline import limits_from
from monitor.store.db import InvalidRow

STATE_ORDER = {"parked": 0, "failing": 1, "disabled": 2, "new": 3, "ok": 4, "removed": 5, "demo": 6}


def render(ctx: DashboardContext) -> None:
    st.header("Feeds")
    rows = ctx.read(queries.feed_rows)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    cols = st.columns(4)
    cols[0].metric("Feeds", len(rows))
    cols[1].metric("OK", counts.get("ok", 0))
    cols[2].metric("Failing", counts.get("failing", 0))
    cols[3].metric("Parked", counts.get("parked", 0), help="Stopped after repeated errors; re-enable to retry.")
    if counts.get("parked"):
        st.warning(f"{counts['parked']} feed(s) parked after repeated errors: nothing is read from them until "
                   "they are re-enabled.")
    if rows:
        frame = pd.DataFrame(sorted(rows, key=lambda r: (STATE_ORDER.get(r["state"], 9), r["name"])))
        for column in ("last_success", "last_checked", "next_check", "parked_since"):
            frame[column] = frame[column].map(when)
        st.dataframe(frame, hide_index=True, width="stretch", key="feeds_table",
                     column_order=["name", "state", "last_success", "last_status", "errors", "next_check",
                                   "last_error", "warning", "parked_since", "managed_by", "url"],
                     column_config={"url": st.column_config.LinkColumn()})
    else:
        st.info("No feeds yet. List them in feeds.yaml (then `monitor init`) or add one below.")
    if not ctx.can("analyst"):
        st.caption("You have read-only access.")
        return

    st.subheader("Change a feed")
    names = [row["name"] for row in rows if row["state"] not in ("demo", "removed")]
    if names:
        name = st.selectbox("Feed", names, key="feed_choice")
        left, right = st.columns(2)
        if left.button("Disable", key="feed_disable"):
            _apply(ctx, lambda s: disable_feed(s, name, ctx.user.name), f"Disabled {name}.")
        if right.button("Enable / un-park", key="feed_enable"):
            _apply(ctx, lambda s: enable_feed(s, name, ctx.user.name), f"Enabled {name}; polled at the next cycle.")
    with st.form("add_feed"):
        st.markdown("**Add a feed**")
        name = st.text_input("Name", help="Optional: left empty, the feed's own title names it.")
        url = st.text_input("URL (RSS or Atom)", help="A feed's URL, or a web page that links to its feed.")
        interval = st.number_input("Minutes between polls (0: the default)", min_value=0, max_value=10080, value=0)
        language = st.text_input("Language code (optional)", max_chars=10)
        submitted = st.form_submit_button("Add feed")
    if submitted:
        found = None
        if not name.strip():
            try:  # through the project's fetcher, so its limits and address checks apply
                found = discover_feed(url.strip(), limits_from(ctx.settings))
            except FeedSourceError as exc:
                st.error(str(exc))
                return

        def add(session):
            feed_name, feed_url = (name_for(session, found.title, found.url), found.url) if found else (name, url)
            return add_feed(session, feed_name, feed_url, ctx.user.name, interval_minutes=int(interval) or None,
                            language=language.strip() or None,
                            allow_private=ctx.settings.allow_private_feeds).name

        _apply(ctx, add, lambda added: f"Added {added}; it is polled at the next cycle.")
    activity = ctx.read(queries.recent_activity, "feed.")
    if activity:
        with st.expander("Recent feed changes"):
            frame = pd.DataFrame(activity)
            frame["when"] = frame["when"].map(when)
            st.dataframe(frame, hide_index=True, width="stretch", key="feed_activity")


def _apply(ctx: DashboardContext, action, success) -> None:
    """Run a change; `success` is the message, or a function of what the change returned."""
    try:
        result = ctx.write(action)
    except (FeedAdminError, InvalidRow) as exc:
        st.error(str(exc))
        return
    st.session_state["flash"] = success(result) if callable(success) else success
    st.rerun()
