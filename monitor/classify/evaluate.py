"""Evaluation on labelled news: per-label precision/recall/F1, the binary "incident" figures, the misses."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from monitor.classify.model import SignalClassifier, documents_from
from monitor.store.schema import INCIDENT_LABELS, LABELS

EVAL_LABELS = ("none",) + LABELS


class DatasetError(ValueError):
    pass


@dataclass
class Evaluation:
    items: int = 0
    per_label: dict[str, dict] = field(default_factory=dict)
    incident: dict = field(default_factory=dict)
    misclassified: list[dict] = field(default_factory=list)
    skipped_lines: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"items": self.items, "per_label": self.per_label, "incident": self.incident,
                "misclassified": len(self.misclassified)}


def read_dataset(path: Path) -> tuple[list[dict], list[str]]:
    rows, problems = [], []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {number}: not JSON ({exc.msg})")
            continue
        label = row.get("label")
        if label not in EVAL_LABELS:
            problems.append(f"line {number}: label must be one of {', '.join(EVAL_LABELS)}, got {label!r}")
            continue
        if not (row.get("title") or row.get("text")):
            problems.append(f"line {number}: no title or text")
            continue
        row.setdefault("id", f"line-{number}")
        rows.append(row)
    if not rows:
        raise DatasetError(f"{path}: no usable items" + (f" ({problems[0]})" if problems else ""))
    return rows, problems


def _prf(tp: int, fp: int, fn: int) -> dict:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3),
            "tp": tp, "fp": fp, "fn": fn, "support": tp + fn}


def evaluate(classifier: SignalClassifier, path: Path) -> Evaluation:
    """Each item has one gold label; a prediction counts for a label when that label is among its labels.

    Labels the dataset never uses as gold (e.g. resurgence_signal in an incidents-only set) are reported
    with their predicted counts but no recall.
    """
    rows, problems = read_dataset(path)
    predictions = classifier.predict(documents_from(rows))
    result = Evaluation(items=len(rows), skipped_lines=problems)
    gold_used = {row["label"] for row in rows}
    for label in LABELS:
        tp = sum(1 for r, p in zip(rows, predictions) if r["label"] == label and label in p.labels)
        fp = sum(1 for r, p in zip(rows, predictions) if r["label"] != label and label in p.labels)
        fn = sum(1 for r, p in zip(rows, predictions) if r["label"] == label and label not in p.labels)
        figures = _prf(tp, fp, fn)
        figures["gold_in_dataset"] = label in gold_used
        result.per_label[label] = figures
    tp = fp = fn = 0
    for row, prediction in zip(rows, predictions):
        gold = row["label"] in INCIDENT_LABELS
        predicted = any(label in INCIDENT_LABELS for label in prediction.labels)
        tp += gold and predicted
        fp += (not gold) and predicted
        fn += gold and not predicted
        if gold != predicted or (gold and row["label"] not in prediction.labels):
            result.misclassified.append({
                "id": row["id"], "gold": row["label"], "predicted": prediction.labels,
                "title": (row.get("title") or row.get("text") or "")[:100],
                "kind": ("false alarm" if predicted and not gold else "missed" if gold and not predicted
                         else "wrong label"),
            })
    result.incident = _prf(tp, fp, fn)
    return result


def format_evaluation(evaluation: Evaluation) -> str:
    lines = [f"{evaluation.items} items", "", f"{'label':<24}{'precision':>10}{'recall':>8}{'f1':>7}{'support':>9}"]
    for label, figures in evaluation.per_label.items():
        if figures["gold_in_dataset"]:
            lines.append(f"{label:<24}{figures['precision']:>10.3f}{figures['recall']:>8.3f}{figures['f1']:>7.3f}"
                         f"{figures['support']:>9}")
        else:
            lines.append(f"{label:<24}{'(no gold items; predicted ' + str(figures['fp']) + ' times)':>34}")
    inc = evaluation.incident
    lines += ["", f"incident (any of {', '.join(INCIDENT_LABELS)} vs not):",
              f"  precision {inc['precision']:.3f}  recall {inc['recall']:.3f}  f1 {inc['f1']:.3f}  "
              f"(tp {inc['tp']}, fp {inc['fp']}, fn {inc['fn']})"]
    if evaluation.misclassified:
        lines += ["", "misclassified:"]
        for miss in evaluation.misclassified:
            lines.append(f"  {miss['kind']:<12} {miss['id']}  gold {miss['gold']}, predicted "
                         f"{','.join(miss['predicted']) or 'none'}  | {miss['title']}")
    if evaluation.skipped_lines:
        lines += ["", "skipped lines:"] + [f"  {problem}" for problem in evaluation.skipped_lines]
    return "\n".join(lines)
