"""A realistic gazetteer for the linking tests: a real SQLite store initialised like `monitor init` (the bundled
knowledge base), plus facilities whose names are everyday words (tests/fixtures, written for these tests), plus
the 139 facilities named in real news (`../shared/eval/realnews_gazetteer.csv`) when that folder is present,
all imported with the facility CSV import."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from sqlmodel import Session

from monitor.facilities.csv_io import import_facilities
from monitor.facilities.gazetteer import Gazetteer
from monitor.facilities.knowledge_base import load_knowledge_base
from monitor.facilities.linking_eval import find_shared_dir
from monitor.store.db import make_engine, session_scope
from monitor.store.migrate import upgrade_store

REPO_ROOT = Path(__file__).resolve().parent.parent
EVERYDAY_NAMES_CSV = REPO_ROOT / "tests" / "fixtures" / "facilities_everyday_names.csv"


def shared_dir() -> Optional[Path]:
    return find_shared_dir(REPO_ROOT)


def build_realistic_store(folder: Path, extra_csv: tuple[Path, ...] = ()):
    engine = make_engine(f"sqlite:///{folder / 'monitor.db'}")
    upgrade_store(engine)
    with session_scope(engine) as session:
        load_knowledge_base(session)
    shared = shared_dir()
    files = [EVERYDAY_NAMES_CSV, *extra_csv]
    if shared is not None:
        files.append(shared / "eval" / "realnews_gazetteer.csv")
    for path in files:
        with session_scope(engine) as session:
            report = import_facilities(session, path, actor="tests", skip_invalid=False)
        assert report.imported, [str(e) for e in report.errors]
    return engine


def realistic_gazetteer(folder: Path) -> Gazetteer:
    engine = build_realistic_store(folder)
    with Session(engine) as session:
        gazetteer = Gazetteer.from_session(session)
    engine.dispose()
    return gazetteer


def links(result, role: Optional[str] = None) -> list[str]:
    return sorted(link.name for link in result.links if role is None or link.role == role)
