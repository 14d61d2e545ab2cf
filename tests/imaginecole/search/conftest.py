"""The real course corpus loaded into an app, shared by the search tests that read it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CORPUS, REPO_ROOT, make_app

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


@pytest.fixture(scope="package")
def corpus(tmp_path_factory):
    """An app with the France curriculum and the four course sites; page path -> (uid, slug)."""
    from imaginecole.content.operations import load_tree
    from imaginecole.curriculum.queries import curriculum_of
    from imaginecole.extensions import db
    from imaginecole.search.indexing import sync_index
    from sync.content import ContentTree, read_content
    from sync.course import CourseOptions, read_course

    app = make_app(tmp_path_factory.mktemp("relevance"))
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
