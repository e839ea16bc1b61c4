"""Behavioural checks in the manner of CheckList (Ribeiro et al., ACL 2020): run written test cases through
the classifier the product uses and report a pass rate per capability.

The cases live in `tests/behaviour/*.jsonl` (see tests/behaviour/README.md for the schema). They were
written by the team for testing and are never trained on: unlike a held-out split, they probe named
behaviours (a one-line wire flash is still a prison break; "in 2013" makes it history; swapping the
outlet changes nothing), so a failure says what the model does not know.

Three kinds of case:
- `mft` (minimum functionality): one item and what its prediction must satisfy;
- `inv` (invariance): several items that differ in something irrelevant (facility, place, outlet,
  numbers, language) and must get the same prediction;
- `dir` (direction): a base item and a variant with one change that must move the prediction
  (an incident made history must lose its incident label; a none given "gunmen stormed" must gain one).
  A `dir` case passes only when both the base and the variant meet their expectations: the change must
  have flipped something, not merely found the model already wrong.

Every item goes through `SignalAnalyser.analyse`, the path `monitor classify` takes (model + label rules
+ facility linking), with a gazetteer built from the bundled knowledge base so that facility
expectations name bundled slugs and mean the same on every install.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.store.schema import INCIDENT_LABELS, LABELS

if TYPE_CHECKING:  # the model stack (numpy, skops) loads only when checks run, not when the CLI starts
    from monitor.classify.model import SignalClassifier

DEFAULT_CHECKS_DIR = Path(__file__).resolve().parent.parent.parent / "tests" / "behaviour"
FLOORS_FILE = "floors.json"
CASE_TYPES = ("mft", "inv", "dir")
LANGUAGES = ("en", "fr", "ar")
SHAPES = ("headline", "headline_line", "flash", "lede", "article")
REGIONS = ("syria_iraq", "sahel_lake_chad", "drc", "haiti", "latin_america", "south_asia", "europe", "us",
           "east_africa", "north_africa", "middle_east", "asia", "none")
EXPECTATION_KEYS = ("labels", "includes", "excludes", "incident", "primary")
INVARIANT_ASPECTS = ("labels", "incident_labels", "incident", "primary")
DOC_KEYS = ("title", "text")
CASE_KEYS = {"id", "type", "capability", "test", "language", "shape", "region", "note",
             "doc", "docs", "base", "variant", "expect"}


class CheckFileError(ValueError):
    """One or more case lines are unusable; the message lists each as `file:line: problem`."""


class _BadCase(ValueError):
    """What is wrong with one case line (collected into a CheckFileError)."""


@dataclass
class Case:
    id: str
    type: str
    capability: str
    test: str
    language: str
    shape: str
    region: str
    docs: list[dict]  # mft: [doc]; inv: the group; dir: [base, variant]
    expect: dict
    where: str  # file:line, for messages


@dataclass
class Observed:
    """What the product said about one item."""

    labels: list[str]
    scores: dict[str, float]
    primary: str | None  # slug of the primary facility (confidence >= 0.5), if any

    def as_dict(self) -> dict:
        return {"labels": self.labels, "primary": self.primary}


@dataclass
class CaseResult:
    case: Case
    passed: bool
    reason: str
    observed: list[Observed]

    def as_dict(self) -> dict:
        return {"id": self.case.id, "type": self.case.type, "capability": self.case.capability,
                "passed": self.passed, "reason": self.reason, "where": self.case.where,
                "observed": [o.as_dict() for o in self.observed]}


@dataclass
class CapabilityFigures:
    capability: str
    type: str
    cases: int = 0
    passed: int = 0
    failing: list[str] = field(default_factory=list)
    floor: float | None = None

    @property
    def rate(self) -> float:
        return self.passed / self.cases if self.cases else 0.0

    @property
    def below_floor(self) -> bool:
        return self.floor is not None and self.rate < self.floor

    def as_dict(self) -> dict:
        return {"capability": self.capability, "type": self.type, "cases": self.cases, "passed": self.passed,
                "rate": round(self.rate, 3), "floor": self.floor, "below_floor": self.below_floor,
                "failing": self.failing}


@dataclass
class CheckReport:
    model_version: str
    results: list[CaseResult]
    capabilities: dict[str, CapabilityFigures]
    by_language: dict[str, tuple[int, int]]  # language -> (passed, cases)
    by_shape: dict[str, tuple[int, int]]

    @property
    def cases(self) -> int:
        return len(self.results)

    @property
    def passed(self) -> int:
        return sum(1 for r in self.results if r.passed)

    @property
    def below_floor(self) -> list[str]:
        return [name for name, figures in self.capabilities.items() if figures.below_floor]

    def as_dict(self, with_results: bool = False) -> dict:
        out = {
            "model_version": self.model_version, "cases": self.cases, "passed": self.passed,
            "capabilities": {name: figures.as_dict() for name, figures in self.capabilities.items()},
            "by_language": {k: {"passed": p, "cases": n} for k, (p, n) in self.by_language.items()},
            "by_shape": {k: {"passed": p, "cases": n} for k, (p, n) in self.by_shape.items()},
            "below_floor": self.below_floor,
        }
        if with_results:
            out["results"] = [r.as_dict() for r in self.results]
        return out


# -- reading the case files ---------------------------------------------------------------------------

def _check_doc(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise _BadCase(f"{what} must be an object with title and/or text")
    unknown = set(value) - set(DOC_KEYS)
    if unknown:
        raise _BadCase(f"{what} has unknown keys {sorted(unknown)} (allowed: title, text)")
    for key in DOC_KEYS:
        if key in value and not isinstance(value[key], str):
            raise _BadCase(f"{what}.{key} must be a string")
    if not (value.get("title", "").strip() or value.get("text", "").strip()):
        raise _BadCase(f"{what} has no title or text")
    return {"title": value.get("title", ""), "text": value.get("text", "")}


def _check_labels(value: Any, what: str) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _BadCase(f"{what} must be a list of labels")
    unknown = [v for v in value if v not in LABELS]
    if unknown:
        raise _BadCase(f"{what}: unknown label(s) {unknown}; labels are {', '.join(LABELS)} ([] means none)")


def _check_expectation(value: Any, what: str, allow_empty: bool = False) -> dict:
    if not isinstance(value, dict):
        raise _BadCase(f"{what} must be an object")
    unknown = set(value) - set(EXPECTATION_KEYS)
    if unknown:
        raise _BadCase(f"{what} has unknown keys {sorted(unknown)} (allowed: {', '.join(EXPECTATION_KEYS)})")
    if not value and not allow_empty:
        raise _BadCase(f"{what} is empty: say what the prediction must satisfy")
    for key in ("labels", "includes", "excludes"):
        if key in value:
            _check_labels(value[key], f"{what}.{key}")
    if "incident" in value and not isinstance(value["incident"], bool):
        raise _BadCase(f"{what}.incident must be true or false")
    if "primary" in value and not (value["primary"] is None or isinstance(value["primary"], str)):
        raise _BadCase(f"{what}.primary must be a facility slug or null")
    return value


def _parse_case(row: Any, where: str) -> Case:
    if not isinstance(row, dict):
        raise _BadCase("not a JSON object")
    unknown = set(row) - CASE_KEYS
    if unknown:
        raise _BadCase(f"unknown keys {sorted(unknown)}")
    for key in ("id", "type", "capability", "language", "shape", "region"):
        if not isinstance(row.get(key), str) or not row[key].strip():
            raise _BadCase(f"missing or empty {key!r}")
    kind, language, shape, region = row["type"], row["language"], row["shape"], row["region"]
    if kind not in CASE_TYPES:
        raise _BadCase(f"type must be one of {', '.join(CASE_TYPES)}, got {kind!r}")
    if language not in LANGUAGES:
        raise _BadCase(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}")
    if shape not in SHAPES:
        raise _BadCase(f"shape must be one of {', '.join(SHAPES)}, got {shape!r}")
    if region not in REGIONS:
        raise _BadCase(f"region must be one of {', '.join(REGIONS)}, got {region!r}")
    expect = row.get("expect")
    if not isinstance(expect, dict):
        raise _BadCase("missing 'expect' object")
    allowed_docs = {"mft": {"doc"}, "inv": {"docs"}, "dir": {"base", "variant"}}[kind]
    stray = ({"doc", "docs", "base", "variant"} & set(row)) - allowed_docs
    if stray:
        raise _BadCase(f"a {kind} case does not take {sorted(stray)} (it takes {sorted(allowed_docs)})")
    if kind == "mft":
        docs = [_check_doc(row.get("doc"), "doc")]
        _check_expectation(expect, "expect")
    elif kind == "inv":
        group = row.get("docs")
        if not isinstance(group, list) or len(group) < 2:
            raise _BadCase("an inv case needs 'docs': a list of at least two items")
        docs = [_check_doc(doc, f"docs[{i}]") for i, doc in enumerate(group)]
        unknown = set(expect) - {"same", "each"}
        if unknown:
            raise _BadCase(f"an inv expect takes 'same' and optionally 'each', not {sorted(unknown)}")
        if expect.get("same") not in INVARIANT_ASPECTS:
            raise _BadCase(f"expect.same must be one of {', '.join(INVARIANT_ASPECTS)}")
        if "each" in expect:
            _check_expectation(expect["each"], "expect.each")
    else:
        docs = [_check_doc(row.get("base"), "base"), _check_doc(row.get("variant"), "variant")]
        unknown = set(expect) - {"base", "variant"}
        if unknown or "variant" not in expect:
            raise _BadCase("a dir expect is {'base': {...}, 'variant': {...}}")
        _check_expectation(expect.get("base", {}), "expect.base", allow_empty=True)
        _check_expectation(expect["variant"], "expect.variant")
    test = row.get("test", "")
    if not isinstance(test, str):
        raise _BadCase("'test' must be a string")
    return Case(row["id"], kind, row["capability"], test, language, shape, region, docs, expect, where)


def load_cases(directory: Path = DEFAULT_CHECKS_DIR) -> list[Case]:
    """Every case in `directory/*.jsonl`, in file order; all unusable lines are reported at once."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckFileError(f"{directory}: no such folder of behavioural cases")
    files = sorted(directory.glob("*.jsonl"))
    if not files:
        raise CheckFileError(f"{directory}: no *.jsonl case files")
    cases, problems, seen = [], [], {}
    for path in files:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: cannot read: {exc}")
            continue
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"{where}: not JSON ({exc.msg} at column {exc.colno})")
                continue
            try:
                case = _parse_case(row, where)
            except _BadCase as exc:
                problems.append(f"{where}: {exc}")
                continue
            if case.id in seen:
                problems.append(f"{where}: id {case.id!r} is also used at {seen[case.id]}")
                continue
            seen[case.id] = where
            cases.append(case)
    if problems:
        shown = problems[:50]
        more = f"\n... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        raise CheckFileError(f"{len(problems)} unusable line(s) in {directory}:\n" + "\n".join(shown) + more)
    return cases


