"""Resize lesson images with Pillow into a few widths: WebP plus a JPEG or PNG fallback.

Images are rebuilt from their pixels and nothing else: EXIF (GPS positions included), XMP,
comments, text chunks and embedded colour profiles never reach a reader. A colour profile is
applied to the pixels (converted to sRGB, what browsers assume) before it is dropped, so colours
stay right.

Decoding is bounded twice, from the file's header and before a pixel is decoded: by pixels per
image (``max_pixels``), and by bytes of decoded pixels that one worker process holds at once
(``max_bytes``). A small PNG can declare 36 million pixels and take hundreds of megabytes to
open; a few of those at once would exhaust a school server. Large JPEG photos are decoded at a
reduced size (1/2 to 1/8, which JPEG gives almost for free) when that is all that is needed or
all that fits; other images that do not fit are refused.
"""

from __future__ import annotations

import io
import struct
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageCms, ImageOps

FALLBACK_WIDTH = 1024  # the <img src> for browsers without WebP
DEFAULT_MAX_BYTES = 192 * 1024 * 1024
JPEG_SCALES = (1, 2, 4, 8)  # the reductions a JPEG decoder makes while decoding
# Pillow's decoders raise all of these on damaged or crafted files.
DECODE_ERRORS = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
    struct.error,
    Image.DecompressionBombError,
)
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
# Pillow warns of images over its own pixel limit as it opens them; ours (``max_pixels``,
# checked right after) is lower and refuses them, so the warning only fills the logs.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


class ImageRejected(ValueError):
    """The file cannot be used as an image; the message says why in plain words."""


@dataclass
class Variant:
    data: bytes
    media_type: str
    width: int
    height: int


class DecodeBudget:
    """The bytes of decoded pixels this worker process holds; a decode waits for its share."""

    def __init__(self) -> None:
        self._used = 0
        self._changed = threading.Condition()

    @property
    def used(self) -> int:
        return self._used

    @contextmanager
    def reserve(self, size: int, limit: int) -> Iterator[None]:
        """Hold ``size`` bytes of the ``limit`` for the time of the block, waiting if need be."""
        if size > limit:
            raise ImageRejected(
                f"opening the image would take {size // 2**20} MB of memory, more than the "
                f"{limit // 2**20} MB this server allows; send a smaller image"
            )
        with self._changed:
            self._changed.wait_for(lambda: self._used + size <= limit)
            self._used += size
        try:
            yield
        finally:
            with self._changed:
                self._used -= size
                self._changed.notify_all()


# One per process: the server's workers are processes, and each has its own memory to protect.
DECODE_BUDGET = DecodeBudget()


def decode_cost(width: int, height: int, mode: str) -> int:
    """Return the bytes an image of this header takes while it is turned into RGB(A) pixels.

    The decoded pixels, then their RGB(A) copy (Pillow keeps 4 bytes for each RGB pixel);
    the decoded ones are freed before anything else is made.
    """
    return width * height * (_bytes_per_pixel(mode) + 4)


def _bytes_per_pixel(mode: str) -> int:
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


@dataclass
class Pixels:
    """An image reduced to its upright pixels, in sRGB, with no metadata at all."""

    image: Image.Image | None  # RGB or RGBA; None for an animation kept as it is
    width: int  # of the file, before any reduction
    height: int

    @property
    def has_alpha(self) -> bool:
        return self.image is not None and self.image.mode == "RGBA"


@contextmanager
def decoded(
    source: Path | bytes, max_pixels: int, max_bytes: int, need_width: int | None = None
) -> Iterator[Pixels]:
    """Decode an image within the limits and yield its pixels, held until the block ends.

    ``need_width``, when given, is the largest width wanted from it: a JPEG is then decoded
    at the smallest size that still gives it, and an animation is not decoded at all (its
    ``image`` is None). Without it, animations yield their first frame.
    """
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with Image.open(stream) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageRejected(
                    f"the image is {width}×{height} pixels, more than the {max_pixels:,} allowed"
                )
            if need_width is not None and getattr(image, "is_animated", False):
                yield Pixels(None, width, height)
                return
            _reduce_jpeg(image, max_bytes, need_width)
            with DECODE_BUDGET.reserve(decode_cost(*image.size, image.mode), max_bytes):
                yield Pixels(_clean_pixels(image), width, height)
    except ImageRejected:
        raise
    except DECODE_ERRORS as error:
        raise ImageRejected(f"the image cannot be read ({error})") from error


