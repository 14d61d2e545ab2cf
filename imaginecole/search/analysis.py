"""Whoosh analyzers per language: what a word becomes in the index and in a query.

French: elisions split (l'éducation -> éducation), stop words dropped, accents folded and light
stemming, so "eleve", "élève" and "élèves" meet. A second, *exact* analysis keeps accents and
word forms; the index holds both, so an exact match ranks above a folded one.

These are Whoosh analyzers, and Whoosh saves them in each index by reference to this module:
renaming it makes every school's index unreadable, so rebuilt, at the next start.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

from whoosh.analysis import Token, Tokenizer
from whoosh.lang import stopwords_for_language
from whoosh.lang.porter import stem as english_stem
from whoosh.lang.snowball.french import FrenchStemmer
from whoosh.support.charset import accent_map

from imaginecole.search.query import WORD

ELISIONS = (
    "l",
    "d",
    "j",
    "n",
    "s",
    "c",
    "m",
    "t",
    "qu",
    "jusqu",
    "lorsqu",
    "puisqu",
    "quoiqu",
    "presqu",
)
_ELISION = re.compile("^(?:" + "|".join(ELISIONS) + ")['’]", re.IGNORECASE)

FRENCH_STOP_WORDS = frozenset(stopwords_for_language("fr")) | frozenset(ELISIONS) | {
    "a", "au", "aux", "du", "des", "les", "un", "une", "et", "ou", "est", "sont", "ce", "cet",
    "cette", "ces",
}  # fmt: skip
ENGLISH_STOP_WORDS = frozenset(stopwords_for_language("en"))
# Whoosh ships no Arabic list: the most frequent function words.
ARABIC_STOP_WORDS = frozenset(
    "في من على إلى الى عن مع هذا هذه ذلك تلك التي الذي الذين هو هي هم أن ان إن كان كانت ما لا لم لن قد ثم أو او و يا كل بين عند حتى".split()
)


def singular(word: str) -> str:
    """Return the singular of a folded French word: chevaux -> cheval, entiers -> entier.

    Snowball stems some plurals differently from their singular (entiers -> enti, entier ->
    entier), so the plural mark goes first and every form reaches the stemmer the same way.
    """
    if word.endswith(("eaux", "eux", "oux")):
        return word[:-1]  # réseaux, jeux, bijoux
    if len(word) > 4 and word.endswith("aux"):
        return word[:-3] + "al"  # chevaux, journaux
    if len(word) > 3 and word[-1] in "sx" and word[-2] not in "su":
        word = word[:-1]
    if len(word) > 4 and word.endswith("ee"):
        word = word[:-1]  # connectée -> connecté: the feminine meets the masculine
    return word


_ARABIC_DIACRITICS = re.compile("[\u064b-\u0652\u0670\u0640]")  # tashkeel and tatweel
_ARABIC_PREFIXES = ("وال", "بال", "كال", "فال", "لل", "ال", "و")
_ARABIC_SUFFIXES = ("ها", "ان", "ات", "ون", "ين", "يه", "ية", "ه", "ة", "ي")


def normalize_arabic(word: str) -> str:
    """Normalise and lightly stem an Arabic word (diacritics, alef forms, common affixes)."""
    word = _ARABIC_DIACRITICS.sub("", word)
    word = re.sub("[أإآ]", "ا", word).replace("ى", "ي").replace("ؤ", "و").replace("ئ", "ي")
    for prefix in _ARABIC_PREFIXES:
        # A lone و is often the word's own first letter (وحدة): strip it only from long words.
        if word.startswith(prefix) and len(word) - len(prefix) >= (4 if prefix == "و" else 2):
            word = word[len(prefix) :]
            break
    for suffix in _ARABIC_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            word = word[: -len(suffix)]
            break
    return word


# ---------------------------------------------------------------------------- word -> term
#
# Each function below turns one word, as the tokenizer found it, into the term indexed or
# searched for, or None for a word that is not indexed (a stop word). A word always gives the
# same term, so the result is cached: a text repeats its words, and a chain of a filter per
# step cost most of the time spent indexing. The caches are bounded (a school server has little
# memory) and live in this module, never in the analyzers Whoosh saves with the index.

WORD_CACHE = 50_000


def _lower(word: str) -> str:
    # Composed first, so é typed as e + accent equals the single-character é.
    return unicodedata.normalize("NFC", word).lower()


def _without_elision(word: str) -> str:
    # Remaining apostrophes (aujourd'hui) are kept out of the term itself.
    return _ELISION.sub("", word).replace("’", "'")


def _fold(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


_FOLDED_FRENCH_STOP_WORDS = frozenset(_fold(w) for w in FRENCH_STOP_WORDS)
_FRENCH_STEM = FrenchStemmer().stem


@lru_cache(maxsize=WORD_CACHE)
def french_term(word: str) -> str | None:
    """Folded and stemmed French: élèves, eleve and élève all give the same term."""
    word = _without_elision(_lower(word))
    if not word or word in FRENCH_STOP_WORDS:
        return None
    word = word.translate(accent_map)
    if word in _FOLDED_FRENCH_STOP_WORDS:
        return None
    return _FRENCH_STEM(singular(word)) if len(word) > 3 else word


@lru_cache(maxsize=WORD_CACHE)
def english_term(word: str) -> str | None:
    word = _lower(word)
    if not word or word in ENGLISH_STOP_WORDS:
        return None
    return english_stem(word.translate(accent_map))


@lru_cache(maxsize=WORD_CACHE // 4)
def arabic_term(word: str) -> str | None:
    word = unicodedata.normalize("NFC", word)
    if not word or word in ARABIC_STOP_WORDS:
        return None
    return normalize_arabic(word) or None


def _exact(word: str, stop_words: frozenset[str]) -> str | None:
    word = _without_elision(_lower(word))
    if len(word) < 2 or word in stop_words:
        return None
    return word


@lru_cache(maxsize=WORD_CACHE)
def exact_french_term(word: str) -> str | None:
    """The word lower-cased as written, accents kept: for exact-match ranking and suggestions."""
    return _exact(word, FRENCH_STOP_WORDS)


@lru_cache(maxsize=WORD_CACHE // 4)
def exact_english_term(word: str) -> str | None:
    return _exact(word, ENGLISH_STOP_WORDS)


@lru_cache(maxsize=WORD_CACHE // 4)
def exact_arabic_term(word: str) -> str | None:
    return _exact(word, ARABIC_STOP_WORDS)


_WHOLE = re.compile(r".+", re.DOTALL)


class WordAnalyzer(Tokenizer):
    """Split text into words and turn each into its term with ``term``, dropping stop words.

    One pass, where a tokenizer and a filter per step cost a generator each per word. As with
    Whoosh's stop filter, dropped words leave no gap in positions: the phrase "rendu de
    monnaie" is the terms "rendu monnaie" side by side, in the query and in the text.
    """

    def __init__(self, term: Callable[[str], str | None]) -> None:
        self.term = term  # a function of this module: Whoosh saves analyzers by reference

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.term is self.term

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs,
    ):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        term = self.term
        position = None
        for index, match in enumerate((WORD if tokenize else _WHOLE).finditer(value)):
            word = match.group()
            text = term(word)
            if text is not None:
                token.text, token.stopped = text, False
                position = start_pos + index if position is None else position + 1
                token.pos = position
            elif removestops:
                continue
            else:
                token.text, token.stopped = word, True
                token.pos = start_pos + index
            token.boost = 1.0
            if keeporiginal:
                token.original = word
            if chars:
                token.startchar = start_char + match.start()
                token.endchar = start_char + match.end()
            yield token


def french_analyzer():
    """Folded and stemmed French: matches across accents, plurals and common inflections."""
    return WordAnalyzer(french_term)


def english_analyzer():
    return WordAnalyzer(english_term)


def arabic_analyzer():
    return WordAnalyzer(arabic_term)


EXACT_TERMS = {"fr": exact_french_term, "en": exact_english_term, "ar": exact_arabic_term}


def exact_analyzer(lang: str = "fr"):
    """Lower-cased words as written (accents kept): for exact-match ranking and suggestions."""
    return WordAnalyzer(EXACT_TERMS[lang])


ANALYZERS = {"fr": french_analyzer, "en": english_analyzer, "ar": arabic_analyzer}
