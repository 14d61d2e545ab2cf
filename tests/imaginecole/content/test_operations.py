"""Loading content into an instance: counts, updates, refusals and media."""

from __future__ import annotations

import errno
import io
import re
import struct
import zlib
from pathlib import Path

import pytest
from PIL import ExifTags, Image
from sqlalchemy import func, select

from imaginecole.extensions import db
from imaginecole.content.models import LessonText, Module
from imaginecole.curriculum.models import Country, Level
from imaginecole.media.models import Asset, ImageVariant
from imaginecole.content.operations import (
    LoadReport,
    ModuleNotApplied,
    apply_modules,
    load_curriculum,
    load_module,
    load_tree,
)
from imaginecole.media.operations import blob_store
from sync.content import read_content
from sync.storage import BlobStore
from tests.conftest import TEST_CONTENT, load_content, make_app

DISC_PNG = TEST_CONTENT / "zz" / "modules" / "zz-maths-fractions" / "media" / "disque.png"
LESSON_URL = "/fr/modules/zz-sciences-eau/evaporation"


# ---------------------------------------------------------------------------- helpers


def module_dir(root: Path, name: str = "zz-sciences-eau") -> Path:
    return root / "zz" / "modules" / name


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def set_version(root: Path, version: int, name: str = "zz-sciences-eau") -> None:
    toml = module_dir(root, name) / "module.toml"
    text = re.sub(r"(?m)^version = \d+$", f"version = {version}", toml.read_text("utf-8"))
    toml.write_text(text, encoding="utf-8")


def add_picture_lesson(root: Path, filename: str, data: bytes, alt: str = "Un nuage") -> None:
    """Give zz-sciences-eau a second lesson showing the picture ``data``."""
    media = module_dir(root) / "media"
    media.mkdir(exist_ok=True)
    (media / filename).write_bytes(data)
    (module_dir(root) / "02-pluie.md").write_text(
        f"# La pluie\n\n![{alt}](media/{filename})\n", encoding="utf-8"
    )


def png_of(size: tuple[int, int], colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def module_row(app, uid: str = "zz-sciences-eau") -> Module | None:
    with app.app_context():
        module = db.session.scalar(select(Module).filter_by(uid=uid))
        if module is not None:
            db.session.expunge(module)
        return module


def png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares a size but holds no pixels: decoding it would allocate a lot."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IEND", b"")


