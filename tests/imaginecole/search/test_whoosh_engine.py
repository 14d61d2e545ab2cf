"""The search index on its own: ranking, phrases, facets, paging, suggestions, bad queries, repair.

Each test builds a small index in ``tmp_path`` from hand-made documents shaped like the
fictional country zz, so a failure points at the engine and not at content loading.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from imaginecole.search.interface import Document, SearchIndex, SearchQuery
from imaginecole.search.query import MAX_QUERY_CHARS, parse_user_query
from imaginecole.search.whoosh_engine import WhooshIndex
from tests.conftest import REPO_ROOT

SUBPROCESS_TIMEOUT = 60  # seconds; a child that takes longer has hung


# ---------------------------------------------------------------------------- helpers


def make_doc(slug: str, title: str, body: str, **fields) -> Document:
    """Return a lesson document of zz-maths-fractions (CM1, French) unless ``fields`` say otherwise."""
    lang = fields.get("lang", "fr")
    module_uid = fields.get("module_uid", "zz-maths-fractions")
    kind = fields.get("kind", "lesson")
    defaults = dict(
        id=f"{kind}:{module_uid}:{slug}:{lang}",
        kind=kind,
        module_uid=module_uid,
        lang=lang,
        country="zz",
        levels=["zz:cm1"],
        subject="mathematiques",
        resource_type="lesson",
        fingerprint="v1",
        title=title,
        module_title="Les fractions",
        body=body,
        extra="",
        lesson_slug=slug if kind == "lesson" else "",
    )
    defaults.update(fields)
    return Document(**defaults)


def by_module(*documents: Document) -> dict[str, list[Document]]:
    grouped: dict[str, list[Document]] = {}
    for doc in documents:
        grouped.setdefault(doc.module_uid, []).append(doc)
    return grouped


def slugs(results) -> list[str]:
    return [hit.lesson_slug for hit in results.hits]


def search(index: SearchIndex, text: str, **options):
    return index.search(SearchQuery(text=text, **options))


@pytest.fixture
def index(tmp_path):
    found = WhooshIndex(tmp_path / "search")
    yield found
    found.close()


def indexed(index: SearchIndex, *documents: Document) -> SearchIndex:
    index.replace_modules(by_module(*documents))
    return index


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


def run_python(code: str, *args: str, timeout: float = SUBPROCESS_TIMEOUT):
    """Run ``code`` in a fresh Python process of this virtualenv, from the repository."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


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


def test_parse_user_query():
    assert parse_user_query('tri "par insertion" python') == (["tri", "python"], ["par insertion"])
    assert parse_user_query('"unbalanced quote') == (["unbalanced", "quote"], [])
    assert parse_user_query("a:b [c] *d NOT") == (["a", "b", "c", "d", "NOT"], [])
    words, _ = parse_user_query(" ".join(["mot"] * 100))
    assert len(words) <= 12
    assert len("".join(parse_user_query("x" * 10_000)[0])) <= MAX_QUERY_CHARS


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


def test_index_written_by_an_earlier_release_is_read_and_updated(index):
    # Earlier releases compressed the posting blocks; a school's index keeps those segments.
    from whoosh.codec.whoosh3 import W3Codec

    from imaginecole.search.whoosh_engine import whoosh_fields

    writer = index._open().writer(codec=W3Codec(compression=3))
    for slug in ("lire", "comparer"):
        writer.add_document(
            **whoosh_fields(make_doc(slug, f"{slug} une fraction", "Une fraction."))
        )
    writer.commit()
    index.replace_modules(
        {"zz-eau": [make_doc("evaporation", "L'évaporation", "L'eau.", module_uid="zz-eau")]}
    )
    assert sorted(slugs(search(index, "fraction"))) == ["comparer", "lire"]
    assert slugs(search(index, "évaporation")) == ["evaporation"]
    index.replace_modules({}, removed=["zz-maths-fractions"])
    assert search(index, "fraction").total == 0


def segment_files(directory: Path) -> set[str]:
    return {path.name for path in directory.glob("*.seg")}


def unused_segment_files(directory: Path) -> set[str]:
    """Return the segment files the index's table of contents does not list."""
    from whoosh import index as whoosh_index

    ix = whoosh_index.open_dir(directory)
    used = {segment.segment_id() for segment in ix._segments()}
    ix.close()
    return {name for name in segment_files(directory) if name.rsplit(".", 1)[0] not in used}


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
    before = segment_files(index.directory)
    update = index.begin_update()
    update.replace("zz-maths-fractions", [make_doc("lire", "Lire un décimal", "Un décimal.")])
    update.remove("zz-eau")
    if prepared:
        update.prepare()
        assert segment_files(index.directory) > before
    update.discard()
    assert slugs(search(index, "fraction")) == ["lire"]
    assert slugs(search(index, "pluie")) == ["pluie"]
    assert search(index, "décimal").total == 0
    assert segment_files(index.directory) == before
    assert not unused_segment_files(index.directory)
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


