"""Alert building kept incrementally: corroboration by stored signatures and an LSH key index, unlinked
reports grouped by story, never by label alone. Real stores (SQLite; PostgreSQL when configured).

Texts here are written for these tests: wire copies are the same paragraph with a changed word or two,
different stories are different paragraphs.
"""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, insert
from sqlmodel import Session, select

from monitor.alerts.events import (
    WIRE_COPY_SIMILARITY,
    build_alerts,
    count_independent_outlets,
    signature,
    similarity,
)
from monitor.store.db import session_scope
from monitor.store.schema import (
    Alert,
    AlertArticle,
    AlertCorroborationKey,
    Article,
    ArticleFingerprint,
    Classification,
    Facility,
    FacilityMention,
)

START = datetime(2026, 11, 30, 6, tzinfo=timezone.utc)
BREAK = ("Inmates escape after gunmen attack the central prison overnight",
         "Armed men blew a hole in the outer wall before dawn and dozens of detainees fled into nearby "
         "farmland, a security official said, adding that a search was under way across the district.")
BREAK_REWRITE = ("Gunmen storm the central prison and free inmates in night raid",
                 "Attackers breached the outer wall with explosives before dawn; dozens of detainees fled into "
                 "farmland nearby while troops searched the district, officials said.")
RIOT = ("Riot in a coastal jail leaves cell blocks burned",
        "Prisoners protesting overcrowding set mattresses alight and took two guards hostage during a "
        "standoff that lasted most of the afternoon before police regained control.")
TRANSFER = ("Hundreds of detainees moved to a new facility in the north",
            "Buses carried the men under escort over two days; relatives said they were given no notice "
            "and lawyers asked the ministry where their clients are now held.")


def _copy(text: tuple[str, str], change: str) -> tuple[str, str]:
    """A wire copy: the same story with one word of the lead changed by the desk that ran it."""
    title, lead = text
    return title, lead.replace("official", change, 1)


class Store:
    def __init__(self, engine):
        self.engine = engine
        self.n = 0
        with Session(engine) as session:
            self.facility_id = session.exec(select(Facility.id).where(Facility.slug == "ghwayran-prison")).one()

    def article(self, text: tuple[str, str], outlet: str, *, labels=("prison_break",), facility: bool = True,
                hours: float = 0.0) -> int:
        self.n += 1
        title, lead = text
        with session_scope(self.engine) as session:
            article = Article(url=f"https://{outlet.lower().replace(' ', '')}.example/story/{self.n}",
                              content_key=hashlib.sha256(f"{self.n}-{outlet}".encode()).hexdigest(), title=title,
                              summary=lead, outlet=outlet, published_at=START + timedelta(hours=hours),
                              classified_at=START)
            session.add(article)
            session.flush()
            session.add(Classification(article_id=article.id, model_version="test", labels=list(labels)))
            if facility:
                session.add(FacilityMention(article_id=article.id, facility_id=self.facility_id, role="primary",
                                            confidence=0.9, matched="Ghwayran prison"))
            return article.id

    def alerts(self) -> list[Alert]:
        with Session(self.engine) as session:
            return list(session.exec(select(Alert).order_by(Alert.id)))

    def articles_of(self, alert_id: int) -> list[int]:
        with Session(self.engine) as session:
            return sorted(session.exec(select(AlertArticle.article_id).where(AlertArticle.alert_id == alert_id)))


@pytest.fixture
def store(engine):
    return Store(engine)


def test_wire_copies_under_other_mastheads_count_once_and_new_outlets_add(store):
    ids = [store.article(BREAK, "Levant Wire"),
           store.article(_copy(BREAK, "officer"), "Daily Courier"),     # the wire story, reprinted
           store.article(_copy(BREAK, "spokesman"), "Evening Post"),    # and again
           store.article(BREAK_REWRITE, "Frontier Radio"),              # its own reporting
           store.article(RIOT, "Levant Wire", labels=("riot_unrest",))]  # the wire's own second piece
    changes = build_alerts(store.engine, ids)
    [alert] = store.alerts()
    assert changes.created == [alert.id] and store.articles_of(alert.id) == sorted(ids)
    # Levant Wire + its two reprints are one outlet; Frontier Radio is a second.
    assert alert.outlet_count == 2
    assert alert.labels == ["prison_break", "riot_unrest"]
    with Session(store.engine) as session:
        assert count_independent_outlets(session, alert.id) == 2
        assert len(session.exec(select(ArticleFingerprint)).all()) == len(ids)


def test_the_kept_count_equals_a_pairwise_recount_whatever_the_order(store):
    """Incremental clusters (including merges when an article bridges two) match the old pairwise count."""
    texts = [BREAK, _copy(BREAK, "officer"), BREAK_REWRITE, RIOT, TRANSFER, _copy(BREAK, "spokesman")]
    outlets = ["A", "B", "C", "B", "D", "E", "F", "C"]
    plan = [(texts[(n * 5) % len(texts)], outlets[(n * 3) % len(outlets)]) for n in range(24)]
    ids = [store.article(text, outlet, hours=n * 0.5) for n, (text, outlet) in enumerate(plan)]
    for start in range(0, len(ids), 5):  # several builds, as several polling cycles would run
        build_alerts(store.engine, ids[start:start + 5])
    [alert] = store.alerts()

    # Pairwise union-find over the same rule: same outlet, or near-identical words.
    with Session(store.engine) as session:
        articles = [session.get(Article, i) for i in ids]
    signatures = [signature(a) for a in articles]
    parent = list(range(len(articles)))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(articles)):
        for j in range(i + 1, len(articles)):
            if articles[i].outlet == articles[j].outlet \
                    or similarity(signatures[i], signatures[j]) >= WIRE_COPY_SIMILARITY:
                parent[find(i)] = find(j)
    assert alert.outlet_count == len({find(i) for i in range(len(articles))})