def jpeg_with_gps(size: tuple[int, int]) -> bytes:
    image = Image.new("RGB", size, (30, 120, 200))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TeacherPhone"
    exif[ExifTags.Base.Artist] = "Awa Diallo"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (14.0, 41.0, 30.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "W"
    gps[ExifTags.GPS.GPSLongitude] = (17.0, 26.0, 40.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    data = out.getvalue()
    # The photo as taken really carries the position.
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return data


# ---------------------------------------------------------------------------- loading


def test_first_load_counts_what_it_added(app):
    report = load_content(app)

    assert list(report.problems) == []
    assert report.notes == []
    assert (report.countries_added, report.countries_updated, report.countries_unchanged) == (
        1,
        0,
        0,
    )
    assert (report.modules_added, report.modules_updated, report.modules_unchanged) == (3, 0, 0)
    assert report.lessons_loaded == 4
    assert report.changed
    with app.app_context():
        assert db.session.scalar(select(func.count(Module.id))) == 3
        assert (
            db.session.scalar(select(func.count(LessonText.id))) == 8
        )  # 4 lessons, 4 translations
    assert app.test_client().get(LESSON_URL).status_code == 200


def test_second_load_changes_nothing_and_says_so(app):
    load_content(app)
    with app.app_context():
        before = {m.uid: (m.fingerprint, m.updated_at) for m in db.session.scalars(select(Module))}

    report = load_content(app)

    assert not report.changed
    assert report.modules_unchanged == 3
    assert report.countries_unchanged == 1
    assert (report.modules_added, report.modules_updated, report.lessons_loaded) == (0, 0, 0)
    assert list(report.problems) == [] and report.notes == []
    with app.app_context():
        after = {m.uid: (m.fingerprint, m.updated_at) for m in db.session.scalars(select(Module))}
    assert after == before


def test_editing_a_lesson_and_raising_the_version_updates_it(app, content_copy):
    load_content(app, content_copy)
    lesson = module_dir(content_copy) / "01-evaporation.md"
    replace_in(lesson, "le niveau a baissé", "le niveau a nettement baissé")
    set_version(content_copy, 2)

    report = load_content(app, content_copy)

    assert (report.modules_updated, report.modules_unchanged) == (1, 2)
    assert report.lessons_loaded == 1
    assert list(report.problems) == [] and report.notes == []
    assert module_row(app).version == 2
    page = app.test_client().get(LESSON_URL).get_data(as_text=True)
    assert "nettement baissé" in page


def test_an_older_version_is_refused(app, content_copy):
    lesson = module_dir(content_copy) / "01-evaporation.md"
    set_version(content_copy, 3)
    load_content(app, content_copy)
    set_version(content_copy, 2)
    replace_in(lesson, "le niveau a baissé", "TEXTE ANCIEN")

    report = load_content(app, content_copy)

    [problem] = report.problems
    assert problem.field == "version"
    assert "zz-sciences-eau" in str(problem)
    assert "version 2 is older than the loaded version 3" in problem.message
    assert not report.changed
    assert module_row(app).version == 3
    page = app.test_client().get(LESSON_URL).get_data(as_text=True)
    assert "TEXTE ANCIEN" not in page and "le niveau a baissé" in page


def test_a_change_without_a_new_version_is_loaded_with_a_note(app, content_copy):
    load_content(app, content_copy)
    replace_in(module_dir(content_copy) / "01-evaporation.md", "de midi", "de quatorze heures")

    report = load_content(app, content_copy)

    assert report.modules_updated == 1
    assert list(report.problems) == []
    assert report.notes == ["zz-sciences-eau: content changed but version is still 1; raise it"]
    assert "quatorze heures" in app.test_client().get(LESSON_URL).get_data(as_text=True)


def test_a_module_that_became_invalid_keeps_its_loaded_version(app, content_copy):
    load_content(app, content_copy)
    replace_in(module_dir(content_copy) / "module.toml", 'licence = "CC-BY-4.0"', 'licence = "?"')
    set_version(content_copy, 2)

    report = load_content(app, content_copy)

    assert [p.field for p in report.problems] == ["licence"]
    assert module_row(app).version == 1
    assert app.test_client().get(LESSON_URL).status_code == 200


def test_loading_leaves_the_commit_to_the_caller(app):
    tree = read_content(TEST_CONTENT)

    with app.app_context():
        report = load_tree(tree)
        assert report.modules_added == len(tree.modules)
        assert db.session.scalar(select(func.count(Module.id))) == len(tree.modules)  # flushed
        db.session.rollback()

        assert db.session.scalar(select(func.count(Module.id))) == 0
        assert db.session.scalar(select(func.count(LessonText.id))) == 0
        assert db.session.get(Country, "zz") is None


def test_loading_one_module_leaves_the_commit_to_the_caller(app):
    tree = read_content(TEST_CONTENT)
    load_content(app)
    source = next(m for m in tree.modules if m.id == "zz-sciences-eau")
    source.title = {**source.title, "fr": "Titre changé"}

    with app.app_context():
        report = LoadReport()
        assert load_module(source, report, auto_version=True) is not None
        assert report.modules_updated == 1
        db.session.rollback()

    module = module_row(app)
    assert module.version == 1
    assert module.title["fr"] != "Titre changé"


def test_a_module_whose_files_cannot_be_stored_is_reported_and_leaves_no_row(
    app, content_copy, monkeypatch
):
    add_picture_lesson(content_copy, "nuage.png", png_of((80, 60), "white"))
    (module_dir(content_copy) / "03-orage.md").write_text(
        "# L'orage\n\n![Un éclair](media/orage.png)\n", encoding="utf-8"
    )
    (module_dir(content_copy) / "media" / "orage.png").write_bytes(png_of((60, 80), "grey"))
    stored_here: list[Path] = []
    put_file = BlobStore.put_file

    def disk_full_on_the_second_file(store, source: Path, sha256: str) -> bool:
        if module_dir(content_copy) in source.parents:
            stored_here.append(source)
            if len(stored_here) == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        return put_file(store, source, sha256)

    monkeypatch.setattr(BlobStore, "put_file", disk_full_on_the_second_file)
    report = load_content(app, content_copy)

    [problem] = report.problems
    assert problem.path == "zz-sciences-eau"
    assert "could not be saved" in problem.message
    assert "No space left on device" in problem.message
    assert report.modules_added == 2  # the other modules are loaded
    assert module_row(app) is None
    with app.app_context():
        assert db.session.scalar(select(func.count(Asset.sha256))) == 1  # the disc only

    monkeypatch.setattr(BlobStore, "put_file", put_file)  # room again: the next load finishes
    assert load_content(app, content_copy).modules_added == 1
    assert module_row(app) is not None


# ---------------------------------------------------------------------------- broken images


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"not really pixels " * 40, "cannot be read"),
        (png_header_only(7000, 7000), "7000×7000 pixels, more than the 40,000,000 allowed"),
        (png_header_only(100_000, 100_000), "cannot be read"),
    ],
    ids=["garbage-after-header", "too-many-pixels", "decompression-bomb"],
)
def test_a_broken_image_is_reported_and_leaves_no_row(app, content_copy, data, words):
    add_picture_lesson(content_copy, "nuage.png", data)

    report = load_content(app, content_copy)

    [problem] = report.problems
    assert problem.field == "media"
    assert "zz-sciences-eau" in str(problem)
    assert '"nuage.png"' in problem.message  # which of the module's pictures
    assert words in problem.message
    assert report.modules_added == 2  # the other modules are loaded
    assert module_row(app) is None
    with app.app_context():
        assert db.session.scalar(select(func.count(Asset.sha256))) == 1  # the disc only
    assert app.test_client().get(LESSON_URL).status_code == 404


