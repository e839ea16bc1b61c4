"""Model: the active classifier and its card, analysts' feedback, retraining and (admin) activation.

The card's figures come in two tables: on data used for choosing (optimistic) and on untouched data.
Retraining runs in the worker: the page queues a request and shows how it is going.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlmodel import Session

from monitor.classify import registry
from monitor.classify.card import figure_rows, split_rows
from monitor.dashboard.context import DashboardContext, when


def _versions(session: Session) -> list[dict]:
    return [{"version": v.version, "origin": v.origin, "active": v.active, "trained_by": v.trained_by or "",
             "activated_by": v.activated_by or "", "activated_at": v.activated_at, "created_at": v.created_at,
             "card": v.card or {}} for v in registry.versions(session)]


def _feedback(session: Session) -> dict:
    counts = registry.feedback_counts(session)
    return {"confirmed": counts.confirmed, "dismissed": counts.dismissed, "relabelled": counts.relabelled,
            "articles": counts.articles}


def _retrain_requests(session: Session) -> list[dict]:
    return [{"requested": r.requested_at, "by": r.requested_by, "state": r.state, "started": r.started_at,
             "finished": r.finished_at, "version": r.version or "", "message": r.message}
            for r in registry.retrain_requests(session)]


FIGURE_COLUMNS = ["data", "chosen with it", "items", "measure", "support", "precision [95%]", "recall [95%]",
                  "f1 [95%]"]


def card_metrics(card: dict) -> pd.DataFrame:
    """Every figure in the card with its data, counts, 95% intervals and whether it was chosen with."""
    return pd.DataFrame(figure_rows(card), columns=FIGURE_COLUMNS)


def _figure_tables(card: dict, key: str) -> None:
    chosen, untouched = split_rows(card)
    st.markdown("**On data nobody chose anything with**")
    if untouched:
        st.dataframe(pd.DataFrame(untouched, columns=FIGURE_COLUMNS), hide_index=True, width="stretch",
                     key=f"{key}_untouched")
    else:
        st.caption("None in this card: its figures all come from data used for choosing.")
    st.markdown("**On data used for choosing (optimistic)**")
    st.caption("Cues, thresholds and how the two stages combine were chosen on these, so they overstate how the "
               "model does on new news.")
    st.dataframe(pd.DataFrame(chosen, columns=FIGURE_COLUMNS), hide_index=True, width="stretch",
                 key=f"{key}_chosen")


def render(ctx: DashboardContext) -> None:
    st.header("Model")
    if st.session_state.get("retrain_pending"):
        # The worker changes versions and requests behind the page's back: while a retrain is under way, every
        # run reads them fresh instead of from the short-lived cache, so the new version shows when it is done.
        st.cache_data.clear()
    versions = ctx.read(_versions)
    active = next((v for v in versions if v["active"]), None)
    if ctx.settings.model_path:
        st.warning(f"The model_path setting pins {ctx.settings.model_path}: the worker uses that file, not the "
                   "active version below.")
    if active is None:
        st.info("No model version is recorded yet: run `monitor init`.")
    else:
        card = active["card"]
        st.subheader(f"Active: {active['version']}")
        st.caption(f"{active['origin']} · trained {card.get('trained_at', 'unknown')} · corpus "
                   f"{(card.get('corpus') or {}).get('examples', '?')} examples · active since "
                   f"{when(active['activated_at'])} UTC by {active['activated_by'] or 'unknown'}")
        if card.get("model"):
            st.text(card["model"])
        encoder = card.get("encoder") or {}
        if encoder:
            combination = card.get("combination") or {}
            st.caption(f"Second stage {encoder.get('onnx')} (sha256 {str(encoder.get('onnx_sha256'))[:12]}…, "
                       f"{'int8' if encoder.get('quantized') else 'float'}, {encoder.get('max_tokens')} tokens, "
                       f"trained on {encoder.get('trained_on', '?')}); gate {combination.get('gate')}, "
                       f"weight of the first stage {combination.get('weight')}")
        _figure_tables(card, "active")

    feedback = ctx.read(_feedback)
    st.subheader("Analyst feedback")
    cols = st.columns(3)
    cols[0].metric("Confirmed", feedback["confirmed"])
    cols[1].metric("Dismissed", feedback["dismissed"])
    cols[2].metric("Articles with a verdict", feedback["articles"])

    st.subheader("Versions")
    table = pd.DataFrame([{k: v for k, v in row.items() if k != "card"} for row in versions])
    if not table.empty:
        table["activated_at"] = table["activated_at"].map(when)
        table["created_at"] = table["created_at"].map(when)
        st.dataframe(table, hide_index=True, width="stretch", key="versions_table")

    if not ctx.can("admin"):
        st.caption("Retraining and switching versions are for admins.")
        return
    requests = ctx.read(_retrain_requests)
    pending = next((r for r in requests if r["state"] in ("queued", "running")), None)
    st.session_state["retrain_pending"] = pending is not None
    if st.button("Retrain with feedback", key="retrain", disabled=feedback["articles"] == 0 or pending is not None,
                 help="Queues a retrain on the corpus plus every confirmed or dismissed article; the worker runs "
                      "it (fine-tuning the encoder takes 30-60 minutes) and the new version is not used until you "
                      "activate it."):
        try:
            ctx.write(lambda s: registry.request_retrain(s, ctx.user.name))
        except registry.RegistryError as exc:
            st.error(str(exc))
            return
        st.session_state["flash"] = "Retrain queued: the worker picks it up within a minute."
        st.session_state["retrain_pending"] = True
        st.rerun()
    if pending is not None:
        st.info(f"Retrain {pending['state']} (requested by {pending['by']} at {when(pending['requested'])} UTC): "
                f"{pending['message'] or 'waiting for the worker'}")
    if requests:
        table = pd.DataFrame(requests)
        for column in ("requested", "started", "finished"):
            table[column] = table[column].map(when)
        st.dataframe(table, hide_index=True, width="stretch", key="retrain_requests")
        latest_done = next((r for r in requests if r["state"] == "done" and r["version"]), None)
        if latest_done and "compare_version" not in st.session_state:
            st.session_state["compare_version"] = latest_done["version"]

    others = [v for v in versions if not v["active"]]
    if others:
        default = next((i for i, v in enumerate(others) if v["version"] == st.session_state.get("compare_version")), 0)
        chosen = st.selectbox("Compare and activate", [v["version"] for v in others], index=default,
                              key="version_choice")
        candidate = next(v for v in others if v["version"] == chosen)
        left, right = st.columns(2)
        left.markdown(f"**Active: {active['version'] if active else 'none'}**")
        if active:
            left.dataframe(card_metrics(active["card"]), hide_index=True, key="compare_active")
        right.markdown(f"**{chosen}**")
        right.dataframe(card_metrics(candidate["card"]), hide_index=True, key="compare_candidate")
        if st.button(f"Activate {chosen}", key="activate_version"):
            try:
                ctx.write(lambda s: registry.activate_version(s, chosen, ctx.user.name))
            except registry.RegistryError as exc:
                st.error(str(exc))
                return
            st.session_state["flash"] = f"{chosen} is active; the worker uses it from its next cycle."
            st.rerun()
