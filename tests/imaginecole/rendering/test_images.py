"""Resizing lesson pictures: the widths a phone downloads, the fallback, and what is refused."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import threading
import zlib

import pytest
from PIL import ExifTags, Image, ImageCms, PngImagePlugin

from imaginecole.rendering.images import (
    DEFAULT_MAX_BYTES,
    DecodeBudget,
    ImageRejected,
    decode_cost,
    make_variants,
    rebuild_image,
)

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


# ---------------------------------------------------------------------------- metadata

WHO = "Awa Diop, Thiès"
SRGB_PROFILE = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
XMP = f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:creator>{WHO}</dc:creator></x:xmpmeta>'.encode()
# What a decoder may report about the rebuilt file; none of it comes from the original.
PLAIN_INFO = {
    "jfif",
    "jfif_version",
    "jfif_unit",
    "jfif_density",
    "progressive",
    "progression",
    "loop",  # WebP's animation defaults
    "background",
}


def exif_naming_someone() -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Artist] = WHO
    exif[ExifTags.Base.ImageDescription] = WHO
    return exif


def png_with_text() -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text("comment", WHO)  # the chunk a JPEG encoder would turn into a JPEG comment
    info.add_text("Author", WHO, zip=True)
    info.add_itxt("Description", WHO, lang="fr")
    return info


MARKED = {
    "jpeg-comment": ("JPEG", "RGB", {"comment": WHO.encode()}),
    "jpeg-exif-xmp-icc": (
        "JPEG",
        "RGB",
        {"exif": exif_naming_someone(), "xmp": XMP, "icc_profile": SRGB_PROFILE},
    ),
    "png-text-chunks": ("PNG", "RGB", {"pnginfo": png_with_text()}),
    "png-alpha-text-exif-icc": (
        "PNG",
        "RGBA",
        {"pnginfo": png_with_text(), "exif": exif_naming_someone(), "icc_profile": SRGB_PROFILE},
    ),
    "webp-exif-xmp-icc": (
        "WEBP",
        "RGB",
        {"exif": exif_naming_someone(), "xmp": XMP, "icc_profile": SRGB_PROFILE},
    ),
    "gif-comment": ("GIF", "RGB", {"comment": WHO.encode()}),
}


def marked_image(fmt: str, mode: str, options: dict) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (1300, 900), (30, 140, 200, 255)[: len(mode)]).save(buffer, fmt, **options)
    data = buffer.getvalue()
    assert WHO.encode() in data or WHO.encode("latin-1") in data or fmt == "PNG"
    return data


def assert_pixels_only(data: bytes) -> None:
    for form in (WHO.encode(), WHO.encode("latin-1"), b"Awa Diop", b"Exif", b"xmpmeta"):
        assert form not in data
    image = Image.open(io.BytesIO(data))
    assert set(image.info) <= PLAIN_INFO, image.info
    assert dict(image.getexif()) == {}


@pytest.mark.parametrize("fmt, mode, options", MARKED.values(), ids=MARKED.keys())
def test_no_metadata_block_survives_in_variants(tmp_path, fmt, mode, options):
    path = tmp_path / "marked"
    path.write_bytes(marked_image(fmt, mode, options))

    _, _, variants = make_variants(path, WIDTHS, LIMIT)

    assert len(variants) == 4
    for variant in variants:
        assert_pixels_only(variant.data)


@pytest.mark.parametrize("fmt, mode, options", MARKED.values(), ids=MARKED.keys())
def test_no_metadata_block_survives_in_a_rebuilt_upload(fmt, mode, options):
    rebuilt = rebuild_image(marked_image(fmt, mode, options), LIMIT)

    assert_pixels_only(rebuilt.data)
    picture = Image.open(io.BytesIO(rebuilt.data)).convert("RGB")
    assert picture.getpixel((5, 5)) == pytest.approx((30, 140, 200), abs=8)


def test_a_broken_colour_profile_is_dropped_and_the_pixels_kept():
    broken = io.BytesIO()
    Image.new("RGB", (40, 40), (90, 90, 90)).save(broken, "JPEG", icc_profile=b"not a profile")

    rebuilt = rebuild_image(broken.getvalue(), LIMIT)

    assert_pixels_only(rebuilt.data)
    picture = Image.open(io.BytesIO(rebuilt.data))
    assert picture.getpixel((3, 3)) == pytest.approx((90, 90, 90), abs=4)


# ---------------------------------------------------------------------------- memory

MB = 2**20
# Run in a fresh interpreter: its peak resident memory is then that of this one image.
PEAK_OF_REBUILD = """
import re, sys
from imaginecole.rendering.images import ImageRejected, rebuild_image
data = sys.stdin.buffer.read()
def peak():  # this process's own high-water mark (ru_maxrss counts the parent's too)
    status = open("/proc/self/status").read()
    return int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)) * 1024
