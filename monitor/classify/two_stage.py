"""Two stages: the fast TF-IDF model gates, the fine-tuned encoder decides on what it lets through.

The first stage (monitor/classify/model.py) scores every document; a document goes on to the encoder
when any label's first-stage score reaches `gate` (set low, for recall). For a document that passed,
each label's score is `weight * first + (1 - weight) * encoder`, compared with that label's threshold.
A document that did not pass keeps its first-stage scores and gets no label. The label rules of
monitor/classify/rules.py apply after both.

`gate`, `weight` and the thresholds are chosen on a stratified held-out part of the corpus that
neither stage was trained on (see `choose_combination`), never on dev or the replay months.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from monitor.classify.model import Prediction
from monitor.classify.rules import apply_label_rules

HOLDOUT_FRACTION = 0.2
SPLIT_SEED = 29
# The gate keeps at least this share of the held-out documents that carry any label.
GATE_RECALL = 0.99
GATE_GRID = np.round(np.arange(0.01, 0.51, 0.01), 2)
WEIGHT_GRID = np.round(np.arange(0.0, 1.01, 0.1), 2)
THRESHOLD_GRID = np.round(np.arange(0.10, 0.91, 0.01), 2)
SMOOTHING_STEPS = 3


def holdout_split(label_sets: Sequence[Sequence[str]], languages: Sequence[str], fraction: float = HOLDOUT_FRACTION,
                  seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, held-out indices), stratified by first label (or none) and language.

    Strata too small to split go wholly to training.
    """
    strata: dict[tuple, list[int]] = {}
    for index, (labels, language) in enumerate(zip(label_sets, languages)):
        key = (sorted(labels)[0] if labels else "none", language)
        strata.setdefault(key, []).append(index)
    generator = np.random.RandomState(seed)
    held: list[int] = []
    for key in sorted(strata):
        members = np.array(strata[key])
        if len(members) < 5:
            continue
        generator.shuffle(members)
        held += members[:int(round(len(members) * fraction))].tolist()
    held_set = set(held)
    train = np.array([i for i in range(len(label_sets)) if i not in held_set])
    return train, np.array(sorted(held))


def _f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    tp = int(np.sum(truth & predicted))
    denominator = int(truth.sum()) + int(predicted.sum())
    return 2 * tp / denominator if denominator else 0.0


def combined_scores(first: np.ndarray, second: np.ndarray, passed: np.ndarray, weight: float) -> np.ndarray:
    mixed = weight * first + (1 - weight) * second
    return np.where(passed[:, None], mixed, 0.0)


