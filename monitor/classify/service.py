"""Classification as the pipeline runs it: model + gazetteer + severity, on records or on stored articles."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional, Sequence, TextIO

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from monitor.alerts.severity import assess_severity
from monitor.classify.model import SignalClassifier, load_packaged_model
from monitor.facilities.exposure import FacilityExposure, facility_exposures
from monitor.facilities.gazetteer import CandidateFacility, FacilityLink, Gazetteer
from monitor.store.db import session_scope
from monitor.store.schema import INCIDENT_LABELS, Article, Classification, FacilityMention, utcnow

BATCH_SIZE = 500

@dataclass
class ArticleSignal:
    labels: list[str]
    scores: dict[str, float]
    facilities: list[FacilityLink] = field(default_factory=list)
    candidates: list[CandidateFacility] = field(default_factory=list)
    severity: Optional[str] = None
    severity_reason: str = ""

    def as_dict(self) -> dict:
        return {
            "labels": self.labels, "scores": self.scores,
            "facilities": [link.as_dict() for link in self.facilities],
            "candidate_facilities": [c.as_dict() for c in self.candidates],
            "severity": self.severity, "severity_reason": self.severity_reason,
        }


class SignalAnalyser:
    """Everything needed to turn (title, text) into an ArticleSignal, loaded once."""

    def __init__(self, classifier: SignalClassifier, gazetteer: Gazetteer, risks: dict[int, FacilityExposure]):
        self.classifier = classifier
        self.gazetteer = gazetteer
        self.risks = risks

    @classmethod
    def from_store(cls, engine: Engine, classifier: Optional[SignalClassifier] = None) -> "SignalAnalyser":
        with Session(engine) as session:
            gazetteer = Gazetteer.from_session(session)
            risks = facility_exposures(session)
        return cls(classifier or load_packaged_model(), gazetteer, risks)

    def analyse(self, documents: Sequence[dict]) -> list[ArticleSignal]:
        predictions = self.classifier.predict(documents)
        signals = []
        for document, prediction in zip(documents, predictions):
            title, text = document.get("title") or "", document.get("text") or ""
            linked = self.gazetteer.link(title, text)
            signal = ArticleSignal(prediction.labels, prediction.scores, linked.links)
            incident = any(label in INCIDENT_LABELS for label in prediction.labels)
            if incident and not linked.primary:
                signal.candidates = self.gazetteer.propose_candidates(title, text)
            primary = linked.primary[0] if linked.primary else None
            risk = self.risks.get(primary.facility_id) if primary and primary.confidence >= 0.5 else None
            signal.severity, signal.severity_reason = assess_severity(prediction.labels, f"{title}\n{text}", risk)
            signals.append(signal)
        return signals


def classify_pending(engine: Engine, analyser: Optional[SignalAnalyser] = None, batch_size: int = BATCH_SIZE,
                     on_batch: Optional[Callable[[list[int]], None]] = None) -> int:
    """Classify and link every stored article not yet classified, in batches; returns how many."""
    analyser = analyser or SignalAnalyser.from_store(engine)
    done = 0
    while True:
        with Session(engine) as session:
            articles = list(session.exec(select(Article).where(Article.classified_at.is_(None))
                                         .order_by(Article.id).limit(batch_size)))
        if not articles:
            return done
        signals = analyser.analyse([{"title": a.title, "text": a.summary} for a in articles])
        now = utcnow()
        with session_scope(engine) as session:
            for article, signal in zip(articles, signals):
                session.add(Classification(article_id=article.id, model_version=analyser.classifier.version,
                                           labels=signal.labels, scores=signal.scores, severity=signal.severity))
                for link in signal.facilities:
                    session.add(FacilityMention(article_id=article.id, facility_id=link.facility_id, role=link.role,
                                                confidence=round(link.confidence, 3), matched=link.matched[:300]))
                for candidate in signal.candidates:
                    session.add(FacilityMention(article_id=article.id, facility_id=None, role="primary",
                                                confidence=0.3, matched=candidate.name[:300],
                                                candidate_name=candidate.name[:300],
                                                candidate_place=(candidate.place or None) and candidate.place[:300],
                                                candidate_country=candidate.country))
                stored = session.get(Article, article.id)
                stored.classified_at = now
        done += len(articles)
        if on_batch is not None:
            on_batch([a.id for a in articles])


def classify_jsonl(analyser: SignalAnalyser, lines: Iterable[str], out: TextIO, *, batch_size: int = 1000,
                   on_problem: Callable[[str], None] = lambda message: None) -> int:
    """`monitor classify`: read JSONL items, write each back with labels, scores, facilities and severity.

    Unknown fields are kept. A line that is not a JSON object with a title or text is reported through
    `on_problem` with its number and skipped; returns how many were skipped.
    """
    batch: list[dict] = []
    skipped = 0

    def flush() -> None:
        signals = analyser.analyse([{"title": str(r.get("title") or ""), "text": str(r.get("text") or "")}
                                    for r in batch])
        for row, signal in zip(batch, signals):
            result = dict(row)
            result.update(signal.as_dict())
            result["severity_reason"] = signal.severity_reason
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
        batch.clear()

    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict):
                raise ValueError("not a JSON object")
            if not (row.get("title") or row.get("text")):
                raise ValueError("no title or text")
        except ValueError as exc:
            skipped += 1
            on_problem(f"line {number}: skipped: {exc}")
            continue
        batch.append(row)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return skipped