def load_floors(directory: Path = DEFAULT_CHECKS_DIR) -> dict[str, float]:
    """Minimum pass rate per capability, from `floors.json` beside the cases (empty when there is none)."""
    path = Path(directory) / FLOORS_FILE
    if not path.is_file():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckFileError(f"{path}: not readable JSON: {exc}") from None
    floors = document.get("floors") if isinstance(document, dict) else None
    if not isinstance(floors, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1 for v in floors.values()):
        raise CheckFileError(f"{path}: expected {{\"floors\": {{capability: rate between 0 and 1}}}}")
    return {str(k): float(v) for k, v in floors.items()}


# -- judging ------------------------------------------------------------------------------------------

def _describe(observed: Observed) -> str:
    text = ",".join(observed.labels) or "none"
    return f"{text}; primary {observed.primary}" if observed.primary else text


def unmet(expectation: dict, observed: Observed) -> list[str]:
    """What the observed prediction fails of the expectation (empty when it meets it)."""
    labels = set(observed.labels)
    problems = []
    if "labels" in expectation and labels != set(expectation["labels"]):
        problems.append(f"labels {sorted(expectation['labels']) or 'none'}")
    missing = [label for label in expectation.get("includes", []) if label not in labels]
    if missing:
        problems.append(f"includes {','.join(missing)}")
    extra = [label for label in expectation.get("excludes", []) if label in labels]
    if extra:
        problems.append(f"excludes {','.join(extra)}")
    if "incident" in expectation and bool(labels & set(INCIDENT_LABELS)) != expectation["incident"]:
        problems.append("an incident" if expectation["incident"] else "no incident")
    if "primary" in expectation and observed.primary != expectation["primary"]:
        problems.append(f"primary {expectation['primary']}")
    return problems


