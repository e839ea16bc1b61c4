"""Watch rules: words, phrases or a facility to look for in every article, signal or not.

"Any article naming Roj or Shaddadi" is a rule with two terms; "anything about al-Hol" is a facility rule,
which looks for the facility's name and every alias it has (in any script). Text and terms are compared
after the same normalisation the facility linker uses (case, Latin diacritics, Arabic letter variants and
marks, the Arabic article), with apostrophes split off so French elisions (l'évasion, d'Alger) and
Arabic proclitics (و ب ل ف ك before a word) do not hide a word; a term matches whole words only.

A match raises a low-severity alert (one per rule and article) that routes like any other: the outbox,
subscribers' filters, digests. A rule owned by a subscriber notifies that subscriber only. The alert
carries no facility of its own (the match records it), so watching a place never raises its risk score.
Rules look at articles classified after they were created: adding a rule does not resend old news, and
`monitor watch test` shows what it would have caught among the stored articles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Optional

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from monitor.facilities.names import normalize_name
from monitor.facilities.profiles import find_facilities
from monitor.store.db import session_scope
from monitor.store.schema import (
    ActivityLog,
    Alert,
    Article,
    Facility,
    FacilityAlias,
    FacilityMention,
    Subscriber,
    WatchMatch,
    WatchRule,
    utcnow,
)

GROUP_PREFIX = "watch:"
MAX_TERMS = 50
MAX_TERM_CHARS = 200
# An article linked to a facility this confidently is "about" it, for subscribers' facility filters.
CONFIDENT_LINK = 0.5
_APOSTROPHES = re.compile("['’‘`´ʼ′]")
_ARABIC = re.compile("[\u0600-\u06ff]")
# Conjunctions and prepositions written joined to the next word, with or without the article after them.
_ARABIC_PROCLITICS = "(?:[وفبلك]{1,2}(?:ال)?)?"
# "Roj or Shaddadi", "Roj, Shaddadi", "Roj ou Chaddadi", "روج أو الشدادي"
_TERM_SPLIT = re.compile(r"\s*(?:,|;|\bOR\b|\bor\b|\bou\b|\bOU\b|\s+أو\s+|\|)\s*")
_normalise_uncached = normalize_name.__wrapped__


class WatchError(ValueError):
    """A watch rule that cannot be saved or found; nothing was changed."""


def is_watch_alert(alert: Alert) -> bool:
    return (alert.group_key or "").startswith(GROUP_PREFIX)


def normalise_for_watch(text: str) -> str:
    """The linker's normalisation, with apostrophes as word breaks (l'évasion -> "l evasion")."""
    return _normalise_uncached(_APOSTROPHES.sub(" ", text or ""))


def split_terms(text: str) -> list[str]:
    """Terms from one line: separated by commas, semicolons, "or" (also "ou", "أو"); quotes kept together."""
    terms, rest = [], text
    for quoted in re.findall(r'"([^"]+)"', text):
        terms.append(quoted.strip())
        rest = rest.replace(f'"{quoted}"', ",")
    terms += [t.strip() for t in _TERM_SPLIT.split(rest) if t.strip()]
    return terms


@dataclass
class Matcher:
    """Compiled form of a rule: one pattern per normalised term, the original term kept for display."""

    terms: list[tuple[str, re.Pattern]] = field(default_factory=list)

    @classmethod
    def for_terms(cls, terms: Iterable[str]) -> "Matcher":
        matcher, seen = cls(), set()
        for term in terms:
            normalised = normalise_for_watch(term)
            if not normalised or normalised in seen:
                continue
            seen.add(normalised)
            body = re.escape(normalised).replace("\\ ", " ")
            prefix = _ARABIC_PROCLITICS if _ARABIC.match(normalised) else ""
            matcher.terms.append((term, re.compile(rf"(?<!\w){prefix}{body}(?!\w)")))
        return matcher

    def find(self, title: str, summary: str) -> list[str]:
        """The terms the article names (as the rule wrote them), in the rule's order."""
        text = normalise_for_watch(f"{title}\n{summary}")
        return [term for term, pattern in self.terms if pattern.search(text)]


def facility_terms(session: Session, facility_id: int) -> list[str]:
    facility = session.get(Facility, facility_id)
    if facility is None:
        return []
    aliases = session.exec(select(FacilityAlias.alias).where(FacilityAlias.facility_id == facility_id)).all()
    return [facility.name, *aliases]


def rule_matcher(session: Session, rule: WatchRule) -> Matcher:
    """A facility rule reads the facility's aliases each time, so an alias added later is watched too."""
    if rule.kind == "facility" and rule.facility_id:
        return Matcher.for_terms(facility_terms(session, rule.facility_id))
    return Matcher.for_terms(rule.terms)


# --- saving, listing, removing rules -------------------------------------------------------------------------

