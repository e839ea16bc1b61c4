"""Alerts are events, not articles: articles about the same facility and kind of signal within a window
join one alert, whose corroboration is the number of independent outlets that reported it.

Everything an alert needs of its articles is kept as it grows, so joining costs the same for the second
article as for the two-thousandth (a big story is the day the monitor must not stall):

- each article's MinHash signature (datasketch), its outlet and its largest reported figures are computed
  once, when it first joins an alert, and stored (`ArticleFingerprint`);
- each alert keeps an index of its articles' outlets and LSH bands (`AlertCorroborationKey`), each row
  naming the cluster of articles counted as one outlet. A new article looks up its own keys: same outlet,
  or a band match whose signature is a near-duplicate (a wire copy under another masthead), puts it in
  that cluster; bridging several merges them; matching none adds an independent outlet.
- severity is assessed from the alert's labels, its largest figures and its outlet count, never by
  re-reading its articles.

Signal articles linked to no facility and proposing no candidate are grouped by story: an open unlinked
alert of the same kind within the window whose articles' signatures are similar enough. Two unrelated
incidents that share only a label stay apart.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Iterable, Optional

import numpy as np
from datasketch import MinHash
from sqlalchemy import func, insert, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from monitor.alerts.severity import FacilityRisk, assess_severity, scale_cues
from monitor.classify.service import facility_risks
from monitor.facilities.names import normalize_name
from monitor.store.db import session_scope
from monitor.store.schema import (
    INCIDENT_LABELS,
    LABELS,
    SEVERITIES,
    Alert,
    AlertArticle,
    AlertCorroborationKey,
    Article,
    ArticleFingerprint,
    Classification,
    Facility,
    FacilityMention,
    utcnow,
)

GROUP_WINDOW = timedelta(hours=72)
OPEN_STATUSES = ("new", "confirmed", "escalated")
CONFIDENT_LINK = 0.5
STORY_PREFIX = "story:"

# Signatures: 64 permutations, a fixed seed and an explicit scheme, so a signature stored today compares
# with one made after an upgrade of datasketch (whose default scheme changed in 2.0).
NUM_PERM = 64
MINHASH_SEED = 1
MINHASH_SCHEME = "affine32"
# Two outlets carrying near-identical text are one wire story, counted once: Jaccard similarity of the
# words of headline and lead (as the pairwise fuzzy match before it compared).
WIRE_COPY_SIMILARITY = 0.7
# Unlinked reports are one story when their words overlap this much. Set by judgment and checked with
# the behavioural tests in tests/test_events_incremental.py (rewrites of one event group, different events
# with the same label do not); it was not tuned on any evaluation set.
STORY_SIMILARITY = 0.3
# Band matches checked against stored signatures per candidate cluster or alert, at most.
VERIFY_PER_CANDIDATE = 4
LEAD_CHARACTERS = 400

_PERMUTATIONS = MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, scheme=MINHASH_SCHEME).permutations
# LSH bands (bands x rows = NUM_PERM). Every band match is checked against the stored signatures, so bands
# are chosen for recall, not precision: 16 x 4 finds a pair at the wire-copy similarity (0.7) 99% of the
# time, 32 x 2 a pair at the story similarity (0.3) 95% of the time.
WIRE_BANDS, WIRE_ROWS = 16, 4
STORY_BANDS, STORY_ROWS = 32, 2
# Words too common in news to say which story a report is about.
_COMMON_WORDS = frozenset(
    "the and for with from that this was were has have had said says say after over into are its their they "
    "his her but not been who which will also more than about when where while what them there other some "
    "les des une dans pour par sur avec que qui est sont aux ont été".split())


@dataclass
class AlertChanges:
    created: list[int] = field(default_factory=list)
    joined: list[int] = field(default_factory=list)
    raised: list[int] = field(default_factory=list)


def signal_kind(labels: Iterable[str]) -> str:
    labels = list(labels)
    if any(label in INCIDENT_LABELS for label in labels):
        return "incident"
    order = ("resurgence_signal", "conditions_alert", "transfer_repatriation")
    return next(label for label in order if label in labels)


def _subject(mentions: list[FacilityMention]) -> tuple[Optional[str], Optional[int], Optional[str], Optional[str]]:
    """(key, facility_id, candidate name, candidate country) of what the article is about; key None: unlinked."""
    primary = sorted((m for m in mentions if m.role == "primary" and m.facility_id is not None),
                     key=lambda m: -m.confidence)
    if primary and primary[0].confidence >= CONFIDENT_LINK:
        return f"facility:{primary[0].facility_id}", primary[0].facility_id, None, None
    candidates = [m for m in mentions if m.facility_id is None and m.candidate_name]
    if candidates:
        c = candidates[0]
        return f"candidate:{normalize_name(c.candidate_name)}:{c.candidate_country or ''}", None, c.candidate_name, \
            c.candidate_country
    if primary:  # only weak place links ("a prison in Hasakeh"): group by that place
        return f"place:{normalize_name(primary[0].matched)}", None, None, None
    return None, None, None, None


# --- Fingerprints ---------------------------------------------------------------------------------------


def article_outlet(article: Article) -> str:
    """The publisher: the feed's outlet name, else the link's host."""
    if article.outlet:
        return normalize_name(article.outlet)[:200]
    host = article.url.split("/")[2] if "//" in article.url else article.url
    return normalize_name(host.removeprefix("www."))[:200]


def _words(article: Article) -> set[str]:
    text = normalize_name(f"{article.title} {article.summary[:LEAD_CHARACTERS]}")
    words = {w for w in text.split() if len(w) >= 3 and w not in _COMMON_WORDS}
    # An article with no words is like no other: its own link stands in, never an empty set (Jaccard 1).
    return words or {f"#{article.url}"}


def signature(article: Article) -> np.ndarray:
    """MinHash values (uint32) of an article's headline and lead words."""
    minhash = MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, scheme=MINHASH_SCHEME, permutations=_PERMUTATIONS)
    minhash.update_batch([w.encode("utf-8") for w in sorted(_words(article))])
    return minhash.hashvalues.astype(np.uint32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of the word sets behind two signatures."""
    return float(np.count_nonzero(a == b)) / NUM_PERM


def _band_keys(values: np.ndarray, prefix: str, bands: int, rows: int) -> list[str]:
    return [f"{prefix}{band}:" + hashlib.blake2b(values[band * rows:(band + 1) * rows].tobytes(),
                                                 digest_size=8).hexdigest()
            for band in range(bands)]


@dataclass
class Fingerprint:
    article_id: int
    outlet: str
    values: np.ndarray
    killed: int
    freed: int

    @property
    def outlet_key(self) -> str:
        return "o:" + hashlib.blake2b(self.outlet.encode("utf-8"), digest_size=8).hexdigest()

    @property
    def wire_keys(self) -> list[str]:
        return _band_keys(self.values, "w", WIRE_BANDS, WIRE_ROWS)

    @property
    def story_keys(self) -> list[str]:
        return _band_keys(self.values, "s", STORY_BANDS, STORY_ROWS)


def fingerprint(article: Article) -> Fingerprint:
    killed, freed = scale_cues(f"{article.title}\n{article.summary}")
    return Fingerprint(article.id, article_outlet(article), signature(article), killed, freed)


def _from_row(row: ArticleFingerprint) -> Fingerprint:
    return Fingerprint(row.article_id, row.outlet, np.frombuffer(row.minhash, dtype=np.uint32), row.killed, row.freed)


def _when(article: Article) -> datetime:
    return article.published_at or article.first_seen_at


# --- Building alerts ------------------------------------------------------------------------------------


class _AlertBuilder:
    """One transaction's worth of alert building, with what it has read kept for the next article."""

    def __init__(self, session: Session, risks: dict[int, FacilityRisk], changes: AlertChanges):
        self.session = session
        self.risks = risks
        self.changes = changes
        self.fingerprints: dict[int, Fingerprint] = {}
        self.open_alerts: dict[str, Alert] = {}
        self.cues: dict[int, tuple[int, int]] = {}
        self.indexed: set[int] = set()
        # Rows nothing reads back during the build (the in-memory state above answers), written in bulk.
        self.pending_fingerprints: list[dict] = []
        self.pending_links: list[dict] = []

    def write_pending(self) -> None:
        if self.pending_fingerprints:
            self.session.execute(insert(ArticleFingerprint.__table__), self.pending_fingerprints)
            self.pending_fingerprints = []
        if self.pending_links:
            self.session.execute(insert(AlertArticle.__table__), self.pending_links)
            self.pending_links = []

    # Fingerprints: computed once per article, stored, then only read.
    def prefetch_fingerprints(self, article_ids: list[int]) -> None:
        wanted = [i for i in article_ids if i not in self.fingerprints]
        for start in range(0, len(wanted), 500):
            for row in self.session.exec(select(ArticleFingerprint).where(
                    ArticleFingerprint.article_id.in_(wanted[start:start + 500]))):
                self.fingerprints[row.article_id] = _from_row(row)

    def fingerprint_of(self, article: Article) -> Fingerprint:
        found = self.fingerprints.get(article.id)
        if found is None:
            found = fingerprint(article)
            self.pending_fingerprints.append({
                "article_id": article.id, "outlet": found.outlet, "minhash": found.values.tobytes(),
                "killed": found.killed, "freed": found.freed})
            self.fingerprints[article.id] = found
        return found

    def values_of(self, article_ids: Iterable[int]) -> dict[int, np.ndarray]:
        self.prefetch_fingerprints(list(article_ids))
        return {i: self.fingerprints[i].values for i in article_ids if i in self.fingerprints}

    # Finding the alert an article belongs to.
    def open_alert(self, group_key: str, when: datetime) -> Optional[Alert]:
        cached = self.open_alerts.get(group_key)
        if cached is not None and cached.status in OPEN_STATUSES and cached.last_seen_at >= when - GROUP_WINDOW:
            return cached
        alert = self.session.exec(select(Alert).where(Alert.group_key == group_key,
                                                      Alert.status.in_(OPEN_STATUSES),
                                                      Alert.last_seen_at >= when - GROUP_WINDOW)
                                  .order_by(Alert.last_seen_at.desc())).first()
        if alert is not None:
            self.open_alerts[group_key] = alert
        return alert

    def story_alert(self, fp: Fingerprint, kind: str, when: datetime) -> Optional[Alert]:
        """The open unlinked alert of this kind, within the window, whose articles tell the same story."""
        self.session.flush()  # the time spans of alerts this build extended decide what is in the window
        key = AlertCorroborationKey
        rows = self.session.exec(
            select(key.alert_id, key.article_id).join(Alert, Alert.id == key.alert_id)
            .where(key.key.in_(fp.story_keys), Alert.group_key.like(f"{STORY_PREFIX}%|{kind}"),
                   Alert.status.in_(OPEN_STATUSES), Alert.last_seen_at >= when - GROUP_WINDOW)
            .distinct()).all()
        by_alert: dict[int, list[int]] = defaultdict(list)
        for alert_id, article_id in rows:
            if len(by_alert[alert_id]) < VERIFY_PER_CANDIDATE:
                by_alert[alert_id].append(article_id)
        values = self.values_of({a for ids in by_alert.values() for a in ids})
        best: Optional[tuple[float, int]] = None
        for alert_id, article_ids in by_alert.items():
            score = max((similarity(fp.values, values[a]) for a in article_ids if a in values), default=0.0)
            if score >= STORY_SIMILARITY and (best is None or score > best[0]):
                best = (score, alert_id)
        return self.session.get(Alert, best[1]) if best else None

    def add(self, article: Article, labels: list[str], mentions: list[FacilityMention]) -> None:
        subject, facility_id, candidate, country = _subject(mentions)
        kind = signal_kind(labels)
        when = _when(article)
        fp = self.fingerprint_of(article)
        if subject is None:
            alert = self.story_alert(fp, kind, when)
            group_key = f"{STORY_PREFIX}{article.id}|{kind}"
        else:
            group_key = f"{subject}|{kind}"
            alert = self.open_alert(group_key, when)
        created = alert is None
        if created:
            alert = Alert(facility_id=facility_id, candidate_name=candidate, candidate_country=country,
                          group_key=group_key, labels=[], first_seen_at=when, last_seen_at=when, outlet_count=0)
            self.session.add(alert)
            self.session.flush()
            self.changes.created.append(alert.id)
            self.indexed.add(alert.id)
            self.cues[alert.id] = (0, 0)
            if subject is not None:
                self.open_alerts[group_key] = alert
        else:
            self.changes.joined.append(alert.id)
            self.ensure_index(alert, exclude=article.id)
        before = None if created else alert.severity
        self.pending_links.append({"alert_id": alert.id, "article_id": article.id, "added_at": utcnow()})
        alert.outlet_count += self.corroborate(alert, fp)
        self.update_summary(alert, labels, when, fp)
        if before is not None and SEVERITIES.index(alert.severity) > SEVERITIES.index(before) \
                and alert.id not in self.changes.raised:
            self.changes.raised.append(alert.id)

    # Corroboration, kept incrementally.
    def corroborate(self, alert: Alert, fp: Fingerprint) -> int:
        """Index the article in the alert; returns the change in the number of independent outlets."""
        key = AlertCorroborationKey
        outlet_key, wire_keys = fp.outlet_key, fp.wire_keys
        rows = self.session.exec(select(key.key, key.article_id, key.cluster)
                                 .where(key.alert_id == alert.id, key.key.in_([outlet_key, *wire_keys]))).all()
        clusters = {cluster for k, _, cluster in rows if k == outlet_key}
        to_verify: dict[int, list[int]] = defaultdict(list)
        for k, article_id, cluster in rows:
            if k != outlet_key and cluster not in clusters and len(to_verify[cluster]) < VERIFY_PER_CANDIDATE:
                to_verify[cluster].append(article_id)
        values = self.values_of({a for ids in to_verify.values() for a in ids})
        for cluster, article_ids in to_verify.items():
            if any(similarity(fp.values, values[a]) >= WIRE_COPY_SIMILARITY for a in article_ids if a in values):
                clusters.add(cluster)

        if not clusters:
            target, change = fp.article_id, 1
        elif len(clusters) == 1:
            target, change = next(iter(clusters)), 0
        else:
            # The article bridges clusters (a wire copy carried by two outlets): they are one outlet now.
            sizes = dict(self.session.exec(select(key.cluster, func.count()).where(
                key.alert_id == alert.id, key.cluster.in_(clusters)).group_by(key.cluster)).all())
            target = max(clusters, key=lambda c: (sizes.get(c, 0), -c))
            self.session.execute(update(key).where(key.alert_id == alert.id, key.cluster.in_(clusters - {target}))
                                 .values(cluster=target))
            change = 1 - len(clusters)

        present = {(k, target if cluster in clusters else cluster) for k, _, cluster in rows}
        wanted = [outlet_key, *wire_keys]
        if alert.group_key.startswith(STORY_PREFIX):
            wanted += fp.story_keys  # what the next unlinked report of this story looks up
        new_rows = [{"alert_id": alert.id, "key": k, "article_id": fp.article_id, "cluster": target}
                    for k in wanted if (k, target) not in present]
        if new_rows:
            self.session.execute(insert(key.__table__), new_rows)
        return change

    def ensure_index(self, alert: Alert, exclude: int) -> None:
        """An alert made before incremental corroboration existed is indexed once, from its articles."""
        if alert.id in self.indexed:
            return
        self.indexed.add(alert.id)
        key = AlertCorroborationKey
        if self.session.exec(select(key.id).where(key.alert_id == alert.id).limit(1)).first() is not None:
            return
        self.write_pending()
        articles = list(self.session.exec(select(Article).join(AlertArticle, AlertArticle.article_id == Article.id)
                                          .where(AlertArticle.alert_id == alert.id, Article.id != exclude)
                                          .order_by(Article.id)))
        if not articles:
            return
        self.prefetch_fingerprints([a.id for a in articles])
        count = 0
        for article in articles:
            count += self.corroborate(alert, self.fingerprint_of(article))
        alert.outlet_count = count

    def alert_cues(self, alert: Alert) -> tuple[int, int]:
        cues = self.cues.get(alert.id)
        if cues is None:
            self.write_pending()
            killed, freed = self.session.exec(
                select(func.max(ArticleFingerprint.killed), func.max(ArticleFingerprint.freed))
                .join(AlertArticle, AlertArticle.article_id == ArticleFingerprint.article_id)
                .where(AlertArticle.alert_id == alert.id)).one()
            cues = (killed or 0, freed or 0)
        return cues

    def update_summary(self, alert: Alert, labels: list[str], when: datetime, fp: Fingerprint) -> None:
        """Labels, time span and severity after one more article, from what the alert already keeps."""
        present = set(alert.labels or []) | set(labels)
        alert.labels = [label for label in LABELS if label in present]
        alert.first_seen_at = min(alert.first_seen_at, when)
        alert.last_seen_at = max(alert.last_seen_at, when)
        killed, freed = self.alert_cues(alert)
        cues = (max(killed, fp.killed), max(freed, fp.freed))
        self.cues[alert.id] = cues
        risk = self.risks.get(alert.facility_id) if alert.facility_id else None
        severity, reason = assess_severity(alert.labels, "", risk, alert.outlet_count, cues=cues)
        # An alert never drops in severity because a milder article joined it.
        if alert.severity and severity and SEVERITIES.index(alert.severity) > SEVERITIES.index(severity):
            severity, reason = alert.severity, alert.severity_reason
        alert.severity = severity or "low"
        alert.severity_reason = reason
        alert.updated_at = utcnow()


_risks_cache: dict[str, tuple[tuple, dict[int, FacilityRisk]]] = {}


def _facility_risks(session: Session, engine: Engine) -> dict[int, FacilityRisk]:
    """Every facility's risk profile, read again only when a facility was added, removed or edited.

    Building it reads every facility; a worker asks every cycle, often for one or two new articles.
    """
    stamp = tuple(session.exec(select(func.count(Facility.id), func.max(Facility.updated_at),
                                      func.max(Facility.id))).one())
    key = engine.url.render_as_string(hide_password=False)
    cached = _risks_cache.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    risks = facility_risks(session)
    _risks_cache[key] = (stamp, risks)
    return risks


def build_alerts(engine: Engine, article_ids: Iterable[int]) -> AlertChanges:
    """Put newly classified articles into alerts: join an open alert on the same subject, or start one."""
    changes = AlertChanges()
    ids = sorted(set(article_ids))
    if not ids:
        return changes
    with Session(engine) as session:
        risks = _facility_risks(session, engine)
    with session_scope(engine) as session, session.no_autoflush:
        builder = _AlertBuilder(session, risks, changes)
        done: set[int] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = session.exec(select(Article, Classification)
                                .join(Classification, Classification.article_id == Article.id)
                                .where(Article.id.in_(chunk)).order_by(Article.id)).all()
            # Already in an alert: a rerun after a crash, or a second classification of the article.
            done.update(session.exec(select(AlertArticle.article_id).where(AlertArticle.article_id.in_(chunk))))
            mentions: dict[int, list[FacilityMention]] = defaultdict(list)
            for mention in session.exec(select(FacilityMention).where(FacilityMention.article_id.in_(chunk))):
                mentions[mention.article_id].append(mention)
            builder.prefetch_fingerprints(chunk)
            for article, classification in rows:
                if not classification.labels or article.id in done:
                    continue
                done.add(article.id)
                builder.add(article, list(classification.labels), mentions[article.id])
            builder.write_pending()
            session.flush()
    return changes


def count_independent_outlets(session: Session, alert_id: int) -> int:
    """An alert's independent outlets as its index holds them (what outlet_count is kept equal to)."""
    key = AlertCorroborationKey
    return session.exec(select(func.count(func.distinct(key.cluster))).where(key.alert_id == alert_id)).one()


def alert_place(session: Session, alert: Alert) -> tuple[str, Optional[str]]:
    """(display name, country code) of what an alert is about."""
    if alert.facility_id:
        facility = session.get(Facility, alert.facility_id)
        return facility.name, facility.country
    if alert.candidate_name:
        return f"{alert.candidate_name} (not in the facility list)", alert.candidate_country
    return "unlinked report", None