def _aspect(observed: Observed, aspect: str):
    if aspect == "labels":
        return tuple(sorted(observed.labels))
    if aspect == "incident_labels":
        return tuple(sorted(set(observed.labels) & set(INCIDENT_LABELS)))
    if aspect == "incident":
        return bool(set(observed.labels) & set(INCIDENT_LABELS))
    return observed.primary


def judge(case: Case, observed: Sequence[Observed]) -> tuple[bool, str]:
    """(passed, why not) for one case given the observed predictions of its items, in order."""
    if case.type == "mft":
        problems = unmet(case.expect, observed[0])
        if problems:
            return False, f"expected {'; '.join(problems)}; got {_describe(observed[0])}"
        return True, ""
    if case.type == "inv":
        aspect = case.expect["same"]
        values = [_aspect(o, aspect) for o in observed]
        if len(set(values)) > 1:
            return False, f"{aspect} differ: " + " | ".join(_describe(o) for o in observed)
        if "each" in case.expect:
            for index, o in enumerate(observed):
                problems = unmet(case.expect["each"], o)
                if problems:
                    return False, f"docs[{index}]: expected {'; '.join(problems)}; got {_describe(o)}"
        return True, ""
    base_problems = unmet(case.expect.get("base", {}), observed[0])
    variant_problems = unmet(case.expect["variant"], observed[1])
    if base_problems:
        return False, f"base: expected {'; '.join(base_problems)}; got {_describe(observed[0])} (nothing to flip)"
    if variant_problems:
        return False, (f"variant did not move: expected {'; '.join(variant_problems)}; "
                       f"got {_describe(observed[1])} (base {_describe(observed[0])})")
    return True, ""


