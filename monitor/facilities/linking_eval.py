"""Measuring facility linking against gold links: primary/mentioned precision and recall.

Gold comes in two shapes: `dev_facility_links.jsonl` (per item id, the facilities where the reported
event happens, `primary`, and those named as context, `mentioned`), joined by id to the news items of
`dev_news.jsonl`; and replay months whose items carry a `facility` field naming the facility an item
names (files that carry the field on some items assert that the others name none).

Gold names are facility names as the press or the gazetteer spells them; they are resolved to stored
facilities through names and aliases. A gold facility that no stored facility answers to cannot be
linked by any gazetteer and is counted apart ("not in the gazetteer"), not as a miss.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional

from sqlmodel import Session, select

from monitor.facilities.gazetteer import Gazetteer
from monitor.facilities.names import normalize_name
from monitor.store.schema import Facility, FacilityAlias


def find_shared_dir(repo_root: Path) -> Optional[Path]:
    """The team's shared data folder (eval/, replay/): `shared/` beside the repository, or beside its parent
    (git worktrees live one level deeper); None when absent, as in a fresh clone."""
    for folder in (repo_root.parent / "shared", repo_root.parent.parent / "shared"):
        if (folder / "eval").is_dir():
            return folder
    return None


@dataclass
class GoldItem:
    id: str
    title: str
    text: str
    primary: list[str]
    mentioned: list[str]


@dataclass
class LinkScore:
    items: int = 0
    predicted_primary: int = 0
    correct_primary: int = 0
    gold_primary: int = 0
    found_primary: int = 0
    predicted_mentioned: int = 0
    correct_mentioned: int = 0
    gold_mentioned: int = 0
    found_mentioned: int = 0
    gold_named: int = 0  # gold primary facilities whose name or an alias is written in the text
    found_named: int = 0
    gold_not_in_gazetteer: set[str] = field(default_factory=set)
    errors: list[dict] = field(default_factory=list)

    @staticmethod
    def _ratio(a: int, b: int) -> Optional[float]:
        return a / b if b else None

    @property
    def primary_precision(self) -> Optional[float]:
        return self._ratio(self.correct_primary, self.predicted_primary)

    @property
    def primary_recall(self) -> Optional[float]:
        return self._ratio(self.found_primary, self.gold_primary)

    @property
    def named_recall(self) -> Optional[float]:
        """Recall over the gold primary facilities the text names (a name or alias, normalised, in the text)."""
        return self._ratio(self.found_named, self.gold_named)

    @property
    def mentioned_precision(self) -> Optional[float]:
        return self._ratio(self.correct_mentioned, self.predicted_mentioned)

    @property
    def mentioned_recall(self) -> Optional[float]:
        return self._ratio(self.found_mentioned, self.gold_mentioned)


def load_dev_gold(links_path: Path, news_path: Path) -> list[GoldItem]:
    """Gold links joined to their news items by id (items without gold links are left out)."""
    news = {}
    for line in Path(news_path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            news[row["id"]] = row
    items = []
    for line in Path(links_path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        gold = json.loads(line)
        row = news.get(gold["id"])
        if row is None:
            continue
        items.append(GoldItem(gold["id"], str(row.get("title") or ""), str(row.get("text") or ""),
                              list(gold.get("primary") or []), list(gold.get("mentioned") or [])))
    return items


_AND = re.compile(r"\s+(?:and|&)\s+")


def load_replay_gold(paths: Iterable[Path]) -> list[GoldItem]:
    """Items of replay months that say which facility they name; in such a month an item without the
    field names none. Months that never carry the field have no linking gold and are skipped."""
    items = []
    for path in sorted(paths):
        rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
        if not any("facility" in row for row in rows):
            continue
        for row in rows:
            named = str(row.get("facility") or "").strip()
            gold = _split_gold_name(named) if named else []
            items.append(GoldItem(str(row.get("id")), str(row.get("title") or ""), str(row.get("text") or ""),
                                  gold, []))
    return items


def _split_gold_name(name: str) -> list[str]:
    """'al-Hol and Roj camps' names two camps."""
    parts = _AND.split(name)
    if len(parts) == 1:
        return [name]
    last_words = parts[-1].split()
    kind = last_words[-1] if len(last_words) > 1 else ""
    singular = kind[:-1] if kind.endswith("s") else kind
    if singular:
        parts[-1] = " ".join(last_words[:-1] + [singular])
        parts[:-1] = [f"{p} {singular}" for p in parts[:-1]]
    return parts


class GoldResolver:
    """Gold facility name -> stored facility id, through names and aliases (normalised)."""

    def __init__(self, session: Session):
        self.by_name: dict[str, set[int]] = {}
        self.names_of: dict[int, set[str]] = {}
        for facility_id, name in session.exec(select(Facility.id, Facility.name)):
            self.by_name.setdefault(normalize_name(name), set()).add(facility_id)
        for facility_id, alias in session.exec(select(FacilityAlias.facility_id, FacilityAlias.alias)):
            self.by_name.setdefault(normalize_name(alias), set()).add(facility_id)

    def named_in_text(self, facility_id: int, normalized_text: str) -> bool:
        if not self.names_of:
            for known, ids in self.by_name.items():
                for fid in ids:
                    self.names_of.setdefault(fid, set()).add(known)
        return any(f" {known} " in normalized_text for known in self.names_of.get(facility_id, ()))

    def resolve(self, name: str) -> Optional[int]:
        normalized = normalize_name(name)
        candidates = [normalized, normalized.split(",")[0].strip(), re.sub(r"\s*\(.*\)$", "", normalized)]
        head = normalize_name(name.split(",")[0])
        candidates.append(head)
        for candidate in candidates:
            ids = self.by_name.get(candidate)
            if ids and len(ids) == 1:
                return next(iter(ids))
        # "Guantánamo Bay" for the facility listed as "Guantanamo" and "Guantanamo Bay prison": one facility
        # whose name or alias starts with the gold name, or that the gold name starts with.
        for candidate in (normalized, head):
            ids = {fid for known, fids in self.by_name.items() if len(known) >= 4
                   and (known.startswith(candidate + " ") or candidate.startswith(known + " ")) for fid in fids}
            if len(ids) == 1:
                return next(iter(ids))
        return None


def score_links(gazetteer: Gazetteer, resolver: GoldResolver, items: list[GoldItem],
                keep_errors: bool = False) -> LinkScore:
    score = LinkScore()
    for item in items:
        score.items += 1
        gold_primary, gold_mentioned = set(), set()
        for names_, into in ((item.primary, gold_primary), (item.mentioned, gold_mentioned)):
            for name in names_:
                facility_id = resolver.resolve(name)
                if facility_id is None:
                    score.gold_not_in_gazetteer.add(name)
                else:
                    into.add(facility_id)
        gold_mentioned -= gold_primary
        result = gazetteer.link(item.title, item.text)
        predicted_primary = {link.facility_id for link in result.links if link.role == "primary"}
        predicted_mentioned = {link.facility_id for link in result.links if link.role == "mentioned"}
        score.predicted_primary += len(predicted_primary)
        score.correct_primary += len(predicted_primary & gold_primary)
        score.gold_primary += len(gold_primary)
        score.found_primary += len(gold_primary & predicted_primary)
        normalized_text = f" {normalize_name(item.title + ' ' + item.text)} "
        named_gold = {fid for fid in gold_primary if resolver.named_in_text(fid, normalized_text)}
        score.gold_named += len(named_gold)
        score.found_named += len(named_gold & predicted_primary)
        score.predicted_mentioned += len(predicted_mentioned)
        score.correct_mentioned += len(predicted_mentioned & gold_mentioned)
        score.gold_mentioned += len(gold_mentioned)
        score.found_mentioned += len(gold_mentioned & predicted_mentioned)
        if keep_errors and (predicted_primary != gold_primary or predicted_mentioned != gold_mentioned):
            entries = gazetteer.entries
            score.errors.append({
                "id": item.id,
                "gold_primary": sorted(entries[i].name for i in gold_primary),
                "gold_mentioned": sorted(entries[i].name for i in gold_mentioned),
                "links": [link.as_dict() for link in result.links],
            })
    return score
