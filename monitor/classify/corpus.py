"""The hand-written training corpus in monitor/corpus/: loading, checking, hashing."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from monitor.store.schema import LABELS

CORPUS_DIR = Path(__file__).resolve().parent.parent / "corpus"
LANGUAGES = ("en", "ar", "fr")


class CorpusError(ValueError):
    pass


@dataclass(frozen=True)
class CorpusExample:
    id: str
    text: str
    labels: tuple[str, ...]
    language: str
    style: str
    source_file: str


def load_corpus(corpus_dir: Path = CORPUS_DIR) -> list[CorpusExample]:
    examples: list[CorpusExample] = []
    seen: set[str] = set()
    files = sorted(corpus_dir.glob("*.jsonl"))
    if not files:
        raise CorpusError(f"no *.jsonl files in {corpus_dir}")
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{path.name} line {number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{where}: not JSON: {exc}") from None
            labels = tuple(row.get("labels") or ())
            unknown = [label for label in labels if label not in LABELS]
            if unknown:
                raise CorpusError(f"{where}: unknown label(s) {unknown}")
            if not str(row.get("text", "")).strip():
                raise CorpusError(f"{where}: empty text")
            if row.get("id") in seen:
                raise CorpusError(f"{where}: id {row.get('id')!r} used twice")
            if row.get("language") not in LANGUAGES:
                raise CorpusError(f"{where}: language must be one of {LANGUAGES}")
            seen.add(row["id"])
            examples.append(CorpusExample(id=row["id"], text=row["text"], labels=labels, language=row["language"],
                                          style=row.get("style", ""), source_file=path.name))
    return examples


def corpus_hash(corpus_dir: Path = CORPUS_DIR) -> str:
    digest = hashlib.sha256()
    for path in sorted(corpus_dir.glob("*.jsonl")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