def _clean_terms(terms: Iterable[str]) -> list[str]:
    cleaned = []
    for term in terms:
        for part in split_terms(term):
            if len(part) > MAX_TERM_CHARS:
                raise WatchError(f"a term is longer than {MAX_TERM_CHARS} characters: {part[:40]!r}...")
            if not normalise_for_watch(part):
                raise WatchError(f"{part!r} has no letters or digits to match")
            if part not in cleaned:
                cleaned.append(part)
    if len(cleaned) > MAX_TERMS:
        raise WatchError(f"a rule takes at most {MAX_TERMS} terms")
    return cleaned


def add_rule(session: Session, name: str, actor: str, *, terms: Iterable[str] = (), facility: Optional[str] = None,
             subscriber: Optional[str] = None) -> WatchRule:
    """Save a rule (words/phrases, or one facility); a removed rule of the same name is replaced."""
    from monitor.notify.subscriptions import SubscriptionError, subscriber_named

    name = (name or "").strip()
    if not name:
        raise WatchError("the rule needs a name")
    terms = _clean_terms(terms)
    if bool(terms) == bool(facility):
        raise WatchError("a rule watches either words and phrases (--term) or one facility (--facility), not "
                         "both and not neither")
    facility_id = None
    if facility:
        matches = find_facilities(session, facility)
        if len(matches) != 1:
            raise WatchError(f"facility {facility!r} matches {len(matches)} facilities; name one "
                             "(see `monitor facilities list`)")
        facility_id = matches[0].id
    owner_id = None
    if subscriber:
        try:
            owner_id = subscriber_named(session, subscriber).id
        except SubscriptionError as exc:
            raise WatchError(str(exc)) from None
    rule = session.exec(select(WatchRule).where(WatchRule.name == name)).first()
    if rule is not None and rule.active:
        raise WatchError(f"there is already a watch rule named {name!r} (remove it first to replace it)")
    now = utcnow()
    rule = rule or WatchRule(name=name, created_by=actor)
    rule.kind, rule.terms, rule.facility_id = ("facility" if facility_id else "terms"), terms, facility_id
    rule.subscriber_id, rule.active, rule.created_by = owner_id, True, actor
    rule.created_at = rule.checked_through = now
    session.add(rule)
    session.add(ActivityLog(actor=actor, action="watch.add", target=name, detail=describe_rule(session, rule)))
    session.flush()
    return rule


def rule_named(session: Session, name: str) -> WatchRule:
    rule = session.exec(select(WatchRule).where(WatchRule.name == name.strip(), WatchRule.active == True)).first()  # noqa: E712
    if rule is None:
        raise WatchError(f"no watch rule named {name!r} (see `monitor watch list`)")
    return rule


def remove_rule(session: Session, name: str, actor: str) -> WatchRule:
    """Stop watching; the rule's alerts and matches stay, with their history."""
    rule = rule_named(session, name)
    rule.active = False
    session.add(ActivityLog(actor=actor, action="watch.remove", target=rule.name))
    return rule


def describe_rule(session: Session, rule: WatchRule) -> str:
    if rule.kind == "facility" and rule.facility_id:
        facility = session.get(Facility, rule.facility_id)
        return f"facility {facility.name if facility else '#' + str(rule.facility_id)} (name and aliases)"
    return " or ".join(f'"{t}"' if " " in t else t for t in rule.terms)


def rule_rows(session: Session, include_removed: bool = False) -> list[dict]:
    """Every rule as the CLI and dashboard show it, with how many articles it caught."""
    from monitor.notify.subscriptions import subscriber_label

    query = select(WatchRule).order_by(WatchRule.name)
    if not include_removed:
        query = query.where(WatchRule.active == True)  # noqa: E712
    rows = []
    for rule in session.exec(query):
        owner = session.get(Subscriber, rule.subscriber_id) if rule.subscriber_id else None
        caught = len(session.exec(select(WatchMatch.id).where(WatchMatch.rule_id == rule.id)).all())
        rows.append({"name": rule.name, "kind": rule.kind, "watches": describe_rule(session, rule),
                     "subscriber": subscriber_label(owner) if owner else None, "active": rule.active,
                     "matches": caught, "created_by": rule.created_by, "created_at": rule.created_at})
    return rows


# --- what a rule would have caught ---------------------------------------------------------------------------

