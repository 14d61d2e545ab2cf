"""What every engine behind ``SearchIndex`` does, checked through the interface alone.

The calls first (an engine is a ``SearchIndex``, its updates ``IndexUpdate``s, with the same
parameters), then the behaviour the app relies on: ranking, phrases, facets, paging,
suggestions, bad queries, snippets, writing. Each test builds a small index from hand-made
documents shaped like the fictional country zz, so a failure points at the engine and not at
content loading. What only one engine has (files, locks, processes) is tested beside it.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

import pytest

from imaginecole.extensions import db
from imaginecole.search import search_index
from imaginecole.search.interface import IndexUpdate, SearchIndex
from imaginecole.search.postgresql_engine import PostgresIndex
from imaginecole.search.whoosh_engine import WhooshIndex
from tests.conftest import make_app
from tests.imaginecole.search.conftest import (
    SEARCH_ENGINES,
    indexed,
    make_doc,
    search,
    skip_unless_engine_can_run,
    slugs,
)


@contextmanager
def whoosh_index(folder: Path) -> Iterator[SearchIndex]:
    index = WhooshIndex(folder / "search")
    yield index
    index.close()


@contextmanager
def postgresql_index(folder: Path) -> Iterator[SearchIndex]:
    skip_unless_engine_can_run("postgresql")
    with make_app(folder / "data").app_context():
        yield PostgresIndex(db.engine, db.session)
        db.session.rollback()


# Each engine, made for one test in an empty folder it may use.
ENGINES: dict[str, Callable[[Path], contextmanager]] = {
    "whoosh": whoosh_index,
    "postgresql": postgresql_index,
}


assert list(ENGINES) == SEARCH_ENGINES


@pytest.fixture(params=list(ENGINES))
def index(request, tmp_path) -> Iterator[SearchIndex]:
    with ENGINES[request.param](tmp_path) as found:
        yield found


# ---------------------------------------------------------------------------- the calls


def calls_of(protocol: type) -> list[str]:
    """Return the public methods ``protocol`` declares."""
    return [
        name
        for name, value in vars(protocol).items()
        if inspect.isfunction(value) and not name.startswith("_")
    ]


def parameters(function: Callable) -> list[tuple[str, object, object, object]]:
    return [
        (p.name, p.kind, p.default, p.annotation)
        for p in inspect.signature(function).parameters.values()
    ]


def test_every_engine_is_a_search_index(index):
    assert isinstance(index, SearchIndex)
    update = index.begin_update()
    try:
        assert isinstance(update, IndexUpdate)
    finally:
        update.discard()


def test_engines_take_the_parameters_the_interface_declares(index):
    update = index.begin_update()
    update.discard()
    for protocol, engine in ((SearchIndex, index), (IndexUpdate, update)):
        assert calls_of(protocol), protocol
        for name in calls_of(protocol):
            declared = getattr(protocol, name)
            # Bound to the engine, "self" is gone: compare with the declared call's other ones.
            assert parameters(getattr(engine, name)) == parameters(declared)[1:], name


@pytest.mark.parametrize("missing", calls_of(SearchIndex))
def test_an_object_lacking_a_call_is_no_search_index(index, missing):
    stand_in = type(
        "StandIn",
        (),
        {name: getattr(index, name) for name in calls_of(SearchIndex) if name != missing},
    )()
    assert not isinstance(stand_in, SearchIndex)


def test_the_app_searches_through_the_interface(app):
    with app.app_context():
        assert isinstance(search_index(), SearchIndex)


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes.extend(attrs)


def tags_in(html: str) -> tuple[set[str], list]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags, parser.attributes


# ---------------------------------------------------------------------------- ranking


def test_title_match_ranks_above_body_match(index):
    indexed(
        index,
        make_doc("partager", "Partager un gâteau", "On partage le gâteau en fractions égales."),
        make_doc("lire", "Les fractions", "On lit le nombre du haut puis celui du bas."),
    )
    results = search(index, "fractions")
    assert slugs(results) == ["lire", "partager"]


def test_title_match_wins_whatever_the_order_of_indexing(index):
    indexed(
        index,
        make_doc("lire", "Les fractions", "On lit le nombre du haut puis celui du bas."),
        make_doc("partager", "Partager un gâteau", "On partage le gâteau en fractions égales."),
    )
    assert slugs(search(index, "fraction")) == ["lire", "partager"]


ACCENTED = make_doc(
    "marche-accent", "Au marché", "Une élève achète du mil et des arachides au marché du village."
)
PLAIN = make_doc(
    "marche-plain", "Au marché", "Une eleve achete du mil et des arachides au marche du village."
)


@pytest.mark.parametrize("first", ["accented", "plain"])
def test_exact_spelling_ranks_above_folded_spelling(index, first):
    documents = (ACCENTED, PLAIN) if first == "accented" else (PLAIN, ACCENTED)
    indexed(index, *documents)
    with_accents = search(index, "élève")
    assert slugs(with_accents) == ["marche-accent", "marche-plain"]
    without_accents = search(index, "eleve")
    assert slugs(without_accents) == ["marche-plain", "marche-accent"]


def test_plural_query_finds_both_spellings(index):
    indexed(index, ACCENTED, PLAIN)
    assert set(slugs(search(index, "élèves"))) == {"marche-accent", "marche-plain"}
    assert set(slugs(search(index, "ELEVES"))) == {"marche-accent", "marche-plain"}


@pytest.mark.parametrize(
    "query", ["éducation", "education", "Éducation", "l'éducation", "l’education"]
)
def test_elided_word_is_found_by_the_bare_word(index, query):
    indexed(
        index,
        make_doc(
            "droits",
            "Les droits de l’enfant",
            "Chaque enfant a droit à l'éducation et aux soins.",
            module_uid="zz-histoire-royaume",
            subject="histoire",
        ),
        make_doc("lire", "Lire une fraction", "Une fraction partage l'unité en parts égales."),
    )
    results = search(index, query)
    assert slugs(results) == ["droits"]
    assert "<mark>" in results.hits[0].snippet


# ---------------------------------------------------------------------------- phrases


@pytest.fixture
def phrase_index(index):
    return indexed(
        index,
        make_doc(
            "comparer",
            "Comparer",
            "Entre un demi et un quart, la plus grande fraction est un demi.",
        ),
        make_doc(
            "ranger", "Ranger", "Range les fractions : la plus petite d'abord, la grande ensuite."
        ),
    )


def test_loose_words_match_anywhere(phrase_index):
    assert set(slugs(search(phrase_index, "plus grande"))) == {"comparer", "ranger"}
    assert set(slugs(search(phrase_index, "grande plus"))) == {"comparer", "ranger"}


@pytest.mark.parametrize(
    "query", ['"plus grande"', "«plus grande»", "“plus grande”", '"Plus Grande"']
)
def test_quoted_words_must_be_together_and_in_order(phrase_index, query):
    assert slugs(search(phrase_index, query)) == ["comparer"]


def test_reversed_phrase_finds_nothing(phrase_index):
    assert search(phrase_index, '"grande plus"').total == 0


def test_phrase_and_loose_word_combine(phrase_index):
    assert slugs(search(phrase_index, 'demi "plus grande"')) == ["comparer"]
    # No page has both: the pages with one of them come as partial matches, said as such.
    results = search(phrase_index, 'ensuite "plus grande"')
    assert results.partial
    assert "comparer" in slugs(results)


# ---------------------------------------------------------------------------- facets and filters


@pytest.fixture
def facet_index(index):
    return indexed(
        index,
        make_doc("lire", "Lire une fraction", "Une fraction partage l'unité en parts égales."),
        make_doc(
            "lire", "Reading a fraction", "A fraction shares a whole into equal parts.", lang="en"
        ),
        make_doc("lire", "قراءة كسر", "الكسر يقسم الوحدة", lang="ar"),
        make_doc("comparer", "Comparer des fractions", "La plus grande fraction est un demi."),
        make_doc(
            "evaporation",
            "L'évaporation de l'eau",
            "Une fraction de l'eau de la mare s'évapore au soleil.",
            module_uid="zz-sciences-eau",
            levels=["zz:cm1", "zz:7e-annee"],
            subject="sciences",
            resource_type="activity",
        ),
        make_doc(
            "fractions-yy",
            "Les fractions",
            "Une fraction dans un autre pays.",
            module_uid="yy-maths-fractions",
            country="yy",
            levels=["yy:cm1"],
        ),
    )


def test_facets_count_every_match(facet_index):
    results = search(facet_index, "fraction")
    assert results.total == 5  # the Arabic text does not have the word
    facets = {name: dict(values) for name, values in results.facets.items()}
    assert facets["country"] == {"zz": 4, "yy": 1}
    assert facets["levels"] == {"zz:cm1": 4, "zz:7e-annee": 1, "yy:cm1": 1}
    assert facets["subject"] == {"mathematiques": 4, "sciences": 1}
    assert facets["lang"] == {"fr": 4, "en": 1}
    assert facets["resource_type"] == {"lesson": 4, "activity": 1}
    assert results.facets["country"][0] == ("zz", 4)  # most frequent first


@pytest.mark.parametrize(
    "filters, expected",
    [
        ({"country": "yy"}, {"fractions-yy"}),
        ({"country": "zz"}, {"lire", "comparer", "evaporation"}),
        ({"level": "zz:7e-annee"}, {"evaporation"}),
        ({"level": "zz:cm1"}, {"lire", "comparer", "evaporation"}),
        ({"level": "yy:cm1"}, {"fractions-yy"}),
        ({"subject": "sciences"}, {"evaporation"}),
        ({"lang": "en"}, {"lire"}),
        ({"resource_type": "activity"}, {"evaporation"}),
        ({"country": "zz", "subject": "mathematiques", "lang": "fr"}, {"lire", "comparer"}),
        ({"country": "xx"}, set()),
    ],
)
def test_filters_narrow_results_and_facets(facet_index, filters, expected):
    results = search(facet_index, "fraction", **filters)
    assert set(slugs(results)) == expected
    counted = dict(results.facets.get("country", []))
    assert sum(counted.values()) == results.total


def test_level_filter_is_per_country(facet_index):
    # Level slugs repeat across countries: "cm1" of zz is not "cm1" of yy.
    assert {hit.country for hit in search(facet_index, "fraction", level="zz:cm1").hits} == {"zz"}


def test_filter_without_words_lists_everything_in_scope(facet_index):
    results = search(facet_index, "", subject="sciences")
    assert slugs(results) == ["evaporation"]
    assert results.empty_query
    assert search(facet_index, "le de la", country="yy").total == 1


def test_hits_carry_what_a_result_line_shows(facet_index):
    hit = next(h for h in search(facet_index, "évaporation").hits)
    assert (hit.kind, hit.module_uid, hit.lesson_slug) == (
        "lesson",
        "zz-sciences-eau",
        "evaporation",
    )
    assert (hit.country, hit.levels, hit.subject, hit.lang) == (
        "zz",
        ["zz:cm1", "zz:7e-annee"],
        "sciences",
        "fr",
    )
    assert hit.resource_type == "activity"
    assert hit.title == "L'évaporation de l'eau"
    assert hit.module_title == "Les fractions"


def test_module_documents_are_found_too(index):
    indexed(
        index,
        make_doc(
            "",
            "Les fractions",
            "Partager une unité en parts égales.",
            kind="module",
            id="module:zz-maths-fractions:fr",
        ),
        make_doc("lire", "Lire une fraction", "Une fraction partage l'unité."),
    )
    results = search(index, "fractions", prefer_lang="fr")
    assert {hit.kind for hit in results.hits} == {"module", "lesson"}
    assert results.hits[0].kind == "module"  # "fractions" is its title, word for word


# ---------------------------------------------------------------------------- paging


def test_pages_differ_and_total_stays(index):
    indexed(
        index,
        *(
            make_doc(
                f"lecon-{n:02d}",
                f"Leçon {n}",
                "Une fraction " + "et encore une fraction " * (n % 7) + f"numéro {n}.",
                module_uid=f"zz-module-{n % 4}",
            )
            for n in range(25)
        ),
    )
    pages = [search(index, "fraction", page=page, per_page=10) for page in (1, 2, 3, 4)]
    assert [page.total for page in pages] == [25, 25, 25, 25]
    assert [len(page.hits) for page in pages] == [10, 10, 5, 0]
    assert pages[0].pages == 3
    seen = [slug for page in pages for slug in slugs(page)]
    assert len(seen) == len(set(seen)) == 25
    again = search(index, "fraction", page=2, per_page=10)
    assert slugs(again) == slugs(pages[1])  # the order is stable from one request to the next


def test_page_below_one_is_the_first_page(index):
    indexed(index, make_doc("lire", "Lire une fraction", "Une fraction."))
    assert slugs(search(index, "fraction", page=0)) == ["lire"]
    assert slugs(search(index, "fraction", page=-3)) == ["lire"]


# ---------------------------------------------------------------------------- suggestions


@pytest.fixture
def greedy_index(index):
    return indexed(
        index,
        make_doc(
            "glouton",
            "Algorithmes gloutons",
            "Un algorithme glouton fait à chaque étape le choix qui semble le meilleur. "
            "Le rendu de monnaie est un algorithme glouton.",
            module_uid="fr-nsi-algorithmique",
        ),
        make_doc(
            "tri",
            "Tri par insertion",
            "Cet algorithme trie une liste en insérant chaque élément à sa place.",
            module_uid="fr-nsi-algorithmique",
        ),
    )


def test_misspelt_word_gets_a_suggestion(greedy_index):
    results = search(greedy_index, "algoritme glouton")
    assert results.suggestion == "algorithme glouton"
    # Nothing matched the words as typed, so the results are those of the suggestion.
    assert results.corrected
    assert slugs(results) == ["glouton"]


def test_misspelt_second_word_gets_a_suggestion(greedy_index):
    results = search(greedy_index, "algorithme gloutom")
    assert results.suggestion == "algorithme glouton"


def test_typo_in_a_text_does_not_block_the_suggestion(index):
    # Texts have typos too: "algoritme" written once must not make the misspelt query a dead end.
    indexed(
        index,
        make_doc("glouton", "Algorithmes gloutons", "Un algorithme glouton choisit vite. " * 25),
        make_doc("coquille", "Notes de cours", "Cet algoritme trie une liste."),
    )
    results = search(index, "algoritme glouton")
    assert results.suggestion == "algorithme glouton"
    assert results.corrected
    assert slugs(results) == ["glouton"]
    # The page with the typo is still found by the word as it writes it, without a suggestion.
    alone = search(index, "algoritme")
    assert slugs(alone) == ["coquille"]
    assert alone.suggestion == ""


def test_no_suggestion_when_the_query_is_fine(greedy_index):
    results = search(greedy_index, "algorithme glouton")
    assert results.suggestion == ""
    assert not results.corrected
    assert slugs(results)[0] == "glouton"
    assert search(greedy_index, "Tri par insertion").suggestion == ""


def test_no_suggestion_for_words_far_from_anything(greedy_index):
    results = search(greedy_index, "zzqxwv")
    assert results.total == 0
    assert results.suggestion == ""


def test_misspelt_arabic_word_gets_an_arabic_suggestion(index):
    indexed(
        index,
        make_doc("kasr", "الكسور", "نتعلم الكسور والمقارنة بين الكسور في المدرسة. " * 5, lang="ar"),
        make_doc("fractions", "Les fractions", "Comparer des fractions.", module_uid="zz-fr"),
    )
    results = search(index, "المدرصة")  # ص typed for س
    assert results.suggestion == "المدرسة"
    assert slugs(results) == ["kasr"]


def test_a_word_written_often_is_taken_as_written(index):
    # "algoritme" five times is a spelling of the page, not a typo to correct; a frequent
    # word costs no spelling search either.
    indexed(
        index,
        make_doc("glouton", "Algorithmes gloutons", "Un algorithme glouton choisit vite. " * 200),
        make_doc("coquille", "Notes de cours", "Cet algoritme trie une liste. " * 5),
    )
    results = search(index, "algoritme glouton")
    assert results.suggestion == ""
    assert results.partial


def test_suggestion_keeps_quoted_phrases(greedy_index):
    results = search(greedy_index, 'algoritme "rendu de monnaie"')
    assert results.suggestion.startswith("algorithme")
    assert '"rendu de monnaie"' in results.suggestion


# ---------------------------------------------------------------------------- bad queries

BAD_QUERIES = [
    "*",
    "?",
    ":",
    "[",
    "]",
    "[]",
    "{}",
    "(",
    ")",
    "\\",
    "NOT NOT",
    "AND OR NOT",
    '"',
    '"unbalanced',
    'fraction"',
    '""',
    '" "',
    "«",
    "title:fraction",
    "fraction*",
    "frac?ion",
    "fraction~2",
    "fraction^4",
    "-fraction",
    "+fraction",
    "x" * 10_000,
    "fraction " * 2_000,
    '"' + "fraction " * 500 + '"',
    "le la les de des du et",
    "😀🎓📚",
    "fraction 😀",
    "\x00",
    "frac\x00tion",
    "\u200b\u200e\u202e",
    "'",
    "l'",
    "’’’",
    "%00%27",
    "<script>alert(1)</script>",
    "الكِتَابُ",
    "e\u0301le\u0300ve",
]


@pytest.mark.parametrize("text", BAD_QUERIES, ids=range(len(BAD_QUERIES)))
def test_bad_queries_never_raise(facet_index, text):
    for options in ({}, {"country": "zz"}, {"page": 50}, {"prefer_lang": "ar"}):
        results = search(facet_index, text, **options)
        assert results.total >= 0
        assert len(results.hits) <= 10


@pytest.mark.parametrize(
    "value", ["\x00", "zz'; DROP TABLE x; --", "x" * 10_000, "zz:cm1,zz:ce2", "%", "*"]
)
def test_bad_filter_values_find_nothing(facet_index, value):
    for name in ("country", "level", "subject", "lang", "resource_type"):
        results = search(facet_index, "fraction", **{name: value})
        assert results.total == 0 and results.hits == []
        assert search(facet_index, "", **{name: value}).total == 0


@pytest.mark.parametrize(
    "text",
    [
        '"fraction',
        'fraction"',
        "fraction*",
        "[fraction]",
        "fraction:",
        "fraction NOT NOT",
        "fraction 😀",
    ],
)
def test_syntax_characters_are_plain_text(facet_index, text):
    assert search(facet_index, text).total == search(facet_index, "fraction").total == 5


@pytest.mark.parametrize("text", ["*", ":", "[", "]", "NOT NOT", '"', "le de la", "😀", "\x00", ""])
def test_meaningless_queries_find_nothing(facet_index, text):
    results = search(facet_index, text)
    assert results.total == 0
    assert results.hits == []


def test_very_long_query_is_cut(facet_index):
    results = search(facet_index, "fraction " + "y" * 10_000)
    # The second word, cut or not, is nowhere: only partial matches, on "fraction".
    assert results.partial
    assert results.total == search(facet_index, "fraction").total
    many = search(facet_index, " ".join(f"mot{n}" for n in range(2_000)))
    assert many.total == 0  # only the first few words are searched, and none exists


def test_arabic_query_with_short_vowels(facet_index):
    assert slugs(search(facet_index, "الكَسْرُ")) == ["lire"]
    assert slugs(search(facet_index, "الكسر")) == ["lire"]


def test_a_text_with_an_endless_word_is_indexed(index):
    # A pasted hash or base64 image is one "word" of thousands of letters.
    indexed(index, make_doc("pluie", "La pluie", "Il pleut. " + "x" * 50_000 + " Fin."))
    assert slugs(search(index, "pleut")) == ["pluie"]
    assert search(index, "y" * 5_000).total == 0


@pytest.mark.parametrize("typed", ["aujourd'hui", "aujourd’hui", "AUJOURD'HUI"])
def test_a_word_with_an_apostrophe_inside_is_found(index, typed):
    indexed(index, make_doc("pluie", "La pluie", "Aujourd'hui il pleut sur l’école."))
    assert slugs(search(index, typed)) == ["pluie"]
    assert slugs(search(index, f'"{typed} il pleut"')) == ["pluie"]


def test_decomposed_accents_in_a_query(index):
    indexed(index, ACCENTED, PLAIN)
    assert slugs(search(index, "e\u0301le\u0300ve")) == slugs(search(index, "élève"))


# ---------------------------------------------------------------------------- language


def test_reader_language_ranks_first(facet_index):
    for lang in ("fr", "en"):
        results = search(facet_index, "fraction", prefer_lang=lang)
        assert results.hits[0].lang == lang
    results = search(
        facet_index, "fraction", country="zz", subject="mathematiques", prefer_lang="en"
    )
    assert [hit.lang for hit in results.hits] == ["en", "fr", "fr"]


def test_reader_language_does_not_hide_other_languages(facet_index):
    results = search(facet_index, "fraction", prefer_lang="ar")
    assert results.total == 5
    assert {hit.lang for hit in results.hits} == {"fr", "en"}


def test_unknown_reader_language_is_ignored(facet_index):
    assert search(facet_index, "fraction", prefer_lang="xx").total == 5


# ---------------------------------------------------------------------------- snippets


def test_snippet_marks_the_words_and_runs_nothing(index):
    indexed(
        index,
        make_doc(
            "royaume",
            'Le royaume <img src=x onerror="alert(1)">',
            'En 1235, le royaume de Zed est fondé. <script>alert("raw html must never run")</script> '
            '<a href="javascript:alert(2)" onclick="alert(3)">lien</a> Le royaume grandit.',
            module_uid="zz-histoire-royaume",
        ),
    )
    for query in ("royaume", "script", "alert", "onclick", "javascript"):
        results = search(index, query)
        assert results.total == 1, query
        snippet = results.hits[0].snippet
        tags, attributes = tags_in(snippet)
        assert tags <= {"mark"}, (query, snippet)
        assert attributes == [], (query, snippet)
        assert "<script" not in snippet.lower()
        assert "<mark>" in snippet, (query, snippet)


def test_snippet_of_a_long_text_shows_the_matching_part(index):
    filler = "Le fleuve coule vers la mer depuis toujours. " * 200
    indexed(index, make_doc("long", "Le fleuve", filler + "Ici le royaume fut fondé. " + filler))
    snippet = search(index, "royaume").hits[0].snippet
    assert "<mark>royaume</mark>" in snippet
    assert len(snippet) < 1000


def test_snippet_without_match_in_the_body_is_its_beginning(index):
    indexed(index, make_doc("lire", "Les fractions", "On lit le nombre du haut puis celui du bas."))
    snippet = search(index, "fractions").hits[0].snippet
    assert snippet.startswith("On lit le nombre")


# ---------------------------------------------------------------------------- writing and reading


def test_replace_modules_replaces_and_removes(index):
    indexed(
        index,
        make_doc("lire", "Lire une fraction", "Une fraction."),
        make_doc("evaporation", "L'évaporation", "L'eau s'évapore.", module_uid="zz-sciences-eau"),
    )
    index.replace_modules(
        {"zz-maths-fractions": [make_doc("lire", "Lire un nombre décimal", "Un nombre décimal.")]}
    )
    assert search(index, "fraction").total == 0
    assert slugs(search(index, "décimal")) == ["lire"]
    index.replace_modules({}, removed=["zz-sciences-eau"])
    assert search(index, "évaporation").total == 0


def test_fingerprints_of_modules(index):
    indexed(
        index,
        make_doc("", "Les fractions", "Partager.", kind="module", fingerprint="abc"),
        make_doc("lire", "Lire", "Une fraction.", fingerprint="abc"),
    )
    assert index.fingerprints() == {"zz-maths-fractions": "abc"}


def test_rebuild_replaces_everything(index):
    indexed(index, make_doc("lire", "Lire une fraction", "Une fraction."))
    count = index.rebuild(
        iter([make_doc("evaporation", "L'évaporation", "L'eau s'évapore.", module_uid="zz-eau")])
    )
    assert count == 1
    assert search(index, "fraction").total == 0
    assert search(index, "évaporation").total == 1
    assert not index.needs_rebuild()


def test_prepared_update_is_seen_only_once_published(index):
    indexed(index, make_doc("lire", "Lire une fraction", "Une fraction."))
    update = index.begin_update()
    update.replace("zz-maths-fractions", [make_doc("lire", "Lire un décimal", "Un décimal.")])
    update.replace("zz-eau", [make_doc("pluie", "La pluie", "Il pleut.", module_uid="zz-eau")])
    update.prepare()
    assert slugs(search(index, "fraction")) == ["lire"]
    assert search(index, "décimal").total == search(index, "pluie").total == 0
    update.publish()
    assert search(index, "fraction").total == 0
    assert slugs(search(index, "décimal")) == ["lire"]
    assert slugs(search(index, "pluie")) == ["pluie"]
    assert update.modules == {"zz-maths-fractions", "zz-eau"}
    update.discard()  # after publishing: nothing to undo
    assert slugs(search(index, "pluie")) == ["pluie"]


@pytest.mark.parametrize("prepared", [False, True], ids=["added", "prepared"])
def test_discarded_update_leaves_the_index_as_it_was(index, prepared):
    indexed(
        index,
        make_doc("lire", "Lire une fraction", "Une fraction."),
        make_doc("pluie", "La pluie", "Il pleut.", module_uid="zz-eau"),
    )
    update = index.begin_update()
    update.replace("zz-maths-fractions", [make_doc("lire", "Lire un décimal", "Un décimal.")])
    update.remove("zz-eau")
    if prepared:
        update.prepare()
    update.discard()
    assert slugs(search(index, "fraction")) == ["lire"]
    assert slugs(search(index, "pluie")) == ["pluie"]
    assert search(index, "décimal").total == 0
    # The write lock was released: the next writer does not wait for it.
    index.replace_modules({}, removed=["zz-eau"])
    assert search(index, "pluie").total == 0


def test_a_module_is_replaced_once_per_update(index):
    update = index.begin_update()
    update.replace("zz-maths-fractions", [make_doc("lire", "Lire", "Une fraction.")])
    with pytest.raises(ValueError):
        update.replace("zz-maths-fractions", [make_doc("lire", "Lire", "Un décimal.")])
    with pytest.raises(ValueError):
        update.remove("zz-maths-fractions")
    update.prepare()
    with pytest.raises(ValueError):
        update.replace("zz-eau", [make_doc("pluie", "La pluie", "Il pleut.")])
    update.discard()


def test_searches_keep_working_while_another_thread_writes(index):
    indexed(index, *(make_doc(f"l{n}", f"Fraction {n}", "Une fraction.") for n in range(20)))
    errors: list[BaseException] = []
    totals: list[int] = []
    stop = threading.Event()

    def reader():
        try:
            while not stop.is_set() and len(totals) < 2_000:
                totals.append(search(index, "fraction").total)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    readers = [threading.Thread(target=reader) for _ in range(4)]
    for thread in readers:
        thread.start()
    try:
        for round_ in range(5):
            index.replace_modules(
                {
                    f"zz-extra-{round_}": [
                        make_doc(
                            f"x{round_}-{n}",
                            "Fraction",
                            "Une fraction.",
                            module_uid=f"zz-extra-{round_}",
                        )
                        for n in range(10)
                    ]
                }
            )
    finally:
        stop.set()
        for thread in readers:
            thread.join(timeout=30)
    assert not errors
    assert totals and min(totals) >= 20
    assert search(index, "fraction").total == 70
