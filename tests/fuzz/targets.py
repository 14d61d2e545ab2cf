"""Every parser of outside input, as a fuzz target: bytes in, its documented error or nothing out.

A target raises only what its parser documents (``expected``); anything else escaping it (a
``RecursionError``, a ``ValueError``, a ``KeyError`` …) is a crash. ``seeds`` are valid inputs
that mutations start from, so the fuzzer gets past the first checks. Used by the short runs of
the test suite (``test_fuzz.py``) and the long ones of ``bench/fuzz.py``.

Container targets write the input to a file of their workspace: bundles and packages are read
from files, as from a USB stick. The ``*_signed`` targets treat the input as a manifest, sign it
with a trusted key and put it in a real container, so the fuzzer reaches everything that comes
after the signature.
"""

from __future__ import annotations

import io
import random
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

from PIL import Image

from imaginecole.curriculum.operations import check_toml, decode_upload
from imaginecole.oai.protocol import (
    OaiError,
    Token,
    check_prefix,
    date_range,
    decode_token,
    encode_token,
    parse_request,
)
from imaginecole.rendering.images import ImageRejected, rebuild_image
from imaginecole.rendering.markdown import render_markdown
from imaginecole.search.analysis import arabic_term, english_term, french_term
from imaginecole.search.query import parse_user_query
from imaginecole.uploads.operations import ZipRefused, extract_zip
from sync.bundle import BundleError, PrivateKey, verify_bundle
from sync.bundle.manifest import parse_manifest
from sync.container.keys import Signature, load_trust, sign
from sync.container.zipcheck import ZipLimits
from sync.content import read_content
from sync.exercises import check, exercise_problems, exercises_of
from sync.markdown import first_heading, local_targets
from sync.submissions import verify_package
from sync.submissions.model import validate_text
from sync.submissions.package import load_enrolled, parse_package_manifest
from tests.conftest import EXERCISE_LESSON, TEST_CONTENT
from tests.sync.bundle.test_support import make_kit
from tests.sync.submissions.test_support import make_school

CORRECTIONS = ("none", "details", "key")
MAX_PIXELS = 4_000_000
MAX_IMAGE_BYTES = 64 * 2**20
ZIP_LIMITS = ZipLimits(max_files=200, max_unpacked=20 * 2**20, max_ratio=200, ratio_floor=4096)


@dataclass
class Target:
    name: str
    run: Callable[[bytes], object]
    expected: tuple[type[BaseException], ...] = ()
    seeds: list[bytes] = field(default_factory=list)

    def check(self, data: bytes) -> None:
        """Run the target on ``data``; let only an undocumented exception escape."""
        try:
            self.run(data)
        except self.expected:
            pass


def text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


# ---------------------------------------------------------------------------- containers


