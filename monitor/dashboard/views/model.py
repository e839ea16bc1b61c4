"""Model: the active classifier and its card, analysts' feedback, retraining and (admin) activation."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlmodel import Session

from monitor.classify import registry
from monitor.dashboard.context import DashboardContext, when
from monitor.store.schema import LABELS


def _versions(session: Session) -> list[dict]:
    return [{"version": v.version, "origin": v.origin, "active": v.active, "trained_by": v.trained_by or "",
             "activated_by": v.activated_by or "", "activated_at": v.activated_at, "created_at": v.created_at,
             "card": v.card or {}} for v in registry.versions(session)]


def _feedback(session: Session) -> dict:
    counts = registry.feedback_counts(session)
    return {"confirmed": counts.confirmed, "dismissed": counts.dismissed, "relabelled": counts.relabelled,
            "articles": counts.articles}


def card_metrics(card: dict) -> pd.DataFrame:
    """Per-label cross-validated figures, plus the dev-set incident figures when the card has them."""
    per_label = (card.get("cross_validation") or {}).get("per_label") or {}
    rows = [{"measure": f"{label} (cv)", "precision": per_label[label].get("precision"),
             "recall": per_label[label].get("recall"), "f1": per_label[label].get("f1")}
            for label in LABELS if label in per_label]
    for evaluation in card.get("evaluation") or []:
        incident = evaluation.get("incident") or {}
        if incident:
            rows.append({"measure": f"incident on {evaluation.get('dataset', 'dev set')}",
                         "precision": incident.get("precision"), "recall": incident.get("recall"),
                         "f1": incident.get("f1")})
    return pd.DataFrame(rows, columns=["measure", "precision", "recall", "f1"])


def render(ctx: DashboardContext) -> None:
    st.header("Model")
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
        st.dataframe(card_metrics(card), hide_index=True, width="stretch", key="active_metrics")

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
    if st.button("Retrain with feedback", key="retrain", disabled=feedback["articles"] == 0,
                 help="Trains on the corpus plus every confirmed or dismissed article; the new version is not "
                      "used until you activate it."):
        with st.status("Training a new version (a few minutes)…", expanded=True) as status:
            try:
                row = registry.retrain_with_feedback(ctx.engine, ctx.settings, ctx.user.name,
                                                     progress=lambda message: st.write(message))
            except registry.RegistryError as exc:
                status.update(label="Training did not run", state="error")
                st.error(str(exc))
                return
            status.update(label=f"Trained {row.version}", state="complete")
        st.cache_data.clear()
        st.session_state["compare_version"] = row.version
        st.rerun()

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
