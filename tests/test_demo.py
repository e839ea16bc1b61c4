"""`monitor demo`: the bundled sample feeds go through the real parse/dedup/store path, offline."""

from __future__ import annotations

from sqlmodel import Session, func, select

from monitor.demo import demo_files
from monitor.ingest.parse import parse_feed
from monitor.store.schema import Article, Feed


def test_demo_loads_every_sample_once_and_is_idempotent(run_cli, engine):
    output = run_cli("demo").output
    entries = sum(len(parse_feed(path.read_bytes()).entries) for path in demo_files())
    assert len(demo_files()) >= 4
    assert "0 failed" in output and "fictional samples" in output
    with Session(engine) as session:
        stored = session.exec(select(func.count()).select_from(Article)).one()
        feeds = list(session.exec(select(Feed).where(Feed.managed_by == "demo")))
        languages = set(session.exec(select(Article.language).distinct()))
    # One story is carried by two demo outlets and stored once.
    assert 0 < stored < entries
    assert all(not f.enabled and f.url.startswith("https://demo.invalid/") for f in feeds)
    assert {"en", "fr", "ar"} <= {lang[:2] for lang in languages if lang}
    assert "0 new articles" in run_cli("demo").output
    assert "demo" in run_cli("feeds", "list").output