def test_a_bridging_article_merges_two_outlets_into_one(store):
    first = store.article(BREAK, "Levant Wire")
    second = store.article(RIOT, "Daily Courier", labels=("riot_unrest",))
    build_alerts(store.engine, [first, second])
    assert store.alerts()[0].outlet_count == 2
    # The Courier now runs the wire's story word for word: the two were never independent.
    build_alerts(store.engine, [store.article(_copy(BREAK, "officer"), "Daily Courier")])
    assert store.alerts()[0].outlet_count == 1


def test_unlinked_reports_group_by_story_not_by_label(store):
    a = store.article(BREAK, "Levant Wire", facility=False)
    b = store.article(_copy(BREAK, "officer"), "Daily Courier", facility=False, hours=1)
    c = store.article(RIOT, "Evening Post", labels=("prison_break",), facility=False, hours=2)
    build_alerts(store.engine, [a, b, c])
    alerts = store.alerts()
    assert len(alerts) == 2, "a different incident with the same label is another alert"
    by_articles = {tuple(store.articles_of(alert.id)): alert for alert in alerts}
    assert set(by_articles) == {(a, b), (c,)}
    assert all(alert.group_key.startswith("story:") and alert.facility_id is None for alert in alerts)
    # Outside the window the same story starts a new alert.
    late = store.article(BREAK, "Frontier Radio", facility=False, hours=24 * 5)
    build_alerts(store.engine, [late])
    assert len(store.alerts()) == 3


def test_rerun_after_a_crash_adds_nothing_twice(store):
    ids = [store.article(BREAK, "Levant Wire"), store.article(BREAK_REWRITE, "Frontier Radio")]
    build_alerts(store.engine, ids)
    before = store.alerts()[0]
    assert build_alerts(store.engine, ids).created == []
    after = store.alerts()[0]
    assert (after.outlet_count, store.articles_of(after.id)) == (before.outlet_count, sorted(ids))


def test_an_alert_built_before_the_index_existed_is_indexed_on_its_next_article(store):
    """A store upgraded from 0004 has alerts with articles and no keys: the next join indexes them once."""
    ids = [store.article(BREAK, "Levant Wire"), store.article(_copy(BREAK, "officer"), "Daily Courier"),
           store.article(BREAK_REWRITE, "Frontier Radio")]
    build_alerts(store.engine, ids)
    with session_scope(store.engine) as session:
        session.execute(delete(AlertCorroborationKey))
        session.execute(delete(ArticleFingerprint))
        alert = session.exec(select(Alert)).one()
        alert.outlet_count = 7  # whatever the old pairwise count said; it is recounted
    build_alerts(store.engine, [store.article(RIOT, "Evening Post", labels=("riot_unrest",))])
    [alert] = store.alerts()
    assert alert.outlet_count == 3


def test_severity_uses_the_largest_figures_any_article_reported(store):
    small = ("Two inmates escape from the central prison", "Guards noticed two men missing at the morning count.")
    large = ("Hundreds flee the central prison after attack", "At least 300 inmates escaped after the attack, "
             "and 12 guards were killed, officials said.")
    build_alerts(store.engine, [store.article(small, "Levant Wire")])
    low = store.alerts()[0].severity
    changes = build_alerts(store.engine, [store.article(large, "Frontier Radio", labels=("prison_break",
                                                                                        "attack_on_facility"))])
    [alert] = store.alerts()
    assert changes.raised == [alert.id] and alert.severity != low
    assert "300 freed or escaped" in alert.severity_reason or "large scale" in alert.severity_reason
    # A milder report later never lowers it.
    build_alerts(store.engine, [store.article(small, "Evening Post")])
    assert store.alerts()[0].severity == alert.severity


def test_a_two_thousand_article_alert_joins_its_next_article_in_constant_work(store):
    """Joining reads the new article's keys, not the alert's articles: a count of queries, not a timing."""
    from sqlalchemy import event

    now = START
    rng = random.Random(5)
    # Each outlet writes its own words (synthetic tokens), so 400 outlets are 400 independent sources.
    leads = [" ".join(f"term{rng.randrange(5000)}" for _ in range(30)) for _ in range(400)]
    rows = [{"url": f"https://outlet{n % 400}.example/{n}", "content_key": hashlib.sha256(str(n).encode()).hexdigest(),
             "title": f"Report {n} on the central prison break", "summary": f"{leads[n % 400]} update {n}",
             "outlet": f"Outlet {n % 400}", "published_at": now, "first_seen_at": now, "classified_at": now}
            for n in range(2000)]
    with session_scope(store.engine) as session:
        session.execute(insert(Article), rows)
        ids = list(session.exec(select(Article.id).order_by(Article.id)))
        session.execute(insert(Classification), [{"article_id": i, "model_version": "test", "labels": ["prison_break"],
                                                  "scores": {}} for i in ids])
        session.execute(insert(FacilityMention), [{"article_id": i, "facility_id": store.facility_id, "role": "primary",
                                                   "confidence": 0.9, "matched": "Ghwayran prison"} for i in ids])
    build_alerts(store.engine, ids)
    [alert] = store.alerts()
    assert len(store.articles_of(alert.id)) == 2000 and alert.outlet_count == 400

    statements = []

    def count(*_args):
        statements.append(1)

    next_id = store.article(BREAK_REWRITE, "Outlet 401")
    event.listen(store.engine, "before_cursor_execute", count)
    try:
        build_alerts(store.engine, [next_id])
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert store.alerts()[0].outlet_count == 401
    assert len(statements) < 40, f"{len(statements)} statements for one join"
