"""Feature extraction shared by training and prediction (these functions are stored inside the model file).

Besides word and character n-grams, the model sees a few dozen "cue" features that encode what the
labels mean rather than how the training corpus happens to word it: an escape verb near a custody
noun, an attack verb near a facility noun, court-and-sentencing context, a mention of long ago. They
carry over to real news better than n-grams learned from a few thousand examples.
"""

from __future__ import annotations

import re
import unicodedata

import ahocorasick
import numpy as np
from scipy import sparse

_SPACES = re.compile(r"\s+")
_TOKEN = re.compile(r"[\w']+", re.UNICODE)
# Scraped article bodies often lose the space between sentences ("from prison.Jane Andrews, 40,").
_GLUED_SENTENCE = re.compile(r"(?<=[a-z0-9)\"”’])([.!?])(?=[\"“‘']?[A-Z])")


def unglue_sentences(text: str) -> str:
    """Put back the space a scraper dropped between two sentences, so sentence splitting finds them."""
    return _GLUED_SENTENCE.sub(r"\1 ", text)


def join_title_and_text(documents) -> list[str]:
    """One string per document: the title (twice, since headlines carry the signal) and the body."""
    out = []
    for doc in documents:
        title = str(doc.get("title") or "").strip()
        text = unglue_sentences(str(doc.get("text") or "").strip())
        joined = f"{title}. {title}. {text}" if title else text
        joined = unicodedata.normalize("NFKC", joined)
        out.append(_SPACES.sub(" ", joined).lower())
    return out


# Multi-word expressions become single tokens before matching.
_PHRASES = {
    "on the run": "on_the_run", "at large": "at_large", "broke out": "broke_out", "break out": "broke_out",
    "breaking out": "broke_out", "jail break": "jailbreak", "prison break": "prisonbreak", "walked out": "walked_out",
    "went missing": "went_missing", "escape room": "escaperoom", "escape rooms": "escaperoom",
    "car bomb": "carbomb", "air strike": "airstrike", "air strikes": "airstrike", "drone strike": "airstrike",
    "set fire": "set_fire", "set alight": "set_fire", "took over": "took_over", "taken hostage": "hostage",
    "took hostage": "hostage", "detention centre": "detention_centre", "detention center": "detention_centre",
    "detention facility": "detention_centre", "holding centre": "detention_centre", "prison van": "prison_van",
    "police cell": "police_cell", "police cells": "police_cell", "open prison": "open_prison",
    "years ago": "years_ago", "decades ago": "years_ago", "a year ago": "years_ago", "year ago": "years_ago",
    "months ago": "years_ago", "last year": "years_ago", "more than a year": "years_ago", "years after": "years_ago",
    "years earlier": "years_ago", "pussy riot": "riot_band", "riot games": "riot_band", "day release": "day_release",
    "temporary release": "day_release", "release on licence": "day_release", "failed to return": "failed_to_return",
    "maison d'arrêt": "prison", "centre pénitentiaire": "prison", "prison centrale": "prison",
    "sentenced to": "sentenced", "jailed for": "sentenced", "pleaded guilty": "pleaded", "found guilty": "convicted",
    "prisoner swap": "swap", "prisoner exchange": "swap", "prisoners swap": "swap",
    "months after": "months_after", "months later": "months_after", "months earlier": "months_after",
    "year after": "years_ago", "a year on": "years_ago", "years on": "years_ago",
    "early release": "early_release", "released early": "early_release", "freed early": "early_release",
    "compassionate release": "early_release", "police station": "police_station", "police stations": "police_station",
    "military base": "base", "army base": "base", "air base": "base", "naval base": "base",
    "last night": "last_night", "early hours": "early_hours", "this morning": "this_morning",
    "escaped jail": "escaped_sentence", "escapes jail": "escaped_sentence", "escape jail": "escaped_sentence",
    "avoided jail": "escaped_sentence", "spared jail": "escaped_sentence", "walks free": "escaped_sentence",
    "walked free": "escaped_sentence",
    "released from prison": "after_release", "released from jail": "after_release", "left prison": "after_release",
    "leaving prison": "after_release", "left jail": "after_release", "out of prison": "after_release",
    "out of jail": "after_release", "since his release": "after_release", "after his release": "after_release",
    "since her release": "after_release", "after her release": "after_release", "on licence": "after_release",
    "on parole": "after_release", "his release": "after_release", "her release": "after_release",
    "sit-in": "sit_in", "hunger strike": "hunger_strike", "hunger strikers": "hunger_strike",
    "hunger-striking": "hunger_strike",
}
_PHRASE_RE = re.compile(r"\b(" + "|".join(re.escape(p) for p in sorted(_PHRASES, key=len, reverse=True)) + r")\b")

