"""The detention-risk signal classifier: load it safely, predict in batches.

Models are stored with skops and loaded against an explicit list of trusted types: a model file is
data, and nothing in it may run code the list does not name. Pickle is never used.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np
import skops.io as sio

from monitor.classify.features import predict_proba as fast_predict_proba
from monitor.classify.rules import apply_label_rules
from monitor.store.schema import LABELS

MODELS_DIR = Path(__file__).resolve().parent.parent.parent / "models"
PACKAGED_MODEL = MODELS_DIR / "classifier.skops"
PACKAGED_CARD = MODELS_DIR / "model_card.json"

# Every type a model file written by `monitor train` contains, beyond what skops trusts by default.
TRUSTED_TYPES = [
    "builtins.dict",
    "builtins.list",
    "builtins.str",
    "builtins.float",
    "builtins.int",
    "collections.defaultdict",
    "monitor.classify.features.cue_features",
    "monitor.classify.features.join_title_and_text",
    "numpy.dtype",
    "numpy.float64",
    "numpy.int64",
    "numpy.ndarray",
    "scipy.sparse._csr.csr_matrix",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.multiclass.OneVsRestClassifier",
    "sklearn.pipeline.FeatureUnion",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._function_transformer.FunctionTransformer",
    "sklearn.preprocessing._label.LabelBinarizer",
]


class ModelError(RuntimeError):
    pass


@dataclass
class Prediction:
    labels: list[str]
    scores: dict[str, float]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class SignalClassifier:
    def __init__(self, pipeline, thresholds: dict[str, float], labels: Sequence[str] = LABELS,
                 version: str = "unversioned"):
        self.pipeline = pipeline
        self.thresholds = dict(thresholds)
        self.labels = list(labels)
        self.version = version

    def scores(self, documents: Sequence[dict]) -> np.ndarray:
        """Probabilities, one row per document and one column per label."""
        if not documents:
            return np.zeros((0, len(self.labels)))
        # The same probabilities as self.pipeline.predict_proba, with the feature matrix built faster.
        return fast_predict_proba(self.pipeline, list(documents))

    def predict(self, documents: Sequence[dict]) -> list[Prediction]:
        """`documents` are dicts with `title` and `text`; one Prediction each, in order."""
        matrix = self.scores(documents)
        thresholds = np.array([self.thresholds[label] for label in self.labels])
        predictions = []
        for document, row in zip(documents, matrix):
            chosen = [label for label, score, cut in zip(self.labels, row, thresholds) if score >= cut]
            chosen = apply_label_rules(document, chosen)
            predictions.append(Prediction(chosen, {label: round(float(s), 4) for label, s in zip(self.labels, row)}))
        return predictions

    def to_file(self, path: Path) -> str:
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"pipeline": self.pipeline, "thresholds": self.thresholds, "labels": self.labels,
                   "version": self.version}
        sio.dump(payload, path, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
        return file_sha256(path)

    @classmethod
    def from_file(cls, path: Path, expected_sha256: Optional[str] = None) -> "SignalClassifier":
        if not path.is_file():
            raise ModelError(f"no model at {path}; run `monitor train`")
        if expected_sha256 and file_sha256(path) != expected_sha256:
            raise ModelError(f"{path} does not match the sha256 in its model card; retrain or restore it")
        untrusted = set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES)
        if untrusted:
            raise ModelError(f"{path} contains types outside the trusted list: {sorted(untrusted)}")
        payload = sio.load(path, trusted=TRUSTED_TYPES)
        return cls(payload["pipeline"], payload["thresholds"], payload["labels"], payload["version"])


def card_beside(path: Path) -> Optional[dict]:
    """The model card written with a model file: model_card.json for the packaged one, NAME.card.json else."""
    path = Path(path)
    for candidate in (path.with_suffix(".card.json"), path.with_name("model_card.json")):
        if candidate.is_file():
            try:
                card = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise ModelError(f"{candidate} is not a readable model card: {exc}") from None
            if candidate.name == "model_card.json" and card.get("file") not in (None, path.name):
                continue  # a card for another file in the same folder
            return card
    return None


def load_model(path: Path, expected_sha256: Optional[str] = None, card: Optional[dict] = None):
    """The classifier a model file (and its card) describes: two stages when the card names an encoder.

    The first stage is checked against `expected_sha256` (or the card's sha256), the encoder's ONNX graph
    and tokenizer against the sha256 values in the card. Without a card, only the first stage is loaded.
    """
    path = Path(path)
    card = card if card is not None else card_beside(path)
    expected = expected_sha256 or (card or {}).get("sha256")
    first = SignalClassifier.from_file(path, expected)
    encoder_card = (card or {}).get("encoder")
    if not encoder_card:
        return first
    from monitor.classify.encoder import EncoderError, EncoderScorer
    from monitor.classify.two_stage import Combination, TwoStageClassifier

    try:
        encoder = EncoderScorer(path.parent / encoder_card["onnx"], path.parent / encoder_card["tokenizer"],
                                first.labels, encoder_card["onnx_sha256"], encoder_card["tokenizer_sha256"],
                                max_tokens=int(encoder_card.get("max_tokens", 160)))
        combination = card["combination"]
        return TwoStageClassifier(first, encoder, Combination(float(combination["gate"]),
                                                              float(combination["weight"]),
                                                              dict(combination["thresholds"])), first.version)
    except EncoderError as exc:
        raise ModelError(str(exc)) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"the model card of {path} does not describe its encoder fully: {exc!r}") from None


def load_packaged_model():
    """The model shipped in models/ (both stages when its card names an encoder)."""
    card = json.loads(PACKAGED_CARD.read_text(encoding="utf-8")) if PACKAGED_CARD.is_file() else None
    return load_model(PACKAGED_MODEL, card=card)


def documents_from(rows: Iterable[dict]) -> list[dict]:
    return [{"title": str(row.get("title") or ""), "text": str(row.get("text") or "")} for row in rows]
