"""Subscriptions: watch rules (add, remove, try one on the stored articles) and subscribers' notification URLs.

Analysts manage watch rules; notification URLs carry secrets, so only admins add or remove them, and they
are shown masked to everyone.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from monitor.alerts.watch import WatchError, add_rule, remove_rule, rule_rows, would_have_caught
from monitor.dashboard.context import DashboardContext, when
from monitor.notify.subscriptions import SubscriptionError, add_url, remove_url, subscriber_rows
from monitor.store.db import InvalidRow


def render(ctx: DashboardContext) -> None:
    st.header("Subscriptions")
    _watch_rules(ctx)
    _subscribers(ctx)


def _watch_rules(ctx: DashboardContext) -> None:
    st.subheader("Watch rules")
    st.caption("Words, phrases or a facility looked for in every new article, signal or not; each match is a "
               "low alert. Matching ignores case, diacritics and Arabic letter variants, on whole words.")
    rules = ctx.read(rule_rows)
    if rules:
        frame = pd.DataFrame(rules)
        frame["created_at"] = frame["created_at"].map(when)
        st.dataframe(frame, hide_index=True, width="stretch", key="watch_table",
                     column_order=["name", "watches", "subscriber", "matches", "created_by", "created_at"])
    else:
        st.info("No watch rules yet.")
    subscribers = ctx.read(subscriber_rows)
    if ctx.can("analyst"):
        with st.form("add_watch_rule"):
            st.markdown("**Add a watch rule**")
            name = st.text_input("Rule name")
            terms = st.text_input("Words or phrases", help='e.g. Roj or Shaddadi, "al-Hol camp"')
            facility = st.text_input("…or a facility (its name and aliases)")
            owners = ["(ordinary routing)"] + [s["subscriber"] for s in subscribers if s["active"]]
            owner = st.selectbox("Notify", owners, key="watch_owner")
            submitted = st.form_submit_button("Add rule")
        if submitted:
            _apply(ctx, lambda s: add_rule(s, name, ctx.user.name, terms=[terms] if terms.strip() else [],
                                           facility=facility.strip() or None,
                                           subscriber=None if owner == owners[0] else owner),
                   f"Watching for {name.strip()} from the next classified article.")
        if rules:
            left, right = st.columns([3, 1])
            chosen = left.selectbox("Rule", [r["name"] for r in rules], key="watch_remove_choice")
            if right.button("Remove rule", key="watch_remove"):
                _apply(ctx, lambda s: remove_rule(s, chosen, ctx.user.name), f"Removed watch rule {chosen}.")
    tried = st.text_input("Try a rule or words on the stored articles", key="watch_try",
                          help="A rule's name, or words such as: Roj or Shaddadi")
    if tried.strip():
        try:
            described, caught = ctx.read(would_have_caught, tried)
        except WatchError as exc:
            st.error(str(exc))
            return
        st.markdown(f"{described}: **{len(caught)}** article(s) caught")
        if caught:
            frame = pd.DataFrame(caught)
            frame["published_at"] = frame["published_at"].map(when)
            frame["matched"] = frame["matched"].map(", ".join)
            st.dataframe(frame, hide_index=True, width="stretch", key="watch_try_table",
                         column_order=["published_at", "title", "outlet", "matched", "url"],
                         column_config={"url": st.column_config.LinkColumn()})


def _subscribers(ctx: DashboardContext) -> None:
    st.subheader("Subscribers")
    rows = ctx.read(subscriber_rows)
    if not rows:
        st.info("No subscribers yet; add one with `monitor subscribers add EMAIL` (or NAME --url URL).")
        return
    frame = pd.DataFrame(rows)
    frame["urls"] = frame["urls"].map(lambda urls: "\n".join(urls))  # masked: no secret reaches the page
    st.dataframe(frame, hide_index=True, width="stretch", key="subscribers_table",
                 column_order=["subscriber", "active", "urls", "min_severity", "mode", "countries", "labels",
                               "facilities"])
    if not ctx.can("admin"):
        st.caption("Notification URLs are managed by admins.")
        return
    with st.form("add_url"):
        st.markdown("**Add a notification URL**")
        who = st.selectbox("Subscriber", [r["subscriber"] for r in rows], key="url_subscriber")
        url = st.text_input("URL (Apprise form: json://…, slack://…, tgram://…, ntfy://…)", type="password")
        submitted = st.form_submit_button("Add URL")
    if submitted:
        _apply(ctx, lambda s: add_url(s, who, url, ctx.user.name), f"Added a notification URL to {who}.")
    with_urls = [r for r in rows if r["urls"]]
    if with_urls:
        left, middle, right = st.columns([2, 3, 1])
        who = left.selectbox("Subscriber", [r["subscriber"] for r in with_urls], key="url_remove_subscriber")
        urls = next(r["urls"] for r in with_urls if r["subscriber"] == who)
        shown = middle.selectbox("URL", urls, key="url_remove_choice")
        if right.button("Remove URL", key="url_remove"):
            _apply(ctx, lambda s: remove_url(s, who, urls.index(shown) + 1, ctx.user.name),
                   f"Removed {shown} from {who}.")


def _apply(ctx: DashboardContext, action, success: str) -> None:
    try:
        ctx.write(action)
    except (WatchError, SubscriptionError, InvalidRow) as exc:
        st.error(str(exc))
        return
    st.session_state["flash"] = success
    st.rerun()
