"""Files teachers upload: recognised by their content, images redrawn, names never trusted.

Each attack is tried twice: through ``check_upload``/``store_teacher_file`` and through the editor
form, where a refused file is named in a message and nothing is saved.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from dataclasses import dataclass

import pytest
from PIL import ExifTags, Image, PngImagePlugin
from sqlalchemy import select

from imaginecole.accounts.models import User
from imaginecole.extensions import db
from imaginecole.media.operations import blob_store
from imaginecole.submissions.files import (
    TeacherFileRefused,
    check_upload,
    safe_name,
    store_teacher_file,
)
from imaginecole.submissions.models import Submission, TeacherFile
from tests.imaginecole.submissions.test_editor import (
    ACCOUNTS,
    NEW,
    TEACHER,
    copy_server,
    count,
    image_bytes,
    lesson,
    new_server,
    post_form,
    sign_in,
)

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<<>>\n%%EOF\n"
SCRIPT = b"<html><body><script>alert(document.cookie)</script></body></html>"
SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(document.cookie)</script><rect width='10' height='10'/></svg>"
)
SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}\.(png|jpg|gif|webp|pdf|mp3|ogg|mp4|webm)$")
DEVICE_NAMES = {"con", "prn", "aux", "nul"} | {f"{p}{n}" for p in ("com", "lpt") for n in range(10)}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uploads") / "data"
    new_server(folder, ACCOUNTS)
    return folder


@pytest.fixture
def school(template, tmp_path):
    return copy_server(template, tmp_path / "data")


@pytest.fixture(scope="module")
def checker(template, tmp_path_factory):
    """One server for the tests that only check or store files and look at the result."""
    return copy_server(template, tmp_path_factory.mktemp("checker") / "data")


@pytest.fixture
def teacher(school):
    return sign_in(school, TEACHER)


def gps_photo(size=(60, 40)) -> bytes:
    """A JPEG as a phone takes it: camera, time, orientation and the GPS position in EXIF."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Model] = "Phone 12"
    exif[ExifTags.Base.DateTime] = "2030:01:01 08:00:00"
    exif[ExifTags.Base.Orientation] = 6  # taken sideways: the pixels must be turned
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (14.0, 41.0, 30.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (17.0, 26.0, 50.0)
    data = image_bytes("JPEG", size, exif=exif)
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)[2] == (
        14.0,
        41.0,
        30.5,
    )
    return data


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def declared_png(width: int, height: int) -> bytes:
    """A small PNG whose header declares ``width``×``height`` one-bit pixels, all black.

    The few rows given compress to almost nothing; a decoder that trusted the header would
    allocate the whole picture.
    """
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    pixels = compressor.compress(row * 64) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", pixels)
        + _chunk(b"IEND", b"")
    )


def refused(app, data: bytes) -> TeacherFileRefused:
    with app.app_context(), pytest.raises(TeacherFileRefused) as caught:
        check_upload(data)
    return caught.value


@dataclass
class Stored:
    name: str
    media_type: str
    sha256: str
    size: int


def stored(app, name: str, data: bytes) -> tuple[Stored, bytes]:
    """Store ``data`` as the teacher's upload; return its record and the bytes kept."""
    with app.app_context():
        user = db.session.scalar(select(User).filter_by(email=TEACHER))
        upload = store_teacher_file(user, name, data)
        db.session.commit()
        kept = blob_store().path(upload.sha256).read_bytes()
        return Stored(upload.name, upload.media_type, upload.sha256, upload.size), kept


def uploads(app) -> list[tuple[str, str]]:
    with app.app_context():
        return [(u.name, u.media_type) for u in db.session.scalars(select(TeacherFile))]


def refusal_messages(response) -> list[str]:
    page = response.get_data(as_text=True)
    return re.findall(r'<p class="error" role="alert">File not accepted: ([^<]*)</p>', page)


# ---------------------------------------------------------------------------- metadata


def test_a_photo_loses_its_exif_and_gps_but_keeps_its_orientation(checker):
    upload, data = stored(checker, "IMG_2030.JPG", gps_photo())

    assert (upload.media_type, upload.name) == ("image/jpeg", "img_2030.jpg")
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG"
    assert dict(image.getexif()) == {}
    assert "exif" not in image.info
    assert b"Exif" not in data and b"PhoneMaker" not in data and b"GPS" not in data
    assert image.size == (40, 60)  # turned upright from its pixels before the EXIF went
    assert upload.size == len(data)