LEXICONS: dict[str, set[str]] = {
    "escape": {
        "escape", "escaped", "escapes", "escaping", "escapee", "escapees", "abscond", "absconded", "absconding",
        "absconder", "absconders", "on_the_run", "set_free", "broke_out", "breakout", "breakouts", "jailbreak",
        "jailbreaks",
        "prisonbreak", "fled", "flee", "fleeing", "walked_out", "went_missing", "at_large", "recaptured",
        "recapture", "manhunt", "freed", "tunnel", "évadé", "évadés", "évasion", "évasions", "évadée", "cavale",
        "هروب", "فرار", "فروا", "هرب", "الفارين", "الهاربين",
    },
    "custody": {
        "prison", "prisons", "jail", "jails", "gaol", "inmate", "inmates", "prisoner", "prisoners", "detainee",
        "detainees", "convict", "convicts", "custody", "cell", "cells", "penitentiary", "correctional",
        "custodial", "detention_centre", "hmp", "yoi", "prison_van", "police_cell", "lockup", "remand",
        "open_prison", "jailhouse", "détenus", "détenu", "prisonniers", "prisonnier", "pénitentiaire",
        "سجن", "السجن", "سجناء", "السجناء", "معتقلين", "المعتقلين", "محتجزين", "المحتجزين", "سجين",
    },
    "attack": {
        "attack", "attacked", "attacks", "attacking", "stormed", "storm", "storming", "assault", "assaulted",
        "raid", "raided", "bomb", "bombing", "bombed", "carbomb", "suicide", "gunmen", "militants", "insurgents",
        "shelling", "shelled", "airstrike", "airstrikes", "rocket", "rockets", "mortar", "mortars", "explosion",
        "blast", "attaque", "attaqué", "assaillants", "هجوم", "تفجير", "قصف", "مسلحون", "اقتحام",
    },
    "facility": {
        "prison", "prisons", "jail", "jails", "penitentiary", "detention_centre", "camp", "camps", "compound",
        "facility", "custodial", "correctional", "سجن", "السجن", "مخيم", "المخيم",
    },
    "riot": {
        "riot", "riots", "rioting", "rioted", "mutiny", "unrest", "disturbance", "disturbances", "uprising",
        "rampage", "hostage", "hostages", "clashes", "clash", "brawl", "fight", "fights", "set_fire", "fires",
        "rooftop", "roof", "sit_in", "barricaded", "barricades", "took_over", "massacre", "mutinerie", "émeute",
        "émeutes", "تمرد", "شغب", "استعصاء", "عصيان",
    },
    "court": {
        "sentenced", "sentencing", "sentence", "trial", "court", "judge", "convicted", "pleaded", "appeal",
        "inquest", "jury", "parole", "verdict", "prosecutors", "procès", "condamné", "tribunal", "محكمة", "حكم",
        "sentences", "indicted", "indictment", "guilty", "extradited", "extradition", "acquitted", "hearing",
        "escaped_sentence",
    },
    "release": {
        "released", "release", "pardon", "pardoned", "pardons", "amnesty", "clemency", "swap",
        "commuted", "commutes", "commute", "libéré", "libérés", "grâce", "عفو", "الإفراج",
        "commutation", "commutations", "early_release", "exonerated", "bail", "exchange", "escaped_sentence",
        "after_release",
    },
    "long_ago": {"years_ago", "anniversary", "documentary", "retrospective", "history", "historic", "1971", "1983",
                 "decade", "decades", "remembered", "recalls", "recalled", "memoir", "months_after", "recall",
                 "remember", "remembers", "survivors", "commemorate", "commemorated", "commemoration", "book"},
    "report": {"report", "reports", "inspection", "inspectors", "inspectorate", "inspector", "findings", "review",
               "watchdog", "audit", "survey", "study", "warns", "warned", "warning", "fears", "feared", "could",
               "rapport", "تقرير", "potential", "fearing", "fear", "risk", "possible", "alarm", "concern",
               "concerns", "threat", "threats", "prevent", "braced", "brace", "contingency", "may", "might"},
    "not_custody": {"quarantine", "hotel", "zoo", "enclosure", "flood", "floods", "wildfire", "fire", "blaze",
                    "siege", "besieged", "earthquake", "relegation", "assassination"},
    "media": {"series", "netflix", "season", "episode", "film", "movie", "iphone", "ios", "app", "escaperoom",
              "game", "album", "band", "actor", "actress", "show", "riot_band", "punk"},
    "day_release": {"day_release", "failed_to_return", "recalled", "licence"},
    # Life after prison: a released man who is "on the run" or the subject of a "manhunt" fled the police,
    # not custody.
    "after_release": {"after_release", "furlough", "paroled", "parolee", "probation"},
    "military": {"base", "barracks", "checkpoint", "soldiers", "troops", "army", "police_station", "outpost"},
    "recent": {"yesterday", "today", "tonight", "overnight", "last_night", "early_hours", "this_morning",
               "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "hours"},
    "hunger_strike": {"hunger_strike", "sit_in", "protest", "protesting", "protested", "refused", "refusing"},
    "jihadist": {"isis", "isil", "daesh", "qaeda", "jihadist", "jihadists", "taliban", "iswap", "boko", "haram",
                 "shabaab", "aqap", "jnim", "adf", "داعش", "الدولة"},
}
PAIRS = [("escape", "custody"), ("attack", "facility"), ("riot", "custody"), ("escape", "court"),
         ("escape", "long_ago"), ("escape", "media"), ("escape", "day_release"), ("attack", "military"),
         ("escape", "jihadist"), ("attack", "jihadist"), ("release", "custody"), ("riot", "long_ago"),
         ("riot", "report"), ("escape", "report"), ("escape", "not_custody"), ("riot", "media"),
         ("escape", "recent"), ("riot", "recent"),
         ("attack", "recent"), ("attack", "report"), ("escape", "release"), ("escape", "after_release"),
         ("riot", "hunger_strike")]
# Events a label needs besides its verb: an attack, riot or escape with no custody or facility word anywhere
# in the title and lede is about something else (a city shelled, a rooftop gunman, a fire escaped).
ABSENT = [("attack", ("facility", "custody")), ("riot", ("facility", "custody")), ("escape", ("custody",))]
WINDOW = 8
_LEXICON_NAMES = list(LEXICONS)
_MEMBERSHIP: dict[str, list[int]] = {}
for _index, _name in enumerate(_LEXICON_NAMES):
    for _word in LEXICONS[_name]:
        _MEMBERSHIP.setdefault(_word, []).append(_index)
CUE_FEATURE_NAMES = (
    [f"has_{name}" for name in _LEXICON_NAMES]
    + [f"title_{name}" for name in ("escape", "attack", "riot", "custody")]
    + [f"near_{a}_{b}" for a, b in PAIRS]
    + [f"title_near_{a}_{b}" for a, b in PAIRS[:3]]
    + [f"{a}_without_{'_'.join(bs)}" for a, bs in ABSENT]
)


_LEXICON_INDEX = {name: i for i, name in enumerate(_LEXICON_NAMES)}
_N_LEXICONS = len(_LEXICON_NAMES)
_TITLE_LEXICONS = [_LEXICON_INDEX[name] for name in ("escape", "attack", "riot", "custody")]
_PAIR_INDICES = [(_LEXICON_INDEX[a], _LEXICON_INDEX[b]) for a, b in PAIRS]
_ABSENT_INDICES = [(_LEXICON_INDEX[a], [_LEXICON_INDEX[b] for b in bs]) for a, bs in ABSENT]
_TITLE_COLUMN = _N_LEXICONS
_PAIR_COLUMN = _TITLE_COLUMN + len(_TITLE_LEXICONS)
_TITLE_PAIR_COLUMN = _PAIR_COLUMN + len(PAIRS)
_ABSENT_COLUMN = _TITLE_PAIR_COLUMN + 3


def _positions(tokens: list[str]) -> list[list[int]]:
    found: list[list[int]] = [[] for _ in _LEXICON_NAMES]
    for position, token in enumerate(tokens):
        for index in _MEMBERSHIP.get(token, ()):
            found[index].append(position)
    return found


def _near(first: list[int], second: list[int]) -> bool:
    if not first or not second:
        return False
    j = 0
    for p in first:
        while j < len(second) and second[j] < p - WINDOW:
            j += 1
        if j < len(second) and second[j] <= p + WINDOW:
            return True
    return False


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


_PHRASE_AUTOMATON = ahocorasick.Automaton()
for _phrase in _PHRASES:
    _PHRASE_AUTOMATON.add_word(_phrase, _phrase)
_PHRASE_AUTOMATON.make_automaton()


def replace_phrases(text: str) -> str:
    """_PHRASE_RE.sub(...) in one Aho-Corasick pass: leftmost matches on word boundaries, the longest phrase at a
    position winning, as the regex alternation (longest first) does."""
    best: dict[int, str] = {}
    for end, phrase in _PHRASE_AUTOMATON.iter(text):
        start = end - len(phrase) + 1
        if start > 0 and _is_word_char(text[start - 1]) and _is_word_char(phrase[0]):
            continue
        if end + 1 < len(text) and _is_word_char(text[end + 1]) and _is_word_char(phrase[-1]):
            continue
        if len(phrase) > len(best.get(start, "")):
            best[start] = phrase
    if not best:
        return text
    pieces, position = [], 0
    for start in sorted(best):
        if start < position:
            continue
        phrase = best[start]
        pieces.append(text[position:start])
        pieces.append(_PHRASES[phrase])
        position = start + len(phrase)
    pieces.append(text[position:])
    return "".join(pieces)


def _tokens(text: str) -> list[str]:
    if "set" in text:
        text = _SET_FREE.sub(lambda m: f"set_free{m.group(1)}", text)
    return _TOKEN.findall(replace_phrases(text))


LEDE_CHARS = 900
LEDE_SENTENCES = 3
_SENTENCE = re.compile(r"(?<=[.!?؟])\s+")
# "set dozens of IS fighters free", "set the inmates free": an escape phrase with words in between.
_SET_FREE = re.compile(r"\bset\b((?:\W+\w+){0,6}?)\W+free\b")


def lede(text: str) -> str:
    """The first few sentences: where news puts the event it reports."""
    sentences = _SENTENCE.split(text[:LEDE_CHARS * 2], maxsplit=LEDE_SENTENCES)
    return " ".join(sentences[:LEDE_SENTENCES])[:LEDE_CHARS]


def cue_features(documents) -> sparse.csr_matrix:
    """Binary cue features, one row per document (dicts with title and text).

    Only the title and the lede are read: news puts the event first, and a long article's background
    (a trial years ago, an old amnesty) must not outvote what it reports.
    """
    columns: list[int] = []  # the columns that are 1, row after row (a cue is present or it is not)
    indptr = [0]
    for doc in documents:
        title = unicodedata.normalize("NFKC", str(doc.get("title") or "")).lower()
        body = lede(unglue_sentences(unicodedata.normalize("NFKC", str(doc.get("text") or "")))).lower()
        title_tokens = _tokens(title)
        tokens = title_tokens + ["|"] * WINDOW + _tokens(body)
        everywhere = _positions(tokens)
        if title_tokens:
            # The title's tokens lead `tokens`: their positions there are their positions in the title.
            limit = len(title_tokens)
            in_title = [[p for p in found if p < limit] for found in everywhere]
        else:
            # Many feeds send no headline; their first sentence does a headline's job.
            in_title = _positions(_tokens(_SENTENCE.split(body, maxsplit=1)[0][:300]))
        columns.extend(i for i in range(_N_LEXICONS) if everywhere[i])
        columns.extend(_TITLE_COLUMN + k for k, i in enumerate(_TITLE_LEXICONS) if in_title[i])
        columns.extend(_PAIR_COLUMN + k for k, (a, b) in enumerate(_PAIR_INDICES)
                       if _near(everywhere[a], everywhere[b]))
        columns.extend(_TITLE_PAIR_COLUMN + k for k, (a, b) in enumerate(_PAIR_INDICES[:3])
                       if _near(in_title[a], in_title[b]))
        columns.extend(_ABSENT_COLUMN + k for k, (a, absent) in enumerate(_ABSENT_INDICES)
                       if everywhere[a] and not any(everywhere[b] for b in absent))
        indptr.append(len(columns))
    return sparse.csr_matrix((np.ones(len(columns)), columns, indptr),
                             shape=(len(documents), len(CUE_FEATURE_NAMES)))


# -- fast prediction ---------------------------------------------------------------------------------------
# The stored model is a scikit-learn Pipeline (word and char_wb TF-IDF, the cues above, one logistic regression
# per label). Prediction computes exactly the same feature matrix with less Python per document: the title and
# text are joined once instead of once per vectoriser, and the character n-grams of each distinct word are looked
# up in the vocabulary once and cached, not regenerated for every occurrence. The fitted vocabulary and idf
# weights are the model's own; tests check the matrices are identical to the Pipeline's.

_WHITE_SPACES = re.compile(r"\s\s+")
_WORD_CACHE_LIMIT = 400_000


class _FastCharWb:
    """TfidfVectorizer(analyzer='char_wb').transform with per-word n-gram indices cached."""

    def __init__(self, vectorizer):
        self.vectorizer = vectorizer
        self.vocabulary = vectorizer.vocabulary_
        self.low, self.high = vectorizer.ngram_range
        self.cache: dict[str, list[int]] = {}

    def _word(self, word: str) -> list[int]:
        found = self.cache.get(word)
        if found is not None:
            return found
        vocabulary, padded = self.vocabulary, f" {word} "
        length, found = len(padded), []
        for n in range(self.low, self.high + 1):
            offset = 0
            index = vocabulary.get(padded[0:n])
            if index is not None:
                found.append(index)
            while offset + n < length:
                offset += 1
                index = vocabulary.get(padded[offset:offset + n])
                if index is not None:
                    found.append(index)
            if offset == 0:  # a word shorter than n counts once, as scikit-learn does
                break
        if len(self.cache) >= _WORD_CACHE_LIMIT:
            self.cache.clear()
        self.cache[word] = found
        return found

    def count_matrix(self, texts: list[str]):
        """Documents x n-gram counts as (documents x distinct words) @ (distinct words x n-grams): each distinct
        word's n-grams are written once per batch, the sums are left to scipy."""
        local: dict[str, int] = {}
        word_ids: list[int] = []
        indptr = [0]
        for text in texts:
            for word in _WHITE_SPACES.sub(" ", text.lower()).split():
                index = local.get(word)
                if index is None:
                    index = local[word] = len(local)
                word_ids.append(index)
            indptr.append(len(word_ids))
        dtype = self.vectorizer.dtype
        documents = sparse.csr_matrix((np.ones(len(word_ids), dtype=dtype), word_ids, indptr),
                                      shape=(len(texts), len(local)))
        gram_ids: list[int] = []
        gram_indptr = [0]
        cache = self.cache
        for word in local:  # dicts keep insertion order: row i is the word with local id i
            found = cache.get(word)
            gram_ids.extend(found if found is not None else self._word(word))
            gram_indptr.append(len(gram_ids))
        grams = sparse.csr_matrix((np.ones(len(gram_ids), dtype=dtype), gram_ids, gram_indptr),
                                  shape=(len(local), len(self.vocabulary)))
        counts = (documents @ grams).tocsr()
        counts.sum_duplicates()
        counts.sort_indices()
        return counts


class _FastWords:
    """TfidfVectorizer(analyzer='word', ngram_range=(1, n)).transform without the per-document analyser objects."""

    def __init__(self, vectorizer):
        self.vectorizer = vectorizer
        self.vocabulary = vectorizer.vocabulary_
        self.pattern = re.compile(vectorizer.token_pattern)
        self.low, self.high = vectorizer.ngram_range

    def counts(self, texts: list[str]):
        vocabulary, low, high = self.vocabulary, self.low, self.high
        indices: list[int] = []
        indptr = [0]
        for text in texts:
            tokens = self.pattern.findall(text.lower())
            count = len(tokens)
            for n in range(low, min(high, count) + 1):
                if n == 1:
                    grams = tokens
                elif n == 2:
                    grams = [a + " " + b for a, b in zip(tokens, tokens[1:])]
                else:
                    grams = [" ".join(tokens[i:i + n]) for i in range(count - n + 1)]
                for gram in grams:
                    index = vocabulary.get(gram)
                    if index is not None:
                        indices.append(index)
            indptr.append(len(indices))
        return indices, indptr


def _tfidf(fast, texts: list[str]):
    if hasattr(fast, "count_matrix"):
        return fast.vectorizer._tfidf.transform(fast.count_matrix(texts), copy=False)
    indices, indptr = fast.counts(texts)
    counts = sparse.csr_matrix((np.ones(len(indices), dtype=fast.vectorizer.dtype), indices, indptr),
                               shape=(len(texts), len(fast.vocabulary)))
    counts.sum_duplicates()  # repeated n-grams add up and indices come out sorted, as CountVectorizer leaves them
    return fast.vectorizer._tfidf.transform(counts, copy=False)


class _FastPlan:
    def __init__(self, pipeline, blocks, weights):
        self.pipeline = pipeline
        self.blocks = blocks  # (kind, fast transformer or None)
        self.weights = weights

    def features(self, documents):
        joined = join_title_and_text(documents)
        matrices = []
        for (kind, fast), weight in zip(self.blocks, self.weights):
            matrix = cue_features(documents) if kind == "cues" else _tfidf(fast, joined)
            matrices.append(matrix * weight if weight is not None else matrix)
        return sparse.hstack(matrices).tocsr()


def _fast_plan(pipeline):
    """A fast path for pipelines of exactly the shape `monitor train` writes; None for anything else."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.preprocessing import FunctionTransformer

    try:
        union = pipeline.named_steps["features"]
        if not isinstance(union, FeatureUnion) or list(pipeline.named_steps) != ["features", "classify"]:
            return None
        blocks, weights = [], []
        for name, step in union.transformer_list:
            weights.append((union.transformer_weights or {}).get(name))
            if isinstance(step, FunctionTransformer) and step.func is cue_features and not step.kw_args:
                blocks.append(("cues", None))
                continue
            if not isinstance(step, Pipeline) or len(step.steps) != 2:
                return None
            join, vectorizer = step.steps[0][1], step.steps[1][1]
            if not (isinstance(join, FunctionTransformer) and join.func is join_title_and_text and not join.kw_args):
                return None
            if not isinstance(vectorizer, TfidfVectorizer) or not hasattr(vectorizer, "_tfidf"):
                return None
            params = vectorizer.get_params()
            if (params["preprocessor"] or params["tokenizer"] or params["stop_words"] or params["strip_accents"]
                    or params["binary"] or not params["lowercase"]):
                return None
            if params["analyzer"] == "char_wb":
                blocks.append(("chars", _FastCharWb(vectorizer)))
            elif params["analyzer"] == "word":
                blocks.append(("words", _FastWords(vectorizer)))
            else:
                return None
        return _FastPlan(pipeline, blocks, weights)
    except (AttributeError, KeyError, TypeError):
        return None


_PLANS: dict[int, object] = {}


def fast_features(pipeline, documents):
    """The feature matrix `pipeline` would compute for `documents`, or None when it has another shape."""
    plan = _PLANS.get(id(pipeline))
    if plan is None or plan is not False and plan.pipeline is not pipeline:
        plan = _fast_plan(pipeline) or False
        _PLANS[id(pipeline)] = plan
    return plan.features(list(documents)) if plan else None


def predict_proba(pipeline, documents):
    """`pipeline.predict_proba(documents)`, through the fast feature path when the pipeline has the trained shape."""
    features = fast_features(pipeline, documents)
    if features is None:
        return pipeline.predict_proba(list(documents))
    return pipeline.named_steps["classify"].predict_proba(features)
