"""Training: word and character n-gram TF-IDF into one logistic regression per label, thresholds chosen by
cross-validation, written with skops plus a model card.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import sklearn
import skops
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer

from monitor.classify.corpus import CorpusExample, corpus_hash, load_corpus
from monitor.classify.features import cue_features, join_title_and_text
from monitor.classify.model import SignalClassifier
from monitor.store.schema import LABELS

CV_FOLDS = 5
RANDOM_STATE = 13
# Thresholds are searched on out-of-fold scores in this range: never so low that noise fires, never so
# high that a label can only fire on corpus-like wording.
THRESHOLD_GRID = np.round(np.arange(0.15, 0.86, 0.01), 2)


CUE_WEIGHT = 0.5


def build_pipeline(cue_weight: float = CUE_WEIGHT, C: float = 8.0) -> Pipeline:
    words = Pipeline([
        ("join", FunctionTransformer(join_title_and_text)),
        ("tfidf", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), min_df=2, max_df=0.6, sublinear_tf=True,
                                  token_pattern=r"(?u)\b\w[\w'-]*\w\b|\b\w\b", max_features=60_000)),
    ])
    chars = Pipeline([
        ("join", FunctionTransformer(join_title_and_text)),
        ("tfidf", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=3, sublinear_tf=True,
                                  max_features=120_000)),
    ])
    features = FeatureUnion([("words", words), ("chars", chars), ("cues", FunctionTransformer(cue_features))],
                            transformer_weights={"words": 1.0, "chars": 1.0, "cues": cue_weight})
    classifier = OneVsRestClassifier(LogisticRegression(C=C, class_weight="balanced", max_iter=2000,
                                                        solver="liblinear"))
    return Pipeline([("features", features), ("classify", classifier)])


def strip_for_storage(pipeline: Pipeline) -> Pipeline:
    """Make the fitted pipeline cheap to store without changing a single prediction.

    Each TfidfVectorizer's `stop_words_` (every pruned term) is never read at prediction time, and
    scikit-learn documents it as safe to remove. Vocabulary indices become plain ints: skops writes a
    numpy scalar as its own file in the archive, which made a 2 MB vocabulary a 90 MB model.
    """
    for step in pipeline.named_steps["features"].transformer_list:
        transformer = step[1]
        if isinstance(transformer, Pipeline):
            vectorizer = transformer.named_steps.get("tfidf")
            if vectorizer is not None:
                vectorizer.stop_words_ = None
                vectorizer.vocabulary_ = {term: int(index) for term, index in vectorizer.vocabulary_.items()}
    return pipeline


def document_for(example: CorpusExample) -> dict:
    """Corpus items put the headline on the first line; split it off as feeds deliver it."""
    first, _, rest = example.text.partition("\n")
    if rest.strip() and len(first) <= 200 and example.style != "headline":
        return {"title": first.strip(), "text": rest.strip()}
    if example.style == "headline":
        return {"title": example.text.strip(), "text": ""}
    return {"title": "", "text": example.text.strip()}


def label_matrix(examples: Sequence[CorpusExample]) -> np.ndarray:
    return np.array([[1 if label in ex.labels else 0 for label in LABELS] for ex in examples])


def _f1(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float, float]:
    tp = int(np.sum(y_true & y_pred))
    fp = int(np.sum(~y_true & y_pred))
    fn = int(np.sum(y_true & ~y_pred))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


@dataclass
class TrainingResult:
    classifier: SignalClassifier
    card: dict


def cross_validated_scores(documents: list[dict], y: np.ndarray, progress: Optional[Callable[[str], None]] = None
                           ) -> np.ndarray:
    out_of_fold = np.zeros(y.shape, dtype=float)
    folds = KFold(n_splits=CV_FOLDS, shuffle=True, random_state=RANDOM_STATE)
    for number, (train_index, test_index) in enumerate(folds.split(documents), start=1):
        if progress:
            progress(f"cross-validation fold {number}/{CV_FOLDS}")
        pipeline = build_pipeline()
        pipeline.fit([documents[i] for i in train_index], y[train_index])
        out_of_fold[test_index] = pipeline.predict_proba([documents[i] for i in test_index])
    return out_of_fold


# The cross-validated F1 curve is flat over a wide range of thresholds and its exact peak is noise (one
# example more or less moves it by 0.1), so the threshold is the peak of the curve averaged over a window
# of this many grid steps either side.
SMOOTHING_STEPS = 5


def smoothed_best_threshold(truth: np.ndarray, scores: np.ndarray) -> float:
    f1 = np.array([_f1(truth, scores >= cut)[2] for cut in THRESHOLD_GRID])
    window = np.ones(2 * SMOOTHING_STEPS + 1) / (2 * SMOOTHING_STEPS + 1)
    smoothed = np.convolve(np.pad(f1, SMOOTHING_STEPS, mode="edge"), window, mode="valid")
    return float(THRESHOLD_GRID[int(np.argmax(smoothed))])


def choose_thresholds(y: np.ndarray, scores: np.ndarray) -> tuple[dict[str, float], dict[str, dict]]:
    thresholds, metrics = {}, {}
    for column, label in enumerate(LABELS):
        truth = y[:, column].astype(bool)
        best = smoothed_best_threshold(truth, scores[:, column])
        precision, recall, f1 = _f1(truth, scores[:, column] >= best)
        thresholds[label] = float(best)
        metrics[label] = {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3),
                          "support": int(truth.sum()), "threshold": float(best)}
    return thresholds, metrics


def train(corpus_dir: Optional[Path] = None, progress: Optional[Callable[[str], None]] = None,
          extra_examples: Sequence[CorpusExample] = ()) -> TrainingResult:
    """Train on the corpus plus `extra_examples` (analysts' feedback), which the corpus hash does not cover."""
    examples = (load_corpus(corpus_dir) if corpus_dir else load_corpus()) + list(extra_examples)
    documents = [document_for(ex) for ex in examples]
    y = label_matrix(examples)
    scores = cross_validated_scores(documents, y, progress)
    thresholds, metrics = choose_thresholds(y, scores)
    if progress:
        progress("fitting the final model on the whole corpus")
    pipeline = strip_for_storage(build_pipeline().fit(documents, y))
    trained_at = datetime.now(timezone.utc)
    digest = corpus_hash(corpus_dir) if corpus_dir else corpus_hash()
    version = f"{trained_at:%Y%m%d%H%M%S}-{digest[:8]}"
    card = {
        "version": version,
        "trained_at": trained_at.isoformat(timespec="seconds"),
        "labels": list(LABELS),
        "model": ("word 1-2-gram + char_wb 3-5-gram TF-IDF + cue features (title and lede, or the first sentence "
                  "when there is no title) -> one-vs-rest logistic regression (balanced), thresholds at the peak of "
                  "the smoothed cross-validated F1; rules: attack_on_facility + current escape evidence -> "
                  "prison_break; incident labels need a detention place (a prison break: custody or getting away)"),
        "corpus": {
            "sha256": digest,
            "examples": len(examples),
            "per_label": {label: int(y[:, i].sum()) for i, label in enumerate(LABELS)},
            "none": int((y.sum(axis=1) == 0).sum()),
            "languages": {lang: sum(1 for ex in examples if ex.language == lang) for lang in ("en", "ar", "fr")},
            "extra_examples": len(extra_examples),
        },
        "thresholds": thresholds,
        "cross_validation": {"folds": CV_FOLDS, "per_label": metrics},
        "libraries": {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
                      "skops": skops.__version__, "numpy": np.__version__},
    }
    return TrainingResult(SignalClassifier(pipeline, thresholds, LABELS, version), card)


def write_model(result: TrainingResult, model_path: Path, card_path: Path,
                evaluation: Optional[list[dict]] = None) -> dict:
    card = dict(result.card)
    card["sha256"] = result.classifier.to_file(model_path)
    card["file"] = model_path.name
    if evaluation is not None:
        card["evaluation"] = evaluation
    card_path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return card


@dataclass
class WrittenModel:
    model_path: Path
    card_path: Path
    card: dict
    evaluations_text: list[tuple[str, str]]


def train_and_write(corpus: Optional[Path], model_path: Optional[Path] = None, card_path: Optional[Path] = None,
                    datasets: Sequence[Path] = (), progress: Optional[Callable[[str], None]] = None) -> WrittenModel:
    """`monitor train`: fit on the corpus, evaluate on each labelled dataset, write the model and its card."""
    from monitor.classify.evaluate import evaluate, format_evaluation
    from monitor.classify.model import PACKAGED_MODEL

    model_path = model_path or PACKAGED_MODEL
    card_path = card_path or model_path.with_name("model_card.json")
    result = train(corpus, progress=progress)
    evaluations, texts = [], []
    for dataset in datasets:
        outcome = evaluate(result.classifier, dataset)
        evaluations.append({"dataset": dataset.name, **outcome.as_dict()})
        texts.append((str(dataset), format_evaluation(outcome)))
    card = write_model(result, model_path, card_path, evaluations or None)
    return WrittenModel(model_path, card_path, card, texts)

