"""A module as a ZIP of plain HTML pages that open in any browser, with no server."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

from flask import current_app, render_template
from sqlalchemy import func, select

from imaginecole.content.models import Lesson, LessonText, Module
from imaginecole.extensions import db
from imaginecole.media.models import Asset
from imaginecole.media.operations import blob_store
from imaginecole.rendering.markdown import ImageInfo, MediaLink, render_markdown
from sync.media import EXTENSION_FOR_TYPE

STYLESHEET_BYTES = 4_000  # style.css deflated, in every ZIP


def lesson_filename(position: int, slug: str) -> str:
    return f"{position:02d}-{slug}.html"


def module_zip(module: Module, lang: str):
    """Return a file object holding the module's offline ZIP in ``lang``."""
    store = blob_store()
    files: dict[str, Path] = {}  # name in the ZIP -> blob on disk
    by_sha = {asset.sha256: asset for asset in module.assets}

    def resolver(media: dict[str, str]):
        def resolve(target: str):
            asset = by_sha.get(media.get(target, ""))
            return _offline_media(asset, files, store) if asset else None

        return resolve

    lessons = [
        (lesson, lesson.text_in(lang), lesson_filename(lesson.position, lesson.slug))
        for lesson in module.lessons
    ]

    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    folder = f"{module.uid}/"
    static = Path(current_app.static_folder)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            folder + "index.html",
            _page("catalog/offline/index.html", module=module, lessons=lessons),
        )
        for index, (_lesson, text, filename) in enumerate(lessons):
            html = render_markdown(
                text.markdown, resolver(text.media), lang=text.lang, corrections="details"
            )
            previous = lessons[index - 1] if index > 0 else None
            following = lessons[index + 1] if index + 1 < len(lessons) else None
            page = _page(
                "catalog/offline/lesson.html",
                module=module,
                text=text,
                html=html,
                previous=previous,
                following=following,
            )
            archive.writestr(folder + filename, page)
        archive.writestr(
            folder + "LICENCE.txt", render_template("catalog/offline/licence.txt", module=module)
        )
        archive.write(static / "style.css", folder + "style.css")
        for name, path in sorted(files.items()):
            # Media are already compressed; deflating them again only costs time on a small server.
            archive.write(path, folder + name, compress_type=zipfile.ZIP_STORED)
    out.seek(0)
    return out


def estimated_size(module: Module) -> int:
    """Return about how many bytes the module's offline ZIP takes at most, without building it.

    Every medium counts (the file ``_offline_media`` picks; a language whose lessons use fewer
    makes a smaller ZIP); the lessons' HTML deflates to about a third.
    """
    media = 0
    for asset in module.assets:
        fallback = [v for v in asset.variants if v.media_type != "image/webp"]
        media += fallback[-1].size if asset.is_image and fallback else asset.size
    text = db.session.scalar(
        select(func.coalesce(func.sum(func.length(LessonText.html)), 0))
        .join(Lesson, Lesson.id == LessonText.lesson_id)
        .where(Lesson.module_id == module.id)
    )
    languages = max(1, len(module.languages))
    return media + int(text) // (3 * languages) + STYLESHEET_BYTES


def _page(template: str, **context) -> str:
    # Every page of the ZIP is in one folder, beside style.css: a file's name is its link.
    return render_template(template, root="", link=lambda name: name, **context)


def _offline_media(asset: Asset, files: dict[str, Path], store) -> ImageInfo | MediaLink:
    if asset.is_image:
        fallback = [v for v in asset.variants if v.media_type != "image/webp"]
        if fallback:
            chosen = fallback[-1]
            name = f"media/{chosen.sha256}{EXTENSION_FOR_TYPE[chosen.media_type]}"
            files[name] = store.path(chosen.sha256)
            return ImageInfo(name, chosen.width, chosen.height)
    name = f"media/{asset.sha256}{EXTENSION_FOR_TYPE.get(asset.media_type, '')}"
    files[name] = store.path(asset.sha256)
    if asset.is_image:
        return ImageInfo(name, asset.width, asset.height)
    return MediaLink(name, asset.media_type, asset.size)