# ---------------------------------------------------------------------------- repair

OLD = [
    make_doc("lire", "Lire une fraction", "Une fraction partage l'unité en parts égales."),
    make_doc("comparer", "Comparer des fractions", "La plus grande fraction est un demi."),
]


@pytest.fixture
def built(tmp_path) -> Path:
    """An index folder holding OLD, written and closed as a finished load leaves it."""
    directory = tmp_path / "search"
    index = WhooshIndex(directory)
    index.rebuild(iter(OLD))
    index.close()
    return directory


def toc_file(directory: Path) -> Path:
    tocs = sorted(directory.glob("_MAIN_*.toc"))
    assert tocs, sorted(p.name for p in directory.iterdir())
    return tocs[-1]


def garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for position in range(len(data) // 3, len(data)):
        data[position] ^= 0x5A
    path.write_bytes(bytes(data))


DAMAGES = {
    "toc truncated": lambda d: toc_file(d).write_bytes(toc_file(d).read_bytes()[:20]),
    "toc emptied": lambda d: toc_file(d).write_bytes(b""),
    "toc garbled": lambda d: garble(toc_file(d)),
    "toc deleted": lambda d: toc_file(d).unlink(),
    "segments deleted": lambda d: [p.unlink() for p in d.glob("*.seg")],
    "segments truncated": lambda d: [p.write_bytes(p.read_bytes()[:64]) for p in d.glob("*.seg")],
    "segments garbled": lambda d: [garble(p) for p in d.glob("*.seg")],
    "schema version missing": lambda d: (d / "schema-version").unlink(),
    "schema version old": lambda d: (d / "schema-version").write_text("0"),
}


def test_intact_index_is_opened_as_it_is(built):
    index = WhooshIndex(built)
    assert not index.needs_rebuild()
    assert search(index, "fraction").total == 2
    index.close()


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_index_is_detected_when_opened(built, damage):
    assert list(built.glob("*.seg")), "the test needs segment files to damage"
    DAMAGES[damage](built)
    index = WhooshIndex(built)
    assert index.needs_rebuild()
    results = search(index, "fraction")  # never an error page, even before the rebuild
    assert results.total == 0
    index.rebuild(iter(OLD))
    assert search(index, "fraction").total == 2
    index.close()
    assert not WhooshIndex(built).needs_rebuild()


def writes_within(index: SearchIndex, seconds: float) -> bool:
    """Return True when ``index`` takes a write within ``seconds`` (the writer waits up to 120 s)."""
    done = threading.Event()
    failures: list[BaseException] = []

    def write():
        try:
            index.replace_modules(
                {
                    "zz-sciences-eau": [
                        make_doc(
                            "pluie", "La pluie", "La pluie tombe.", module_uid="zz-sciences-eau"
                        )
                    ]
                }
            )
            done.set()
        except BaseException as error:
            failures.append(error)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    thread.join(timeout=seconds)
    assert not failures, failures
    return done.is_set()


def test_stale_write_lock_does_not_block_a_new_writer(built):
    lock = built / "MAIN_WRITELOCK"
    lock.write_text("left behind by a process that died")
    os.utime(lock, (0, 0))
    index = WhooshIndex(built)
    assert not index.needs_rebuild()
    assert writes_within(index, 20)
    assert search(index, "pluie").total == 1
    assert search(index, "fraction").total == 2
    index.close()


KILLED_WRITER = """
    import os, signal, sys
    from imaginecole.search.interface import Document
    from imaginecole.search.whoosh_engine import WhooshIndex

    class Trap(Document):
        # Reading the text of this document kills the process, in the middle of the write.
        def __getattribute__(self, name):
            if name == "body":
                os.kill(os.getpid(), signal.SIGKILL)
            return super().__getattribute__(name)

    def doc(n, cls=Document):
        return cls(id=f"lesson:zz-new:n{n}:fr", kind="lesson", module_uid="zz-new", lang="fr",
                   country="zz", levels=["zz:cm1"], subject="histoire", resource_type="lesson",
                   fingerprint="v2", title=f"Nouvelle leçon {n}", module_title="Nouveau",
                   body="Le royaume nouveau " * 200, lesson_slug=f"n{n}")

    index = WhooshIndex(sys.argv[1])
    documents = [doc(n) for n in range(2000)] + [doc(2000, Trap)]
    if sys.argv[2] == "replace":
        index.replace_modules({"zz-new": documents}, removed=["zz-maths-fractions"])
    else:
        index.rebuild(iter(documents))
    print("not killed")
"""


def assert_old_index_serves_and_takes_writes(index: SearchIndex) -> None:
    """Check a writer killed in ``built`` left OLD serving, and its lock died with it."""
    assert not index.needs_rebuild()
    assert search(index, "fraction").total == 2
    assert search(index, "royaume nouveau").total == 0
    assert writes_within(index, 20)  # the next import writes at once
    assert search(index, "pluie").total == 1


@pytest.mark.parametrize("operation", ["replace", "rebuild"])
def test_writer_killed_mid_write_leaves_the_old_index(built, operation):
    done = run_python(KILLED_WRITER, str(built), operation)
    assert done.returncode == -9, done.stdout + done.stderr
    index = WhooshIndex(built)
    assert_old_index_serves_and_takes_writes(index)
    index.rebuild(iter(OLD))  # and a rebuild clears what the killed one left behind
    assert search(index, "fraction").total == 2
    assert not (built.parent / "search.new").exists()
    index.close()


KILLED_AFTER_PREPARE = """
    import os, signal, sys
    from imaginecole.search.interface import Document
    from imaginecole.search.whoosh_engine import WhooshIndex

    update = WhooshIndex(sys.argv[1]).begin_update()
    update.replace("zz-maths-fractions", [
        Document(id="lesson:zz-maths-fractions:lire:fr", kind="lesson",
                 module_uid="zz-maths-fractions", lang="fr", country="zz", levels=["zz:cm1"],
                 subject="mathematiques", resource_type="lesson", fingerprint="v2",
                 title="Le royaume nouveau", module_title="Nouveau", body="Le royaume nouveau",
                 lesson_slug="lire"),
    ])
    update.prepare()
    print("prepared", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_writer_killed_between_prepare_and_publish_leaves_the_old_index(built):
    before = segment_files(built)
    done = run_python(KILLED_AFTER_PREPARE, str(built))
    assert done.returncode == -9 and "prepared" in done.stdout, done.stdout + done.stderr
    assert segment_files(built) > before  # the prepared segment, in no table of contents
    index = WhooshIndex(built)
    assert_old_index_serves_and_takes_writes(index)
    assert not unused_segment_files(built)  # the next commit removed the one left behind
    index.close()


HOLDING_WRITER = """
    import sys, time
    from imaginecole.search.interface import Document
    from imaginecole.search.whoosh_engine import WhooshIndex

    class Slow(Document):
        # Reading this document's text holds the writer (and its lock) for a while.
        def __getattribute__(self, name):
            if name == "body":
                print("writing", flush=True)
                time.sleep(float(sys.argv[2]))
            return super().__getattribute__(name)

    doc = Slow(id="lesson:zz-new:n:fr", kind="lesson", module_uid="zz-new", lang="fr",
               country="zz", levels=["zz:cm1"], subject="histoire", resource_type="lesson",
               fingerprint="v2", title="Nouvelle leçon", module_title="Nouveau",
               body="Le royaume nouveau", lesson_slug="n")
    WhooshIndex(sys.argv[1]).replace_modules({"zz-new": [doc]}, removed=["zz-maths-fractions"])
    print("committed", flush=True)
"""


def test_readers_keep_working_while_another_process_holds_the_writer(built):
    hold = 30.0
    writer = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLDING_WRITER), str(built), str(hold)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "writing", writer.stderr.read()
        index = WhooshIndex(built)
        started = time.monotonic()
        for _ in range(50):
            assert search(index, "fraction").total == 2
            assert search(index, "royaume nouveau").total == 0
        fresh = WhooshIndex(built)  # as a server starting now would open it
        assert not fresh.needs_rebuild()
        assert search(fresh, "comparer fractions").total == 1
        assert time.monotonic() - started < hold / 2, "readers waited for the writer"
        assert writer.poll() is None, "the writer should still hold the lock"
        index.close()
        fresh.close()
    finally:
        writer.kill()
        writer.wait(timeout=SUBPROCESS_TIMEOUT)


def test_readers_see_a_commit_from_another_process(built):
    index = WhooshIndex(built)
    assert search(index, "fraction").total == 2
    done = run_python(HOLDING_WRITER, str(built), "0")
    assert done.returncode == 0, done.stderr
    assert search(index, "fraction").total == 0
    assert search(index, "royaume nouveau").total == 1
    index.close()


def test_rebuild_by_another_process_is_seen_whole(built):
    reader = WhooshIndex(built)
    assert search(reader, "fraction").total == 2
    other = WhooshIndex(built)  # as `imaginecole search reindex` next to a running server
    other.rebuild(iter([make_doc("pluie", "La pluie", "La pluie tombe.", module_uid="zz-eau")]))
    other.close()
    assert search(reader, "fraction").total == 0
    found = search(reader, "pluie")
    assert [hit.title for hit in found.hits] == ["La pluie"]
    reader.close()


def test_index_folder_removed_under_a_reader(built):
    reader = WhooshIndex(built)
    assert search(reader, "fraction").total == 2
    shutil.rmtree(built)
    assert search(reader, "fraction").total == 0  # no error while nothing is there
    assert reader.needs_rebuild()
    reader.rebuild(iter(OLD))
    assert search(reader, "fraction").total == 2
    reader.close()
