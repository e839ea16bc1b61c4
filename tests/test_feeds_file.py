"""feeds.yaml: the shipped list is valid, and mistakes in a user's file are named clearly."""

from __future__ import annotations

import pytest

from monitor.ingest.feeds import FeedsFileError, read_feeds_file
from tests.conftest import REPO_ROOT


def test_the_shipped_feeds_file_is_valid_and_covers_three_languages():
    specs = read_feeds_file(REPO_ROOT / "feeds.yaml")
    assert len(specs) >= 30
    assert {s.language for s in specs} >= {"en", "ar", "fr"}
    assert all(s.url.startswith("https://") for s in specs)
    assert any("news.google.com/rss/search" in s.url for s in specs)


@pytest.mark.parametrize("text, message", [
    ("feeds: nope", "expected a top-level 'feeds:' list"),
    ("feeds:\n  - url: https://a.example/rss\n", "name is missing"),
    ("feeds:\n  - name: A\n    url: file:///etc/passwd\n", "url must start with http"),
    ("feeds:\n  - name: A\n    url: https://a.example/\n  - name: A\n    url: https://b.example/\n", "used twice"),
    ("feeds:\n  - name: A\n    url: https://a.example/\n    interval_minutes: 0\n", "interval_minutes"),
    ("feeds:\n  - name: A\n    url: https://a.example/\n    intervall: 5\n", "unknown key(s) intervall"),
    ("feeds: [\n", "not valid YAML"),
])
def test_mistakes_are_named(tmp_path, text, message):
    path = tmp_path / "feeds.yaml"
    path.write_text(text)
    with pytest.raises(FeedsFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_feeds_file(path)


def test_init_refuses_a_broken_feeds_file_with_its_reason(run_cli, tmp_path):
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds:\n  - name: A\n    url: ftp://a.example/\n")
    result = run_cli("--feeds-file", str(path), "init", expect=1)
    assert "url must start with http" in result.output
