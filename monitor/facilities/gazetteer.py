"""Linking news text to known facilities.

Every facility name and alias (Latin and Arabic script) goes into one Aho-Corasick automaton over
normalised tokens, so a match always falls on word boundaries and costs the same with 70 or 20,000
facilities. Spellings nobody listed (Ghweran, Ghwairan, Guweiran) are caught by a consonant-skeleton
index and confirmed with rapidfuzz. Each link is `primary` (where the reported event happens) or
`mentioned` (history or context, "the 2013 Abu Ghraib break").

What keeps it precise as the facility list grows:

- Everyday words never match loosely. A word that the wordfreq lists show is common in a supported
  language ("where", "court", "service", "Forest") is never matched by spelling tolerance, never read
  as a place, and an alias made only of such words ("the Rock", "Red Bank", "Holloway") counts only
  when the text writes it as a name (capitalised) with a word about detention beside it.
- A name that is also its town's name ("Kuje", "Taji") needs detention words beside it.
- A generic name ("National Penitentiary") counts only beside the facility's town or country.
- A key several facilities share is settled by the town or country the article names, else it is only
  a low-confidence `mentioned`.
- A place beside a prison word ("a prison in Hasakeh") links that place's facilities as low-confidence
  `mentioned`, and `primary` only when exactly one known facility of that kind is there and the sentence
  reports an event.
- An article has one primary facility, the one its events happen at (or, without event words, the one
  it is about: named in the title, else first); several only when events are reported at several.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Iterable, Optional

import ahocorasick
from rapidfuzz import fuzz
from sqlmodel import Session, select

from monitor.classify.features import LEXICONS, unglue_sentences
from monitor.countries import COUNTRIES
from monitor.facilities.names import is_ordinary_word, normalize_name
from monitor.store.schema import Facility, FacilityAlias

# Words that say "a place of detention" without naming one; they never identify a facility alone.
FACILITY_WORDS = {
    "prison", "prisons", "jail", "jails", "gaol", "penitentiary", "camp", "camps", "detention", "centre", "center",
    "correctional", "custodial", "facility", "cereso", "penal", "maison", "centrale", "سجن", "مخيم", "معتقل",
    "السجن", "المخيم", "مركز", "prision", "presidio", "penitenciaria", "penitenciario", "carcel", "cadeia",
    "hmp", "hmyoi", "yoi", "lapas", "rutan", "cefereso", "penitencier", "brig",
}
CAMP_WORDS = {"camp", "camps", "مخيم", "المخيم"}
# Prefixes and abbreviations of kinds of prison in some systems (HMP Weare, USP Florence, MCA de Bamako).
KIND_ABBREVIATIONS = {"hmp", "hmyoi", "yoi", "usp", "fcc", "mcc", "irc", "cereso", "cefereso", "lapas", "rutan",
                      "mac", "mca", "lp", "crs", "cprk"}
GENERIC_TOKENS = FACILITY_WORDS | KIND_ABBREVIATIONS | {
    "central", "city", "district", "provincial", "state", "national", "new", "old", "main", "high", "security",
    "maximum", "medium", "military", "of", "the", "de", "du", "la", "le", "des", "in", "at", "no", "and",
    "women", "womens", "men", "mens", "youth", "juvenile", "international", "federal", "county", "regional",
    # French, Spanish and Portuguese names of kinds of prison ("maison d'arrêt", "prison civile", "cárcel"),
    # which otherwise read as distinctive and linked every French-language prison story to every such facility.
    "darret", "arret", "civile", "civil", "correction", "penitentiaire", "centre", "et", "y", "e", "carcel",
    "centro", "reclusion", "penitenciario", "penitenciaria", "nacional", "maxima", "seguridad", "readaptacion",
    "social", "cadeia", "publica", "estadual", "complexo", "penal", "do", "da", "el", "del",
}
# Words for the kind of area a place is ("Hasakah Governorate"), never a place on their own.
AREA_WORDS = {"governorate", "province", "region", "district", "state", "county", "division", "territory",
              "oblast", "prefecture", "department", "municipality", "wilaya", "city", "island", "islands"}


def _normalized_set(words: Iterable[str]) -> set[str]:
    return {w for word in words for w in normalize_name(word).split()}


# Words that put a mention in a detention setting: the classifier's custody lexicon, the facility words and
# the people held. A name that is also an everyday word or a town's name needs one of these beside it.
CUSTODY_WORDS = _normalized_set(LEXICONS["custody"]) | FACILITY_WORDS | _normalized_set(
    ["detainees", "detainee", "inmates", "inmate", "prisoners", "prisoner", "jailbreak", "breakout", "escapees",
     "warders", "warder", "jailed", "incarcerated", "detained", "captives", "internees", "détenus", "détenu",
     "سجناء", "السجناء", "معتقلين", "نزلاء",
     "presos", "reclusos", "detentos", "internos"])
PEOPLE_HELD = _normalized_set(["inmates", "prisoners", "detainees", "سجناء", "السجناء", "معتقلين", "détenus",
                               "presos", "reclusos", "detentos"])
# Words that report something happening at a facility: the classifier's escape, attack and riot lexicons,
# deaths in custody, and the same in French, Arabic, Spanish and Portuguese.
EVENT_WORDS = _normalized_set(w for name in ("escape", "attack", "riot") for w in LEXICONS[name] if "_" not in w) | \
    _normalized_set(["abuse", "abused", "torture", "tortured", "mistreatment", "died", "dead", "death", "deaths",
                     "killed", "stabbed", "murdered", "overdose", "hanged",
                     "protest", "protests", "strike", "mort", "morts", "tué", "tués", "décès", "évadés", "évadé",
                     "mutinerie", "مقتل", "قتل", "وفاة", "هروب", "فرار", "fuga", "motín", "motim", "rebelión",
                     "rebelião", "muertos", "mortos", "escaparon", "fugaram", "evadieron", "ataque", "assalto",
                     "jailbreak", "breakout"])
# Words that join the members of a list ("riots at Pentonville and Belmarsh"): an event word's nearest
# facility shares it with the facilities listed beside it.
LIST_WORDS = {"and", "or", "et", "ou", "y", "e", "و"}
_WORD = re.compile(r"[\w'’ʿʾ-]+", re.UNICODE)
_PARTS = re.compile(r"[-'’ʿʾ]")
_POSSESSIVE = re.compile(r"['’]s$", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?؟])\s+|\n+")
_YEAR = re.compile(r"\b(19[5-9]\d|20[0-4]\d)\b")
HISTORY_WORDS = {"ago", "anniversary", "formerly", "former", "previously", "history", "retrospective",
                 "decades", "including", "echoes", "reminiscent", "سابقا", "naguère"}
EXACT_CONFIDENCE = 0.95
WEAK_CONFIDENCE = 0.85  # an everyday-word alias, written as a name beside detention words
BARE_CONFIDENCE = 0.8  # a name without its "prison", or a town's name, beside detention words
FUZZY_CONFIDENCE = 0.75
PLACE_EVENT_CONFIDENCE = 0.6  # the only facility of its kind in a place where the text reports an event
PLACE_CONFIDENCE = 0.4
AMBIGUOUS_CONFIDENCE = 0.4
CONTEXT_WINDOW = 8
FUZZY_MIN_RATIO = 75  # with equal consonant skeletons: Ghweran~Ghwayran 80, Sarpoza~Sarposa 86
LEDE_SENTENCES = 3  # news reports its event first: events after the lede are background
MAX_PLACE_LINKS = 3  # a city with more prisons than this says nothing about which one


@dataclass
class FacilityLink:
    facility_id: int
    name: str
    role: str  # primary | mentioned
    confidence: float
    matched: str

    def as_dict(self) -> dict:
        return {"id": self.facility_id, "name": self.name, "role": self.role, "confidence": round(self.confidence, 2),
                "matched": self.matched}


@dataclass
class CandidateFacility:
    name: str
    place: Optional[str] = None
    country: Optional[str] = None

    def as_dict(self) -> dict:
        return {"name": self.name, "place": self.place, "country": self.country}


@dataclass
class LinkResult:
    links: list[FacilityLink] = field(default_factory=list)
    candidates: list[CandidateFacility] = field(default_factory=list)

    @property
    def primary(self) -> list[FacilityLink]:
        return [link for link in self.links if link.role == "primary"]


@dataclass(frozen=True)
class GazetteerEntry:
    facility_id: int
    name: str
    kind: str
    country: str
    city: Optional[str]
    admin_area: Optional[str]
    aliases: tuple[str, ...]


@lru_cache(maxsize=200_000)
def skeleton(token: str) -> str:
    """Consonant skeleton of a transliterated word: Ghwayran, Gweiran and Guweiran all give 'grn'."""
    text = token.lower()
    for a, b in (("gh", "g"), ("kh", "k"), ("q", "k"), ("sh", "s"), ("th", "t"), ("dh", "d"), ("ou", "u"),
                 ("ph", "f"), ("c", "k"), ("z", "s")):
        text = text.replace(a, b)
    consonants = [ch for ch in text if ch.isalpha() and ch not in "aeiouywh"]
    collapsed = [ch for i, ch in enumerate(consonants) if i == 0 or ch != consonants[i - 1]]
    return "".join(collapsed)


@dataclass(slots=True)
class _Token:
    norm: str
    start: int
    end: int
    capitalised: bool  # written with a capital (or in a script without case)


@lru_cache(maxsize=200_000)
def _word_parts(raw: str) -> tuple[tuple[str, ...], bool]:
    """A word's normalised parts and whether it is written with a capital (or in a script without case)."""
    if "'" in raw or "’" in raw:
        raw = _POSSESSIVE.sub("", raw)
    # "al-Hol", "d'Arrêt": the name part after an article carries the capital.
    capitalised = any(part[:1].isupper() or not part[:1].isascii() for part in _PARTS.split(raw) if part)
    return tuple(normalize_name(raw).split()), capitalised