class Workspace:
    """Files the container targets read and write; one set per process."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.kit = make_kit(root / "bundle")
        self.bundle = self.kit.build()
        (root / "school").mkdir(exist_ok=True)
        self.school = make_school(root / "school")
        self.package = self.school.package([self.school.sample()])
        self.input = root / "input"

    def write(self, data: bytes, name: str) -> Path:
        path = self.root / name
        path.write_bytes(data)
        return path

    def with_manifest(self, source: Path, manifest: bytes, key: PrivateKey, name: str) -> Path:
        """Return ``source`` with ``manifest`` as its manifest, signed with ``key``."""
        target = self.root / name
        with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
            for info in old.infolist():
                if info.filename == "manifest.json":
                    new.writestr(info, manifest)
                elif info.filename == "signature.json":
                    new.writestr(info, sign(manifest, key).to_json_bytes())
                else:
                    new.writestr(info, old.read(info))
        return target


def _entry(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name)


def _verify_bundle(workspace: Workspace, path: Path) -> None:
    # verify lists every problem and never raises: a BundleError escaping it is a crash too.
    verdict = verify_bundle(path, workspace.kit.trust)
    assert isinstance(verdict.ok, bool)
    verify_bundle(path)  # with no trust file: the key the bundle carries


def _upload_zip(workspace: Workspace, data: bytes) -> None:
    archive = workspace.write(data, "upload.zip")
    target = workspace.root / "unpacked"
    shutil.rmtree(target, ignore_errors=True)
    try:
        extract_zip(archive, target, ZIP_LIMITS)
    except ZipRefused:
        return
    # What was unpacked is read as content: every problem is reported, none raised.
    read_content(target)


def _image(data: bytes) -> None:
    rebuilt = rebuild_image(data, MAX_PIXELS, MAX_IMAGE_BYTES)
    assert rebuilt.data


def _markdown(data: bytes) -> None:
    markdown = text(data)
    render_markdown(markdown)
    first_heading(markdown)
    local_targets(markdown)


def _exercises(data: bytes) -> None:
    # The lesson is the input; its lines are also posted as every exercise's answers.
    markdown = text(data)
    exercise_problems(markdown)
    # One way of showing corrections per input, picked from the input so that a crash replays:
    # rendering all three tripled the cost of every input for little new code reached.
    render_markdown(markdown, corrections=CORRECTIONS[len(data) % len(CORRECTIONS)])
    answers = markdown.split("\n")[:50]
    for block in exercises_of(markdown):
        if block.exercise is not None:
            check(block.exercise, {name: answers for name in block.exercise.field_names()})


def _exercise_seeds() -> list[bytes]:
    # The whole lesson, and each exercise alone: small seeds make every input cheaper to run.
    lesson = (EXERCISE_LESSON / "09-exercices.md").read_bytes()
    fence = b"```exercice"
    blocks = [fence + part.split(b"```\n")[0] + b"```\n" for part in lesson.split(fence)[1:]]
    return [lesson, *blocks]


def _oai_request(data: bytes) -> None:
    # The input is a query string, read as Werkzeug reads a request's arguments for the page.
    arguments = parse_qs(text(data), keep_blank_values=True)
    request = parse_request(arguments)
    given = request.arguments
    if "resumptionToken" in given:
        decode_token(given["resumptionToken"])
        return
    if "metadataPrefix" in given:
        check_prefix(given["metadataPrefix"])
    date_range(given.get("from"), given.get("until"))


def _curriculum_file(data: bytes) -> None:
    text, problems = decode_upload(data)
    if text is not None:
        curriculum, problems = check_toml("zz", text)
        assert (curriculum is None) == bool(problems)


def _search_query(data: bytes) -> None:
    words, phrases = parse_user_query(text(data))
    for word in words + phrases:
        french_term(word), english_term(word), arabic_term(word)


def _image_seeds() -> list[bytes]:
    seeds = []
    for fmt, mode in (("PNG", "RGBA"), ("JPEG", "RGB"), ("GIF", "P"), ("WEBP", "RGB")):
        buffer = io.BytesIO()
        Image.new(mode, (12, 9)).save(buffer, fmt)
        seeds.append(buffer.getvalue())
    return seeds


def _zip_seed(workspace: Workspace) -> bytes:
    buffer = io.BytesIO()
    module = workspace.kit.content / "zz" / "modules" / "zz-sciences-eau"
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(module.rglob("*")):
            archive.write(path, "zz-sciences-eau/" + str(path.relative_to(module)))
    return buffer.getvalue()


def make_targets(root: Path) -> list[Target]:
    """Return every target, with its workspace under ``root``."""
    ws = Workspace(root)
    trust_file = ws.write(ws.kit.trust.to_toml().encode(), "trust.toml")
    enrolment_file = ws.write(ws.school.enrolled.to_toml().encode(), "enrolment.toml")
    bundle_manifest = _entry(ws.bundle, "manifest.json")
    package_manifest = _entry(ws.package, "manifest.json")
    return [
        Target(
            "signature",
            Signature.from_json_bytes,
            (BundleError,),
            [_entry(ws.bundle, "signature.json")],
        ),
        Target("bundle_manifest", parse_manifest, (BundleError,), [bundle_manifest]),
        Target("package_manifest", parse_package_manifest, (BundleError,), [package_manifest]),
        Target(
            "trust_file",
            lambda data: load_trust(ws.write(data, "fuzzed-trust.toml")),
            (BundleError,),
            [trust_file.read_bytes()],
        ),
        Target(
            "enrolment_file",
            lambda data: load_enrolled(ws.write(data, "fuzzed-enrolment.toml")),
            (BundleError,),
            [enrolment_file.read_bytes()],
        ),
        Target(
            "bundle_container",
            lambda data: _verify_bundle(ws, ws.write(data, "fuzzed.icb")),
            (),
            [ws.bundle.read_bytes()],
        ),
        Target(
            "bundle_signed",
            lambda data: _verify_bundle(
                ws, ws.with_manifest(ws.bundle, data, ws.kit.key, "signed.icb")
            ),
            (),
            [bundle_manifest],
        ),
        Target(
            "package_container",
            lambda data: verify_package(ws.write(data, "fuzzed.icsub"), ws.school.enrolled),
            (BundleError,),
            [ws.package.read_bytes()],
        ),
        Target(
            "package_signed",
            lambda data: verify_package(
                ws.with_manifest(ws.package, data, ws.school.key, "signed.icsub"),
                ws.school.enrolled,
            ),
            (BundleError,),
            [package_manifest],
        ),
        Target("upload_image", _image, (ImageRejected,), _image_seeds()),
        Target("upload_zip", lambda data: _upload_zip(ws, data), (), [_zip_seed(ws)]),
        Target(
            "markdown",
            _markdown,
            (),
            [
                (
                    ws.kit.content / "zz/modules/zz-maths-fractions/01-lire-une-fraction.md"
                ).read_bytes()
            ],
        ),
        Target("exercises", _exercises, (), _exercise_seeds()),
        Target("search_query", _search_query, (), ['l\'éducation "les fractions" 1/2 *'.encode()]),
        Target(
            "oai_request",
            _oai_request,
            (OaiError,),
            [
                b"verb=ListRecords&metadataPrefix=oai_dc&from=2026-01-01&until=2026-12-31&set=zz",
                b"verb=ListIdentifiers&resumptionToken="
                + encode_token(Token("2026-01-01", None, "zz", "zz-maths", 10)).encode(),
                b"verb=GetRecord&identifier=oai:localhost:zz-maths-fractions&metadataPrefix=oai_dc",
            ],
        ),
        Target(
            "curriculum_file",
            _curriculum_file,
            (),
            [(TEST_CONTENT / "zz" / "curriculum.toml").read_bytes()],
        ),
        Target(
            "submission_text",
            lambda data: validate_text(data.decode("utf-8", "surrogatepass"), "title"),
            (BundleError, UnicodeDecodeError),
            ["Les fractions au marché".encode()],
        ),
    ]


# ---------------------------------------------------------------------------- mutations

INTERESTING = [b"\x00", b"\xff", b"\x7f", b"\x80", b"[", b"{", b"}", b"]", b'"', b"\\", b"\n"]
INTERESTING += [b"0", b"-1", b"1e999", b"NaN", b"null", b"true", b"\xff\xff\xff\xff"]
INTERESTING += [b"[" * 2000, b"{" * 2000, b"a=[" * 1500, b">" * 500, b"PK\x03\x04", b"PK\x01\x02"]


def mutate(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    """Return ``data`` changed in one to four random ways (flips, insertions, cuts, splices)."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        where = rng.randint(0, len(out))
        kind = rng.randrange(7)
        if kind == 0 and out:  # flip bits
            index = min(where, len(out) - 1)
            out[index] ^= 1 << rng.randrange(8)
        elif kind == 1:  # insert random bytes
            out[where:where] = rng.randbytes(rng.randint(1, 8))
        elif kind == 2:  # insert a value parsers treat specially
            out[where:where] = rng.choice(INTERESTING)
        elif kind == 3 and out:  # cut a piece out
            out[where : where + rng.randint(1, 64)] = b""
        elif kind == 4 and out:  # repeat a piece
            start = rng.randrange(len(out))
            piece = out[start : start + rng.randint(1, 32)]
            out[where:where] = piece * rng.randint(1, 8)
        elif kind == 5:  # splice with another seed
            other = rng.choice(seeds)
            start = rng.randrange(len(other) + 1)
            out[where:] = other[start : start + rng.randint(0, 256)]
        elif kind == 6 and out:  # overwrite a byte with a boundary value
            out[min(where, len(out) - 1)] = rng.choice((0, 1, 0x7F, 0x80, 0xFE, 0xFF))
    return bytes(out)
