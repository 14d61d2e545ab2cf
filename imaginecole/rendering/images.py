"""Resize lesson images with Pillow into a few widths: WebP plus a JPEG or PNG fallback.

Images are rebuilt from their pixels, so EXIF metadata (GPS positions included) never
reaches a reader.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

FALLBACK_WIDTH = 1024  # the <img src> for browsers without WebP


class ImageRejected(ValueError):
    """The file cannot be used as an image; the message says why in plain words."""


@dataclass
class Variant:
    data: bytes
    media_type: str
    width: int
    height: int


def make_variants(
    path: Path, widths: tuple[int, ...], max_pixels: int
) -> tuple[int, int, list[Variant]]:
    """Return the image's size and its resized variants (none for animations, kept as they are)."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageRejected(
                    f"the image is {width}×{height} pixels, more than the {max_pixels:,} allowed"
                )
            if getattr(image, "is_animated", False):
                return width, height, []
            image.load()
            return width, height, _variants(image, widths)
    except (OSError, SyntaxError, Image.DecompressionBombError) as error:
        raise ImageRejected(f"the image cannot be read ({error})") from error


def _variants(image: Image.Image, widths: tuple[int, ...]) -> list[Variant]:
    image = ImageOps.exif_transpose(image)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    image = image.convert("RGBA" if has_alpha else "RGB")
    targets = sorted({min(w, image.width) for w in widths})
    variants = []
    for target in targets:
        resized = _resize(image, target)
        variants.append(_encode(resized, "WEBP", quality=78, method=4))
    fallback = _resize(image, min(FALLBACK_WIDTH, image.width))
    if has_alpha:
        variants.append(_encode(fallback, "PNG", optimize=False))
    else:
        variants.append(_encode(fallback, "JPEG", quality=82, progressive=True, optimize=True))
    return variants


def _resize(image: Image.Image, width: int) -> Image.Image:
    if width >= image.width:
        return image
    height = max(1, round(image.height * width / image.width))
    return image.resize((width, height), Image.Resampling.LANCZOS)


def _encode(image: Image.Image, fmt: str, **options) -> Variant:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return Variant(buffer.getvalue(), Image.MIME[fmt], image.width, image.height)


def rebuild_image(data: bytes, max_pixels: int) -> Variant:
    """Return an uploaded image redrawn from its pixels: PNG if transparent, else JPEG.

    Nothing of the original file survives but its pixels, so metadata (EXIF, GPS) and any
    other format hidden in the same bytes (a "polyglot") are gone. Animations keep their
    first frame.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageRejected(
                    f"the image is {width}×{height} pixels, more than the {max_pixels:,} allowed"
                )
            image.seek(0)
            image.load()
            image = ImageOps.exif_transpose(image)
            has_alpha = image.mode in ("RGBA", "LA", "PA") or (
                image.mode == "P" and "transparency" in image.info
            )
            pixels = image.convert("RGBA" if has_alpha else "RGB")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ImageRejected(f"the image cannot be read ({error})") from error
    if has_alpha:
        return _encode(pixels, "PNG", optimize=True)
    return _encode(pixels, "JPEG", quality=88, progressive=True, optimize=True)
