"""Normalising facility names so that the spellings the press uses compare equal.

The same function is applied to stored names/aliases and to text being matched, so what it drops
(diacritics, apostrophes, Arabic article prefixes) is dropped on both sides.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

from wordfreq import get_frequency_dict

_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")  # tashkeel, tatweel
_ARABIC_LETTERS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ة": "ه", "ى": "ي"})
_APOSTROPHES = re.compile("['’‘`´ʿʾʼ′\"“”]")
# Arabic article joined by a hyphen, including its sun-letter forms: al-Hol, ar-Raqqa, ash-Shaddadi.
_LATIN_ARTICLE = re.compile(r"\b(?:al|el|ad|ar|as|ash|at|az|an|adh|ath|ad)[-‐‑‒–—](?=\w)", re.IGNORECASE)
_DASHES = re.compile("[-‐‑‒–—_/]")
_NON_WORD = re.compile(r"[^\w\s]")
_SPACES = re.compile(r"\s+")
_STANDALONE_ARTICLES = {"al", "el"}


def _strip_latin_diacritics(text: str) -> str:
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    # Only Latin-script combining marks are dropped here; Arabic marks are handled separately.
    return "".join(ch for ch in decomposed if not (unicodedata.combining(ch) and ord(ch) < 0x0600))


@lru_cache(maxsize=100_000)
def normalize_name(text: str) -> str:
    """Lower-case, diacritic-free, article-free, single-spaced form of a name or a piece of text."""
    text = unicodedata.normalize("NFKC", text)
    text = _ARABIC_MARKS.sub("", text).translate(_ARABIC_LETTERS)
    text = _LATIN_ARTICLE.sub("", text)
    text = _strip_latin_diacritics(text).casefold()
    text = _APOSTROPHES.sub("", text)
    text = _DASHES.sub(" ", text)
    text = _NON_WORD.sub(" ", text)
    words = []
    for word in text.split():
        if word in _STANDALONE_ARTICLES:
            continue
        if word.startswith("ال") and len(word) >= 5:
            word = word[2:]
        words.append(word)
    return _SPACES.sub(" ", " ".join(words)).strip()


# Languages whose everyday words must never be read as a facility or a place: the classifier's three (en, fr,
# ar) and the Spanish and Portuguese that Latin American prison names and feeds bring.
ORDINARY_WORD_LANGUAGES = ("en", "fr", "ar", "es", "pt")
# Zipf 3 (once per million words): "where", "court", "inmate" and "Forest" are above it; transliterated
# names (Ghwayran, Pentonville, Hasakah) are far below.
ORDINARY_MIN_FREQUENCY = 1e-6


@lru_cache(maxsize=1)
def ordinary_words() -> frozenset[str]:
    """Every word at least as frequent as ORDINARY_MIN_FREQUENCY in any of ORDINARY_WORD_LANGUAGES, as
    wordfreq spells it and as normalize_name spells it (without diacritics or the Arabic article)."""
    words: set[str] = set()
    for language in ORDINARY_WORD_LANGUAGES:
        for word, frequency in get_frequency_dict(language).items():
            if frequency < ORDINARY_MIN_FREQUENCY:
                continue
            words.add(word)
            if word.isascii() and word.isalnum():
                continue  # already in normalised form
            normalized = normalize_name.__wrapped__(word)
            if normalized and " " not in normalized:
                words.add(normalized)
    return frozenset(words)


def is_ordinary_word(word: str) -> bool:
    """Is this (normalised) word an everyday word of a supported language, per the wordfreq lists?"""
    return word in ordinary_words()


def slugify(name: str, suffix: str = "") -> str:
    """An ASCII identifier for URLs and files; names in non-Latin script fall back to a short hash."""
    ascii_text = unicodedata.normalize("NFKD", normalize_name(name)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    if not slug:
        slug = "facility-" + hashlib.sha1(name.encode("utf-8")).hexdigest()[:8]
    if suffix:
        slug = f"{slug}-{suffix.lower()}"
    return slug[:120]
