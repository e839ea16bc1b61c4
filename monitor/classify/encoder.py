"""The second stage: a fine-tuned MiniLM encoder, run with onnxruntime on what the first stage lets through.

The encoder (all-MiniLM-L6-v2, fine-tuned on the corpus: mean pooling and one logistic output per
label) is stored as an ONNX graph with int8 weights, next to the WordPiece tokenizer it was trained
with. Neither file can run code when loaded, and both are checked against the sha256 in the model card
before use. The runtime needs onnxruntime, tokenizers and numpy only; torch is for training.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

MAX_TOKENS = 160
# Batches are formed from documents of similar length, so padding stays short.
BATCH_SIZE = 32


class EncoderError(RuntimeError):
    pass


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def encoder_text(document: dict) -> str:
    """What the encoder reads: the headline, then the body; the tokenizer cuts it at MAX_TOKENS."""
    title = str(document.get("title") or "").strip()
    text = str(document.get("text") or "").strip()
    joined = f"{title}. {text}" if title and text else (title or text)
    return unicodedata.normalize("NFKC", " ".join(joined.split()))


def load_tokenizer(path: Path, max_tokens: int = MAX_TOKENS):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(max_length=max_tokens)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # pad to the longest in each batch
    return tokenizer


def encode_batch(tokenizer, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    encodings = tokenizer.encode_batch(list(texts))
    input_ids = np.array([e.ids for e in encodings], dtype=np.int64)
    attention_mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    return input_ids, attention_mask


def _verified(path: Path, expected_sha256: Optional[str], what: str) -> Path:
    if not path.is_file():
        raise EncoderError(f"no {what} at {path}; run `monitor train`")
    if expected_sha256 is not None and file_sha256(path) != expected_sha256:
        raise EncoderError(f"{path} does not match the sha256 in its model card; retrain or restore it")
    return path


class EncoderScorer:
    """Per-label probabilities from the ONNX encoder, in the label order it was trained with."""

    def __init__(self, onnx_path: Path, tokenizer_path: Path, labels: Sequence[str],
                 onnx_sha256: Optional[str] = None, tokenizer_sha256: Optional[str] = None,
                 max_tokens: int = MAX_TOKENS, threads: Optional[int] = None):
        import onnxruntime as ort

        self.onnx_path = _verified(Path(onnx_path), onnx_sha256, "encoder model")
        self.tokenizer_path = _verified(Path(tokenizer_path), tokenizer_sha256, "encoder tokenizer")
        self.labels = list(labels)
        self.max_tokens = max_tokens
        self.tokenizer = load_tokenizer(self.tokenizer_path, max_tokens)
        options = ort.SessionOptions()
        threads = threads or int(os.environ.get("MONITOR_ENCODER_THREADS", "0") or 0)
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(self.onnx_path), sess_options=options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for a bad graph
            raise EncoderError(f"{self.onnx_path} is not a usable ONNX model: {exc}") from None
        outputs = self.session.get_outputs()
        width = outputs[0].shape[-1] if outputs and outputs[0].shape else None
        if isinstance(width, int) and width != len(self.labels):
            raise EncoderError(f"{self.onnx_path} scores {width} labels, its card names {len(self.labels)}")

    def scores(self, documents: Sequence[dict], batch_size: int = BATCH_SIZE) -> np.ndarray:
        if not documents:
            return np.zeros((0, len(self.labels)))
        texts = [encoder_text(d) for d in documents]
        lengths = [len(self.tokenizer.encode(t, add_special_tokens=True).ids) for t in texts] \
            if len(texts) > batch_size else [0] * len(texts)
        order = np.argsort(lengths, kind="stable")
        out = np.zeros((len(texts), len(self.labels)), dtype=float)
        for start in range(0, len(order), batch_size):
            chosen = order[start:start + batch_size]
            input_ids, attention_mask = encode_batch(self.tokenizer, [texts[i] for i in chosen])
            (probabilities,) = self.session.run(None, {"input_ids": input_ids, "attention_mask": attention_mask})
            out[chosen] = probabilities
        return out