def smoothed_best_threshold(truth: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(threshold, smoothed F1) at the peak of the F1 curve averaged over a small window of thresholds."""
    f1 = np.array([_f1(truth, scores >= cut) for cut in THRESHOLD_GRID])
    window = np.ones(2 * SMOOTHING_STEPS + 1) / (2 * SMOOTHING_STEPS + 1)
    smoothed = np.convolve(np.pad(f1, SMOOTHING_STEPS, mode="edge"), window, mode="valid")
    best = int(np.argmax(smoothed))
    return float(THRESHOLD_GRID[best]), float(smoothed[best])


@dataclass
class Combination:
    gate: float
    weight: float
    thresholds: dict[str, float]

    def as_dict(self) -> dict:
        return {"gate": self.gate, "weight": self.weight, "thresholds": dict(self.thresholds)}


def choose_gate(y: np.ndarray, first: np.ndarray, recall: float = GATE_RECALL) -> float:
    """The highest gate that still lets `recall` of the labelled held-out documents through."""
    labelled = y.sum(axis=1) > 0
    top = first.max(axis=1)
    best = float(GATE_GRID[0])
    for gate in GATE_GRID:
        if labelled.sum() and (top[labelled] >= gate).mean() >= recall:
            best = float(gate)
    return best


def choose_combination(y: np.ndarray, first: np.ndarray, second: np.ndarray, labels: Sequence[str],
                       weights: Sequence[float] = WEIGHT_GRID) -> tuple[Combination, dict]:
    """Gate, then one mixing weight for all labels (best mean smoothed F1), then per-label thresholds."""
    y = np.asarray(y).astype(bool)
    gate = choose_gate(y, first)
    passed = first.max(axis=1) >= gate
    table = {}
    for weight in weights:
        mixed = combined_scores(first, second, passed, float(weight))
        per_label = [smoothed_best_threshold(y[:, i], mixed[:, i]) for i in range(len(labels))]
        table[float(weight)] = (float(np.mean([f1 for _, f1 in per_label])), per_label)
    weight = max(table, key=lambda w: (round(table[w][0], 4), -abs(w - 0.5)))
    thresholds = {label: table[weight][1][i][0] for i, label in enumerate(labels)}
    report = {"gate": gate, "passed_share": round(float(passed.mean()), 4),
              "labelled_passed_share": round(float(passed[y.sum(axis=1) > 0].mean()), 4) if y.any() else None,
              "weights_tried": {str(w): round(v[0], 4) for w, v in table.items()}, "weight": weight}
    return Combination(gate, float(weight), thresholds), report


def wilson_interval(successes: int, trials: int, z: float = 1.959964) -> tuple[float, float] | None:
    """95% Wilson score interval for a proportion; None when there are no trials."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return round(max(0.0, centre - half), 3), round(min(1.0, centre + half), 3)


def bootstrap_f1_interval(truth: np.ndarray, predicted: np.ndarray, rounds: int = 1000, seed: int = 7
                          ) -> tuple[float, float] | None:
    truth, predicted = np.asarray(truth, bool), np.asarray(predicted, bool)
    if not len(truth) or not (truth.any() or predicted.any()):
        return None
    generator = np.random.RandomState(seed)
    values = []
    for _ in range(rounds):
        sample = generator.randint(0, len(truth), len(truth))
        values.append(_f1(truth[sample], predicted[sample]))
    low, high = np.percentile(values, [2.5, 97.5])
    return round(float(low), 3), round(float(high), 3)


def figures_with_intervals(truth: np.ndarray, predicted: np.ndarray) -> dict:
    """Precision, recall and F1 with counts and 95% intervals (Wilson for P and R, bootstrap for F1)."""
    truth, predicted = np.asarray(truth, bool), np.asarray(predicted, bool)
    tp = int(np.sum(truth & predicted))
    fp = int(np.sum(~truth & predicted))
    fn = int(np.sum(truth & ~predicted))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3),
            "tp": tp, "fp": fp, "fn": fn, "support": tp + fn, "items": int(len(truth)),
            "precision_95": wilson_interval(tp, tp + fp), "recall_95": wilson_interval(tp, tp + fn),
            "f1_95": bootstrap_f1_interval(truth, predicted)}


class TwoStageClassifier:
    """The classifier the pipeline runs: same interface as SignalClassifier (`scores`, `predict`)."""

    def __init__(self, first, encoder, combination: Combination, version: str):
        self.first = first
        self.encoder = encoder
        self.combination = combination
        self.labels = list(first.labels)
        if list(encoder.labels) != self.labels:
            raise ValueError(f"the encoder scores {encoder.labels}, the first stage {self.labels}")
        self.thresholds = dict(combination.thresholds)
        self.version = version

    def scores_and_gate(self, documents: Sequence[dict]) -> tuple[np.ndarray, np.ndarray]:
        """(scores, passed): combined scores where the gate let a document through, first-stage ones elsewhere."""
        first = self.first.scores(documents)
        passed = first.max(axis=1) >= self.combination.gate if len(first) else np.zeros(0, dtype=bool)
        out = first.copy()
        # A weight of 1 (chosen when the encoder adds nothing on the held-out part) needs no encoder run.
        if passed.any() and self.combination.weight < 1.0:
            chosen = np.flatnonzero(passed)
            second = self.encoder.scores([documents[i] for i in chosen])
            weight = self.combination.weight
            out[chosen] = weight * first[chosen] + (1 - weight) * second
        return out, passed

    def scores(self, documents: Sequence[dict]) -> np.ndarray:
        return self.scores_and_gate(documents)[0]

    def predict(self, documents: Sequence[dict]) -> list[Prediction]:
        matrix, passed = self.scores_and_gate(documents)
        thresholds = np.array([self.thresholds[label] for label in self.labels])
        predictions = []
        for index, (document, row) in enumerate(zip(documents, matrix)):
            chosen = [label for label, score, cut in zip(self.labels, row, thresholds) if score >= cut] \
                if passed[index] else []
            chosen = apply_label_rules(document, chosen)
            predictions.append(Prediction(chosen, {label: round(float(s), 4) for label, s in zip(self.labels, row)}))
        return predictions
