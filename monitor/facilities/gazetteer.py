"""Linking news text to known facilities.

Every facility name and alias (Latin and Arabic script) goes into one Aho-Corasick automaton over
normalised tokens, so a match always falls on word boundaries and costs the same with 70 or 20,000
facilities. Spellings nobody listed (Ghweran, Ghwairan, Guweiran) are caught by a consonant-skeleton
index and confirmed with rapidfuzz. A place named beside a prison ("a prison in Hasakeh") links that
place's facilities with lower confidence. Each link is `primary` (where the reported event happens) or
`mentioned` (history or context, "the 2013 Abu Ghraib break").
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Optional

import ahocorasick
from rapidfuzz import fuzz
from sqlmodel import Session, select

from monitor.countries import COUNTRIES
from monitor.facilities.names import normalize_name
from monitor.store.schema import Facility, FacilityAlias

# Words that say "a place of detention" without naming one; they never identify a facility alone.
FACILITY_WORDS = {
    "prison", "prisons", "jail", "jails", "gaol", "penitentiary", "camp", "camps", "detention", "centre", "center",
    "correctional", "custodial", "facility", "cereso", "penal", "maison", "centrale", "سجن", "مخيم", "معتقل",
    "السجن", "المخيم", "مركز", "prisión", "presídio", "penitenciária", "penitenciaria",
}
CAMP_WORDS = {"camp", "camps", "مخيم", "المخيم"}
DETENTION_CONTEXT = {
    "break", "breakout", "jailbreak", "escape", "escaped", "escapes", "inmates", "inmate", "prisoners", "detainees",
    "riot", "riots", "guards", "stormed", "attack", "assault", "scandal", "abuse", "freed", "mutiny",
}
GENERIC_TOKENS = FACILITY_WORDS | {
    "central", "city", "district", "provincial", "state", "national", "new", "old", "main", "high", "security",
    "maximum", "medium", "military", "of", "the", "de", "du", "la", "le", "des", "in", "at", "no", "and",
    "women", "womens", "men", "youth", "juvenile", "international", "federal", "county", "regional",
    # French, Spanish and Portuguese names of kinds of prison ("maison d'arrêt", "prison civile", "cárcel"),
    # which otherwise read as distinctive and linked every French-language prison story to every such facility.
    "darret", "arret", "civile", "civil", "correction", "penitentiaire", "centre", "et", "y", "e", "carcel",
    "centro", "reclusion", "penitenciario", "penitenciaria", "nacional", "maxima", "seguridad", "readaptacion",
    "social", "cadeia", "publica", "estadual", "complexo", "penal", "do", "da", "el", "del",
}
_WORD = re.compile(r"[\w'’ʿʾ-]+", re.UNICODE)
_SENTENCE_END = re.compile(r"(?<=[.!?؟])\s+|\n+")
_YEAR = re.compile(r"\b(19[5-9]\d|20[0-4]\d)\b")
HISTORY_WORDS = {"ago", "anniversary", "notorious", "infamous", "formerly", "previously", "history", "retrospective",
                 "decades", "including", "echoes", "reminiscent", "سابقا", "naguère"}
PEOPLE_HELD = {"inmates", "prisoners", "detainees", "سجناء", "السجناء", "معتقلين", "détenus"}
EXACT_CONFIDENCE = 0.95
FUZZY_CONFIDENCE = 0.75
BARE_CONFIDENCE = 0.8
PLACE_CONFIDENCE = 0.4


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


def skeleton(token: str) -> str:
    """Consonant skeleton of a transliterated word: Ghwayran, Gweiran and Guweiran all give 'grn'."""
    text = token.lower()
    for a, b in (("gh", "g"), ("kh", "k"), ("q", "k"), ("sh", "s"), ("th", "t"), ("dh", "d"), ("ou", "u"),
                 ("ph", "f"), ("c", "k"), ("z", "s")):
        text = text.replace(a, b)
    consonants = [ch for ch in text if ch.isalpha() and ch not in "aeiouywh"]
    collapsed = [ch for i, ch in enumerate(consonants) if i == 0 or ch != consonants[i - 1]]
    return "".join(collapsed)


@dataclass
class _Token:
    norm: str
    start: int
    end: int


def _tokens(text: str) -> list[_Token]:
    """Normalised word tokens with their spans in the original text (article prefixes dropped)."""
    out = []
    for match in _WORD.finditer(text):
        for part in normalize_name(match.group(0)).split():
            out.append(_Token(part, match.start(), match.end()))
    return out


def _sentences(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((start, match.start()))
        start = match.end()
    spans.append((start, len(text)))
    return [(a, b) for a, b in spans if b > a]


class Gazetteer:
    def __init__(self, entries: Iterable[GazetteerEntry], today: Optional[datetime] = None):
        self.entries = {entry.facility_id: entry for entry in entries}
        self.this_year = (today or datetime.now(timezone.utc)).year
        self.automaton = ahocorasick.Automaton()
        keys: dict[str, set[int]] = defaultdict(set)
        self.fuzzy: dict[str, list[tuple[str, int]]] = defaultdict(list)
        self.places: dict[str, set[int]] = defaultdict(set)
        place_words = {word for entry in self.entries.values() for place in (entry.city, entry.admin_area) if place
                       for word in normalize_name(place).split()}
        place_skeletons = defaultdict(set)
        for word in place_words:
            place_skeletons[skeleton(word)].add(word)

        def is_place_word(word: str) -> bool:
            return word in place_words or any(fuzz.ratio(word, p) >= 80 for p in place_skeletons.get(skeleton(word), ()))

        bare_keys: dict[str, set[int]] = defaultdict(set)
        self._facilities_in: dict[str, set[int]] = defaultdict(set)
        for entry in self.entries.values():
            for place in (entry.city, entry.admin_area):
                for word in normalize_name(place or "").split():
                    self._facilities_in[word].add(entry.facility_id)
        for entry in self.entries.values():
            for alias in (entry.name, *entry.aliases):
                normalized = normalize_name(alias)
                words = normalized.split()
                # A bare generic phrase ("central prison") would match everywhere; require one distinctive word.
                if not words or all(word in GENERIC_TOKENS for word in words):
                    continue
                keys[f" {normalized} "].add(entry.facility_id)
                distinctive = [w for w in words if w not in GENERIC_TOKENS]
                for word in distinctive:
                    # Place names in a facility's name ("Hasakah central prison") say where, not which.
                    if not is_place_word(word) and len(word) >= 5 and word.isascii():
                        self.fuzzy[skeleton(word)].append((word, entry.facility_id))
                # "Abu Ghraib prison" -> "abu ghraib": matched only beside detention words ("the Abu Ghraib
                # break"). A name that is just its town's name qualifies only when nothing else is in that town.
                if distinctive and len(distinctive) < len(words) and sum(len(w) for w in distinctive) >= 4:
                    if not all(is_place_word(w) for w in distinctive) or all(
                            len(self._facilities_in.get(w, ())) <= 1 for w in distinctive):
                        bare_keys[" " + " ".join(distinctive) + " "].add(entry.facility_id)
            for place in (entry.city, entry.admin_area):
                if place:
                    for word in normalize_name(place).split():
                        if word not in GENERIC_TOKENS and len(word) >= 3 and word not in {"governorate", "province"}:
                            self.places[word].add(entry.facility_id)
        for key, ids in keys.items():
            self.automaton.add_word(key, (key.strip(), tuple(sorted(ids)), False))
        for key, ids in bare_keys.items():
            if key not in keys:
                self.automaton.add_word(key, (key.strip(), tuple(sorted(ids)), True))
        if keys or bare_keys:
            self.automaton.make_automaton()
        self._has_keys = bool(keys or bare_keys)
        self.place_skeletons: dict[str, list[str]] = defaultdict(list)
        for place in self.places:
            if place.isascii() and len(place) >= 5:
                self.place_skeletons[skeleton(place)].append(place)
        self.country_names = {normalize_name(name): code for code, name in COUNTRIES.items()}

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

    def _exact(self, tokens: list[_Token], text: str) -> list[tuple[int, int, int, str]]:
        """(facility_id, first token, last token, matched text) for every exact alias match."""
        if not self._has_keys or not tokens:
            return []
        joined = " " + " ".join(t.norm for t in tokens) + " "
        # Character offset in `joined` of each token's first character -> token index.
        starts, position = {}, 1
        for index, token in enumerate(tokens):
            starts[position] = index
            position += len(token.norm) + 1
        found = []
        for end, (key, ids, bare) in self.automaton.iter(joined):
            begin = end - len(key) - 1  # the key is stored padded with spaces on both sides
            first = starts.get(begin + 1)
            if first is None:
                continue
            last = first + len(key.split()) - 1
            if bare and not any(t.norm in DETENTION_CONTEXT for t in tokens[max(0, first - 4):last + 5]):
                continue
            matched = text[tokens[first].start:tokens[last].end]
            found.extend((facility_id, first, last, matched, bare) for facility_id in ids)
        return found

    def _fuzzy(self, tokens: list[_Token], text: str, taken: set[int]) -> list[tuple[int, int, int, str, float]]:
        found = []
        for index, token in enumerate(tokens):
            if index in taken or len(token.norm) < 5 or not token.norm.isascii() or token.norm in GENERIC_TOKENS:
                continue
            # A transliterated name alone is too weak; it must sit next to a word like "prison" or "camp".
            if not any(t.norm in FACILITY_WORDS for t in tokens[max(0, index - 3):index + 4]):
                continue
            scored: dict[int, float] = {}
            for known, facility_id in self.fuzzy.get(skeleton(token.norm), ()):
                score = fuzz.ratio(token.norm, known)
                if score >= 70:
                    scored[facility_id] = max(scored.get(facility_id, 0), score)
            if scored:
                best = max(scored.values())
                for facility_id, score in scored.items():
                    if score == best:
                        found.append((facility_id, index, index, text[token.start:token.end], score / 100))
        return found

    def _place_links(self, tokens: list[_Token], text: str) -> list[tuple[int, int, str]]:
        """Facilities in a place named within a few words of a facility word: (facility_id, token, matched).

        "A prison in Hasakeh" links Hasakah's prisons, not its camps; "a camp near Hasakah" the camps.
        """
        found = []
        for index, token in enumerate(tokens):
            if token.norm in FACILITY_WORDS or len(token.norm) < 3:
                continue
            places = [token.norm] if token.norm in self.places else [
                place for place in self.place_skeletons.get(skeleton(token.norm), ())
                if fuzz.ratio(token.norm, place) >= 80] if token.norm.isascii() and len(token.norm) >= 5 else []
            if not places:
                continue
            window = {t.norm for t in tokens[max(0, index - 5):index + 3]}
            if not window & (FACILITY_WORDS | PEOPLE_HELD):
                continue
            people_only = not window & FACILITY_WORDS
            wants_camp = people_only or bool(window & CAMP_WORDS)
            wants_prison = people_only or bool(window & (FACILITY_WORDS - CAMP_WORDS))
            for place in places:
                for facility_id in self.places[place]:
                    is_camp = self.entries[facility_id].kind == "camp"
                    if (is_camp and wants_camp) or (not is_camp and wants_prison):
                        found.append((facility_id, index, text[token.start:token.end]))
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

    def link(self, title: str, text: str) -> LinkResult:
        title = title or ""
        text = text or ""
        full = f"{title}\n{text}" if title else text
        tokens = _tokens(full)
        result = LinkResult()
        mentions: dict[int, list[tuple[int, int, str, float]]] = defaultdict(list)  # id -> (start, end, matched, conf)
        taken: set[int] = set()
        exact = self._exact(tokens, full)
        # Full aliases first; a bare name counts only on words no full alias has claimed.
        for facility_id, first, last, matched, bare in sorted(exact, key=lambda m: m[4]):
            if bare and any(i in taken for i in range(first, last + 1)):
                continue
            confidence = BARE_CONFIDENCE if bare else EXACT_CONFIDENCE
            mentions[facility_id].append((tokens[first].start, tokens[last].end, matched, confidence))
            if not bare:
                taken.update(range(first, last + 1))
        for facility_id, first, last, matched, score in self._fuzzy(tokens, full, taken):
            confidence = min(FUZZY_CONFIDENCE, score * FUZZY_CONFIDENCE / 0.8)
            mentions[facility_id].append((tokens[first].start, tokens[last].end, matched, confidence))
        named = set(mentions)
        if not named:
            for facility_id, index, matched in self._place_links(tokens, full):
                mentions[facility_id].append((tokens[index].start, tokens[index].end, matched, PLACE_CONFIDENCE))

        for facility_id, spans in mentions.items():
            entry = self.entries[facility_id]
            current = [s for s in spans if not self._is_historical(full, s[0], s[1])]
            best = max(spans, key=lambda s: s[3])
            in_title = bool(title) and any(s[0] < len(title) for s in spans)
            role = "primary" if current or in_title else "mentioned"
            confidence = best[3]
            if facility_id not in named:
                # Several facilities may share the place; only named ones are certain.
                siblings = sum(1 for fid in mentions if fid not in named)
                confidence = PLACE_CONFIDENCE / max(1, siblings) ** 0.5
            result.links.append(FacilityLink(facility_id, entry.name, role, confidence, best[2]))
        result.links.sort(key=lambda link: (link.role != "primary", -link.confidence, link.name))
        return result

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
            if self._exact(_tokens(name), name):
                continue
            place = match.group("place")
            country = self._country_in(place or "") or self._country_in(full)
            candidates.setdefault(normalize_name(name), CandidateFacility(name, place, country))
        return list(candidates.values())[:5]

    def _country_in(self, text: str) -> Optional[str]:
        """The country named first in the text, if any."""
        normalized = f" {normalize_name(text)} "
        best: Optional[tuple[int, str]] = None
        for name, code in self.country_names.items():
            position = normalized.find(f" {name} ")
            if position >= 0 and (best is None or position < best[0]):
                best = (position, code)
        return best[1] if best else None


_SPACES = re.compile(r"\s+")
# Words that describe a prison rather than name it.
NOT_NAMES = {
    "kurdish", "kurdish run", "syrian", "iraqi", "afghan", "nigerian", "libyan", "congolese", "yemeni", "haitian",
    "mexican", "brazilian", "ecuadorian", "american", "british", "french", "us", "is", "isis", "islamic", "state",
    "run", "high", "top", "largest", "biggest", "notorious", "overcrowded", "local", "nearby", "main", "government",
    "army", "police", "women", "men", "detention", "security", "secret", "this", "that", "a", "an", "one", "two",
    "its", "their", "his", "her", "sdf", "held", "kurdish-run", "migrant", "refugee", "displacement", "military",
}
_FACILITY_NOUN = (r"(?:Central\s+)?(?:Prison|prison|Jail|jail|Penitentiary|penitentiary|Correctional\s+(?:Centre|Center|"
                  r"Facility|Institution)|correctional\s+(?:centre|center|facility)|Detention\s+(?:Centre|Center)|"
                  r"detention\s+(?:centre|center)|Custodial\s+Centre|custodial\s+centre|Camp|camp)")
_CANDIDATE = re.compile(
    r"(?P<name>(?:[A-Z][\w'’-]+\s+){1,3}" + _FACILITY_NOUN + r")"
    r"(?:\s+(?:in|near|at|outside)\s+(?P<place>[A-Z][\w'’-]+(?:\s+[A-Z][\w'’-]+)?))?"
)
