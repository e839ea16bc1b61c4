"""The model card's figures: every one says which data it came from, how many items, and whether anything
(cues, thresholds, the combination of the two stages) was chosen with that data.

Figures on data used for choosing are optimistic; only figures on untouched data say how the model does
on news nobody tuned to. Each figure carries its counts and a 95% interval (Wilson for precision and
recall, bootstrap for F1), because on a few dozen positives a point estimate alone says little.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from monitor.classify.evaluate import read_dataset
from monitor.classify.model import documents_from
from monitor.classify.two_stage import figures_with_intervals, wilson_interval
from monitor.store.schema import INCIDENT_LABELS, LABELS


def evaluate_for_card(classifier, path: Path, used_for_choosing: bool, note: str = "",
                      name: Optional[str] = None) -> dict:
    """Figures of `classifier` on a labelled JSONL set (one gold label per item, or none)."""
    rows, problems = read_dataset(Path(path))
    predictions = classifier.predict(documents_from(rows))
    gold = [row["label"] for row in rows]
    per_label = {}
    for label in LABELS:
        if label not in gold:
            continue  # no gold items: recall means nothing here
        truth = np.array([g == label for g in gold])
        predicted = np.array([label in p.labels for p in predictions])
        per_label[label] = figures_with_intervals(truth, predicted)
    truth = np.array([g in INCIDENT_LABELS for g in gold])
    predicted = np.array([any(label in INCIDENT_LABELS for label in p.labels) for p in predictions])
    return {"dataset": name or Path(path).name, "items": len(rows), "used_for_choosing": used_for_choosing,
            "note": note, "per_label": per_label, "incident": figures_with_intervals(truth, predicted),
            "skipped_lines": len(problems)}


def _with_intervals(figures: dict) -> dict:
    """Old cards kept precision/recall/support only: rebuild the counts to give them intervals too."""
    if "precision_95" in figures:
        return figures
    support = int(figures.get("support") or 0)
    recall, precision = float(figures.get("recall") or 0), float(figures.get("precision") or 0)
    tp = int(round(recall * support))
    fp = int(round(tp / precision - tp)) if precision else 0
    return {**figures, "tp": tp, "fp": fp, "fn": support - tp, "precision_95": wilson_interval(tp, tp + fp),
            "recall_95": wilson_interval(tp, support), "f1_95": None}


def _interval(value: Optional[float], interval: Optional[Sequence[float]]) -> str:
    if value is None:
        return ""
    return f"{value:.3f}" + (f" [{interval[0]:.2f}-{interval[1]:.2f}]" if interval else "")


def figure_rows(card: dict) -> list[dict]:
    """One row per (data, label) in the card, old and new card layouts alike, for tables."""
    rows: list[dict] = []

    def add(data: str, chosen: bool, items, measure: str, figures: dict) -> None:
        figures = _with_intervals(figures)
        rows.append({"data": data, "chosen with it": "yes" if chosen else "no", "items": items, "measure": measure,
                     "support": figures.get("support"),
                     "precision [95%]": _interval(figures.get("precision"), figures.get("precision_95")),
                     "recall [95%]": _interval(figures.get("recall"), figures.get("recall_95")),
                     "f1 [95%]": _interval(figures.get("f1"), figures.get("f1_95"))})

    holdout = card.get("holdout") or {}
    if holdout:
        data = f"corpus held-out part (two stages; models fitted on the other {holdout.get('trained_on', '?')})"
        for label, figures in (holdout.get("two_stage") or {}).get("per_label", {}).items():
            add(data, True, holdout.get("items"), label, figures)
        add(data, True, holdout.get("items"), "incident (any)", holdout["two_stage"]["incident"])
        first = (holdout.get("first_stage_alone") or {}).get("incident")
        if first:
            add("corpus held-out part (first stage alone, for comparison)", True, holdout.get("items"),
                "incident (any)", first)
    cross_validation = card.get("cross_validation") or {}
    for label, figures in (cross_validation.get("per_label") or {}).items():
        add(f"corpus {cross_validation.get('folds', 5)}-fold cross-validation (first stage)", True,
            (card.get("corpus") or {}).get("examples"), label, figures)
    for evaluation in card.get("evaluation") or []:
        # Cards before the honest layout carried only dev_news, which chose cues and thresholds.
        chosen = bool(evaluation.get("used_for_choosing", True))
        data = evaluation.get("dataset", "evaluation set")
        for label, figures in (evaluation.get("per_label") or {}).items():
            if figures.get("gold_in_dataset", True):
                add(data, chosen, evaluation.get("items"), label, figures)
        if evaluation.get("incident"):
            add(data, chosen, evaluation.get("items"), "incident (any)", evaluation["incident"])
    return rows


def split_rows(card: dict) -> tuple[list[dict], list[dict]]:
    """(rows on data used for choosing, rows on untouched data)."""
    rows = figure_rows(card)
    return [r for r in rows if r["chosen with it"] == "yes"], [r for r in rows if r["chosen with it"] == "no"]
