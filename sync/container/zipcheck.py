"""Judge a ZIP archive's entries from their headers, before a byte of them is inflated.

One checker for every ZIP that arrives from outside: bundles, submission packages and the
national team's content uploads. It refuses what could write outside the target folder or
trouble a file system (absolute names, drive letters, ``..``, control characters, links,
devices), what cannot be read (encrypted entries), names given twice (one would silently
replace the other), entries that claim more data than the file holds (overlapping entries:
the classic way to make a small file inflate to terabytes) and, within the caller's limits,
too many entries, too much declared data and compression ratios no real file reaches.

Each problem has a ``code`` (what the caller shows or maps to its own error), the entry's name
and a ``reason`` in words. Headers can lie about sizes: whoever inflates an entry must still
stop at its declared size.
"""

from __future__ import annotations

import re
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

# Problem codes.
UNSAFE_NAME = "unsafe_name"
LINK = "link"
SPECIAL = "special"
ENCRYPTED = "encrypted"
DUPLICATE = "duplicate"
BOMB = "bomb"
TOO_MANY_FILES = "too_many_files"
TOO_LARGE_UNPACKED = "too_large_unpacked"

ARCHIVE = "(archive)"  # the name given to problems of the whole archive
UTF8_FLAG = 0x800
ENCRYPTED_FLAG = 0x1
MSDOS_FOLDER = 0x10
MAX_NAME_PART_BYTES = 255  # the longest file name most file systems take
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ZipLimits:
    """What a caller allows beyond safety; None means no limit."""

    max_files: int | None = None
    max_unpacked: int | None = None  # bytes, all files' declared sizes together
    max_ratio: int | None = None  # of an entry's declared size to its compressed size
    ratio_floor: int = 0  # entries this small are not judged by their ratio


@dataclass(frozen=True)
class ZipEntry:
    """An entry that passed every check."""

    info: zipfile.ZipInfo
    name: str  # as the archiver meant it (see ``entry_name``)
    parts: tuple[str, ...]  # the path's parts, without empty and ``.`` parts
    is_folder: bool


@dataclass(frozen=True)
class ZipProblem:
    """Why an entry, or the whole archive (``name`` is ``ARCHIVE``), is refused."""

    code: str
    name: str
    reason: str


@dataclass
class ZipCheck:
    """The verdict on an archive: the entries that passed and every problem found."""

    entries: list[ZipEntry]
    problems: list[ZipProblem]


def entry_name(info: zipfile.ZipInfo) -> str:
    """Return an entry's name as the archiver meant it."""
    name = info.filename
    if not info.flag_bits & UTF8_FLAG:
        # Many archivers write UTF-8 names without setting the flag, so Python reads them as
        # CP437 ("Ã©" for "é"); undo that when the bytes are valid UTF-8.
        try:
            name = name.encode("cp437").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass
    return name


def name_problem(name: str, backslash_separates: bool = False) -> str | None:
    """Return why ``name`` is unsafe as a path inside a folder, or None when it is safe.

    Some Windows tools write backslashes as separators: with ``backslash_separates`` they are
    judged as such, otherwise a backslash is itself refused.
    """
    if "\x00" in name:
        return "contains a NUL character"
    if any(ord(char) < 32 for char in name):
        return "contains a control character"
    if "\\" in name and not backslash_separates:
        return "contains a backslash"
    posix = name.replace("\\", "/")
    if posix.startswith("/"):
        return "is an absolute path"
    if _DRIVE.match(posix):
        return "starts with a drive letter"
    parts = posix.split("/")
    if ".." in parts:
        return "tries to climb out of its folder with .."
    if any(len(part.encode("utf-8")) > MAX_NAME_PART_BYTES for part in parts):
        return f"has a part longer than {MAX_NAME_PART_BYTES} bytes"
    return None


def path_parts(name: str) -> tuple[str, ...]:
    """Return the parts of a safe entry name, backslashes counted as separators."""
    return tuple(part for part in name.replace("\\", "/").split("/") if part not in ("", "."))


