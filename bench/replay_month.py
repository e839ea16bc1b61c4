"""Replay a real month of news through the pipeline and count what an analyst would have seen.

The month (`../shared/replay/2022-07.jsonl`: 2,427 items from BBC, CNN, Guardian and other feeds, two of
them detention incidents) goes through the same stages as a live poll, one day at a time: entries are
stored in a new SQLite store with the bundled facilities (`store_entries`, with dedup), classified and
linked by the service (`classify_pending`), and grouped into alerts (`build_alerts`). Then it prints the
incidents found, the alerts raised, the false alarms among them and the articles behind the false alarms.

The replay labels mark incidents only, so an incident alert without a labelled incident in it is a false
alarm; resurgence, conditions and transfer alerts are listed but cannot be judged against the labels.

    python bench/replay_month.py [REPLAY.jsonl] [--model FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from sqlmodel import Session, select

from monitor.alerts.events import build_alerts, signal_kind
from monitor.classify.model import load_model, load_packaged_model
from monitor.classify.service import SignalAnalyser, classify_pending
from monitor.facilities.knowledge_base import load_knowledge_base
from monitor.ingest.articles import store_entries
from monitor.ingest.parse import ParsedEntry, normalize_link
from monitor.store.db import make_engine, session_scope
from monitor.store.migrate import upgrade_store
from monitor.store.schema import INCIDENT_LABELS, Alert, AlertArticle, Article, Classification, Feed

DEFAULT_REPLAY = Path(__file__).resolve().parent.parent.parent / "shared" / "replay" / "2022-07.jsonl"


def read_items(path: Path) -> list[dict]:
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            sys.exit(f"{path} line {number}: not JSON ({exc.msg})")
        item["published_at"] = datetime.fromisoformat(item["published"]).astimezone(timezone.utc)
        items.append(item)
    return sorted(items, key=lambda item: item["published_at"])


def entry_for(item: dict) -> ParsedEntry:
    return ParsedEntry(guid=item["id"], link=normalize_link(item["id"]), title=item.get("title") or "",
                       text=item.get("text") or "", published=item["published_at"], language="en",
                       outlet=urlsplit(item["source"]).hostname)


def replay(items: list[dict], store: Path, classifier) -> dict:
    engine = make_engine(f"sqlite:///{store}")
    upgrade_store(engine)
    with session_scope(engine) as session:
        load_knowledge_base(session)
        feeds = {}
        for source in sorted({item["source"] for item in items}):
            feed = Feed(name=source[:200], url=source, language="en")
            session.add(feed)
            session.flush()
            feeds[source] = feed.id
    analyser = SignalAnalyser.from_store(engine, classifier)

    by_day: dict[str, list[dict]] = defaultdict(list)
    for item in items:
        by_day[item["published_at"].date().isoformat()].append(item)
    gold_by_link: dict[str, dict] = {normalize_link(item["id"]): item for item in items}
    started = time.perf_counter()
    for day in sorted(by_day):
        with session_scope(engine) as session:
            per_feed: dict[str, list[ParsedEntry]] = defaultdict(list)
            for item in by_day[day]:
                per_feed[item["source"]].append(entry_for(item))
            for source, entries in per_feed.items():
                store_entries(session, session.get(Feed, feeds[source]), entries, datetime.now(timezone.utc))
        classified: list[int] = []
        classify_pending(engine, analyser, on_batch=classified.extend)
        build_alerts(engine, classified)
    seconds = time.perf_counter() - started

    with Session(engine) as session:
        articles = {a.id: a for a in session.exec(select(Article))}
        labels = dict(session.exec(select(Classification.article_id, Classification.labels)).all())
        alerts = list(session.exec(select(Alert).order_by(Alert.first_seen_at)))
        members: dict[int, list[int]] = defaultdict(list)
        for alert_id, article_id in session.exec(select(AlertArticle.alert_id, AlertArticle.article_id)):
            members[alert_id].append(article_id)
    engine.dispose()

    def gold(article_id: int) -> str:
        item = gold_by_link.get(articles[article_id].url)
        return item["label"] if item else "none"

    incidents = [a for a in articles if gold(a) in INCIDENT_LABELS]
    incident_alerts = [alert for alert in alerts if signal_kind(alert.labels) == "incident"]
    found = {a for alert in incident_alerts for a in members[alert.id] if gold(a) in INCIDENT_LABELS}
    false_alarms = [alert for alert in incident_alerts
                    if not any(gold(a) in INCIDENT_LABELS for a in members[alert.id])]
    false_articles = [a for a, chosen in labels.items()
                      if any(label in INCIDENT_LABELS for label in chosen) and gold(a) not in INCIDENT_LABELS]
    return {"items": len(items), "articles": len(articles), "seconds": seconds, "incidents": incidents,
            "found": found, "alerts": alerts, "incident_alerts": incident_alerts, "false_alarms": false_alarms,
            "false_articles": false_articles, "articles_by_id": articles, "members": members, "labels": labels}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("replay", nargs="?", type=Path)
    parser.add_argument("--model", type=Path, help="a model file (default: the packaged model)")
    args = parser.parse_args()
    if args.replay is None:
        if not DEFAULT_REPLAY.is_file():  # `make bench` on a clone without the shared folder beside it
            print(f"replay: skipped, no replay file at {DEFAULT_REPLAY}")
            return
        args.replay = DEFAULT_REPLAY
    if not args.replay.is_file():
        sys.exit(f"no replay file at {args.replay}")
    classifier = load_model(args.model) if args.model else load_packaged_model()
    items = read_items(args.replay)
    with tempfile.TemporaryDirectory() as tmp:
        result = replay(items, Path(tmp) / "replay.db", classifier)

    articles = result["articles_by_id"]
    print(f"replay: {args.replay.name}, {result['items']:,} items -> {result['articles']:,} stored articles, "
          f"model {classifier.version}")
    print(f"  pipeline time (store, classify and link, alerts; day by day): {result['seconds']:.1f} s "
          f"({result['articles'] / result['seconds']:,.0f} articles/s)")
    print(f"  incidents found: {len(result['found'])} of {len(result['incidents'])}")
    for article_id in result["incidents"]:
        mark = "found " if article_id in result["found"] else "MISSED"
        print(f"    {mark} {articles[article_id].title[:100]}  {result['labels'].get(article_id)}")
    kinds = defaultdict(int)
    for alert in result["alerts"]:
        kinds[signal_kind(alert.labels)] += 1
    print(f"  alerts raised: {len(result['alerts'])} ("
          + ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items())) + ")")
    print(f"  false-alarm incident alerts: {len(result['false_alarms'])}")
    for alert in result["false_alarms"]:
        titles = "; ".join(articles[a].title[:90] for a in result["members"][alert.id])
        print(f"    alert {alert.id} [{alert.severity}] {','.join(alert.labels)}: {titles}")
    print(f"  false-positive incident articles: {len(result['false_articles'])}")
    for article_id in result["false_articles"]:
        print(f"    {articles[article_id].title[:100]}  {result['labels'][article_id]}")
    others = [alert for alert in result["alerts"] if signal_kind(alert.labels) != "incident"]
    if others:
        print("  other alerts (resurgence, conditions, transfer; the replay labels do not judge these):")
        for alert in others:
            titles = "; ".join(articles[a].title[:90] for a in result["members"][alert.id])
            print(f"    alert {alert.id} [{alert.severity}] {','.join(alert.labels)}: {titles}")


if __name__ == "__main__":
    main()
