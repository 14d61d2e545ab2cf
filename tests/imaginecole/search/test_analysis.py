"""The analyzers on their own: what a word becomes in the index and in a query, per language."""

from __future__ import annotations

import pickle
import unicodedata

import pytest

from imaginecole.search.analysis import (
    arabic_analyzer,
    english_analyzer,
    exact_analyzer,
    french_analyzer,
    normalize_arabic,
)

APOSTROPHES = ("'", "’")  # typed on a keyboard, and what word processors put in


def terms(analyzer, text: str) -> list[str]:
    return [token.text for token in analyzer(text)]


@pytest.fixture(scope="module")
def fr():
    return french_analyzer()


@pytest.fixture(scope="module")
def exact():
    return exact_analyzer()


@pytest.fixture(scope="module")
def en():
    return english_analyzer()


@pytest.fixture(scope="module")
def ar():
    return arabic_analyzer()


# ---------------------------------------------------------------------------- French: accents


@pytest.mark.parametrize(
    "written, typed",
    [
        ("élève", "eleve"),
        ("eleve", "élève"),
        ("Éducation", "education"),
        ("ÉLÈVE", "élève"),
        ("récursivité", "recursivite"),
        ("données", "donnees"),
        ("requête", "requete"),
        ("chaîne", "chaine"),
        ("booléen", "booleen"),
        ("complexité", "complexite"),
        ("français", "francais"),
        ("où", "ou"),
    ],
)
def test_accents_fold_both_ways(fr, written, typed):
    assert terms(fr, written) == terms(fr, typed)


def test_decomposed_accents_equal_composed_ones(fr, exact):
    decomposed = unicodedata.normalize("NFD", "élève réseaux")
    assert decomposed != "élève réseaux"
    assert terms(fr, decomposed) == terms(fr, "élève réseaux")
    assert terms(exact, decomposed) == ["élève", "réseaux"]


def test_exact_analysis_keeps_accents_and_word_forms(exact):
    assert terms(exact, "Élève élèves eleve") == ["élève", "élèves", "eleve"]
    assert terms(exact, "élève") != terms(exact, "eleve")


# ---------------------------------------------------------------------------- French: elision


ELIDED = ["l", "d", "qu", "j", "n", "s", "c", "jusqu", "lorsqu", "puisqu"]


@pytest.mark.parametrize("apostrophe", APOSTROPHES, ids=["straight", "curly"])
@pytest.mark.parametrize("prefix", ELIDED)
def test_elision_is_split_off(fr, exact, prefix, apostrophe):
    word = f"{prefix}{apostrophe}ordinateur"
    assert terms(fr, word) == terms(fr, "ordinateur") == ["ordin"]
    assert terms(exact, word) == ["ordinateur"]


@pytest.mark.parametrize("apostrophe", APOSTROPHES, ids=["straight", "curly"])
def test_elision_in_a_sentence(fr, apostrophe):
    a = apostrophe
    sentence = (
        f"L{a}éducation d{a}abord, qu{a}importe, j{a}écris, lorsqu{a}il pleut, l{a}eau s{a}évapore"
    )
    assert terms(fr, sentence) == terms(fr, "éducation abord importe écris il pleut eau évapore")
    assert "educ" in terms(fr, sentence)


@pytest.mark.parametrize("apostrophe", APOSTROPHES, ids=["straight", "curly"])
def test_aujourdhui_stays_one_word(fr, exact, apostrophe):
    assert terms(fr, f"aujourd{apostrophe}hui") == ["aujourd'hui"]
    assert terms(exact, f"Aujourd{apostrophe}hui") == ["aujourd'hui"]


# ---------------------------------------------------------------------------- French: stop words


def test_stop_words_are_dropped(fr, exact):
    assert terms(fr, "le la les de des du et ou un une dans pour par avec est sont ce cette") == []
    assert terms(exact, "le la les de des du et un une") == []
    assert terms(fr, "le cycle de l'eau") == terms(fr, "cycle eau")
    assert terms(fr, "Les fractions et les nombres") == terms(fr, "fractions nombres")


def test_words_that_matter_are_kept(fr):
    assert len(terms(fr, "algorithme glouton rendu monnaie")) == 4


# ---------------------------------------------------------------------------- French: stemming


@pytest.mark.parametrize(
    "forms",
    [
        "élève élèves",
        "fraction fractions",
        "algorithme algorithmes",
        "réseau réseaux",
        "journal journaux",
        "animal animaux",
        "graphe graphes",
        "arbre arbres",
        "liste listes",
        "pile piles",
        "tuple tuples",
        "dictionnaire dictionnaires",
        "caractère caractères",
        "donnée données",
        "requête requêtes",
        "booléen booléens",
        "nombre nombres",
        "glouton gloutons gloutonne",
        "social sociaux sociale",
        "relationnel relationnelle relationnels",
        "numérique numériques",
        "égal égale égaux égales",
        # Singular and plural of words a school corpus uses all the time
        "entier entiers",
        "photo photos",
        "jeu jeux",
        "connecté connectée connectés connectées",
    ],
)
def test_singular_plural_and_gender_meet(fr, forms):
    stems = {tuple(terms(fr, word)) for word in forms.split()}
    assert len(stems) == 1, f"{forms!r} gives {sorted(stems)}"


