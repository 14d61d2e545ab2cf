"""Receive a national team's ZIP, unpack it safely, recognise what it holds and validate it.

An upload lives in ``SHARED_DIR/uploads/<id>/files/<name of the ZIP>/`` between its check and
its publication. The ZIP is checked entry by entry before a byte is written (names, links,
counts, declared sizes, compression ratios) and again while it is unpacked (actual sizes), so
a hostile or broken archive is refused with a code the page explains, and leaves nothing.

Two kinds are recognised. The content format (``content/README.md``): a country folder, a
tree of countries, a ``modules/`` folder, module folders or one module folder; modules without
a curriculum are read against the country's loaded one. A Markdown course folder (MkDocs
style): read by ``sync.course`` with the level and subject chosen in the form. Validation
reads everything and loads nothing; ``publish_upload`` loads the valid modules.

Receiving and checking flush and leave the commit to the caller, except the "checking" row,
committed before the long check. Publishing commits itself: see ``publish_upload``.
"""

from __future__ import annotations

import errno
import lzma
import os
import re
import shutil
import tomllib
import zipfile
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from sqlalchemy import select, update

from imaginecole.accounts.models import User
from imaginecole.content.models import Module
from imaginecole.content.operations import LoadReport, load_tree, max_video_bytes
from imaginecole.curation.operations import record_version
from imaginecole.curation.reloading import (
    CHOICES,
    apply_choices,
    base_snapshot,
    differences,
    keep_curated,
)
from imaginecole.curriculum.queries import curriculum_of
from imaginecole.datadir import shared_path
from imaginecole.extensions import db
from imaginecole.search.indexing import sync_index
from imaginecole.uploads.chunks import Partial, expire_partials, finish_partial
from imaginecole.uploads.models import ContentUpload
from sync import content as fmt
from sync import model
from sync.container.zipcheck import ARCHIVE, TOO_MANY_FILES, ZipEntry, ZipLimits, check_zip
from sync.course import CourseOptions, read_course
from sync.problems import Problem, ProblemList

MiB = 1024 * 1024
DEFAULT_MAX_ZIP_MB = 500
DEFAULT_MAX_FILES = 20_000
DEFAULT_MAX_UNPACKED_MB = 2_000
# Deflate seldom packs real files better than 100:1; bombs reach 1000:1 and more. Small
# entries (a repetitive text file) may pack very well without harm, so they are not judged.
MAX_RATIO = 200
RATIO_FLOOR = MiB
FREE_SPACE_MARGIN = 64 * MiB
COPY_BLOCK = MiB
# Left behind by the archivers of macOS and Windows; never part of the content.
JUNK_FOLDERS = {"__MACOSX"}
JUNK_FILES = {".DS_Store", "Thumbs.db", "desktop.ini"}
CHECK_TIMEOUT = timedelta(hours=1)  # a check still running after this died with its worker
STAGED_LIFETIME = timedelta(days=14)  # checked but never published: the files are dropped
_UNSAFE_STEM = re.compile(r"[^\w .,()+-]+")


class ZipRefused(Exception):
    """The ZIP cannot be used at all; ``code`` is what the page explains, ``detail`` the entry."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code, self.detail = code, detail


class PublishRefused(Exception):
    """The upload cannot be published as asked; ``code`` says why."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


# ---------------------------------------------------------------------------- settings and paths


def max_zip_bytes() -> int:
    return int(current_app.config.get("MAX_ZIP_MB", DEFAULT_MAX_ZIP_MB)) * MiB


def zip_limits() -> ZipLimits:
    config = current_app.config
    return ZipLimits(
        max_files=int(config.get("ZIP_MAX_FILES", DEFAULT_MAX_FILES)),
        max_unpacked=int(config.get("ZIP_MAX_UNPACKED_MB", DEFAULT_MAX_UNPACKED_MB)) * MiB,
        max_ratio=MAX_RATIO,
        ratio_floor=RATIO_FLOOR,
    )


def staging_dir(upload_id: int) -> Path:
    return shared_path("uploads", str(upload_id))


def clean_file_name(name: str) -> str:
    """Return the base name of an uploaded file, safe to show and to use as a folder name."""
    base = re.split(r"[\\/]", name or "")[-1].strip()
    return base[:200] or "upload.zip"


def _stem(file_name: str) -> str:
    # A course read from an unwrapped ZIP takes its name from this folder, so keep it readable.
    stem = file_name[:-4] if file_name.lower().endswith(".zip") else file_name
    stem = _UNSAFE_STEM.sub("-", stem).strip(" .-")
    return stem[:100] or "upload"