def would_have_caught(session: Session, rule_or_terms: str, *, facility: Optional[str] = None, limit: int = 50,
              since: Optional[datetime] = None) -> tuple[str, list[dict]]:
    """(what was tested, stored articles it catches, newest first): a saved rule's name, or terms written out."""
    if facility:
        matches = find_facilities(session, facility)
        if len(matches) != 1:
            raise WatchError(f"facility {facility!r} matches {len(matches)} facilities; name one")
        matcher, described = Matcher.for_terms(facility_terms(session, matches[0].id)), \
            f"facility {matches[0].name} (name and aliases)"
    else:
        rule = session.exec(select(WatchRule).where(WatchRule.name == (rule_or_terms or "").strip(),
                                                    WatchRule.active == True)).first()  # noqa: E712
        if rule is not None:
            matcher, described = rule_matcher(session, rule), f"rule {rule.name!r}: {describe_rule(session, rule)}"
        else:
            terms = _clean_terms([rule_or_terms or ""])
            if not terms:
                raise WatchError("give a rule name, some words (\"Roj or Shaddadi\") or --facility")
            matcher, described = Matcher.for_terms(terms), " or ".join(terms)
    query = select(Article.id, Article.title, Article.summary, Article.url, Article.outlet, Article.published_at,
                   Article.first_seen_at).order_by(Article.first_seen_at.desc(), Article.id.desc())
    if since is not None:
        query = query.where(Article.first_seen_at >= since)
    caught = []
    for row in session.exec(query.execution_options(yield_per=500)):
        found = matcher.find(row.title, row.summary)
        if found:
            caught.append({"article_id": row.id, "title": row.title, "url": row.url, "outlet": row.outlet,
                           "published_at": row.published_at or row.first_seen_at, "matched": found})
            if len(caught) >= limit:
                break
    return described, caught


# --- raising watch alerts from newly classified articles -----------------------------------------------------

def _article_facility(session: Session, article_id: int) -> Optional[int]:
    mention = session.exec(select(FacilityMention).where(FacilityMention.article_id == article_id,
                                                         FacilityMention.facility_id.is_not(None),
                                                         FacilityMention.role == "primary",
                                                         FacilityMention.confidence >= CONFIDENT_LINK)
                           .order_by(FacilityMention.confidence.desc())).first()
    return mention.facility_id if mention else None


def raise_watch_alerts(engine: Engine, now: Optional[datetime] = None) -> list[int]:
    """Check every article classified since each rule last looked; a match becomes a low watch alert.

    Run in the analysis section (one process at a time), after classification: each rule moves its
    `checked_through` mark to the newest classification it read, so a rerun after a crash neither skips
    nor doubles (the unique (rule, article) match is the last guard).
    """
    now = now or utcnow()
    created: list[int] = []
    with session_scope(engine) as session:
        rules = list(session.exec(select(WatchRule).where(WatchRule.active == True)))  # noqa: E712
        for rule in rules:
            matcher = rule_matcher(session, rule)
            rows = session.exec(select(Article).where(Article.classified_at.is_not(None),
                                                      Article.classified_at > rule.checked_through,
                                                      Article.classified_at <= now)
                                .order_by(Article.classified_at, Article.id)).all()
            for article in rows:
                found = matcher.find(article.title, article.summary)
                if not found:
                    continue
                if session.exec(select(WatchMatch.id).where(WatchMatch.rule_id == rule.id,
                                                            WatchMatch.article_id == article.id)).first():
                    continue
                when = article.published_at or article.first_seen_at
                shown = ", ".join(found[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
                alert = Alert(group_key=f"{GROUP_PREFIX}{rule.id}:{article.id}", labels=[], severity="low",
                              severity_reason=f"watch rule '{rule.name}' matched {shown}", outlet_count=1,
                              first_seen_at=when, last_seen_at=when)
                session.add(alert)
                session.flush()
                facility_id = rule.facility_id or _article_facility(session, article.id)
                session.add(WatchMatch(rule_id=rule.id, article_id=article.id, alert_id=alert.id,
                                       facility_id=facility_id, matched=found))
                session.add(_alert_article(alert.id, article.id))
                created.append(alert.id)
            if rows:
                rule.checked_through = max(a.classified_at for a in rows)
    return created


def _alert_article(alert_id: int, article_id: int):
    from monitor.store.schema import AlertArticle

    return AlertArticle(alert_id=alert_id, article_id=article_id)


# --- what routing and rendering need to know about a watch alert ---------------------------------------------

@dataclass(frozen=True)
class WatchRoute:
    rule_id: int
    rule_name: str
    owner_id: Optional[int]
    facility_id: Optional[int]
    matched: tuple[str, ...]


def watch_routes(session: Session, alert_ids: Iterable[int]) -> dict[int, WatchRoute]:
    """For the watch alerts among `alert_ids`: their rule, its owner, the facility and what matched."""
    ids = list(set(alert_ids))
    if not ids:
        return {}
    rows = session.exec(select(WatchMatch, WatchRule).join(WatchRule, WatchRule.id == WatchMatch.rule_id)
                        .where(WatchMatch.alert_id.in_(ids))).all()
    return {match.alert_id: WatchRoute(rule.id, rule.name, rule.subscriber_id, match.facility_id,
                                       tuple(match.matched)) for match, rule in rows}