# -- running ------------------------------------------------------------------------------------------

class BehaviourAnalyser:
    """The product's analyser (model, label rules, linking) over the bundled knowledge base."""

    def __init__(self, classifier: SignalClassifier):
        from sqlalchemy import create_engine
        from sqlalchemy.pool import StaticPool
        from sqlmodel import Session, SQLModel, select

        from monitor.classify.service import SignalAnalyser
        from monitor.facilities.knowledge_base import load_knowledge_base
        from monitor.store.db import session_scope
        from monitor.store.schema import Facility

        # A private in-memory store: the operator's own facilities must not change what a case means.
        engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
        try:
            SQLModel.metadata.create_all(engine)
            with session_scope(engine) as session:
                load_knowledge_base(session)
            self.analyser = SignalAnalyser.from_store(engine, classifier)
            with Session(engine) as session:
                self.slugs = {f.id: f.slug for f in session.exec(select(Facility))}
        finally:
            engine.dispose()
        self.version = classifier.version

    def observe(self, documents: Sequence[dict]) -> list[Observed]:
        out = []
        for signal in self.analyser.analyse(list(documents)):
            primary = next((link for link in signal.facilities if link.role == "primary"), None)
            slug = self.slugs.get(primary.facility_id) if primary and primary.confidence >= 0.5 else None
            out.append(Observed(list(signal.labels), dict(signal.scores), slug))
        return out