def kind_problem(info: zipfile.ZipInfo) -> ZipProblem | None:
    """Return the problem of an entry that is a link or a device rather than a file or folder."""
    # The Unix file type, when the archiver recorded one; many leave it out (Python's own
    # writer does), and then only the name says whether an entry is a folder.
    file_type = stat.S_IFMT(info.external_attr >> 16)
    if file_type == stat.S_IFLNK:
        return ZipProblem(LINK, info.filename, "is a symbolic link")
    if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
        return ZipProblem(SPECIAL, info.filename, "is not a plain file")
    if info.flag_bits & ENCRYPTED_FLAG:
        return ZipProblem(ENCRYPTED, info.filename, "is encrypted")
    return None


def is_folder(info: zipfile.ZipInfo, name: str) -> bool:
    """Tell whether an entry is a folder (by its name, its Unix type or its MS-DOS attribute)."""
    return (
        name.endswith(("/", "\\"))
        or stat.S_ISDIR(info.external_attr >> 16)
        or bool(info.external_attr & MSDOS_FOLDER)
    )


def overlapping(infos: list[zipfile.ZipInfo], archive_size: int) -> bool:
    """Tell whether the entries claim more compressed data than the archive holds."""
    return sum(info.compress_size for info in infos) > archive_size


def check_zip(
    zf: zipfile.ZipFile,
    archive_size: int,
    limits: ZipLimits | None = None,
    *,
    backslash_separates: bool = False,
    skip: Callable[[tuple[str, ...], bool], bool] | None = None,
) -> ZipCheck:
    """Check every entry of ``zf`` from its headers; list each entry's first problem.

    ``skip(parts, is_folder)`` drops entries the caller never uses (an archiver's leftovers)
    once their name is known to be safe.
    """
    limits = limits or ZipLimits()
    infos = zf.infolist()
    check = ZipCheck([], [])
    if limits.max_files is not None and len(infos) > limits.max_files:
        check.problems.append(ZipProblem(TOO_MANY_FILES, ARCHIVE, f"has {len(infos)} entries"))
        return check
    files: set[tuple[str, ...]] = set()
    folders: set[tuple[str, ...]] = set()
    declared = 0
    for info in infos:
        name = entry_name(info)
        reason = name_problem(name, backslash_separates)
        if reason is not None:
            check.problems.append(ZipProblem(UNSAFE_NAME, name, reason))
            continue
        parts = path_parts(name)
        folder = is_folder(info, name)
        if skip is not None and skip(parts, folder):
            continue
        problem = kind_problem(info)
        if problem is not None:
            check.problems.append(ZipProblem(problem.code, name, problem.reason))
            continue
        parents = {parts[:i] for i in range(1, len(parts))}
        if parts in files or (not folder and parts in folders) or parents & files:
            check.problems.append(ZipProblem(DUPLICATE, name, "appears twice in the archive"))
            continue
        folders.update(parents)
        if folder:
            folders.add(parts)
        else:
            files.add(parts)
            declared += info.file_size
            if limits.max_unpacked is not None and declared > limits.max_unpacked:
                check.problems.append(
                    ZipProblem(TOO_LARGE_UNPACKED, ARCHIVE, f"declares more than {declared} bytes")
                )
                return check
            if (
                limits.max_ratio is not None
                and info.file_size > limits.ratio_floor
                and info.file_size > limits.max_ratio * max(info.compress_size, 1)
            ):
                check.problems.append(
                    ZipProblem(
                        BOMB,
                        name,
                        f"{info.compress_size} bytes of compressed data claim to hold "
                        f"{info.file_size}",
                    )
                )
                continue
        check.entries.append(ZipEntry(info, name, parts, folder))
    if overlapping(infos, archive_size):
        check.problems.append(
            ZipProblem(
                BOMB, ARCHIVE, "its entries claim more data than the file holds (overlapping)"
            )
        )
    return check
