"""Primary-link precision and recall over the gold links of the dev news (../shared/eval/dev_facility_links.jsonl,
joined by id to dev_news.jsonl) and the replay months that carry facility gold, with the realistic gazetteer.
Skipped when ../shared is absent (a fresh clone). The issue's targets are the floors: precision >= 0.95 and
recall >= 0.90 over the gold facilities the text names.

These sets were read for linking errors while the rules were designed (see docs/linking.md): they are spent
for choosing, and these floors guard against regressions, not generalisation."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from monitor.facilities.gazetteer import Gazetteer
from monitor.facilities.linking_eval import GoldResolver, load_dev_gold, load_replay_gold, score_links
from tests.linking_support import build_realistic_store, shared_dir

SHARED = shared_dir()
pytestmark = pytest.mark.skipif(SHARED is None, reason="../shared (dev gold links) is not present")


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    engine = build_realistic_store(tmp_path_factory.mktemp("gold"))
    with Session(engine) as session:
        gazetteer = Gazetteer.from_session(session)
        resolver = GoldResolver(session)
    dev = load_dev_gold(SHARED / "eval" / "dev_facility_links.jsonl", SHARED / "eval" / "dev_news.jsonl")
    replay = load_replay_gold((SHARED / "replay").glob("*.jsonl"))
    engine.dispose()
    return {"dev": score_links(gazetteer, resolver, dev), "replay": score_links(gazetteer, resolver, replay)}


@pytest.mark.parametrize("name", ["dev", "replay"])
def test_primary_links_meet_the_targets(scored, name):
    score = scored[name]
    assert score.gold_named > 0
    assert score.primary_precision >= 0.95, (score.correct_primary, score.predicted_primary)
    assert score.named_recall >= 0.90, (score.found_named, score.gold_named)