def _reduce_jpeg(image: Image.Image, max_bytes: int, need_width: int | None) -> None:
    """Ask a JPEG decoder for fewer pixels: only those needed, and no more than fit."""
    if image.format != "JPEG":
        return
    width, height = image.size
    # Both sides must keep the width needed: the photo may be turned upright afterwards.
    enough = [
        s for s in JPEG_SCALES if need_width is not None and min(width, height) // s >= need_width
    ]
    for scale in JPEG_SCALES:
        if scale < max(enough, default=1):
            continue
        if decode_cost(-(-width // scale), -(-height // scale), image.mode) <= max_bytes:
            break
    if scale > 1:
        # Pillow picks the largest reduction that keeps at least the size asked for.
        image.draft(image.mode, (width // scale, height // scale))


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )


def _clean_pixels(image: Image.Image) -> Image.Image:
    """Return a new RGB or RGBA image of ``image``'s upright, sRGB pixels and nothing else."""
    image.load()
    ImageOps.exif_transpose(image, in_place=True)
    mode = "RGBA" if _has_alpha(image) else "RGB"
    pixels = _to_srgb(image, mode) or image.convert(mode)
    image.close()  # frees the decoded pixels before the caller makes anything else
    # convert() copies the file's metadata along (a JPEG comment, a PNG text chunk, the EXIF
    # block, the colour profile); every encoder writes some of it back out. Pixels only.
    pixels.info = {}
    return pixels


def _to_srgb(image: Image.Image, mode: str) -> Image.Image | None:
    """Return the pixels converted from the file's colour profile to sRGB, or None without one."""
    profile = image.info.get("icc_profile")
    if not profile:
        return None
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        return ImageCms.profileToProfile(image, source, _SRGB, outputMode=mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        # A profile that does not fit the pixels or cannot be read: the colours are shown as
        # stored, which is what a browser ignoring the profile would do.
        return None


def make_variants(
    path: Path, widths: tuple[int, ...], max_pixels: int, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[int, int, list[Variant]]:
    """Return the image's size and its resized variants (none for animations, kept as they are)."""
    with decoded(path, max_pixels, max_bytes, need_width=max((*widths, FALLBACK_WIDTH))) as pixels:
        if pixels.image is None:
            return pixels.width, pixels.height, []
        return pixels.width, pixels.height, _variants(pixels.image, widths)


def _variants(image: Image.Image, widths: tuple[int, ...]) -> list[Variant]:
    targets = sorted({min(w, image.width) for w in widths})
    variants = []
    for target in targets:
        resized = _resize(image, target)
        variants.append(_encode(resized, "WEBP", quality=78, method=4))
    fallback = _resize(image, min(FALLBACK_WIDTH, image.width))
    if image.mode == "RGBA":
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


def rebuild_image(data: bytes, max_pixels: int, max_bytes: int = DEFAULT_MAX_BYTES) -> Variant:
    """Return an uploaded image redrawn from its pixels: PNG if transparent, else JPEG.

    Nothing of the original file survives but its pixels, so metadata (EXIF, GPS, comments,
    text chunks, colour profiles) and any other format hidden in the same bytes (a
    "polyglot") are gone. Animations keep their first frame; a photo too large to open here
    is kept at half, a quarter or an eighth of its size.
    """
    with decoded(data, max_pixels, max_bytes) as pixels:
        assert pixels.image is not None  # animations are only skipped when a width is given
        try:
            if pixels.has_alpha:
                return _encode(pixels.image, "PNG", optimize=True)
            return _encode(pixels.image, "JPEG", quality=88, progressive=True, optimize=True)
        except DECODE_ERRORS as error:
            raise ImageRejected(f"the image cannot be written ({error})") from error