before = peak()
try:
    rebuilt = rebuild_image(data, 40_000_000, int(sys.argv[1]))
    print(f"kept {rebuilt.width}x{rebuilt.height}")
except ImageRejected as error:
    print(f"refused: {error}")
print(peak() - before)
"""


def solid_png(width: int, height: int) -> bytes:
    """A one-colour RGB PNG, written row by row: a few hundred kB for millions of pixels."""
    compressor = zlib.compressobj(9)
    row = b"\x00" + bytes((10, 160, 90)) * width
    pixels = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join(
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        for kind, data in ((b"IHDR", header), (b"IDAT", pixels), (b"IEND", b""))
    ).join((b"\x89PNG\r\n\x1a\n", b""))


def peak_of_rebuild(data: bytes, max_bytes: int) -> tuple[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", PEAK_OF_REBUILD, str(max_bytes)],
        input=data,
        capture_output=True,
        check=True,
    )
    outcome, peak = done.stdout.decode().strip().rsplit("\n", 1)
    return outcome, int(peak)


@pytest.fixture(scope="module")
def png_6000():
    data = solid_png(6000, 6000)
    assert len(data) < 200_000 and 6000 * 6000 < LIMIT  # small to send, under the pixel limit
    return data


def test_a_small_png_of_36_million_pixels_is_refused_before_it_takes_the_memory(png_6000):
    outcome, peak = peak_of_rebuild(png_6000, DEFAULT_MAX_BYTES)

    assert outcome == (
        "refused: opening the image would take 274 MB of memory, more than the 192 MB this "
        "server allows; send a smaller image"
    )
    assert peak < 16 * MB


def test_decoding_stays_within_the_memory_it_was_allowed(png_6000):
    outcome, peak = peak_of_rebuild(png_6000, 300 * MB)

    assert outcome == "kept 6000x6000"
    assert peak <= 300 * MB


def test_a_photo_too_large_to_open_is_decoded_at_a_reduced_size(tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (2400, 1800), (10, 160, 90)).save(buffer, "JPEG")
    allowed = decode_cost(1200, 900, "RGB")  # half the width and height fit, not the whole

    rebuilt = rebuild_image(buffer.getvalue(), LIMIT, allowed)

    assert (rebuilt.width, rebuilt.height) == (1200, 900)


def test_a_large_photo_is_decoded_only_as_large_as_its_widest_variant(tmp_path):
    path = save(tmp_path, "grand.jpg", Image.new("RGB", (4000, 3000), (10, 160, 90)), "JPEG")
    # The whole photo would not fit; a quarter of its pixels does, and gives 1024 wide.
    allowed = decode_cost(2000, 1500, "RGB")

    width, height, variants = make_variants(path, WIDTHS, LIMIT, allowed)

    assert (width, height) == (4000, 3000)
    assert [(v.media_type, v.width, v.height) for v in variants] == [
        ("image/webp", 320, 240),
        ("image/webp", 640, 480),
        ("image/webp", 1024, 768),
        ("image/jpeg", 1024, 768),
    ]


def test_decodes_of_one_worker_wait_for_their_share_of_the_memory():
    budget = DecodeBudget()
    first_holds, second_in = threading.Event(), threading.Event()
    release_first = threading.Event()

    def first():
        with budget.reserve(60, 100):
            first_holds.set()
            release_first.wait(5)

    def second():
        first_holds.wait(5)
        with budget.reserve(60, 100):
            second_in.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    first_holds.wait(5)
    assert not second_in.wait(0.2)  # 60 + 60 is more than 100: it waits
    release_first.set()
    assert second_in.wait(5)
    for thread in threads:
        thread.join(5)
    assert budget.used == 0

    with pytest.raises(ImageRejected, match="more than the 0 MB"):
        with budget.reserve(101, 100):
            pass