def test_comments_and_text_chunks_do_not_survive_the_rebuild(checker):
    comment = io.BytesIO()
    Image.new("RGB", (30, 20), "white").save(comment, "JPEG", comment="Awa Diop, Thiès")
    text = PngImagePlugin.PngInfo()
    text.add_text("comment", "Awa Diop, Thiès")  # would become a JPEG comment
    chunk = io.BytesIO()
    Image.new("RGB", (30, 20), "white").save(chunk, "PNG", pnginfo=text)

    for name, sent in (("photo.jpg", comment), ("dessin.png", chunk)):
        upload, data = stored(checker, name, sent.getvalue())
        assert upload.media_type == "image/jpeg"
        assert b"Awa Diop" not in data and b"\xff\xfe" not in data  # no JPEG comment segment
        assert "comment" not in Image.open(io.BytesIO(data)).info


def test_a_photo_through_the_form_is_stored_without_exif(school, teacher):
    response = post_form(teacher, NEW, lesson(), files=[(gps_photo(), "photo.jpg")])

    assert response.status_code == 302
    with school.app_context():
        upload = db.session.scalar(select(TeacherFile))
        data = blob_store().path(upload.sha256).read_bytes()
        files = db.session.scalar(select(Submission)).latest.files
    assert dict(Image.open(io.BytesIO(data)).getexif()) == {}
    assert b"PhoneMaker" not in data
    assert files == [
        {
            "sha256": upload.sha256,
            "name": "photo.jpg",
            "media_type": "image/jpeg",
            "size": len(data),
        }
    ]


def test_a_transparent_png_stays_a_png_with_its_alpha(checker):
    upload, data = stored(checker, "dessin.png", image_bytes("PNG", color=(10, 20, 30, 0)))
    image = Image.open(io.BytesIO(data))
    assert (upload.media_type, image.format, image.mode) == ("image/png", "PNG", "RGBA")


# ---------------------------------------------------------------------------- types and names


def test_a_png_named_pdf_is_stored_as_an_image_never_as_a_pdf(checker):
    upload, data = stored(checker, "fiche.pdf", image_bytes("PNG", color=(1, 2, 3, 128)))
    assert (upload.media_type, upload.name) == ("image/png", "fiche.png")
    assert Image.open(io.BytesIO(data)).format == "PNG"
    # Without transparency, the pixels are redrawn as a JPEG, and named for it.
    upload, data = stored(checker, "fiche.pdf", image_bytes("PNG"))
    assert (upload.media_type, upload.name) == ("image/jpeg", "fiche.jpg")
    assert Image.open(io.BytesIO(data)).format == "JPEG"


def test_a_transparent_png_named_pdf_keeps_the_png_type_and_name(school, teacher):
    response = post_form(
        teacher,
        NEW,
        lesson(),
        files=[(image_bytes("PNG", color=(1, 2, 3, 128)), "fiche.pdf")],
    )
    assert response.status_code == 302
    assert uploads(school) == [("fiche.png", "image/png")]


def test_a_pdf_named_png_is_stored_as_a_pdf(checker):
    upload, data = stored(checker, "image.png", PDF)
    assert (upload.media_type, upload.name, data) == ("application/pdf", "image.pdf", PDF)


