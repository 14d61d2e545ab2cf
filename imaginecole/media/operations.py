"""Store media blobs and their image variants, and describe them for the renderer."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from imaginecole.extensions import db
from imaginecole.media.models import Asset, ImageVariant
from imaginecole.rendering.images import ImageRejected, make_variants
from imaginecole.rendering.markdown import ImageInfo, MediaLink
from sync.bundle.manifest import SHA256, VARIANT_TYPES
from sync.media import EXTENSION_FOR_TYPE, IMAGE_TYPES
from sync.model import Blob
from sync.storage import BlobStore

IN_BATCH = 500  # keys per IN (...) query: well under SQLite's limit on bound parameters


def blob_store() -> BlobStore:
    return BlobStore(current_app.config["BLOB_DIR"])


def media_url(sha256: str, media_type: str) -> str:
    """Return the content-hashed URL a blob is served at (cacheable for ever)."""
    return f"/media/{sha256}{EXTENSION_FOR_TYPE.get(media_type, '')}"


def known_assets(hashes: set[str]) -> dict[str, Asset]:
    """Return the assets of ``hashes`` already in the database, with their variants, by hash."""
    found: dict[str, Asset] = {}
    ordered = sorted(hashes)
    for start in range(0, len(ordered), IN_BATCH):
        query = (
            select(Asset)
            .where(Asset.sha256.in_(ordered[start : start + IN_BATCH]))
            .options(selectinload(Asset.variants))
        )
        found.update((asset.sha256, asset) for asset in db.session.scalars(query))
    return found


def _asset(sha256: str, known: dict[str, Asset] | None) -> Asset | None:
    return known.get(sha256) if known is not None else db.session.get(Asset, sha256)


def prepare_images(blobs: list[Blob], known: dict[str, Asset] | None = None) -> dict[str, tuple]:
    """Resize the images among ``blobs`` that have no asset nor variants yet, several at a time.

    Pillow releases the interpreter lock while it decodes, resizes and encodes, so threads use
    every core of a small server; this is most of the time a bundle import takes. Returns
    {sha256: (width, height, variants)}; raises ``ImageRejected`` naming the file, also for an
    image prepared elsewhere that is too large here. ``known`` is as for ``ingest_blob``.
    """
    config = current_app.config
    widths, max_pixels = tuple(config["IMAGE_WIDTHS"]), int(config["MAX_IMAGE_PIXELS"])
    max_bytes = int(config["IMAGE_MEMORY_MB"]) * 2**20
    store = blob_store()
    for blob in blobs:
        if has_variants(blob, store) and _asset(blob.sha256, known) is None:
            _check_prepared_size(blob, max_pixels)
    todo = [
        b
        for b in blobs
        if b.media_type in IMAGE_TYPES
        and not has_variants(b, store)
        and _asset(b.sha256, known) is None
    ]

    def make(blob: Blob) -> tuple:
        try:
            return make_variants(blob.path, widths, max_pixels, max_bytes)
        except ImageRejected as error:
            # Name the file: a module may hold many images.
            raise ImageRejected(f'"{blob.name}": {error}') from error

    if len(todo) < 2:
        return {b.sha256: make(b) for b in todo}
    with ThreadPoolExecutor(max_workers=min(len(todo), os.cpu_count() or 1)) as pool:
        return dict(zip((b.sha256 for b in todo), pool.map(make, todo), strict=True))


def has_variants(blob: Blob, store: BlobStore, arriving: frozenset[str] = frozenset()) -> bool:
    """Tell whether ``blob`` is an image prepared elsewhere whose variants are all in ``store``.

    Variants in ``arriving`` (checked blobs a bundle import is still copying) count as there.
    """
    return (
        blob.media_type in IMAGE_TYPES
        and blob.prepared
        and all(
            variant.media_type in VARIANT_TYPES
            and SHA256.match(variant.sha256)
            and (variant.sha256 in arriving or store.has(variant.sha256))
            for variant in blob.variants
        )
    )


def ingest_blob(
    blob: Blob,
    store: BlobStore,
    prepared: dict[str, tuple] | None = None,
    known: dict[str, Asset] | None = None,
) -> Asset:
    """Copy a blob into the store and make its image variants, once per distinct file.

    An image whose variants came with it (from a bundle) and are in the store gets them as they
    are; otherwise ``prepared`` holds variants already made by ``prepare_images``. Raises
    ``ImageRejected`` for an image that cannot be decoded or is too large. ``known``, when
    given, is the only place existing assets are looked up (see ``known_assets``), and a new
    asset is added to it.
    """
    asset = _asset(blob.sha256, known)
    if asset is not None:
        return asset
    asset = Asset(
        sha256=blob.sha256, media_type=blob.media_type, size=blob.size, name=blob.name[:255]
    )
    if has_variants(blob, store):
        # The publisher made them (and the bundle's blobs were hash-checked into the store);
        # this server's size limit still holds.
        _check_prepared_size(blob, int(current_app.config["MAX_IMAGE_PIXELS"]))
        asset.width, asset.height = blob.width, blob.height
        for variant in blob.variants:
            asset.variants.append(
                ImageVariant(
                    sha256=variant.sha256,
                    media_type=variant.media_type,
                    width=variant.width,
                    height=variant.height,
                    size=variant.size,
                )
            )
    elif blob.media_type in IMAGE_TYPES:
        found = (prepared or {}).get(blob.sha256) or prepare_images([blob])[blob.sha256]
        width, height, variants = found
        asset.width, asset.height = width, height
        for variant in variants:
            sha256 = store.put_bytes(variant.data)
            asset.variants.append(
                ImageVariant(
                    sha256=sha256,
                    media_type=variant.media_type,
                    width=variant.width,
                    height=variant.height,
                    size=len(variant.data),
                )
            )
    store.put_file(blob.path, blob.sha256)
    db.session.add(asset)
    if known is not None:
        known[blob.sha256] = asset
    return asset


def _check_prepared_size(blob: Blob, max_pixels: int) -> None:
    if blob.width * blob.height > max_pixels:
        raise ImageRejected(
            f'"{blob.name}": the image is {blob.width}×{blob.height} pixels, '
            f"more than the {max_pixels:,} allowed"
        )


def describe(asset: Asset | Blob) -> ImageInfo | MediaLink:
    """Return what the renderer needs to show ``asset``, or a prepared image of a bundle.

    A bundle's image must be described exactly as the asset it becomes: variants are taken
    in the database's order (by width).
    """
    if not asset.media_type.startswith("image/"):
        return MediaLink(media_url(asset.sha256, asset.media_type), asset.media_type, asset.size)
    variants = sorted(asset.variants, key=lambda variant: variant.width)
    webp = [v for v in variants if v.media_type == "image/webp"]
    fallback = [v for v in variants if v.media_type != "image/webp"]
    if not fallback:  # animations are served as they are
        return ImageInfo(media_url(asset.sha256, asset.media_type), asset.width, asset.height)
    main = fallback[-1]
    return ImageInfo(
        url=media_url(main.sha256, main.media_type),
        width=main.width,
        height=main.height,
        sources=[("image/webp", [(media_url(v.sha256, v.media_type), v.width) for v in webp])],
    )
