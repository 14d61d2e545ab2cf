"""A module of the database as the plain data it was loaded from (``sync.model``).

Bundles carry it, curation snapshots and fingerprints it, the curriculum re-fingerprints it.
"""

from __future__ import annotations

from imaginecole.content.models import Module
from sync import model as fmt


def to_source(module: Module, store) -> fmt.Module:
    """Turn a module of the database back into the plain data it was loaded from."""
    return fmt.Module(
        **module.plain_fields(),
        id=module.uid,
        country=module.country_code,
        levels=[level.code for level in module.levels],
        subject=module.subject.slug,
        competencies=[c.code for c in module.competencies("teaches")],
        assesses=[c.code for c in module.competencies("assesses")],
        authors=[fmt.Author(name=a["name"], role=a.get("role", "author")) for a in module.authors],
        lessons=[
            fmt.Lesson(
                slug=lesson.slug,
                position=lesson.position,
                texts={
                    text.lang: fmt.LessonText(
                        lang=text.lang,
                        title=text.title,
                        markdown=text.markdown,
                        media=dict(text.media),
                    )
                    for text in lesson.translations
                },
            )
            for lesson in module.lessons
        ],
        blobs={
            asset.sha256: fmt.Blob(
                sha256=asset.sha256,
                size=asset.size,
                media_type=asset.media_type,
                name=asset.name,
                path=store.path(asset.sha256),
                # An image's variants were made when it was loaded here: they travel with it,
                # so schools do not make them again.
                width=asset.width if asset.is_image else None,
                height=asset.height if asset.is_image else None,
                variants=[
                    fmt.Variant(
                        sha256=variant.sha256,
                        media_type=variant.media_type,
                        width=variant.width,
                        height=variant.height,
                        size=variant.size,
                        path=store.path(variant.sha256),
                    )
                    for variant in asset.variants
                ]
                if asset.is_image
                else [],
            )
            for asset in module.assets
        },
    )