HOSTILE_NAMES = [
    "../../etc/passwd",
    "..\\..\\windows\\system32\\drivers\\etc\\hosts",
    "/etc/shadow",
    "CON.png",
    "nul",
    "LPT1.jpg",
    "com9.tar.png",
    "<script>alert(1)</script>.jpg",
    '"><img src=x onerror=alert(1)>.png',
    "a" * 5000 + ".png",
    "Écolé ünïcode 日本語 ✓.png",
    "日本語.png",
    "",
    ".",
    "..",
    ".htaccess",
    "photo.php.png",
    "nul\x00.png",
    "line\nbreak\r.png",
    "   spaces   .png",
    "-rf --no-preserve-root.png",
    "\u202egnp.exe",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_become_plain_safe_names(name):
    for media_type, extension in [("image/png", ".png"), ("application/pdf", ".pdf")]:
        safe = safe_name(name, media_type)
        assert SAFE_NAME.match(safe), safe
        assert safe.endswith(extension)
        assert safe.removesuffix(extension) not in DEVICE_NAMES, safe
        assert "/" not in safe and "\\" not in safe and ".." not in safe


def test_hostile_names_through_the_form(school, teacher):
    sent = {
        "../../etc/passwd": "passwd.jpg",
        "/etc/shadow": "shadow.jpg",
        "CON.png": "con-fichier.jpg",
        "nul": "nul-fichier.jpg",
        "LPT1.jpg": "lpt1-fichier.jpg",
        "<script>alert(1)</script>.jpg": "script.jpg",
        "a" * 300 + ".png": "a" * 60 + ".jpg",
        "Écolé ünïcode 日本語 ✓.png": "ecole-unicode.jpg",
    }
    files = [(image_bytes(color=(20 * n, 0, 0)), name) for n, name in enumerate(sent)]

    response = post_form(teacher, NEW, lesson(), files=files)

    assert response.status_code == 302
    assert sorted(name for name, _type in uploads(school)) == sorted(sent.values())
    page = teacher.get(response.headers["Location"]).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page


# ---------------------------------------------------------------------------- markup


@pytest.mark.parametrize(
    "data",
    [
        SVG,
        SVG.replace(b'<?xml version="1.0"?>\n', b""),
        b"\xef\xbb\xbf" + SVG,  # with a byte order mark
        b"\n\n   " + SVG.replace(b'<?xml version="1.0"?>\n', b""),
        SCRIPT,
        b"<!DOCTYPE html>" + SCRIPT,
        b"<HTML><BODY onload=alert(1)>",
        b"<iframe src='https://evil.example'></iframe>",
        b"<  script>alert(1)</script>",
    ],
    ids=["svg", "svg-bare", "svg-bom", "svg-blank-lines", "html", "html-doctype",
         "html-upper", "iframe", "script-spaced"],
)  # fmt: skip
def test_svg_and_web_pages_are_refused(checker, data):
    assert refused(checker, data).reason == "markup"


@pytest.mark.parametrize("name", ["dessin.svg", "dessin.png", "page.html", "cours.pdf"])
def test_svg_and_web_pages_are_refused_through_the_form_whatever_their_name(school, teacher, name):
    data = SCRIPT if name.endswith(".html") else SVG
    response = post_form(teacher, NEW, lesson(), files=[(data, name)])

    assert response.status_code == 400
    assert refusal_messages(response) == [
        f"{name}: web pages and SVG drawings cannot be uploaded; export a PNG image or a PDF"
    ]
    assert count(school, TeacherFile) == 0 and count(school, Submission) == 0
    page = response.get_data(as_text=True)
    assert 'value="Les fractions au marché"' in page  # what was typed is kept


def test_a_refused_files_name_is_shown_escaped(school, teacher):
    name = "<img src=x onerror=alert(1)>.svg"
    response = post_form(teacher, NEW, lesson(), files=[(SVG, name)])

    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;.svg: web pages and SVG drawings" in page


@pytest.mark.parametrize("fmt", ["GIF", "JPEG", "PNG"])
def test_a_polyglot_image_is_kept_only_as_a_rebuilt_image(checker, fmt):
    polyglot = image_bytes(fmt, color=(0, 120, 240)) + SCRIPT
    assert b"<script>" in polyglot

    upload, data = stored(checker, f"polyglot.{fmt.lower()}", polyglot)

    assert b"<script" not in data and b"<html" not in data
    assert data != polyglot
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format in ("JPEG", "PNG")
    assert upload.media_type == f"image/{image.format.lower()}"
    assert image.getpixel((1, 1))[:3] == pytest.approx((0, 120, 240), abs=8)


def test_a_polyglot_through_the_form(school, teacher):
    polyglot = image_bytes("GIF") + SCRIPT
    response = post_form(teacher, NEW, lesson(), files=[(polyglot, "anim.gif")])

    assert response.status_code == 302
    with school.app_context():
        upload = db.session.scalar(select(TeacherFile))
        assert b"<script" not in blob_store().path(upload.sha256).read_bytes()


def test_a_pdf_hiding_a_web_page_in_its_first_kilobyte_is_refused(checker):
    polyglot = b"%PDF-1.4\n%" + b"x" * 200 + b"\n" + SCRIPT + b"\n" + PDF
    assert refused(checker, polyglot).reason == "markup"
    # Markup far into a real PDF (fonts, streams) is not looked for: the file is served as a
    # PDF, with nosniff and a policy that runs nothing.
    assert refused(checker, b"%PDF-1.4\n" + b"x" * 900 + b"<svg>").reason == "markup"


def test_a_plain_pdf_is_kept_as_sent(checker):
    upload, data = stored(checker, "fiche.pdf", PDF)
    assert data == PDF and upload.media_type == "application/pdf"


# ---------------------------------------------------------------------------- size


def test_a_picture_with_a_giant_pixel_count_is_refused_for_it(checker):
    bomb = declared_png(20_000, 20_000)
    assert len(bomb) < 10_000  # cheap to send

    error = refused(checker, bomb)

    assert error.reason == "bad_image"
    assert "pixels" in error.detail


def test_a_picture_over_the_servers_pixel_limit_is_refused_before_decoding(checker):
    error = refused(checker, declared_png(8_000, 6_000))  # 48 million pixels, limit 40 million
    assert error.reason == "bad_image"
    assert "8000×6000 pixels" in error.detail and "40,000,000" in error.detail


def test_a_giant_picture_through_the_form(school, teacher):
    response = post_form(teacher, NEW, lesson(), files=[(declared_png(20_000, 20_000), "big.png")])

    assert response.status_code == 400
    assert refusal_messages(response) == ["big.png: the image cannot be read or is too large"]
    assert count(school, TeacherFile) == 0


@pytest.fixture
def small_limits(template, tmp_path):
    app = copy_server(template, tmp_path / "small", MAX_UPLOAD_MB=1)
    assert app.config["MAX_CONTENT_LENGTH"] == 3 * 1024 * 1024
    return app


def test_a_file_over_the_upload_limit_is_refused(small_limits):
    big = b"%PDF-1.4\n" + b"0" * (1024 * 1024)
    assert refused(small_limits, big).reason == "too_big"
    with small_limits.app_context():
        assert check_upload(big[: 1024 * 1024]).media_type == "application/pdf"

    teacher = sign_in(small_limits, TEACHER)
    response = post_form(teacher, NEW, lesson(), files=[(big, "atlas.pdf")])

    assert response.status_code == 400
    assert refusal_messages(response) == ["atlas.pdf: the file is too big"]
    assert count(small_limits, TeacherFile) == 0 and count(small_limits, Submission) == 0


@pytest.mark.parametrize("lang", ["fr", "en", "ar"])
def test_a_request_beyond_the_content_limit_gets_a_friendly_413_page(small_limits, lang):
    teacher = sign_in(small_limits, TEACHER)
    huge = b"%PDF-1.4\n" + b"0" * (4 * 1024 * 1024)

    response = post_form(teacher, f"/{lang}/my/submissions/new", lesson(), files=[(huge, "a.pdf")])

    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert f'<html lang="{lang}"' in page
    assert "Traceback" not in page and "RequestEntityTooLarge" not in page
    assert "413" in page
    if lang == "fr":
        assert "Le serveur n'a pas pu traiter cette requête (erreur 413)." in page
    if lang != "en":
        assert "Request not handled" not in page  # translated
    assert count(small_limits, TeacherFile) == 0 and count(small_limits, Submission) == 0


# ---------------------------------------------------------------------------- not files at all


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty"),
        (bytes(range(256)) * 8, "unknown_type"),
        (b"MZ\x90\x00" + b"\x00" * 200, "unknown_type"),  # a Windows program
        (b"PK\x03\x04" + b"\x00" * 200, "unknown_type"),  # a ZIP (or an office file)
        (b"#!/bin/sh\nrm -rf /\n", "unknown_type"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "bad_image"),  # a PNG signature, then nothing
        (image_bytes("JPEG")[:40], "bad_image"),  # a photo cut short
    ],
    ids=["zero-bytes", "random", "exe", "zip", "script", "broken-png", "truncated-jpeg"],
)
def test_files_that_are_not_media_are_refused(checker, data, reason):
    assert refused(checker, data).reason == reason


def test_an_empty_file_and_random_bytes_through_the_form(school, teacher):
    files = [(b"", "vide.pdf"), (bytes(range(256)) * 8, "donnees.jpg")]
    response = post_form(teacher, NEW, lesson(), files=files)

    assert response.status_code == 400
    assert refusal_messages(response) == [
        "vide.pdf: the file is empty",
        "donnees.jpg: this kind of file is not accepted (images, PDF, MP3, OGG, MP4 and WebM are)",
    ]
    assert count(school, TeacherFile) == 0 and count(school, Submission) == 0


def test_one_refused_file_keeps_the_others_for_the_next_try(school, teacher):
    files = [(image_bytes(), "bonne.jpg"), (SVG, "mauvaise.svg")]
    response = post_form(teacher, NEW, lesson(), files=files)

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert uploads(school) == [("bonne.jpg", "image/jpeg")]
    assert re.search(r'name="keep_file" value="\d+" checked> <span class="code">bonne.jpg', page)
    assert count(school, Submission) == 0
