"""Search documents: from the database, and from a bundle before it is written, alike."""

from __future__ import annotations

import dataclasses

import pytest

from imaginecole.bundles.operations import to_source
from imaginecole.content.models import Module
from imaginecole.media.operations import blob_store
from imaginecole.search.documents import (
    CurriculumNames,
    documents_for,
    documents_of,
    from_bundle,
)
from imaginecole.search.indexing import _modules, curriculum_names
from sync.content import read_content
from tests.conftest import TEST_CONTENT
from tests.imaginecole.search.conftest import needs_corpus


def rendered_html(module: Module):
    """Return the lesson texts of ``module`` as the import's renderer would hand them over."""
    html = {(lesson.slug, t.lang): t.html for lesson in module.lessons for t in lesson.translations}
    return lambda slug, lang: html.get((slug, lang))


def from_bundle_and_database(app, names_of) -> list[tuple[list, list]]:
    """Return, for each module, its documents built from bundle data and from the database."""
    with app.app_context():
        pairs = []
        for module in _modules():
            source = to_source(module, blob_store())
            ahead = from_bundle(source, names_of(module.country_code), rendered_html(module))
            assert ahead is not None, module.uid
            pairs.append((documents_of(ahead), documents_for(module)))
        return pairs


@pytest.mark.parametrize("curriculum", ["in the bundle", "in the database"])
def test_a_module_gives_the_same_documents_from_a_bundle_as_from_the_database(
    loaded_app, curriculum
):
    zz = read_content(TEST_CONTENT).curricula["zz"]
    names_of = (
        (lambda country: CurriculumNames.of(zz))
        if curriculum == "in the bundle"
        else curriculum_names
    )
    pairs = from_bundle_and_database(loaded_app, names_of)
    assert len(pairs) >= 3
    # The test content has what could differ: translations, competencies taught and assessed.
    assert any(len({d.lang for d in db_docs}) > 1 for _, db_docs in pairs)
    assert any(d.extra for _, db_docs in pairs for d in db_docs)
    for ahead, db_docs in pairs:
        assert ahead == db_docs


@needs_corpus
def test_real_lessons_give_the_same_documents_from_a_bundle_as_from_the_database(corpus):
    app, _ = corpus
    pairs = from_bundle_and_database(app, curriculum_names)
    assert len(pairs) > 100
    for ahead, db_docs in pairs:
        assert ahead == db_docs


@pytest.fixture
def source_and_names(loaded_app):
    with loaded_app.app_context():
        module = next(m for m in _modules() if len(m.lessons) > 1)
        yield to_source(module, blob_store()), curriculum_names("zz"), rendered_html(module)


def test_a_module_with_a_lesson_not_rendered_yet_waits_for_the_database(source_and_names):
    source, names, html = source_and_names
    assert from_bundle(source, names, html) is not None
    first = source.lessons[0].slug
    not_yet = lambda slug, lang: None if slug == first else html(slug, lang)  # noqa: E731
    assert from_bundle(source, names, not_yet) is None


@pytest.mark.parametrize("unknown", ["level", "subject", "competency"])
def test_a_module_naming_what_the_curriculum_lacks_waits_for_the_database(
    source_and_names, unknown
):
    source, names, html = source_and_names
    changed = {
        "level": dataclasses.replace(source, levels=[*source.levels, "ZZ-NONE"]),
        "subject": dataclasses.replace(source, subject="astrologie"),
        "competency": dataclasses.replace(source, assesses=[*source.assesses, "ZZ.NONE.1"]),
    }[unknown]
    assert from_bundle(changed, names, html) is None
