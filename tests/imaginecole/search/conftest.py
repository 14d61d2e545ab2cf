"""What the search tests share: hand-made documents for small indexes, and the real corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from imaginecole.search.interface import Document, SearchIndex, SearchQuery, SearchResults
from tests.conftest import CORPUS, REPO_ROOT, make_app, on_postgresql

NEEDS_CORPUS = [
    pytest.mark.corpus,
    pytest.mark.skipif(
        not (CORPUS / "glassus-nsi").is_dir() or not (CORPUS / "roche-nsi-terminale").is_dir(),
        reason=f"the real course corpus is not at {CORPUS} (see ../shared/corpus/README.md)",
    ),
]


def needs_corpus(test):
    """Mark one test as reading the real corpus (skipped when it is not there)."""
    for mark in NEEDS_CORPUS:
        test = mark(test)
    return test


# (course folder, level, subject, licence), as `imaginecole content import-course` is given them.
COURSES = [
    ("glassus-nsi/snt", "2nde", "snt", "CC-BY-SA-4.0"),
    ("glassus-nsi/premiere_nsi", "1re", "nsi", "CC-BY-SA-4.0"),
    ("glassus-nsi/terminale_nsi", "Tle", "nsi", "CC-BY-SA-4.0"),
    ("roche-nsi-terminale", "Tle", "nsi", "CC0-1.0"),
]


# The search engines every engine-wide test runs on: PostgreSQL's needs a PostgreSQL database.
SEARCH_ENGINES = ["whoosh", "postgresql"]


def skip_unless_engine_can_run(engine: str) -> None:
    if engine == "postgresql" and not on_postgresql():
        pytest.skip(
            "the PostgreSQL engine is tested when the suite runs with --database=postgresql"
        )


@pytest.fixture(scope="package", params=SEARCH_ENGINES)
def corpus(request, tmp_path_factory):
    """An app with the France curriculum and the four course sites; page path -> (uid, slug).

    Once per search engine (``app.config["SEARCH_ENGINE"]`` says which).
    """
    from imaginecole.content.operations import load_tree
    from imaginecole.curriculum.queries import curriculum_of
    from imaginecole.extensions import db
    from imaginecole.search.indexing import sync_index
    from sync.content import ContentTree, read_content
    from sync.course import CourseOptions, read_course

    skip_unless_engine_can_run(request.param)
    app = make_app(tmp_path_factory.mktemp("relevance"), SEARCH_ENGINE=request.param)
    pages: dict[str, tuple[str, str]] = {}
    with app.app_context():
        france = read_content(REPO_ROOT / "content", countries=["fr"])
        assert "fr" in france.curricula, france.problems
        report = load_tree(ContentTree(curricula={"fr": france.curricula["fr"]}))
        assert not report.problems, report.problems
        curriculum = curriculum_of("fr")
        for folder, level, subject, licence in COURSES:
            options = CourseOptions(country="fr", levels=[level], subject=subject, licence=licence)
            tree = read_course(CORPUS / folder, curriculum, options)
            assert tree.modules and not tree.problems, (folder, tree.problems)
            report = load_tree(tree)
            assert not report.problems, (folder, report.problems)
            db.session.commit()
            for (uid, slug), path in tree.sources.items():
                pages[Path(path).resolve().relative_to(CORPUS).as_posix()] = (uid, slug)
        sync_index()
    return app, pages


# ---------------------------------------------------------------------------- small indexes


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


def slugs(results: SearchResults) -> list[str]:
    return [hit.lesson_slug for hit in results.hits]


def search(index: SearchIndex, text: str, **options) -> SearchResults:
    return index.search(SearchQuery(text=text, **options))


def indexed(index: SearchIndex, *documents: Document) -> SearchIndex:
    index.replace_modules(by_module(*documents))
    return index