# ---------------------------------------------------------------------------- receiving


def receive_upload(
    country: str,
    editor: User,
    file_name: str,
    source: BinaryIO | Path,
    options: dict | None = None,
) -> ContentUpload:
    """Record an upload, put its ZIP in a fresh staging folder, then unpack and check it.

    ``source`` is a stream (read up to the size limit) or a complete file on the same disk,
    which is moved rather than copied. The result of the check is flushed, not committed.
    """
    cleanup_uploads()
    upload = ContentUpload(
        country_code=country,
        editor_id=editor.id,
        file_name=clean_file_name(file_name),
        options=options or {},
        status="checking",
        report={},
    )
    db.session.add(upload)
    # Committed before the long check: a check whose worker dies stays "checking" for everyone
    # to see, and cleanup_uploads (in any worker) ends it and drops its folder.
    db.session.commit()
    folder = staging_dir(upload.id)
    # A folder left by a database that was reset would mix its files with these.
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    archive = folder / "upload.zip"
    try:
        if isinstance(source, Path):
            os.replace(source, archive)
        else:
            _copy_capped(source, archive, max_zip_bytes())
        upload.size = archive.stat().st_size
        _unpack(upload, archive)
    except ZipRefused as refusal:
        _refuse(upload, refusal)
        return upload
    check_upload(upload)
    return upload


def receive_partial(
    partial: Partial, editor: User, options: dict | None = None
) -> ContentUpload | None:
    """Check and commit a file sent in pieces once complete; a second call returns the same one."""

    def receive(path: Path) -> int:
        upload = receive_upload(partial.country, editor, partial.name, path, options)
        # Committed under the partial's lock: a "finish" sent again meanwhile waits for it,
        # then must find the check's result, not the "checking" row.
        db.session.commit()
        return upload.id

    upload_id = finish_partial(partial, receive)
    return db.session.get(ContentUpload, upload_id)


def _copy_capped(source: BinaryIO, target: Path, limit: int) -> None:
    written = 0
    try:
        with open(target, "wb") as out:
            while block := source.read(COPY_BLOCK):
                written += len(block)
                if written > limit:
                    raise ZipRefused("too_big")
                out.write(block)
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise ZipRefused("no_space") from None
        raise
    if written == 0:
        raise ZipRefused("empty")


def _unpack(upload: ContentUpload, archive: Path) -> None:
    folder = staging_dir(upload.id)
    root = folder / "files" / _stem(upload.file_name)
    extract_zip(archive, root, zip_limits())
    archive.unlink()  # the unpacked files are what is checked and published
    layout, content_root, shown = detect_layout(root, upload.country_code)
    upload.kind = "course" if layout == "course" else "content"
    upload.report = {
        "source": {
            "layout": layout,
            "root": content_root.relative_to(folder).as_posix(),
            "display": shown.relative_to(folder).as_posix(),
        }
    }


def _refuse(upload: ContentUpload, refusal: ZipRefused) -> None:
    shutil.rmtree(staging_dir(upload.id), ignore_errors=True)
    upload.status = "refused"
    upload.report = {"error": refusal.code, "detail": refusal.detail[:300]}
    db.session.flush()


# ---------------------------------------------------------------------------- unpacking


