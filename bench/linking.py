"""Facility-linking benchmark: primary/mentioned precision and recall on gold links, with and without a large
facility pack, and linking speed against the bundled-only gazetteer measured in the same run.

The gazetteer is the real one: a temporary SQLite store initialised like `monitor init` (the bundled
knowledge base), plus `../shared/eval/realnews_gazetteer.csv` imported with the facility CSV import,
plus each `--pack FILE.csv` (the `monitor facilities import` format) for the "with pack" rows.

Gold: `../shared/eval/dev_facility_links.jsonl` joined by id to `dev_news.jsonl`, and the replay months
(`../shared/replay/*.jsonl`) whose items carry a `facility` field (in those months an item without the
field names no facility, so any primary link on it is counted as wrong).

`--synthetic N` adds N generated facilities instead of a real pack: a speed check only (made-up names
can neither be right nor wrong on real news), never a precision figure.

    python bench/linking.py [--shared ../shared] [--pack FILE.csv ...] [--synthetic 20000] [--errors FILE.jsonl]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from monitor.facilities.csv_io import import_facilities
from monitor.facilities.gazetteer import Gazetteer
from monitor.facilities.knowledge_base import load_knowledge_base
from monitor.facilities.linking_eval import (
    GoldResolver,
    LinkScore,
    find_shared_dir,
    load_dev_gold,
    load_replay_gold,
    score_links,
)
from monitor.store.db import make_engine, session_scope
from monitor.store.migrate import upgrade_store

REPO = Path(__file__).resolve().parent.parent
SYLLABLES = ("ka", "ru", "mi", "to", "sa", "del", "bor", "an", "ze", "li", "qu", "om", "ta", "ver", "gh", "is")


def default_shared() -> Path:
    return find_shared_dir(REPO) or REPO.parent / "shared"


def build_store(folder: Path, csv_files: list[Path]):
    engine = make_engine(f"sqlite:///{folder / 'monitor.db'}")
    upgrade_store(engine)
    with session_scope(engine) as session:
        load_knowledge_base(session)
    for path in csv_files:
        with session_scope(engine) as session:
            report = import_facilities(session, path, actor="bench", skip_invalid=True)
        skipped = f", {len(report.errors)} rows skipped" if report.errors else ""
        print(f"  imported {path.name}: {report.applied.created if report.applied else 0} facilities{skipped}")
    return engine


def write_synthetic_pack(path: Path, count: int) -> None:
    rng = random.Random(3)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "aliases", "country", "city", "kind"])
        for n in range(count):
            word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()
            town = "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize()
            kind = rng.choice(["prison", "jail", "camp", "detention centre"])
            writer.writerow([f"{word} {kind} {n}", f"{word} central {kind} {n}", "XK", f"{town} {n % 900}",
                             "camp" if kind == "camp" else "prison"])


def fmt(value) -> str:
    return "  n/a" if value is None else f"{value:.3f}"


def print_score(label: str, score: LinkScore) -> None:
    print(f"  {label:<34} items {score.items:>5}  primary P {fmt(score.primary_precision)} "
          f"({score.correct_primary}/{score.predicted_primary})  R {fmt(score.primary_recall)} "
          f"({score.found_primary}/{score.gold_primary})  R where named {fmt(score.named_recall)} "
          f"({score.found_named}/{score.gold_named})   mentioned P {fmt(score.mentioned_precision)} "
          f"({score.correct_mentioned}/{score.predicted_mentioned})  R {fmt(score.mentioned_recall)} "
          f"({score.found_mentioned}/{score.gold_mentioned})")
    if score.gold_not_in_gazetteer:
        print(f"  {'':<34} gold facilities not in the gazetteer (not scored): "
              f"{', '.join(sorted(score.gold_not_in_gazetteer))}")


def link_rate(gazetteer: Gazetteer, documents) -> float:
    start = time.perf_counter()
    for title, text in documents:
        gazetteer.link(title, text)
    return len(documents) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=default_shared(),
                        help="Folder with eval/ and replay/ (default: the first shared/ beside the repository "
                             "or beside its parent, which covers git worktrees).")
    parser.add_argument("--pack", type=Path, action="append", default=[],
                        help="A large facility CSV to import for the 'with pack' rows (repeatable).")
    parser.add_argument("--synthetic", type=int, default=0,
                        help="Also time linking with this many generated facilities (speed only).")
    parser.add_argument("--errors", type=Path, default=None,
                        help="Write every item whose links differ from gold to this JSONL file.")
    args = parser.parse_args()

    eval_dir, replay_dir = args.shared / "eval", args.shared / "replay"
    realnews = eval_dir / "realnews_gazetteer.csv"
    if not realnews.is_file():
        sys.exit(f"{realnews} not found; pass --shared")
    dev = load_dev_gold(eval_dir / "dev_facility_links.jsonl", eval_dir / "dev_news.jsonl")
    replay = load_replay_gold(replay_dir.glob("*.jsonl"))
    documents = [(item.title, item.text) for item in dev + replay]

    configurations = [("bundled + realnews", [realnews])]
    for pack in args.pack:
        configurations.append((f"bundled + realnews + {pack.name}", [realnews, pack]))
    errors = []
    rates = {}
    with tempfile.TemporaryDirectory() as folder:
        if args.synthetic:
            synthetic = Path(folder) / "synthetic_pack.csv"
            write_synthetic_pack(synthetic, args.synthetic)
            configurations.append((f"+ {args.synthetic:,} synthetic (speed only)", [realnews, synthetic]))
        for number, (label, files) in enumerate(configurations):
            print(f"{label}:")
            store = Path(folder) / f"store{number}"
            store.mkdir()
            engine = build_store(store, files)
            from sqlmodel import Session

            with Session(engine) as session:
                started = time.perf_counter()
                gazetteer = Gazetteer.from_session(session)
                built = time.perf_counter() - started
                resolver = GoldResolver(session)
            print(f"  {len(gazetteer.entries):,} facilities, gazetteer built in {built:.1f} s")
            rates[label] = link_rate(gazetteer, documents)
            if "synthetic" in label:
                engine.dispose()
                continue
            dev_score = score_links(gazetteer, resolver, dev, keep_errors=bool(args.errors))
            replay_score = score_links(gazetteer, resolver, replay, keep_errors=bool(args.errors))
            print_score("dev_facility_links (dev_news)", dev_score)
            print_score("replay months with facility gold", replay_score)
            for name, score in (("dev", dev_score), ("replay", replay_score)):
                errors.extend({"set": name, "configuration": label, **e} for e in score.errors)
            engine.dispose()
    base = rates[configurations[0][0]]
    print(f"linking speed over the {len(documents):,} gold items (one run; ratio to bundled + realnews):")
    for label, value in rates.items():
        print(f"  {label:<44} {value:9,.0f} items/s   {value / base:.2f}x")
    if args.errors:
        args.errors.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in errors), encoding="utf-8")
        print(f"wrote {len(errors)} differing items to {args.errors}")


if __name__ == "__main__":
    main()
