"""Text analysis per language: what a word becomes in the index and in a query.

French: elisions split (l'éducation -> éducation), stop words dropped, accents folded and light
stemming, so "eleve", "élève" and "élèves" meet. A second, *exact* analysis keeps accents and
word forms; the index holds both, so an exact match ranks above a folded one.
"""

from __future__ import annotations

import re
import unicodedata

from whoosh.analysis import (
    CharsetFilter,
    Filter,
    LowercaseFilter,
    RegexTokenizer,
    StemFilter,
    StopFilter,
)
from whoosh.lang import stopwords_for_language
from whoosh.lang.porter import stem as english_stem
from whoosh.lang.snowball.french import FrenchStemmer
from whoosh.support.charset import accent_map

# Words, keeping inner apostrophes and hyphens so the elision filter can see "l'éducation".
# Combining marks are not \w: kept inside the word, "é" typed as e + U+0301 and Arabic with its
# short vowels stay one word (NfcFilter and ArabicFilter deal with the marks afterwards).
_MARKS = "\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed"
_PART = rf"\w[\w{_MARKS}]*"
WORD = re.compile(rf"{_PART}(?:['’]{_PART})*", re.UNICODE)

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


class ElisionFilter(Filter):
    """Drop French elided articles and pronouns glued to a word by an apostrophe."""

    def __call__(self, tokens):
        for token in tokens:
            text = _ELISION.sub("", token.text)
            # Remaining apostrophes (aujourd'hui) are kept out of the term itself.
            token.text = text.replace("’", "'")
            yield token


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


class FrenchLightStemFilter(Filter):
    """Stem French words already folded to ASCII, so accented and plain spellings agree."""

    def __init__(self) -> None:
        self._stem = FrenchStemmer().stem
        self._cache: dict[str, str] = {}

    def __call__(self, tokens):
        cache, stem = self._cache, self._stem
        for token in tokens:
            text = token.text
            result = cache.get(text)
            if result is None:
                result = stem(singular(text)) if len(text) > 3 else text
                if len(cache) < 200_000:  # bounded: a school server has little memory
                    cache[text] = result
            token.text = result
            yield token


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


class ArabicFilter(Filter):
    def __call__(self, tokens):
        for token in tokens:
            token.text = normalize_arabic(token.text)
            yield token


class NfcFilter(Filter):
    """Compose characters, so é typed as e + accent equals the single-character é."""

    def __call__(self, tokens):
        for token in tokens:
            token.text = unicodedata.normalize("NFC", token.text)
            yield token


def _tokenizer() -> RegexTokenizer:
    return RegexTokenizer(WORD)


def french_analyzer():
    """Folded and stemmed French: matches across accents, plurals and common inflections."""
    return (
        _tokenizer()
        | NfcFilter()
        | LowercaseFilter()
        | ElisionFilter()
        | StopFilter(stoplist=FRENCH_STOP_WORDS, minsize=1)
        | CharsetFilter(accent_map)
        | StopFilter(stoplist={_fold(w) for w in FRENCH_STOP_WORDS}, minsize=1)
        | FrenchLightStemFilter()
    )


def exact_analyzer(stop_words: frozenset[str] = FRENCH_STOP_WORDS):
    """Lower-cased words as written (accents kept): for exact-match ranking and suggestions."""
    return (
        _tokenizer()
        | NfcFilter()
        | LowercaseFilter()
        | ElisionFilter()
        | StopFilter(stoplist=stop_words, minsize=2)
    )


def english_analyzer():
    return (
        _tokenizer()
        | NfcFilter()
        | LowercaseFilter()
        | StopFilter(stoplist=ENGLISH_STOP_WORDS, minsize=1)
        | CharsetFilter(accent_map)
        | StemFilter(stemfn=english_stem, cachesize=50_000)
    )


def arabic_analyzer():
    return (
        _tokenizer()
        | NfcFilter()
        | StopFilter(stoplist=ARABIC_STOP_WORDS, minsize=1)
        | ArabicFilter()
    )


def _fold(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


ANALYZERS = {"fr": french_analyzer, "en": english_analyzer, "ar": arabic_analyzer}
EXACT_STOP_WORDS = {"fr": FRENCH_STOP_WORDS, "en": ENGLISH_STOP_WORDS, "ar": ARABIC_STOP_WORDS}
