"""The one ZIP checker every archive from outside goes through (sync.container.zipcheck)."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest

from sync.container.zipcheck import (
    ARCHIVE,
    BOMB,
    DUPLICATE,
    ENCRYPTED,
    LINK,
    SPECIAL,
    TOO_LARGE_UNPACKED,
    TOO_MANY_FILES,
    UNSAFE_NAME,
    ZipCheck,
    ZipLimits,
    check_zip,
    name_problem,
    path_parts,
)


def archive(*entries: tuple[str | zipfile.ZipInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in entries:
            out.writestr(name, data)
    return buffer.getvalue()


def check(payload: bytes, limits: ZipLimits | None = None, **options) -> ZipCheck:
    with zipfile.ZipFile(io.BytesIO(payload)) as zf:
        return check_zip(zf, len(payload), limits, **options)


def codes(result: ZipCheck) -> list[str]:
    return [problem.code for problem in result.problems]


def typed_entry(name: str, file_type: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (file_type | 0o777) << 16
    return info


def test_safe_names_give_their_parts():
    for name in ("a/./b.md", "a//b.md"):
        assert name_problem(name) is None
        assert path_parts(name) == ("a", "b.md")
    assert name_problem("a\\b.md", backslash_separates=True) is None
    assert path_parts("a\\b.md") == ("a", "b.md")


@pytest.mark.parametrize(
    "name", ["../x", "a/../../x", "/x", "C:x", "C:\\x", "a\\..\\..\\x", "a\x00b", "a\x07b"]
)
def test_names_that_could_leave_the_folder_are_refused(name):
    assert name_problem(name, backslash_separates=True) is not None
    assert name_problem(name) is not None


def test_a_backslash_is_refused_unless_it_separates():
    assert name_problem("blobs\\x") == "contains a backslash"
    assert name_problem("blobs\\x", backslash_separates=True) is None


def test_a_name_part_longer_than_file_systems_take_is_refused():
    assert "255 bytes" in (name_problem("a/" + "é" * 128) or "")


def test_a_good_archive_has_no_problem():
    result = check(archive(("a/", b""), ("a/b.md", b"# b\n"), ("c.md", b"# c\n")))
    assert result.problems == []
    assert [(e.parts, e.is_folder) for e in result.entries] == [
        (("a",), True),
        (("a", "b.md"), False),
        (("c.md",), False),
    ]


def test_links_devices_and_encrypted_entries_are_refused():
    result = check(
        archive(
            (typed_entry("link", stat.S_IFLNK), b"/etc/passwd"),
            (typed_entry("fifo", stat.S_IFIFO), b""),
            ("ok.md", b"ok"),
        )
    )
    assert codes(result) == [LINK, SPECIAL]
    assert [p.reason for p in result.problems] == ["is a symbolic link", "is not a plain file"]
    encrypted = bytearray(archive(("secret.md", b"x")))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        encrypted[encrypted.index(signature) + offset] |= 0x1  # the "encrypted" flag
    assert codes(check(bytes(encrypted))) == [ENCRYPTED]


def test_each_entry_reports_its_first_problem_and_the_others_are_still_checked():
    result = check(archive(("../a", b""), ("ok.md", b""), ("/b", b"")))
    assert [(p.code, p.name) for p in result.problems] == [
        (UNSAFE_NAME, "../a"),
        (UNSAFE_NAME, "/b"),
    ]
    assert [e.name for e in result.entries] == ["ok.md"]


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize(
    "entries",
    [
        (("a.md", b"1"), ("a.md", b"2")),
        (("a", b"1"), ("a/b.md", b"2")),  # a file where a folder is needed
        (("a/b.md", b"1"), ("a", b"2")),
        (("a\\b.md", b"1"), ("a/b.md", b"2")),
    ],
)
def test_a_name_given_twice_is_refused(entries):
    assert codes(check(archive(*entries), backslash_separates=True)) == [DUPLICATE]


def test_overlapping_entries_are_refused():
    payload = archive(("a.md", bytes(range(256)) * 64))
    with zipfile.ZipFile(io.BytesIO(payload)) as zf:
        info = zf.infolist()[0]
        # Two directory entries for the same data: the archive claims twice what it holds.
        twin = zipfile.ZipInfo("b.md")
        twin.compress_size, twin.file_size = info.compress_size, info.file_size
        zf.filelist.append(twin)
        result = check_zip(zf, len(payload))
    assert [(p.code, p.name) for p in result.problems] == [(BOMB, ARCHIVE)]
    assert "overlapping" in result.problems[0].reason


def test_limits_on_count_size_and_ratio():
    zeros = archive(("zeros.md", bytes(4 * 1024 * 1024)))
    assert codes(check(zeros, ZipLimits(max_ratio=200, ratio_floor=1024 * 1024))) == [BOMB]
    assert codes(check(zeros, ZipLimits(max_ratio=200, ratio_floor=8 * 1024 * 1024))) == []
    assert codes(check(zeros, ZipLimits(max_unpacked=1024 * 1024))) == [TOO_LARGE_UNPACKED]
    two = archive(("a.md", b"a"), ("b.md", b"b"))
    assert codes(check(two, ZipLimits(max_files=1))) == [TOO_MANY_FILES]
    assert codes(check(two, ZipLimits(max_files=2))) == []


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_skipped_entries_are_neither_checked_nor_returned():
    payload = archive(("__MACOSX/._a.md", b""), ("a.md", b"a"), ("a.md", b"again"))
    result = check(payload, skip=lambda parts, is_folder: parts[0] == "__MACOSX")
    assert [e.name for e in result.entries] == ["a.md"]
    assert codes(result) == [DUPLICATE]


def test_utf8_names_written_without_their_flag_are_read_as_meant():
    # Written as ASCII, then given UTF-8 bytes: no flag says they are UTF-8.
    payload = archive(("xx.md", b"x")).replace(b"xx.md", "é.md".encode())
    assert [e.name for e in check(payload).entries] == ["é.md"]
