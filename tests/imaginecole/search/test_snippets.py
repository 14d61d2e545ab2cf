"""Snippets on their own: the words marked however they are written, and nothing else as HTML."""

from __future__ import annotations

from imaginecole.search.snippets import SNIPPET_CHARS, make_snippet


def test_words_are_marked_whatever_their_accents_and_case():
    snippet = make_snippet("Une élève, deux ÉLÈVES et un eleve.", ["eleve"])
    assert snippet == "Une <mark>élève</mark>, deux <mark>ÉLÈVES</mark> et un <mark>eleve</mark>."


def test_a_stem_marks_the_whole_word_it_starts():
    assert make_snippet("Les fractions égales", ["fraction"]) == "Les <mark>fractions</mark> égales"
    assert make_snippet("Une infraction", ["fraction"]) == "Une infraction"


def test_arabic_stems_are_marked_after_a_prefix():
    snippet = make_snippet("نذهب إلى المدرسة كل يوم", ["مدرس"], arabic=True)
    assert snippet == "نذهب إلى <mark>المدرسة</mark> كل يوم"


def test_text_is_escaped():
    snippet = make_snippet('<script>alert("x")</script> le royaume', ["royaum"])
    assert snippet == "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; le <mark>royaume</mark>"


def test_a_long_text_is_cut_around_the_first_match():
    filler = "Le fleuve coule vers la mer. " * 100
    snippet = make_snippet(filler + "Ici le royaume fut fondé. " + filler, ["royaum"])
    assert snippet.startswith("… ") and snippet.endswith(" …")
    assert "<mark>royaume</mark>" in snippet
    assert len(snippet) < SNIPPET_CHARS + 40


def test_without_a_match_the_text_begins_the_snippet():
    assert make_snippet("On lit le nombre du haut.", ["fraction"]) == "On lit le nombre du haut."
    assert make_snippet("mot " * 100, []).endswith(" …")