def run_checks(cases: Sequence[Case], analyser: BehaviourAnalyser,
               floors: dict[str, float] | None = None) -> CheckReport:
    floors = floors or {}
    known_slugs = set(analyser.slugs.values())
    for case in cases:
        for expectation in (case.expect, case.expect.get("each"), case.expect.get("base"), case.expect.get("variant")):
            if isinstance(expectation, dict) and isinstance(expectation.get("primary"), str) \
                    and expectation["primary"] not in known_slugs:
                raise CheckFileError(f"{case.where}: primary {expectation['primary']!r} is not a bundled facility slug")
    documents = [doc for case in cases for doc in case.docs]
    observed = analyser.observe(documents)
    results, position = [], 0
    for case in cases:
        mine = observed[position:position + len(case.docs)]
        position += len(case.docs)
        passed, reason = judge(case, mine)
        results.append(CaseResult(case, passed, reason, mine))
    capabilities: dict[str, CapabilityFigures] = {}
    by_language: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_shape: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for result in results:
        case = result.case
        figures = capabilities.setdefault(case.capability, CapabilityFigures(case.capability, case.type,
                                                                             floor=floors.get(case.capability)))
        figures.cases += 1
        figures.passed += result.passed
        if not result.passed:
            figures.failing.append(case.id)
        for table, key in ((by_language, case.language), (by_shape, case.shape)):
            table[key][0] += result.passed
            table[key][1] += 1
    order = {kind: i for i, kind in enumerate(CASE_TYPES)}
    capabilities = dict(sorted(capabilities.items(), key=lambda item: (order[item[1].type], item[0])))
    return CheckReport(analyser.version, results, capabilities,
                       {k: tuple(v) for k, v in sorted(by_language.items())},
                       {k: tuple(v) for k, v in sorted(by_shape.items())})


def check_behaviour(classifier: SignalClassifier | Callable[[], SignalClassifier],
                    directory: Path = DEFAULT_CHECKS_DIR) -> CheckReport:
    """Load the cases and floors in `directory` and run them through the product's analyser.

    `classifier` may be a function that loads one: it is called only after the cases have been read, so a
    bad case file fails at once instead of after the model has loaded.
    """
    cases = load_cases(directory)
    floors = load_floors(directory)
    if callable(classifier) and not hasattr(classifier, "predict"):
        classifier = classifier()
    return run_checks(cases, BehaviourAnalyser(classifier), floors)


def format_report(report: CheckReport, show_failures: bool = True) -> str:
    lines = [f"model {report.model_version}: {report.passed}/{report.cases} cases pass", "",
             f"{'capability':<28}{'type':<6}{'cases':>6}{'pass':>6}{'rate':>8}{'floor':>8}"]
    for name, figures in report.capabilities.items():
        floor = f"{figures.floor:.2f}" if figures.floor is not None else "-"
        flag = "  BELOW FLOOR" if figures.below_floor else ""
        lines.append(f"{name:<28}{figures.type:<6}{figures.cases:>6}{figures.passed:>6}{figures.rate:>8.2f}"
                     f"{floor:>8}{flag}")
    for title, table in (("language", report.by_language), ("shape", report.by_shape)):
        lines += ["", f"by {title}: " + ", ".join(f"{k} {p}/{n}" for k, (p, n) in table.items())]
    if show_failures:
        failures = [r for r in report.results if not r.passed]
        if failures:
            lines += ["", "failing cases:"]
            for result in failures:
                lines.append(f"  {result.case.id:<22} {result.reason}")
    return "\n".join(lines)