def _tokens(text: str) -> list[_Token]:
    """Normalised word tokens with their spans in the original text (article prefixes and 's dropped)."""
    out = []
    for match in _WORD.finditer(text):
        parts, capitalised = _word_parts(match.group(0))
        start, end = match.span()
        for part in parts:
            out.append(_Token(part, start, end, capitalised))
    return out


def _words(text: str) -> list[str]:
    return [token.norm for token in _tokens(text)]


def _sentences(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    return [(a, b) for a, b in spans if b > a]


def _is_weak(words: list[str], content: list[str]) -> bool:
    """An alias that everyday words could spell ("the Rock", "Forest Bank"), or a short abbreviation."""
    if len(words) == 1 and len(words[0]) <= 4:
        return True
    return all(is_ordinary_word(w) or len(w) <= 2 or w.isdigit() for w in content)


@dataclass(frozen=True)
class _Target:
    facility_id: int
    bare: bool  # the name without its facility word ("Abu Ghraib" for "Abu Ghraib prison")
    weak: bool  # spelled with everyday words: must be written as a name
    needs_context: bool  # must have detention words beside it
    qualified: bool  # a generic name: must have the facility's town or country beside it
    content: tuple[str, ...]  # the words that are not generic
    capitals: tuple[str, ...] = ()  # of those, the ones a weak alias must have capitalised in the text
    # A name derived by dropping the facility word that is just its town's name ("Bauchi" from "Bauchi prison"):
    # read as a place. Aliases the knowledge base lists ("Kuje", "Guantanamo") are names the press uses.
    town: bool = False


@dataclass
class _Mention:
    facility_id: int
    first: int
    last: int
    confidence: float
    matched: str
    ambiguous: bool = False
    place: bool = False  # a place named beside a facility word, not the facility's name
    siblings: int = 0  # for a place: how many facilities of the kind are there


class Gazetteer:
    def __init__(self, entries: Iterable[GazetteerEntry], today: Optional[datetime] = None):
        self.entries = {entry.facility_id: entry for entry in entries}
        self.this_year = (today or datetime.now(timezone.utc)).year
        self.country_names = {normalize_name(name): code for code, name in COUNTRIES.items()}
        self._country_automaton = ahocorasick.Automaton()
        for order, (name, code) in enumerate(self.country_names.items()):
            self._country_automaton.add_word(f" {name} ", (order, name, code))
        self._country_automaton.make_automaton()
        # Place phrases (a town's full name, and each distinctive word of it) -> facilities there.
        self.places: dict[str, set[int]] = defaultdict(set)
        # The same by level: a town ("Hasakah" city) is more specific than the area named after it.
        self.towns: dict[str, set[int]] = defaultdict(set)
        self.areas: dict[str, set[int]] = defaultdict(set)
        self._place_words_of: dict[int, set[str]] = {}
        self._qualifiers_of: dict[int, set[str]] = {}
        self._facilities_in: dict[str, set[int]] = defaultdict(set)
        for entry in self.entries.values():
            words_here: set[str] = set()
            qualifiers: set[str] = set()
            for place, level in ((entry.city, self.towns), (entry.admin_area, self.areas)):
                if not place:
                    continue
                for part in re.split(r"[(),/]", place):
                    words = [w for w in _words(part) if w not in AREA_WORDS]
                    if not words:
                        continue
                    words_here.update(words)
                    phrase = " ".join(words)
                    qualifiers.add(phrase)
                    qualifiers.update(w for w in words if len(w) >= 3 and w not in GENERIC_TOKENS)
                    if len(words) > 1:
                        self.places[phrase].add(entry.facility_id)
                        level[phrase].add(entry.facility_id)
                    for word in words:
                        if len(word) >= 3 and word not in GENERIC_TOKENS and not is_ordinary_word(word):
                            self.places[word].add(entry.facility_id)
                            level[word].add(entry.facility_id)
            country = COUNTRIES.get(entry.country)
            if country:
                qualifiers.add(normalize_name(country))
            self._place_words_of[entry.facility_id] = words_here
            for word in words_here:
                self._facilities_in[word].add(entry.facility_id)
            self._qualifiers_of[entry.facility_id] = qualifiers

        targets: dict[str, dict[int, _Target]] = defaultdict(dict)
        self.fuzzy: dict[str, list[tuple[str, int]]] = defaultdict(list)
        all_place_words = {w for words in self._place_words_of.values() for w in words}
        place_word_skeletons: dict[str, list[str]] = defaultdict(list)
        for word in all_place_words:
            place_word_skeletons[skeleton(word)].append(word)

        def place_spelled(word: str) -> Optional[str]:
            """The known place word this word is, or is a spelling of ("Hasakeh" for Hasakah), if any."""
            if word in all_place_words:
                return word
            return next((p for p in place_word_skeletons.get(skeleton(word), ()) if fuzz.ratio(word, p) >= 80), None)

        def spells_a_place(word: str) -> bool:
            return place_spelled(word) is not None
        for entry in self.entries.values():
            place_words = self._place_words_of[entry.facility_id]
            for alias in (entry.name, *entry.aliases):
                words = _words(alias)
                if not words:
                    continue
                content = [w for w in words if w not in GENERIC_TOKENS]
                has_facility_word = any(w in FACILITY_WORDS or w in KIND_ABBREVIATIONS for w in words)
                key = " ".join(words)
                if not content:
                    # "National Penitentiary": only beside the facility's town or country.
                    if has_facility_word and len(words) >= 2:
                        self._add(targets, key, _Target(entry.facility_id, False, False, False, True, ()))
                    continue
                weak = _is_weak(words, content)
                town = all(w in place_words for w in content)
                # "Ford open prison": the alias writes "Ford" as a name and "open" as a word.
                capitals = tuple(t.norm for t in _tokens(alias) if t.norm in content and t.capitalised) or content[:1]
                self._add(targets, key, _Target(entry.facility_id, False, weak,
                                                not has_facility_word and (weak or town), False, tuple(content),
                                                capitals))
                for word in content:
                    # Spelling tolerance only for rare words that are not places: "Guweiran" for Ghwayran,
                    # never "where" for Weare or "service" for "Kuje Medium Correctional Service".
                    if (len(word) >= 5 and word.isascii() and not is_ordinary_word(word)
                            and not spells_a_place(word)):
                        self.fuzzy[skeleton(word)].append((word, entry.facility_id))
                # "Abu Ghraib prison" -> "Abu Ghraib", matched only beside detention words. A name that is just
                # its town's name qualifies only when nothing else is in that town.
                # A name of everyday words without its facility word ("Washington" for Washington Correctional
                # Facility, "Forest" for Forest prison) is no evidence at all.
                if (has_facility_word and not weak and len(content) < len(words)
                        and sum(len(w) for w in content) >= 4):
                    places = [place_spelled(w) for w in content]
                    town = all(places)
                    if town and any(len(self._facilities_in[p]) > 1 for p in places):
                        continue
                    self._add(targets, " ".join(content),
                              _Target(entry.facility_id, True, weak, True, False, tuple(content), tuple(content),
                                      town))
        self._targets: list[tuple[_Target, ...]] = []
        self.automaton = ahocorasick.Automaton()
        for key, by_facility in targets.items():
            self.automaton.add_word(f" {key} ", (key, len(self._targets)))
            self._targets.append(tuple(by_facility.values()))
        self._has_keys = bool(targets)
        if self._has_keys:
            self.automaton.make_automaton()
        self.place_automaton = ahocorasick.Automaton()
        for place in self.places:
            self.place_automaton.add_word(f" {place} ", place)
        if self.places:
            self.place_automaton.make_automaton()
        self.place_skeletons: dict[str, list[str]] = defaultdict(list)
        for place in self.places:
            if " " not in place and place.isascii() and len(place) >= 5:
                self.place_skeletons[skeleton(place)].append(place)

    @staticmethod
    def _add(targets: dict[str, dict[int, _Target]], key: str, target: _Target) -> None:
        """A full alias wins over a bare name for the same key and facility; a strong reading over a weak one."""
        existing = targets[key].get(target.facility_id)
        if existing is None or (existing.bare and not target.bare) or (existing.needs_context
                                                                         and not target.needs_context):
            targets[key][target.facility_id] = target

    @classmethod
    def from_session(cls, session: Session) -> "Gazetteer":
        aliases: dict[int, list[str]] = defaultdict(list)
        for facility_id, alias in session.exec(select(FacilityAlias.facility_id, FacilityAlias.alias)):
            aliases[facility_id].append(alias)
        entries = [
            GazetteerEntry(f.id, f.name, f.kind, f.country, f.city, f.admin_area, tuple(aliases.get(f.id, ())))
            for f in session.exec(select(Facility))
        ]
        return cls(entries)

    # -- matching -------------------------------------------------------------------------------------

    @staticmethod
    def _token_starts(tokens: list[_Token]) -> tuple[str, dict[int, int]]:
        joined = " " + " ".join(t.norm for t in tokens) + " "
        starts, position = {}, 1
        for index, token in enumerate(tokens):
            starts[position] = index
            position += len(token.norm) + 1
        return joined, starts

    def _hits(self, automaton, joined: str, starts: dict[int, int]):
        """(first token, last token, value) of every key found on token boundaries."""
        for end, value in automaton.iter(joined):
            key = value[0] if isinstance(value, tuple) else value
            first = starts.get(end - len(key) - 1 + 1)
            if first is not None:
                yield first, first + key.count(" "), value

    def _near(self, tokens: list[_Token], first: int, last: int, words: set[str], window: int = CONTEXT_WINDOW,
              ) -> bool:
        return any(t.norm in words for t in tokens[max(0, first - window):first]) or any(
            t.norm in words for t in tokens[last + 1:last + 1 + window])

    @staticmethod
    def _cased(tokens: list[_Token], segment: tuple[int, int]) -> bool:
        """Does this stretch of text use capitals for names only (not a Title Case or ALL CAPS headline)?"""
        words = [t for t in tokens[segment[0]:segment[1]] if t.norm.isascii() and len(t.norm) >= 4]
        if len(words) < 3:
            return bool(words) and not all(t.capitalised for t in words)
        return sum(t.capitalised for t in words) / len(words) <= 0.5

    def _qualified(self, facility_id: int, window_words: str) -> bool:
        return any(f" {q} " in window_words for q in self._qualifiers_of.get(facility_id, ()))

    def _named(self, tokens: list[_Token], text: str, segments: list[tuple[int, int]],
               segment_of: list[int]) -> list[_Mention]:
        """Full-alias, bare-name and qualified-generic matches, each checked against what it requires."""
        if not self._has_keys or not tokens:
            return []
        joined, starts = self._token_starts(tokens)
        cased_cache: dict[int, bool] = {}
        article_words = joined
        found: list[tuple[int, int, list[_Target]]] = []
        for first, last, (_key, target_index) in self._hits(self.automaton, joined, starts):
            accepted = []
            for target in self._targets[target_index]:
                if target.weak:
                    segment = segment_of[first]
                    if segment not in cased_cache:
                        cased_cache[segment] = self._cased(tokens, segments[segment])
                    if cased_cache[segment] and not all(
                            t.capitalised for t in tokens[first:last + 1] if t.norm in target.capitals):
                        continue
                if target.needs_context and not self._near(tokens, first, last, CUSTODY_WORDS):
                    # A weak alias may find its detention words in its own sentence or the next or previous one
                    # ("Life at Guantánamo Bay" over "... the military prison").
                    if not target.weak:
                        continue
                    segment = segment_of[first]
                    lo = segments[max(0, segment - 1)][0]
                    hi = segments[min(len(segments) - 1, segment + 1)][1]
                    if not any(t.norm in CUSTODY_WORDS for t in tokens[lo:hi]):
                        continue
                if target.qualified:
                    lo, hi = segments[segment_of[first]]
                    around = " " + " ".join(t.norm for t in tokens[max(lo, first - 12):min(hi, last + 13)]) + " "
                    if not self._qualified(target.facility_id, around):
                        continue
                accepted.append(target)
            if accepted:
                found.append((first, last, accepted))
        # Longer matches claim their words first; a bare name counts only on words no full alias has claimed.
        found.sort(key=lambda m: (all(t.bare for t in m[2]), -(m[1] - m[0])))
        claimed: dict[int, set[int]] = {}
        mentions = []
        for first, last, accepted in found:
            span = range(first, last + 1)
            owners = {fid for i in span for fid in claimed.get(i, ())}
            ids = {t.facility_id for t in accepted}
            if owners and not ids & owners and all(i in claimed for i in span):
                continue  # inside a longer name of another facility
            if len(ids) > 1:
                # Several facilities answer to this name: the town or country the article names decides.
                qualified = {fid for fid in ids if self._qualified(fid, article_words)}
                if len(qualified) == 1:
                    ids = qualified
            ambiguous = len(ids) > 1
            for target in accepted:
                if target.facility_id not in ids:
                    continue
                if target.bare or target.needs_context:
                    confidence = BARE_CONFIDENCE
                elif target.weak:
                    confidence = WEAK_CONFIDENCE
                else:
                    confidence = EXACT_CONFIDENCE
                if ambiguous:
                    confidence = AMBIGUOUS_CONFIDENCE / len(ids) ** 0.5
                mention = _Mention(target.facility_id, first, last, confidence,
                                   text[tokens[first].start:tokens[last].end], ambiguous)
                if target.town:
                    # A town's name beside a prison word is a place: the rule for places decides its role.
                    mention.place = True
                    mention.siblings = max(len(self._facilities_in.get(w, ())) for w in target.content) or 1
                mentions.append(mention)
            if not any(t.bare for t in accepted):
                for i in span:
                    claimed.setdefault(i, set()).update(ids)
        return mentions

    def named_in(self, text: str) -> list[int]:
        """Facilities whose full name or alias appears in `text` (no fuzzy, bare or place matching)."""
        tokens = _tokens(text)
        spans = [(0, len(tokens))]
        return sorted({m.facility_id for m in self._named(tokens, text, spans, [0] * len(tokens))
                       if not m.ambiguous})

    def _fuzzy(self, tokens: list[_Token], text: str, taken: set[int]) -> list[_Mention]:
        found = []
        for index, token in enumerate(tokens):
            norm = token.norm
            if index in taken or len(norm) < 5 or norm in GENERIC_TOKENS or is_ordinary_word(norm) \
                    or not norm.isascii():
                continue
            bucket = self.fuzzy.get(skeleton(norm))
            if not bucket:
                continue
            # A transliterated name alone is too weak; it must sit next to a word like "prison" or "camp".
            if not self._near(tokens, index, index, FACILITY_WORDS, window=3):
                continue
            scored: dict[int, float] = {}
            for known, facility_id in bucket:
                score = fuzz.ratio(norm, known)
                if score >= FUZZY_MIN_RATIO:
                    scored[facility_id] = max(scored.get(facility_id, 0), score)
            if scored:
                best = max(scored.values())
                winners = [fid for fid, score in scored.items() if score == best]
                confidence = min(FUZZY_CONFIDENCE, best / 100 * FUZZY_CONFIDENCE / 0.8)
                ambiguous = len(winners) > 1
                if ambiguous:
                    confidence = AMBIGUOUS_CONFIDENCE / len(winners) ** 0.5
                for facility_id in winners:
                    found.append(_Mention(facility_id, index, index, confidence, text[token.start:token.end],
                                          ambiguous))
        return found

    def _place_mentions(self, tokens: list[_Token], text: str, segments, segment_of) -> list[tuple[int, int, str, int]]:
        """(facility_id, first token, matched, how many facilities) for places named beside a facility word.

        "A prison in Hasakeh" links Hasakah's prisons, not its camps; "a camp near Hasakah" the camps.
        """
        joined, starts = self._token_starts(tokens)
        hits = [(first, last, place) for first, last, place in self._hits(self.place_automaton, joined, starts)]
        for index, token in enumerate(tokens):
            if not token.capitalised or len(token.norm) < 5 or not token.norm.isascii() or token.norm in self.places:
                continue
            bucket = self.place_skeletons.get(skeleton(token.norm))
            if bucket and not is_ordinary_word(token.norm):
                for place in bucket:
                    if fuzz.ratio(token.norm, place) >= 80:
                        hits.append((index, index, place))
        found = []
        for first, last, place in hits:
            if not all(t.capitalised for t in tokens[first:last + 1]):
                continue  # places are names: "march" is not March (Cambridgeshire), nor "reading" Reading
            window = {t.norm for t in tokens[max(0, first - 5):last + 3]}
            if not window & (FACILITY_WORDS | PEOPLE_HELD):
                continue
            people_only = not window & FACILITY_WORDS
            wants_camp = people_only or bool(window & CAMP_WORDS)
            wants_prison = people_only or bool(window & (FACILITY_WORDS - CAMP_WORDS))
            here = [fid for fid in (self.towns.get(place) or self.areas.get(place) or ())
                    if (self.entries[fid].kind == "camp" and wants_camp)
                    or (self.entries[fid].kind != "camp" and wants_prison)]
            if not here or len(here) > MAX_PLACE_LINKS:
                continue
            matched = text[tokens[first].start:tokens[last].end]
            found.extend((fid, first, last, matched, len(here)) for fid in here)
        return found

    # -- roles ----------------------------------------------------------------------------------------

    def _is_historical(self, text: str, start: int, end: int) -> bool:
        """Does the text right around this mention place it in the past ("the 2013 Abu Ghraib break")?"""
        sentence_start, sentence_end = 0, len(text)
        for a, b in _sentences(text):
            if a <= start < b:
                sentence_start, sentence_end = a, b
                break
        before = text[max(sentence_start, start - 25):start]
        after = text[end:min(sentence_end, end + 20)]
        if any(int(y) < self.this_year - 1 for y in _YEAR.findall(before + " " + after)):
            return True
        words = set(re.findall(r"[\w']+", (before + " " + after).lower()))
        return bool(words & HISTORY_WORDS)

    def _past_sentence(self, sentence: str) -> bool:
        if any(int(y) < self.this_year - 1 for y in _YEAR.findall(sentence)):
            return True
        return bool(set(re.findall(r"[\w']+", sentence.lower())) & HISTORY_WORDS)

    @staticmethod
    def _segments(tokens: list[_Token], text: str) -> tuple[list[tuple[int, int]], list[int]]:
        """Token ranges of each sentence (the title is the first), and each token's sentence."""
        spans = _sentences(text)
        segment_of, span = [], 0
        for token in tokens:
            while span + 1 < len(spans) and token.start >= spans[span + 1][0]:
                span += 1
            segment_of.append(span)
        segments = [(0, 0)] * len(spans)
        for index, span in enumerate(segment_of):
            lo = segments[span][0] if segments[span] != (0, 0) or index == 0 else index
            segments[span] = (lo, index + 1)
        return segments, segment_of

    def _event_credit(self, tokens: list[_Token], mentions: list[_Mention], segments, segment_of,
                      current: set[int], historical_segments: set[int]) -> set[tuple[int, int]]:
        """Facilities at which the text reports an event: in each sentence, the facility named nearest to
        each event word, and those listed with it ("riots at Pentonville and Belmarsh")."""
        credited: set[tuple[int, int]] = set()
        by_segment: dict[int, list[_Mention]] = defaultdict(list)
        for index, mention in enumerate(mentions):
            if index in current and not mention.ambiguous:
                by_segment[segment_of[mention.first]].append(mention)
        for segment, here in by_segment.items():
            if segment in historical_segments:
                continue  # "went missing from HMP Sudbury in April 2012" is an earlier event
            lo, hi = segments[segment]
            events = [i for i in range(lo, hi) if tokens[i].norm in EVENT_WORDS]
            if not events:
                continue
            here.sort(key=lambda m: m.first)
            for event in events:
                distances = [0 if m.first <= event <= m.last else min(abs(event - m.first), abs(event - m.last))
                             for m in here]
                nearest = min(distances)
                for position, mention in enumerate(here):
                    if distances[position] != nearest:
                        continue
                    credited.add((mention.facility_id, segment))
                    # Walk the list the nearest facility stands in, both ways.
                    for step in (-1, 1):
                        j = position
                        while 0 <= j + step < len(here):
                            a, b = (here[j], here[j + step]) if step > 0 else (here[j + step], here[j])
                            between = [t.norm for t in tokens[a.last + 1:b.first]]
                            # "at Pentonville and Ashfield", "at Pentonville in north London and Ashfield".
                            if not between or between[-1] not in LIST_WORDS or len(between) > 5:
                                break
                            credited.add((here[j + step].facility_id, segment))
                            j += step
        return credited

    def _choose_primary(self, tokens, mentions, segments, segment_of, current, credited, named, title_end,
                        historical_segments: set[int]) -> set[int]:
        """Where the reported event happens: one facility, several only when the lede reports events at several."""
        first_lede_segment = segment_of[title_end] if title_end < len(tokens) else len(segments)
        lede_end = first_lede_segment + LEDE_SENTENCES
        earliest: dict[int, int] = {}  # facility -> first segment with an event credited to it
        for facility_id, segment in credited:
            if facility_id in named:
                earliest[facility_id] = min(segment, earliest.get(facility_id, segment))
        if earliest:
            in_lede = {fid for fid, segment in earliest.items() if segment < lede_end}
            return in_lede or {min(earliest, key=lambda fid: (earliest[fid], fid))}
        candidates = sorted((m.first >= title_end, m.first, m.facility_id)
                            for i, m in enumerate(mentions) if i in current and m.facility_id in named)
        if not candidates:
            return set()
        # No event reported at a named facility: the article is about the one it names in its title, else first.
        return {candidates[0][2]}

    def link(self, title: str, text: str) -> LinkResult:
        title = unglue_sentences(title or "")
        text = unglue_sentences(text or "")
        full = f"{title}\n{text}" if title else text
        tokens = _tokens(full)
        result = LinkResult()
        if not tokens:
            return result
        segments, segment_of = self._segments(tokens, full)
        mentions = self._named(tokens, full, segments, segment_of)
        taken = {i for m in mentions if not m.ambiguous for i in range(m.first, m.last + 1)}
        if self.fuzzy and not FACILITY_WORDS.isdisjoint(t.norm for t in tokens):
            mentions += self._fuzzy(tokens, full, taken)
        if not any(not m.ambiguous for m in mentions):
            if self.places and not (FACILITY_WORDS | PEOPLE_HELD).isdisjoint(t.norm for t in tokens):
                mentions += self._place_links(tokens, full, segments, segment_of)
        if not mentions:
            return result

        title_end = next((i for i, t in enumerate(tokens) if t.start >= len(title)), len(tokens)) if title else 0
        current = {i for i, m in enumerate(mentions)
                   if not self._is_historical(full, tokens[m.first].start, tokens[m.last].end)}
        spans = _sentences(full)
        historical_segments = {i for i, (a, b) in enumerate(spans) if self._past_sentence(full[a:b])}
        credited = self._event_credit(tokens, mentions, segments, segment_of, current, historical_segments)
        named = {m.facility_id for m in mentions if not m.ambiguous and not m.place}
        primary = self._choose_primary(tokens, mentions, segments, segment_of, current, credited, named, title_end,
                                       historical_segments)
        # A place beside a prison word: primary only for the one facility there, when an event is reported.
        # Only when no named facility is where the event happens: the place rule never adds a second primary.
        for index, mention in enumerate(mentions if not primary else ()):
            segment = segment_of[mention.first]
            if (mention.place and mention.siblings == 1 and index in current
                    and segment not in historical_segments):
                if any(tokens[i].norm in EVENT_WORDS for i in range(*segments[segment])):
                    primary.add(mention.facility_id)
                    break
        best: dict[int, _Mention] = {}
        for mention in mentions:
            if mention.facility_id not in best or mention.confidence > best[mention.facility_id].confidence:
                best[mention.facility_id] = mention
        for facility_id, mention in best.items():
            role = "primary" if facility_id in primary else "mentioned"
            confidence = mention.confidence
            if mention.place:
                confidence = PLACE_EVENT_CONFIDENCE if role == "primary" else PLACE_CONFIDENCE / mention.siblings ** 0.5
            result.links.append(FacilityLink(facility_id, self.entries[facility_id].name, role, confidence,
                                             mention.matched))
        result.links.sort(key=lambda link: (link.role != "primary", -link.confidence, link.name))
        return result

    def _place_links(self, tokens, text, segments, segment_of) -> list[_Mention]:
        out = []
        for facility_id, first, last, matched, siblings in self._place_mentions(tokens, text, segments, segment_of):
            out.append(_Mention(facility_id, first, last, PLACE_CONFIDENCE, matched, place=True, siblings=siblings))
        return out

    def propose_candidates(self, title: str, text: str) -> list[CandidateFacility]:
        """Facility-like names in the text that match nothing known, for an analyst to add."""
        full = f"{title}\n{text}" if title else (text or "")
        candidates: dict[str, CandidateFacility] = {}
        for match in _CANDIDATE.finditer(full):
            name = _SPACES.sub(" ", match.group("name")).strip(" ,.'’")
            if not name or normalize_name(name) in {"the", ""}:
                continue
            words = [w for w in normalize_name(name).split() if w not in GENERIC_TOKENS]
            # "Syria jail", "Kurdish-run prison", "IS prison": descriptions, not names.
            if not words or all(w in self.country_names or w in NOT_NAMES or w in self.places or len(w) < 3
                                for w in words):
                continue
            if self.named_in(name):
                continue
            place = match.group("place")
            country = self._country_in(place or "") or self._country_in(full)
            candidates.setdefault(normalize_name(name), CandidateFacility(name, place, country))
        return list(candidates.values())[:5]

    def _country_in(self, text: str) -> Optional[str]:
        """The country named first in the text, if any (at one position, the first listed of COUNTRIES)."""
        normalized = f" {normalize_name(text)} "
        best: Optional[tuple[int, int, str]] = None
        for end, (order, name, code) in self._country_automaton.iter(normalized):
            found = (end - len(name) - 1, order, code)
            if best is None or found < best:
                best = found
        return best[2] if best else None


_SPACES = re.compile(r"\s+")
# Words that describe a prison rather than name it.
NOT_NAMES = {
    "kurdish", "kurdish run", "syrian", "iraqi", "afghan", "nigerian", "libyan", "congolese", "yemeni", "haitian",
    "mexican", "brazilian", "ecuadorian", "american", "british", "french", "us", "is", "isis", "islamic", "state",
    "run", "high", "top", "largest", "biggest", "notorious", "overcrowded", "local", "nearby", "main", "government",
    "army", "police", "women", "men", "detention", "security", "secret", "this", "that", "a", "an", "one", "two",
    "its", "their", "his", "her", "sdf", "held", "kurdish-run", "migrant", "refugee", "displacement", "military",
}
_FACILITY_NOUN = (r"(?:Central\s+)?(?:Prison|prison|Jail|jail|Penitentiary|penitentiary|"
                  r"Correctional\s+(?:Centre|Center|"
                  r"Facility|Institution)|correctional\s+(?:centre|center|facility)|Detention\s+(?:Centre|Center)|"
                  r"detention\s+(?:centre|center)|Custodial\s+Centre|custodial\s+centre|Camp|camp)")
_CANDIDATE = re.compile(
    r"(?P<name>(?:[A-Z][\w'’-]+\s+){1,3}" + _FACILITY_NOUN + r")"
    r"(?:\s+(?:in|near|at|outside)\s+(?P<place>[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)?))?"
)
