"""Resizing lesson pictures: the widths a phone downloads, the fallback, and what is refused."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from imaginecole.rendering.images import ImageRejected, make_variants

WIDTHS = (320, 640, 1024)
LIMIT = 40_000_000


def save(tmp_path, name: str, image: Image.Image, fmt: str, **options):
    path = tmp_path / name
    image.save(path, fmt, **options)
    return path


def decoded(variant) -> Image.Image:
    image = Image.open(io.BytesIO(variant.data))
    image.load()
    return image


def test_a_photo_gets_webp_at_each_width_and_a_jpeg_fallback(tmp_path):
    path = save(tmp_path, "photo.jpg", Image.new("RGB", (2000, 1500), (10, 160, 90)), "JPEG")

    width, height, variants = make_variants(path, WIDTHS, LIMIT)

    assert (width, height) == (2000, 1500)
    assert [(v.media_type, v.width, v.height) for v in variants] == [
        ("image/webp", 320, 240),
        ("image/webp", 640, 480),
        ("image/webp", 1024, 768),
        ("image/jpeg", 1024, 768),
    ]
    for variant in variants:
        image = decoded(variant)
        assert image.size == (variant.width, variant.height)
        assert Image.MIME[image.format] == variant.media_type
    # The point of resizing: a phone downloads far fewer bytes than the original.
    assert len(variants[0].data) < path.stat().st_size


def test_a_small_picture_is_never_enlarged(tmp_path):
    path = save(tmp_path, "petit.png", Image.new("RGB", (500, 200), (200, 10, 10)), "PNG")

    _, _, variants = make_variants(path, WIDTHS, LIMIT)

    assert [(v.media_type, v.width) for v in variants] == [
        ("image/webp", 320),
        ("image/webp", 500),
        ("image/jpeg", 500),
    ]
    assert max(v.width for v in variants) == 500


def test_transparency_keeps_a_png_fallback(tmp_path):
    image = Image.new("RGBA", (700, 300), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (100, 100, 200, 200))
    path = save(tmp_path, "forme.png", image, "PNG")

    _, _, variants = make_variants(path, WIDTHS, LIMIT)

    fallback = variants[-1]
    assert (fallback.media_type, fallback.width) == ("image/png", 700)
    picture = decoded(fallback)
    assert picture.mode == "RGBA"
    assert picture.getpixel((0, 0))[3] == 0  # still see-through
    assert all(decoded(v).mode == "RGBA" for v in variants if v.media_type == "image/webp")


def test_a_palette_picture_with_a_transparent_colour_keeps_it(tmp_path):
    image = Image.new("P", (400, 100), 0)
    image.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)
    path = save(tmp_path, "icone.gif", image, "GIF", transparency=0)

    _, _, variants = make_variants(path, WIDTHS, LIMIT)

    assert variants[-1].media_type == "image/png"
    assert decoded(variants[-1]).getpixel((0, 0))[3] == 0


def test_an_animated_gif_is_kept_as_it_is(tmp_path):
    frames = [Image.new("RGB", (120, 90), colour) for colour in ("red", "green", "blue")]
    path = tmp_path / "goutte.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=200, loop=0)

    width, height, variants = make_variants(path, WIDTHS, LIMIT)

    assert (width, height, variants) == (120, 90, [])


def test_a_photo_turned_by_its_exif_orientation_is_shown_upright(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # taken with the phone turned: rotate 90° clockwise to view
    path = save(tmp_path, "tourne.jpg", Image.new("RGB", (800, 400), "white"), "JPEG", exif=exif)

    _, _, variants = make_variants(path, WIDTHS, LIMIT)

    assert (variants[-1].width, variants[-1].height) == (400, 800)


def test_too_many_pixels_are_refused_with_a_clear_message(tmp_path):
    path = save(tmp_path, "immense.png", Image.new("RGB", (2000, 1000)), "PNG")

    with pytest.raises(ImageRejected) as error:
        make_variants(path, WIDTHS, max_pixels=1_000_000)

    assert str(error.value) == "the image is 2000×1000 pixels, more than the 1,000,000 allowed"


def png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header declaring ``width`` x ``height`` pixels, with no pixels at all."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_a_declared_size_is_checked_before_decoding(tmp_path):
    # A file of a few bytes that claims 7000 x 7000 pixels: refused before decoding anything.
    path = tmp_path / "bombe.png"
    path.write_bytes(png_claiming(7000, 7000))

    with pytest.raises(ImageRejected) as error:
        make_variants(path, WIDTHS, LIMIT)

    assert str(error.value) == "the image is 7000×7000 pixels, more than the 40,000,000 allowed"


def test_a_decompression_bomb_is_refused(tmp_path):
    path = tmp_path / "bombe.png"
    path.write_bytes(png_claiming(100_000, 100_000))

    with pytest.raises(ImageRejected) as error:
        make_variants(path, WIDTHS, LIMIT)

    assert str(error.value).startswith("the image cannot be read")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, this is text",
        b"\x89PNG\r\n\x1a\n" + b"garbage" * 40,
        b"\xff\xd8\xff\xe0" + b"\x00" * 64,
        b"GIF89a" + b"\x01" * 20,
    ],
    ids=["empty", "text", "png-garbage", "jpeg-garbage", "gif-garbage"],
)
def test_garbage_is_refused_with_a_clear_message(tmp_path, data):
    path = tmp_path / "casse.png"
    path.write_bytes(data)

    with pytest.raises(ImageRejected) as error:
        make_variants(path, WIDTHS, LIMIT)

    assert str(error.value).startswith("the image cannot be read")