def test_the_pixel_limit_is_a_setting(tmp_path, content_copy):
    app = make_app(tmp_path / "small", MAX_IMAGE_PIXELS=100_000)
    add_picture_lesson(content_copy, "disque.png", DISC_PNG.read_bytes())

    report = load_content(app, content_copy)

    assert sorted(str(p).split(":")[0] for p in report.problems) == [
        "zz-maths-fractions",
        "zz-sciences-eau",
    ]
    assert all(
        "800×600 pixels, more than the 100,000 allowed" in p.message for p in report.problems
    )
    assert module_row(app, "zz-maths-fractions") is None


def test_a_broken_image_in_a_new_version_keeps_the_old_one(app, content_copy):
    load_content(app, content_copy)
    add_picture_lesson(content_copy, "nuage.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 300)
    set_version(content_copy, 2)

    report = load_content(app, content_copy)

    assert [p.field for p in report.problems] == ["media"]
    module = module_row(app)
    assert module.version == 1
    client = app.test_client()
    assert client.get(LESSON_URL).status_code == 200
    assert client.get("/fr/modules/zz-sciences-eau/pluie").status_code == 404


# ---------------------------------------------------------------------------- blobs and variants


def test_blobs_land_in_the_store_by_hash_with_image_variants(loaded_app):
    with loaded_app.app_context():
        store = blob_store()
        asset = db.session.scalar(select(Asset))
        variants = [(v.media_type, v.width, v.height, v.sha256) for v in asset.variants]
        assert (asset.media_type, asset.width, asset.height) == ("image/png", 800, 600)
        assert store.path(asset.sha256).read_bytes() == DISC_PNG.read_bytes()
        assert Path(loaded_app.config["DATA_DIR"]) in store.path(asset.sha256).parents

    webp = [(w, h) for kind, w, h, _ in variants if kind == "image/webp"]
    fallback = [(kind, w, h) for kind, w, h, _ in variants if kind != "image/webp"]
    # WebP at the configured widths, never wider than the 800-pixel original...
    assert sorted(webp) == [(320, 240), (640, 480), (800, 600)]
    # ...and one JPEG for browsers without WebP (the picture has no transparency).
    assert fallback == [("image/jpeg", 800, 600)]
    for kind, width, height, sha in variants:
        with loaded_app.app_context():
            data = blob_store().path(sha).read_bytes()
        with Image.open(io.BytesIO(data)) as image:
            assert image.size == (width, height)
            assert Image.MIME[image.format] == kind


def test_a_large_photo_gets_every_width_and_a_capped_fallback(app, content_copy):
    out = io.BytesIO()
    Image.new("RGB", (1500, 1000), (200, 180, 40)).save(out, "JPEG")
    add_picture_lesson(content_copy, "soleil.jpg", out.getvalue(), alt="Le soleil")

    assert list(load_content(app, content_copy).problems) == []

    with app.app_context():
        asset = db.session.scalar(select(Asset).filter_by(name="soleil.jpg"))
        sizes = sorted((v.media_type, v.width, v.height) for v in asset.variants)
    assert sizes == [
        ("image/jpeg", 1024, 683),
        ("image/webp", 320, 213),
        ("image/webp", 640, 427),
        ("image/webp", 1024, 683),
    ]
    page = app.test_client().get("/fr/modules/zz-sciences-eau/pluie").get_data(as_text=True)
    assert re.search(r'<img src="/media/[0-9a-f]{64}\.jpg" alt="Le soleil"', page)
    assert " 320w" in page and " 1024w" in page


@pytest.mark.parametrize(
    ("filename", "target"),
    [("soleil-été.png", "media/soleil-été.png"), ("mare 2.png", "<media/mare 2.png>")],
)
def test_a_picture_with_an_accented_or_spaced_name_is_shown(app, content_copy, filename, target):
    add_picture_lesson(content_copy, filename, DISC_PNG.read_bytes(), alt="En été")
    lesson = module_dir(content_copy) / "02-pluie.md"
    lesson.write_text(f"# La pluie\n\n![En été]({target})\n", encoding="utf-8")

    assert list(load_content(app, content_copy).problems) == []

    page = app.test_client().get("/fr/modules/zz-sciences-eau/pluie").get_data(as_text=True)
    assert "<picture>" in page
    assert re.search(r'<img src="/media/[0-9a-f]{64}\.jpg" alt="En été"', page)
    assert "missing-image" not in page


def test_a_picture_used_twice_is_stored_once(app, content_copy):
    add_picture_lesson(content_copy, "disque-bis.png", DISC_PNG.read_bytes())

    assert list(load_content(app, content_copy).problems) == []

    with app.app_context():
        assert db.session.scalar(select(func.count(Asset.sha256))) == 1
        assert db.session.scalar(select(func.count(ImageVariant.id))) == 4
    files = [p for p in Path(app.config["BLOB_DIR"]).rglob("*") if p.is_file()]
    assert len(files) == 5  # the original and its four variants


def test_modules_applied_together_share_a_new_picture_in_one_row(app, content_copy):
    # What a bundle import does: every module in one transaction, flushed once at the end.
    add_picture_lesson(content_copy, "disque-bis.png", DISC_PNG.read_bytes())
    tree = read_content(content_copy)
    report = LoadReport()

    with app.app_context():
        load_curriculum(tree.curricula["zz"], report)
        applied = apply_modules(tree.modules, report)
        db.session.commit()

        assert [m.uid for m in applied] == [m.id for m in tree.modules]
        assert report.modules_added == len(tree.modules)
        assert db.session.scalar(select(func.count(Asset.sha256))) == 1
        assert db.session.scalar(select(func.count(ImageVariant.id))) == 4
    page = app.test_client().get("/fr/modules/zz-sciences-eau/pluie")
    assert page.status_code == 200
    assert "Un nuage" in page.get_data(as_text=True)


def test_a_module_that_cannot_be_applied_with_others_is_named(app, content_copy):
    add_picture_lesson(content_copy, "casse.png", b"\x89PNG\r\n\x1a\n not really")
    tree = read_content(content_copy)

    with app.app_context(), pytest.raises(ModuleNotApplied) as caught:
        load_curriculum(tree.curricula["zz"], LoadReport())
        apply_modules(tree.modules, LoadReport())
    assert str(caught.value).startswith("Module zz-sciences-eau could not be applied: ")
    assert "casse.png" in str(caught.value)


def test_exif_and_gps_position_never_reach_a_reader(app, content_copy):
    add_picture_lesson(content_copy, "photo.jpg", jpeg_with_gps((900, 600)), alt="La mare")

    assert list(load_content(app, content_copy).problems) == []

    with app.app_context():
        asset = db.session.scalar(select(Asset).filter_by(name="photo.jpg"))
        store = blob_store()
        served = [store.path(v.sha256).read_bytes() for v in asset.variants]
    assert len(served) == 4
    for data in served:
        assert b"TeacherPhone" not in data and b"Awa Diallo" not in data
        with Image.open(io.BytesIO(data)) as image:
            exif = image.getexif()
            assert dict(exif) == {}
            assert not exif.get_ifd(ExifTags.IFD.GPSInfo)
            assert "exif" not in image.info


# ---------------------------------------------------------------------------- curriculum changes


EXTRA_LEVEL = """[[levels]]
code = "CM2"
cycle = "primaire"
isced = 1
grade = 6
name = { fr = "Cours moyen 2e année" }

"""
LEVEL_7E = """[[levels]]
code = "7e année"
cycle = "college"
isced = 2
grade = 7
name = { fr = "Septième année", en = "Year 7" }

"""


def level_codes(app) -> list[str]:
    with app.app_context():
        return [
            level.code
            for level in db.session.scalars(select(Level).order_by(Level.position, Level.id))
        ]


def test_removing_an_unused_level_deletes_it(app, content_copy):
    toml = content_copy / "zz" / "curriculum.toml"
    original = toml.read_text(encoding="utf-8")
    replace_in(toml, "[[domains]]", EXTRA_LEVEL + "[[domains]]")
    load_content(app, content_copy)
    client = app.test_client()
    assert client.get("/fr/zz/cm2/").status_code == 200
    toml.write_text(original, encoding="utf-8")

    report = load_content(app, content_copy)

    assert report.countries_updated == 1 and report.modules_unchanged == 3
    assert report.notes == [] and list(report.problems) == []
    assert level_codes(app) == ["CM1", "7e année"]
    assert client.get("/fr/zz/cm2/").status_code == 404


def test_removing_a_level_still_used_keeps_it_with_a_note(app, content_copy):
    load_content(app, content_copy)
    toml = content_copy / "zz" / "curriculum.toml"
    replace_in(toml, LEVEL_7E, "")
    replace_in(toml, 'levels = ["CM1", "7e année"]', 'levels = ["CM1"]')

    report = load_content(app, content_copy)

    assert report.notes == ["zz: level 7e année was removed from the file but modules use it; kept"]
    assert "7e année" in level_codes(app)
    # The modules of that level now point at a level the file lacks: reported, not reloaded.
    assert {Path(p.path).parent.name for p in report.problems} == {
        "zz-histoire-royaume",
        "zz-sciences-eau",
    }
    client = app.test_client()
    assert client.get("/fr/zz/7e-annee/").status_code == 200
    assert client.get("/fr/modules/zz-histoire-royaume/").status_code == 200


def test_renaming_a_country_updates_it(app, content_copy):
    load_content(app, content_copy)
    replace_in(content_copy / "zz" / "curriculum.toml", 'fr = "Zedland"', 'fr = "Zédie"')

    report = load_content(app, content_copy)

    assert (report.countries_updated, report.countries_unchanged) == (1, 0)
    assert report.changed
    with app.app_context():
        assert db.session.get(Country, "zz").name["fr"] == "Zédie"