def extract_zip(archive: Path, target: Path, limits: ZipLimits) -> int:
    """Unpack ``archive`` into the new folder ``target``; return the number of files written.

    Everything that can be judged from the entry headers is judged before anything is
    written; sizes are counted again while inflating, since headers can lie. On a refusal
    ``target`` is removed.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, NotImplementedError):
        # NotImplementedError: zipfile's word for a ZIP64 record of a version it does not know.
        raise ZipRefused("not_zip") from None
    with zf:
        plan = _plan(zf, archive.stat().st_size, limits)
        _check_space(target, sum(e.info.file_size for e in plan if not e.is_folder))
        try:
            return _write(zf, plan, target, limits)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise


def _is_junk(parts: tuple[str, ...], is_folder: bool) -> bool:
    if not parts or parts[0] in JUNK_FOLDERS:
        return True
    return not is_folder and (parts[-1] in JUNK_FILES or parts[-1].startswith("._"))


def _plan(zf: zipfile.ZipFile, size: int, limits: ZipLimits) -> list[ZipEntry]:
    check = check_zip(zf, size, limits, backslash_separates=True, skip=_is_junk)
    if check.problems:
        problem = check.problems[0]
        if problem.code == TOO_MANY_FILES:
            raise ZipRefused(problem.code, str(len(zf.infolist())))
        raise ZipRefused(problem.code, problem.name if problem.name != ARCHIVE else "")
    if not any(not entry.is_folder for entry in check.entries):
        raise ZipRefused("empty")
    return check.entries


def _check_space(target: Path, needed: int) -> None:
    existing = target
    while not existing.exists():
        existing = existing.parent
    if shutil.disk_usage(existing).free < needed + FREE_SPACE_MARGIN:
        raise ZipRefused("no_space")


def _write(
    zf: zipfile.ZipFile,
    plan: list[ZipEntry],
    target: Path,
    limits: ZipLimits,
) -> int:
    target.mkdir(parents=True)
    root = os.path.realpath(target)
    total = 0
    count = 0
    for entry in plan:
        info, dest = entry.info, target.joinpath(*entry.parts)
        # The names were checked and no link is ever created, so this cannot fail; it is
        # checked anyway because a mistake here would write anywhere on the server.
        if not os.path.realpath(dest).startswith(root + os.sep):
            raise ZipRefused("unsafe_name", info.filename)
        try:
            if entry.is_folder:
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            with os.fdopen(os.open(dest, flags, 0o644), "wb") as out, zf.open(info) as source:
                size = 0
                while block := source.read(COPY_BLOCK):
                    size += len(block)
                    total += len(block)
                    if size > info.file_size or total > limits.max_unpacked:
                        raise ZipRefused("bomb", info.filename)
                    out.write(block)
            if size != info.file_size:
                raise ZipRefused("corrupt", info.filename)
            count += 1
        except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, UnicodeDecodeError):
            # UnicodeDecodeError: a local header's name that is not the UTF-8 it claims to be.
            raise ZipRefused("corrupt", info.filename) from None
        except NotImplementedError:
            raise ZipRefused("unsupported_compression", info.filename) from None
        except RuntimeError:  # zipfile's word for a password-protected entry
            raise ZipRefused("encrypted", info.filename) from None
        except OSError as error:
            if error.errno == errno.ENOSPC:
                raise ZipRefused("no_space") from None
            if error.errno in (errno.ENAMETOOLONG, errno.EEXIST, errno.ELOOP, errno.ENOTDIR):
                raise ZipRefused("unsafe_name", info.filename) from None
            # No errno: bz2's word for damaged data. EINVAL: an offset outside the archive.
            if error.errno in (None, errno.EINVAL):
                raise ZipRefused("corrupt", info.filename) from None
            raise
    return count


# ---------------------------------------------------------------------------- recognising


def _children(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith((".", "_")))


def detect_layout(root: Path, country: str) -> tuple[str, Path, Path]:
    """Recognise what an unpacked ZIP holds; return (layout, folder to read, folder shown).

    Layouts: ``country`` (a country folder), ``tree`` (folders of countries), ``module`` (one
    module folder), ``modules`` (module folders, perhaps in ``modules/``), ``course``. Paths
    in the report are shown relative to the last folder, so they read as inside the ZIP.
    """
    shown = root
    # "Compress this folder" wraps everything in one folder, sometimes two; look inside.
    while True:
        children = _children(root)
        if len(children) != 1 or not children[0].is_dir() or children[0].name == "modules":
            break
        root = children[0]
    if (root / "curriculum.toml").is_file():
        if root.name != country:
            if fmt.COUNTRY_CODE.match(root.name):
                raise ZipRefused("other_country", root.name)
            root, shown = _rename(root, country, shown)
        return "country", root.parent, shown
    countries = [d for d in _children(root) if d.is_dir() and (d / "curriculum.toml").is_file()]
    if countries:
        if not any(d.name == country for d in countries):
            raise ZipRefused("other_country", ", ".join(d.name for d in countries))
        return "tree", root, shown
    if (root / "module.toml").is_file():
        module_id = _declared_id(root / "module.toml")
        if module_id and root.name != module_id:
            root, shown = _rename(root, module_id, shown)
        return "module", root, shown
    modules_dir = root / "modules" if (root / "modules").is_dir() else root
    if any((d / "module.toml").is_file() for d in _children(modules_dir) if d.is_dir()):
        return "modules", modules_dir, shown
    if any(path.is_file() for path in root.rglob("*.md")):
        return "course", root, shown
    raise ZipRefused("unknown_kind")


def _declared_id(path: Path) -> str:
    """Return the module id a module.toml declares, if it is a valid one (else '')."""
    try:
        value = tomllib.loads(path.read_text(encoding="utf-8")).get("id")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return ""
    return value if isinstance(value, str) and fmt.MODULE_ID.match(value) else ""


def _rename(folder: Path, name: str, shown: Path) -> tuple[Path, Path]:
    # The format names folders after what they hold (the country code, the module id); a ZIP
    # of the folder's contents has lost that name, so it is given back.
    target = folder.parent / name
    if target.exists():
        return folder, shown
    folder.rename(target)
    return target, target if shown == folder else shown


# ---------------------------------------------------------------------------- validating


@dataclass
class _Reading:
    tree: fmt.ContentTree
    module_dirs: list[Path]
    display_root: Path
    own_problems: list[dict]


def _read_staged(upload: ContentUpload) -> _Reading:
    folder = staging_dir(upload.id)
    source = (upload.report or {}).get("source") or {}
    if not source or not (folder / source["root"]).is_dir():
        raise ZipRefused("missing")
    layout, root = source["layout"], folder / source["root"]
    country = upload.country_code
    own: list[dict] = []
    module_dirs: list[Path] = []
    if layout in ("country", "tree"):
        tree = fmt.read_content(root, countries=[country], max_video_bytes=max_video_bytes())
        for other in _children(root):
            if other.is_dir() and other.name != country:
                own.append(_own_problem(other, "other_country_folder", other=other.name))
        modules_dir = root / country / "modules"
        if modules_dir.is_dir():
            module_dirs = [d for d in _children(modules_dir) if d.is_dir()]
        if not module_dirs and not tree.curricula.get(country):
            own.append(_own_problem(root, "no_modules"))
    else:
        curriculum = curriculum_of(country)
        if curriculum is None:
            raise ZipRefused("no_curriculum", country)
        if layout == "course":
            tree = read_course(root, curriculum, _course_options(country, upload.options))
        else:
            tree = fmt.ContentTree()
            module_dirs = (
                [root] if layout == "module" else [d for d in _children(root) if d.is_dir()]
            )
            for module_dir in module_dirs:
                module = fmt.read_module(
                    module_dir, curriculum, tree.problems, max_video_bytes=max_video_bytes()
                )
                if module is not None:
                    tree.modules.append(module)
            if not module_dirs:
                own.append(_own_problem(root, "no_modules"))
    return _Reading(tree, module_dirs, folder / source["display"], own)


def _course_options(country: str, options: dict) -> CourseOptions:
    return CourseOptions(
        country=country,
        levels=[str(level) for level in options.get("levels", [])],
        subject=str(options.get("subject", "")),
        licence=str(options.get("licence") or "CC-BY-SA-4.0"),
        id_prefix=str(options.get("id_prefix", "")),
        competencies=[str(code) for code in options.get("competencies", [])],
    )


def _own_problem(path: Path, code: str, field: str = "", **params: str) -> dict:
    return {"path": str(path), "line": None, "field": field, "message": "", "code": code, **params}


def check_upload(upload: ContentUpload) -> ContentUpload:
    """Validate the staged files without loading them, and keep the report on the upload."""
    try:
        reading = _read_staged(upload)
    except ZipRefused as refusal:
        _refuse(upload, refusal)
        return upload
    tree, display = reading.tree, reading.display_root
    own = list(reading.own_problems)
    auto_version = upload.kind == "course"
    modules, notes = [], []
    existing = {
        row.uid: row
        for row in db.session.scalars(
            select(Module).where(Module.uid.in_([m.id for m in tree.modules]))
        )
    }
    for module in tree.modules:
        loaded = existing.get(module.id)
        where = _module_file(module, reading, upload.kind)
        if loaded is not None and loaded.country_code != module.country:
            own.append(_own_problem(where, "id_taken", "id", other=loaded.country_code))
            continue
        base = base_snapshot(loaded) if loaded is not None else None
        # Editors raise the version when they curate; a file of the version they started from
        # is not older, and what they curated is kept (``keep_curated``).
        curated_since = base is not None and base["version"] < loaded.version
        if (
            loaded is not None
            and not auto_version
            and loaded.version > module.version
            and not (curated_since and module.version >= base["version"])
        ):
            own.append(
                _own_problem(
                    where,
                    "version_older",
                    "version",
                    loaded=str(loaded.version),
                    given=str(module.version),
                )
            )
            continue
        fingerprint = module.fingerprint()
        found: list[dict] = []
        if loaded is None:
            state = "new"
        elif keep_curated(loaded, module).fingerprint() == loaded.fingerprint and (
            auto_version or loaded.version == module.version or curated_since
        ):
            # What differs, if anything, is what editors curated: kept unless the file is taken.
            state = "unchanged"
            found = [d.to_data() for d in differences(loaded, module)]
        else:
            state = "changed"
            found = [d.to_data() for d in differences(loaded, module)]
            if not auto_version and loaded.version == module.version and not curated_since:
                notes.append(
                    {"code": "version_not_raised", "module": module.id, "version": module.version}
                )
        modules.append(
            {
                "id": module.id,
                "title": module.title.get(module.language) or next(iter(module.title.values()), ""),
                "lang": module.language,
                "version": module.version,
                "lessons": len(module.lessons),
                "state": state,
                "differences": found,
                "curated": any(d["curated"] for d in found),
                "fingerprint": fingerprint,
            }
        )
    valid_ids = {m["id"] for m in modules}
    invalid = []
    for module_dir in reading.module_dirs:
        if module_dir.name in valid_ids:
            continue
        count = len(ProblemList(tree.problems).under(module_dir)) + sum(
            1
            for p in own
            if Path(p["path"]).is_relative_to(module_dir)  # not ml-math-2 for ml-math
        )
        invalid.append(
            {"id": module_dir.name, "path": _shown(module_dir, display), "problems": count}
        )
    curriculum = None
    if upload.country_code in tree.curricula:
        new = tree.curricula[upload.country_code]
        loaded_curriculum = curriculum_of(upload.country_code)
        curriculum = {
            "code": new.code,
            "state": "new"
            if loaded_curriculum is None
            else "unchanged"
            if loaded_curriculum.fingerprint() == new.fingerprint()
            else "changed",
        }
    problems = [_problem_dict(p, display) for p in tree.problems] + [
        {**p, "path": _shown(Path(p["path"]), display)} for p in own
    ]
    skipped = [_problem_dict(p, display) for p in getattr(tree, "skipped", [])]
    undescribed = [_problem_dict(p, display) for p in getattr(tree, "undescribed", [])]
    upload.report = {
        "source": upload.report["source"],
        "problems": problems,
        "skipped": skipped,
        "undescribed": undescribed,
        "notes": notes,
        "modules": modules,
        "invalid_modules": invalid,
        "curriculum": curriculum,
    }
    upload.status = "problems" if problems else "valid"
    db.session.flush()
    return upload


def _module_file(module: model.Module, reading: _Reading, kind: str) -> Path:
    if kind == "course":
        return reading.display_root
    for module_dir in reading.module_dirs:
        if module_dir.name == module.id:
            return module_dir / "module.toml"
    return reading.display_root


def _shown(path: Path, display_root: Path) -> str:
    """Return a path as it reads inside the ZIP; never a path of the server."""
    try:
        relative = path.relative_to(display_root).as_posix()
    except ValueError:
        return path.name
    return "" if relative == "." else relative


def _problem_dict(problem: Problem, display_root: Path) -> dict:
    path = Path(problem.path)
    return {
        "path": _shown(path, display_root) if path.is_absolute() else problem.path,
        "line": problem.line,
        "field": problem.field,
        "message": problem.message,
        **({"code": problem.code, "values": problem.values} if problem.code else {}),
    }


def recheck_course(upload: ContentUpload, options: dict) -> ContentUpload:
    """Read a course upload again with other options (level, subject …), without re-sending it."""
    if upload.kind != "course" or not upload.publishable:
        raise PublishRefused("not_publishable")
    upload.options = options
    return check_upload(upload)


# ---------------------------------------------------------------------------- publishing


def publish_upload(
    upload: ContentUpload, editor: User, valid_only: bool, choices: dict[str, str] | None = None
) -> LoadReport:
    """Load the upload's modules; with problems, only when ``valid_only`` asks for the valid ones.

    ``choices`` says, per module id, what to do with a module editors curated here: "keep"
    the curated fields (the default: sending the same file again undoes nothing), take the
    "file" as it is, or "skip" the module. Each module written gets a version in its history
    naming this upload and ``editor``.

    The staged files are dropped afterwards: what was loaded is in the database and the blob
    store, and the rest has to be fixed and sent again anyway.

    Commits itself, as a protocol between workers: the claim ("publishing") is committed so no
    other worker publishes the same upload, a failure commits its release, and the staged
    files are dropped only once what was loaded from them is committed. Then the search
    index follows. Anything the caller had pending in the session is committed with the claim.
    """
    if not upload.publishable:
        raise PublishRefused("not_publishable")
    if any(choice not in CHOICES for choice in (choices or {}).values()):
        raise PublishRefused("unknown_choice")
    if upload.problems and not valid_only:
        raise PublishRefused("has_problems")
    if not upload.valid_modules and not (upload.report or {}).get("curriculum"):
        raise PublishRefused("nothing_valid")
    previous = upload.status
    # One publication per upload, even when the button is pressed twice or in two workers.
    claimed = db.session.execute(
        update(ContentUpload)
        .where(ContentUpload.id == upload.id, ContentUpload.status == upload.status)
        .values(status="publishing", published_at=datetime.now(UTC))
    ).rowcount
    db.session.commit()
    if not claimed:
        raise PublishRefused("not_publishable")
    try:
        reading = _read_staged(upload)
    except ZipRefused:
        upload.status, upload.published_at = "expired", None
        db.session.commit()
        raise PublishRefused("missing") from None
    wanted = {m["id"] for m in upload.valid_modules}
    tree = fmt.ContentTree(
        curricula=dict(reading.tree.curricula),
        modules=apply_choices(
            [m for m in reading.tree.modules if m.id in wanted],
            choices or {},
            auto_version=upload.kind == "course",
        ),
    )
    try:
        report = load_tree(tree, auto_version=upload.kind == "course")
        origin = f"upload {upload.id}: {upload.file_name}"
        for module in db.session.scalars(select(Module).where(Module.uid.in_(report.written))):
            record_version(module, "upload", editor, origin)
    except BaseException:
        db.session.rollback()
        upload.status, upload.published_at = previous, None
        db.session.commit()
        raise
    upload.status = "published"
    upload.published_at = datetime.now(UTC)
    upload.published_by_id = editor.id
    upload.report = {
        **upload.report,
        "published": {
            "valid_only": bool(valid_only and upload.problems),
            "countries_added": report.countries_added,
            "countries_updated": report.countries_updated,
            "modules_added": report.modules_added,
            "modules_updated": report.modules_updated,
            "modules_unchanged": report.modules_unchanged,
            "lessons_loaded": report.lessons_loaded,
            "problems": [_problem_dict(p, reading.display_root) for p in report.problems],
            "notes": list(report.notes),
        },
    }
    db.session.commit()
    shutil.rmtree(staging_dir(upload.id) / "files", ignore_errors=True)
    if report.changed:
        sync_index()  # after the commit: the index follows the database
    return report


# ---------------------------------------------------------------------------- lists and cleanup


def uploads_of(country: str, limit: int = 30) -> list[ContentUpload]:
    return list(
        db.session.scalars(
            select(ContentUpload)
            .filter_by(country_code=country)
            .order_by(ContentUpload.created_at.desc(), ContentUpload.id.desc())
            .limit(limit)
        )
    )


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone-aware columns; they were UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cleanup_uploads(now: datetime | None = None) -> int:
    """Drop staged files nobody published; undo checks and publications whose worker died.

    Returns how many uploads were touched. Runs at each new upload: no scheduler needed.
    """
    now = now or datetime.now(UTC)
    expire_partials(now)
    count = 0
    rows = db.session.scalars(
        select(ContentUpload).where(
            ContentUpload.status.in_(("checking", "valid", "problems", "publishing"))
        )
    )
    for upload in rows:
        age = now - _aware(upload.created_at)
        if upload.status == "publishing":
            if upload.published_at and now - _aware(upload.published_at) > CHECK_TIMEOUT:
                # Loading is an upsert: publishing again later finishes the job.
                upload.status = "problems" if upload.problems else "valid"
                upload.published_at = None
                count += 1
            continue
        if upload.status == "checking" and age > CHECK_TIMEOUT:
            upload.status, upload.report = "refused", {"error": "interrupted", "detail": ""}
        elif upload.status in ("valid", "problems") and age > STAGED_LIFETIME:
            upload.status = "expired"
        else:
            continue
        shutil.rmtree(staging_dir(upload.id), ignore_errors=True)
        count += 1
    db.session.flush()
    return count