@pytest.mark.parametrize(
    "forms",
    [
        "calcul calculs calculer calculé",
        "évaporation évapore évaporer",
        "programmer programmes programmé programmation",
        "recherche rechercher recherches",
        "parcours parcourir",
        "partage partager partagé",
    ],
)
def test_common_inflections_meet(fr, forms):
    stems = {tuple(terms(fr, word)) for word in forms.split()}
    assert len(stems) == 1, f"{forms!r} gives {sorted(stems)}"


def test_different_words_stay_apart(fr):
    assert terms(fr, "pile") != terms(fr, "file")
    assert terms(fr, "arbre") != terms(fr, "graphe")
    assert terms(fr, "tri") != terms(fr, "trois")


# ---------------------------------------------------------------------------- English


def test_english_stems_and_drops_stop_words(en):
    assert terms(en, "the and of is are to in a") == []
    assert terms(en, "Fractions") == terms(en, "fraction")
    assert terms(en, "sharing shares shared") == terms(en, "share share share")
    assert terms(en, "studies studied") == terms(en, "study study")
    assert terms(en, "Reading a fraction") == terms(en, "read fraction")


def test_english_folds_accents(en):
    assert terms(en, "Café") == terms(en, "cafe")


def test_english_exact_analysis_keeps_words(en):
    exact_en = exact_analyzer("en")
    assert terms(exact_en, "The Fractions of a whole") == ["fractions", "whole"]


# ---------------------------------------------------------------------------- Arabic


def test_arabic_diacritics_are_removed(ar):
    assert terms(ar, "الكِتَابُ") == terms(ar, "الكتاب") == ["كتاب"]
    assert terms(ar, "مُتَسَاوِيَة") == terms(ar, "متساوية")
    assert terms(ar, "كـــتاب") == terms(ar, "كتاب")  # tatweel, the stretching stroke


def test_arabic_alef_forms_are_one_letter(ar):
    forms = ["أحمد", "إحمد", "آحمد", "احمد"]
    assert len({tuple(terms(ar, word)) for word in forms}) == 1
    assert terms(ar, "الأكبر") == terms(ar, "أكبر") == terms(ar, "اكبر")
    assert normalize_arabic("مستشفى") == normalize_arabic("مستشفي")


@pytest.mark.parametrize(
    "with_prefix, bare",
    [
        ("الكتاب", "كتاب"),
        ("الكسور", "كسور"),
        ("والكتاب", "كتاب"),
        ("بالقلم", "قلم"),
        ("المدرسة", "مدرسة"),
        ("الوحدة", "وحدة"),  # a word that starts with waw, like the "and" prefix
    ],
)
def test_arabic_al_prefix_is_removed(ar, with_prefix, bare):
    assert terms(ar, with_prefix) == terms(ar, bare)


def test_arabic_stop_words_are_dropped(ar):
    assert terms(ar, "في من على إلى عن مع هذا") == []
    assert terms(ar, "الكسر في الوحدة") == terms(ar, "الكسر الوحدة")


def test_arabic_short_words_keep_their_letters():
    # Stripping affixes never leaves fewer than two letters.
    assert normalize_arabic("ال") == "ال"
    assert len(normalize_arabic("وها")) >= 2


# ---------------------------------------------------------------------------- anything typed


@pytest.mark.parametrize(
    "text",
    ["", "   ", "\x00", "😀 🎓", "*", ":", "[]", '"', "NOT NOT", "x" * 10_000, "é" * 5000],
)
def test_analyzers_never_fail(fr, exact, en, ar, text):
    for analyzer in (fr, exact, en, ar):
        assert isinstance(terms(analyzer, text), list)


# ---------------------------------------------------------------------------- positions and storage


def test_dropped_words_leave_no_gap_so_phrases_match_across_them(fr):
    tokens = [(t.text, t.pos) for t in fr("le rendu de la monnaie", positions=True)]
    assert tokens == [(terms(fr, "rendu")[0], 1), (terms(fr, "monnaie")[0], 2)]


def test_stop_words_are_marked_not_dropped_when_asked(fr):
    tokens = [(t.text, t.stopped) for t in fr("la monnaie", removestops=False)]
    assert tokens == [("la", True), (terms(fr, "monnaie")[0], False)]


def test_character_offsets_point_at_the_words_as_written(fr):
    text = "Les élèves lisent"
    spans = [text[t.startchar : t.endchar] for t in fr(text, chars=True)]
    assert spans == ["élèves", "lisent"]


def test_analyzers_saved_with_the_index_stay_small_however_much_they_analysed():
    # Whoosh saves the schema, analyzers included, in the index's table of contents, read
    # again by every searcher: a cache of words kept in an analyzer would grow it for ever.
    from imaginecole.search.whoosh_engine import make_schema

    schema = make_schema()
    before = len(pickle.dumps(schema))
    for number in range(5000):
        terms(schema["text_fr"].analyzer, f"mot{number} élèves{number}")
    assert len(pickle.dumps(schema)) == before < 20_000
