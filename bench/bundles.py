"""Measure bundles: build and import throughput next to a plain ``cp -r``, sizes, and deltas.

For each data set a national instance is set up in a fresh temporary folder with the real
commands, then, in this process, with the app's own services:

* **raw content**: the distinct media files the published modules reference (their bytes, each
  counted once) plus the UTF-8 bytes of every lesson text (Markdown, every language): what a
  bundle has to carry, before any container or compression;
* **build** a full bundle (``build_country_bundle``): seconds, and MB/s over the bundle's size;
* **cp -r** of a folder holding exactly the bundle's blobs (the national store's files of those
  modules, hard-linked, plus the Markdown blobs taken out of the bundle), in the same run, after
  the same ``sync``; also the ``sync`` that follows, since an import flushes every file it
  writes (``fsync``) and ``cp`` does not;
* **import** into a fresh school instance whose trust file holds the national key
  (``import_bundle`` in this process): seconds and MB/s over the bundle's size, split into
  ``stage_bundle`` (checks, copy, hash, fsync; the lessons are rendered and, while the copy
  lasts, indexed meanwhile, as a second process copies the media), image variants (made only
  for images that come without them: ``make_variants``), writing them, the modules' history
  (``record_version``), Markdown rendering left for later, the search index after the commit,
  and the rest (database);
* **verify** the bundle (``verify_bundle`` with the school's trust file);
* **delta**: a seeded random 2 % of the lessons get one sentence more, through the national's
  database (the module is read back as plain data, edited, and loaded again with a new
  version, as a re-import would), then a delta ``--since 1`` is built and imported.

Data sets: the real corpus (the France curriculum of ``content/`` and the four course sites of
``../shared/corpus`` through ``imaginecole content import-course``), and with ``--all`` a
synthetic set of about 1 GB for the fictional country ``zz``: Markdown lessons linking
random, incompressible, seeded PDFs, and a few JPEGs of noise so images are handled too.
MB means 10^6 bytes. The page cache is warm for every read (``--cold``, as root, adds a run
that drops it first): the figures are those of this machine's disk and CPUs, not of a USB
stick. Writing to a disk takes a time that varies from
one run to the next, so ``cp -r`` and the full import are run in turn ``--rounds`` times (each
import into a fresh school) and the medians are reported, with the fastest and slowest round.

    .venv/bin/python bench/bundles.py --quick
    .venv/bin/python bench/bundles.py --all --json bundle-figures.json

Everything is written under one temporary folder, removed at the end, even on Ctrl+C.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import math
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

# Run as `python bench/bundles.py`: bench/common.py, beside this script, must be importable.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    CORPUS_COURSES,
    DEFAULT_CORPUS,
    REPO_ROOT,
    at_least_one,
    load_corpus,
    log,
    open_app,
    print_machine,
    remove_unless_kept,
    run_cli,
    this_machine,
    write_json,
)

sys.path.insert(0, str(REPO_ROOT))  # run as a script from anywhere

TEST_CURRICULUM = REPO_ROOT / "tests" / "data" / "content" / "zz" / "curriculum.toml"
MB = 1_000_000
GB = 1_000_000_000
SPACE_FACTOR = 4  # free space the synthetic run needs, in multiples of its size
SYNTHETIC_MODULE_BYTES = 5 * MB  # media per synthetic module
SYNTHETIC_JPEG_EVERY = 5  # one module in this many also has a photo (a JPEG of noise)
SYNTHETIC_JPEG_SIZE = (1600, 1200)
TARGET_IMPORT_VS_CP = 0.5
TARGET_DELTA_PERCENT = 5.0
WORDS = (
    "eau fraction partage unité mesure carte pluie saison récolte village marché fleuve "
    "calcul nombre triangle cercle surface volume énergie soleil plante graine racine "
    "histoire royaume frontière route commerce langue écriture lecture problème méthode "
    "exemple exercice réponse question tableau graphique donnée moyenne température climat "
    "observation expérience hypothèse résultat conclusion élève classe maître école cahier"
).split()


# ----------------------------------------------------------------------------- figures


@dataclass
class Source:
    what: str
    files: int = 0
    bytes: int = 0  # apparent size of every file
    disk_bytes: int = 0  # blocks allocated
    load_s: float = 0.0  # the national's `imaginecole content …` commands
    generate_s: float | None = None  # synthetic set only


@dataclass
class Raw:
    modules: int = 0
    lessons: int = 0
    lesson_texts: int = 0
    media_files: int = 0
    images: int = 0
    media_bytes: int = 0
    markdown_bytes: int = 0
    total_bytes: int = 0


@dataclass
class Build:
    bytes: int = 0
    entries: int = 0
    blob_bytes: int = 0  # sum of the blobs' own sizes
    manifest_json_bytes: int = 0
    manifest_zip_bytes: int | None = None  # deflated, as it sits in the bundle
    seconds: float = 0.0
    mb_per_s: float | None = None
    database_read_s: float = 0.0  # module_sources: the modules read back from the database
    write_s: float = 0.0  # build_bundle: plan, hash, sign, write the ZIP, fsync


@dataclass
class Copy:
    files: int = 0
    bytes: int = 0
    seconds: float = 0.0
    mb_per_s: float | None = None
    sync_s: float = 0.0
    with_sync_mb_per_s: float | None = None


@dataclass
class Import:
    seconds: float = 0.0
    mb_per_s: float | None = None
    stage_s: float = 0.0
    stage_mb_per_s: float | None = None
    variants_s: float = 0.0
    images: int = 0
    image_ingest_s: float = 0.0  # ingest_blob: variants plus writing them to the store
    ahead_s: float = 0.0  # render_lessons, within stage_bundle while the media are copied
    index_ahead_s: float = 0.0  # index_ahead, within stage_bundle after render_lessons
    markdown_s: float = 0.0  # render_markdown after staging (lessons not rendered ahead)
    index_s: float = 0.0  # after the commit: publishing what was indexed ahead, sync_index
    history_s: float = 0.0  # record_version: each module version the bundle brings
    other_s: float = 0.0
    served_s: float = 0.0  # import_bundle until its commit: everything but the search index
    served_mb_per_s: float | None = None
    fsync_calls: int = 0  # os.fsync anywhere in the import (SQLite's own are not counted)
    fsync_s: float = 0.0
    modules_applied: int = 0
    blobs_copied: int = 0
    bytes_copied: int = 0
    store_bytes: int = 0  # the school's blob store afterwards, variants included


@dataclass
class Verify:
    seconds: float = 0.0
    mb_per_s: float | None = None
    problems: int = 0


@dataclass
class Delta:
    percent_asked: float = 0.0
    lessons_total: int = 0
    lessons_changed: int = 0
    modules_changed: int = 0
    modules_shipped: int = 0
    edit_s: float = 0.0
    build: Build = field(default_factory=Build)
    percent_of_full: float | None = None
    markdown_blobs: int = 0
    imported: Import = field(default_factory=Import)


@dataclass
class DataSet:
    name: str
    country: str
    source: Source
    raw: Raw = field(default_factory=Raw)
    full: Build = field(default_factory=Build)
    cp: Copy = field(default_factory=Copy)  # the median of the rounds
    imported: Import = field(default_factory=Import)  # the median of the rounds
    cp_range: list[float] = field(default_factory=list)  # fastest and slowest round
    import_range: list[float] = field(default_factory=list)
    verify: Verify = field(default_factory=Verify)
    delta: Delta = field(default_factory=Delta)
    import_vs_cp: float | None = None
    served_vs_cp: float | None = None  # until the commit: the new content is served from then
    stage_vs_cp: float | None = None
    # With --cold: the page cache dropped before cp and before an import into another school.
    cold_cp: Copy | None = None
    cold_imported: Import | None = None
    cold_import_vs_cp: float | None = None
    school_modules: int = 0
    notes: list[str] = field(default_factory=list)
    skipped: str = ""


@dataclass
class Run:
    python: str
    machine: str
    cpus: int
    temp_dir: str
    seed: int
    targets: dict = field(default_factory=dict)
    sets: list[DataSet] = field(default_factory=list)
    seconds: float = 0.0


# ----------------------------------------------------------------------------- helpers


def rate(nbytes: int, seconds: float) -> float | None:
    return round(nbytes / MB / seconds, 1) if seconds > 0 else None


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def tree_size(paths: list[Path]) -> tuple[int, int, int]:
    """Return (files, apparent bytes, allocated bytes) of every regular file under ``paths``."""
    files = apparent = allocated = 0
    for root in paths:
        for folder, _, names in os.walk(root):
            for name in names:
                info = os.lstat(os.path.join(folder, name))
                if stat.S_ISREG(info.st_mode):
                    files += 1
                    apparent += info.st_size
                    allocated += info.st_blocks * 512
    return files, apparent, allocated


def close_app(app) -> None:
    """Let go of the app's database files and search index, so its folder can be removed."""
    from imaginecole.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    index = app.extensions.get("imaginecole.search")
    if index is not None:
        index.close()


@contextmanager
def timed_calls(targets: list[tuple[object, str, str]]) -> Iterator[dict[str, list[float]]]:
    """Time every call of ``owner.name`` under ``key`` ([seconds, calls]) while inside.

    Only wraps: the functions run unchanged, and are put back on the way out.
    """
    totals: dict[str, list[float]] = {key: [0.0, 0] for _, _, key in targets}
    originals = []

    def wrap(function: Callable, key: str) -> Callable:
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                totals[key][0] += time.perf_counter() - started
                totals[key][1] += 1

        return timed

    try:
        for owner, name, key in targets:
            original = getattr(owner, name)
            originals.append((owner, name, original))
            setattr(owner, name, wrap(original, key))
        yield totals
    finally:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)


def human(nbytes: int | None) -> str:
    if nbytes is None:
        return "n/a"
    if nbytes >= MB:
        return f"{nbytes / MB:.1f} MB"
    return f"{nbytes / 1000:.1f} kB"


# ----------------------------------------------------------------------------- national: corpus


def set_up_corpus(national: Path, corpus: Path, data: DataSet, timeout: float) -> None:
    """Load the France curriculum, then import the four course sites, with the real commands."""
    started = time.perf_counter()
    folders = load_corpus(national, corpus, timeout, data.notes)
    data.source.load_s = round(time.perf_counter() - started, 1)
    data.source.files, data.source.bytes, data.source.disk_bytes = tree_size(folders)


# ----------------------------------------------------------------------------- national: synthetic


MODULE_TOML = """\
id = "{uid}"
version = 1
language = "fr"
levels = ["{level}"]
subject = "{subject}"
competencies = [{competencies}]
resource_type = "lesson"
licence = "CC-BY-4.0"
keywords = ["{keyword}", "synthétique"]

[title]
fr = "Module synthétique {number}"

[summary]
fr = "Un module fabriqué pour mesurer les bundles ({number})."

[[authors]]
name = "Banc d'essai"
"""
SUBJECTS = (("mathematiques", '"ZZ-MATH-1"', "CM1"), ("sciences", '"ZZ-SCI-1"', "7e année"))


def noise(tag: str, size: int) -> bytes:
    """Seeded, incompressible bytes: the same tag always gives the same bytes."""
    return hashlib.shake_256(tag.encode()).digest(size)


def noise_jpeg(tag: str) -> bytes:
    from PIL import Image

    width, height = SYNTHETIC_JPEG_SIZE
    image = Image.frombytes("RGB", (width, height), noise(tag, width * height * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def paragraph(rng: random.Random) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(40, 90))]
    words[0] = words[0].capitalize()
    return " ".join(words) + "."


def make_synthetic(root: Path, target_bytes: int, seed: int) -> dict[str, int]:
    """Write a content tree for ``zz`` holding about ``target_bytes`` of media; return counts."""
    rng = random.Random(seed)
    country = root / "zz"
    (country / "modules").mkdir(parents=True)
    shutil.copyfile(TEST_CURRICULUM, country / "curriculum.toml")
    modules = max(1, math.ceil(target_bytes / SYNTHETIC_MODULE_BYTES))
    budget = target_bytes // modules
    counts = {"modules": modules, "lessons": 0, "pdfs": 0, "jpegs": 0, "media_bytes": 0}
    for number in range(1, modules + 1):
        uid = f"zz-synthetique-{number:04d}"
        folder = country / "modules" / uid
        (folder / "media").mkdir(parents=True)
        subject, competencies, level = SUBJECTS[number % len(SUBJECTS)]
        (folder / "module.toml").write_text(
            MODULE_TOML.format(
                uid=uid,
                number=number,
                level=level,
                subject=subject,
                competencies=competencies,
                keyword=rng.choice(WORDS),
            ),
            encoding="utf-8",
        )
        media: list[str] = []
        left = budget
        if number % SYNTHETIC_JPEG_EVERY == 1:
            data = noise_jpeg(f"{seed}:{uid}:photo")
            (folder / "media" / "photo.jpg").write_bytes(data)
            media.append("![Une photo](media/photo.jpg)")
            counts["jpegs"] += 1
            counts["media_bytes"] += len(data)
            left -= len(data)
        pdfs = rng.randint(1, 3)
        weights = [rng.uniform(0.5, 1.5) for _ in range(pdfs)]
        for index, weight in enumerate(weights, start=1):
            size = max(1024, int(left * weight / sum(weights)))
            data = b"%PDF-1.4\n" + noise(f"{seed}:{uid}:fiche-{index}", size - 9)
            (folder / "media" / f"fiche-{index}.pdf").write_bytes(data)
            media.append(f"[Fiche {index} (PDF)](media/fiche-{index}.pdf)")
            counts["pdfs"] += 1
            counts["media_bytes"] += size
        lessons = rng.randint(4, 8)
        for position in range(1, lessons + 1):
            parts = [f"# Leçon {position} : {rng.choice(WORDS)} et {rng.choice(WORDS)}", ""]
            for _ in range(rng.randint(3, 7)):
                parts += [paragraph(rng), ""]
            # Each media file is linked from one lesson, so every file travels.
            parts += [link for i, link in enumerate(media) if i % lessons == position - 1]
            (folder / f"{position:02d}-lecon-{position}.md").write_text(
                "\n".join(parts) + "\n", encoding="utf-8"
            )
        counts["lessons"] += lessons
    return counts


def set_up_synthetic(
    national: Path, work: Path, target_bytes: int, seed: int, data: DataSet, timeout: float
) -> None:
    tree = work / "synthetic-content"
    log(f"  writing about {human(target_bytes)} of synthetic content …")
    started = time.perf_counter()
    counts = make_synthetic(tree, target_bytes, seed)
    data.source.generate_s = round(time.perf_counter() - started, 1)
    data.source.files, data.source.bytes, data.source.disk_bytes = tree_size([tree])
    data.notes.append(
        f"generated {counts['modules']} modules, {counts['lessons']} lessons, {counts['pdfs']} "
        f"PDFs and {counts['jpegs']} JPEGs ({SYNTHETIC_JPEG_SIZE[0]}×{SYNTHETIC_JPEG_SIZE[1]} "
        f"noise) in {data.source.generate_s} s"
    )
    log(f"  {data.notes[-1]}")
    code, lines, seconds = run_cli(
        ["content", "load", str(tree), "--country", "zz"], national, timeout
    )
    shutil.rmtree(tree, ignore_errors=True)  # the national store holds the media now
    if code != 0:
        raise RuntimeError("`content load --country zz` failed:\n" + "\n".join(lines[-10:]))
    summary = next((line for line in lines if line.startswith("Modules:")), "")
    data.source.load_s = round(seconds, 1)
    data.notes.append(f"content load: {seconds:.1f} s. {summary}")
    log(f"  {data.notes[-1]}")


# ----------------------------------------------------------------------------- measures


def raw_content(national, country: str) -> Raw:
    """Count what the published modules are made of, as the national server holds them."""
    from imaginecole.bundles.operations import module_sources
    from sync.media import IMAGE_TYPES

    with national.app_context():
        modules = module_sources(country)
    media = {sha: blob for module in modules for sha, blob in module.blobs.items()}
    texts = [text for m in modules for lesson in m.lessons for text in lesson.texts.values()]
    raw = Raw(
        modules=len(modules),
        lessons=sum(len(m.lessons) for m in modules),
        lesson_texts=len(texts),
        media_files=len(media),
        images=sum(blob.media_type in IMAGE_TYPES for blob in media.values()),
        media_bytes=sum(blob.size for blob in media.values()),
        markdown_bytes=sum(len(text.markdown.encode("utf-8")) for text in texts),
    )
    raw.total_bytes = raw.media_bytes + raw.markdown_bytes
    return raw


def build(national, country: str, out_dir: Path, since: int | None = None):
    """Build the next bundle of ``country``; return (BuiltBundle row, manifest, Build)."""
    import sync.bundle
    from imaginecole.bundles import operations as service
    from imaginecole.bundles.keys import generate_signing_key
    from imaginecole.datadir import signing_key_path
    from imaginecole.extensions import db
    from sync.bundle import SignedArchive, parse_manifest

    with national.app_context():
        if not signing_key_path().exists():
            generate_signing_key()  # what `imaginecole keys generate` does on a real server
    os.sync()  # start from a clean disk: earlier writes are not flushed on this clock
    with (
        national.app_context(),
        timed_calls(
            [(service, "module_sources", "read"), (sync.bundle, "build_bundle", "write")]
        ) as spent,
    ):
        started = time.perf_counter()
        row = service.build_country_bundle(country, since=since, out_dir=out_dir)
        db.session.commit()
        seconds = time.perf_counter() - started
        path, size, text = Path(row.path), row.size, row.manifest
    manifest = parse_manifest(text.encode())
    figures = Build(
        bytes=size,
        entries=len(manifest.files) + 2,
        blob_bytes=sum(entry.size for entry in manifest.files.values()),
        manifest_json_bytes=len(text.encode()),
        seconds=round(seconds, 3),
        mb_per_s=rate(size, seconds),
        database_read_s=round(spent["read"][0], 3),
        write_s=round(spent["write"][0], 3),
    )
    with SignedArchive(path) as archive:
        info = archive.entries.get("manifest.json")
        figures.manifest_zip_bytes = info.compress_size if info else None
    return path, manifest, figures


def drop_page_cache() -> None:
    """Flush and forget the page cache, so the next reads come from the disk (root only)."""
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def can_drop_page_cache() -> bool:
    try:
        drop_page_cache()
    except OSError:
        return False
    return True


def copy_baseline(national, bundle: Path, manifest, work: Path, cold: bool = False) -> Copy:
    """Time ``cp -r`` of a folder holding exactly the bundle's blobs, laid out as a store.

    With ``cold``, the page cache is dropped first: the blobs are read from the disk.
    """
    from sync.bundle import SignedArchive
    from sync.storage import BlobStore

    source, target = work / "cp-source", work / "cp-target"
    layout = BlobStore(source)
    national_store = BlobStore(national.config["BLOB_DIR"])
    with SignedArchive(bundle) as archive:
        for sha, entry in sorted(manifest.files.items()):
            path = layout.path(sha)
            path.parent.mkdir(parents=True, exist_ok=True)
            if national_store.has(sha):
                try:
                    os.link(national_store.path(sha), path)  # the same bytes, no extra disk
                    continue
                except OSError:
                    pass
            with open(path, "wb") as out:  # Markdown travels as blobs: take it from the bundle
                for chunk in archive.iter_blob(sha, entry.size, entry.name):
                    out.write(chunk)
    files, nbytes, _ = tree_size([source])
    try:
        drop_page_cache() if cold else os.sync()
        started = time.perf_counter()
        subprocess.run(["cp", "-r", str(source), str(target)], check=True, timeout=3600)
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        os.sync()
        sync_seconds = time.perf_counter() - started
    finally:
        shutil.rmtree(target, ignore_errors=True)
        shutil.rmtree(source, ignore_errors=True)
        os.sync()
    return Copy(
        files=files,
        bytes=nbytes,
        seconds=round(seconds, 3),
        mb_per_s=rate(nbytes, seconds),
        sync_s=round(sync_seconds, 3),
        with_sync_mb_per_s=rate(nbytes, seconds + sync_seconds),
    )


def median_of(runs: list) -> tuple:
    """Return the run of median time (the slower middle one for an even count), and the range."""
    ordered = sorted(runs, key=lambda run: run.seconds)
    return ordered[len(ordered) // 2], [ordered[0].seconds, ordered[-1].seconds]


def make_school(school_dir: Path, national_dir: Path, country: str):
    """A fresh school instance whose trust file holds the national server's key."""
    from sync.bundle import load_public_key, trust_entry_toml

    school_dir.mkdir(parents=True)
    entry = trust_entry_toml(
        load_public_key(national_dir / "keys" / "publisher.pub"), [country], "Équipe nationale"
    )
    (school_dir / "trust.toml").write_text("format = 1\n\n" + entry, encoding="utf-8")
    return open_app(school_dir)


def import_into(school, bundle: Path, bundle_bytes: int, cold: bool = False) -> Import:
    """Import ``bundle`` with the app's service and split where the time goes.

    With ``cold``, the page cache is dropped first: the bundle is read from the disk, as from
    a stick just plugged in.
    """
    from imaginecole.bundles import operations as service
    from imaginecole.content import operations as content
    from imaginecole.media import operations as media
    from imaginecole.search.indexing import IndexAhead

    drop_page_cache() if cold else os.sync()
    with (
        school.app_context(),
        timed_calls(
            [
                (service, "stage_bundle", "stage"),
                (service, "render_lessons", "ahead"),
                (service, "index_ahead", "index ahead"),
                (IndexAhead, "publish", "publish"),
                (service, "sync_index", "index"),
                (service, "record_version", "history"),
                (content, "ingest_blob", "ingest"),
                (content, "render_markdown", "markdown"),
                (media, "make_variants", "variants"),
                (os, "fsync", "fsync"),
            ]
        ) as spent,
    ):
        started = time.perf_counter()
        report = service.import_bundle(bundle)
        seconds = time.perf_counter() - started
    _, store_bytes, _ = tree_size([Path(school.config["BLOB_DIR"])])
    stage, ingest = spent["stage"][0], spent["ingest"][0]
    index = spent["index"][0] + spent["publish"][0]
    ahead = spent["ahead"][0]
    # render_lessons is render_markdown and little else: what remains was rendered later.
    markdown = max(0.0, spent["markdown"][0] - ahead)
    return Import(
        seconds=round(seconds, 3),
        mb_per_s=rate(bundle_bytes, seconds),
        stage_s=round(stage, 3),
        stage_mb_per_s=rate(bundle_bytes, stage),
        variants_s=round(spent["variants"][0], 3),
        images=int(spent["variants"][1]),
        image_ingest_s=round(ingest, 3),
        ahead_s=round(ahead, 3),
        index_ahead_s=round(spent["index ahead"][0], 3),
        markdown_s=round(markdown, 3),
        index_s=round(index, 3),
        history_s=round(spent["history"][0], 3),
        other_s=round(seconds - stage - ingest - markdown - index - spent["history"][0], 3),
        served_s=round(seconds - index, 3),
        served_mb_per_s=rate(bundle_bytes, seconds - index),
        fsync_calls=int(spent["fsync"][1]),
        fsync_s=round(spent["fsync"][0], 3),
        modules_applied=report.modules_applied,
        blobs_copied=report.blobs_copied,
        bytes_copied=report.bytes_copied,
        store_bytes=store_bytes,
    )


def verify(school, bundle: Path, bundle_bytes: int) -> Verify:
    from imaginecole.datadir import trust_file_path
    from sync.bundle import load_trust, verify_bundle

    with school.app_context():
        trust = load_trust(trust_file_path())
    started = time.perf_counter()
    result = verify_bundle(bundle, trust)
    seconds = time.perf_counter() - started
    return Verify(round(seconds, 3), rate(bundle_bytes, seconds), len(result.problems))


SENTENCE = "\nCette phrase a été ajoutée pour mesurer une mise à jour (modification {n}).\n"


def edit_lessons(national, country: str, percent: float, seed: int, delta: Delta) -> None:
    """Add a sentence to a seeded random ``percent`` of the lessons, through the database.

    Each module touched is read back as plain data, edited and loaded again with the app's
    loader, which raises its version as a re-import of the course would.
    """
    from sqlalchemy import select

    from imaginecole.bundles.operations import module_sources, to_source
    from imaginecole.content.models import Module
    from imaginecole.content.operations import LoadReport, load_module
    from imaginecole.extensions import db
    from imaginecole.media.operations import blob_store
    from imaginecole.search.indexing import sync_index

    started = time.perf_counter()
    with national.app_context():
        lessons = [(m.id, lesson.slug) for m in module_sources(country) for lesson in m.lessons]
        count = min(len(lessons), max(1, round(len(lessons) * percent / 100)))
        chosen = random.Random(seed).sample(lessons, count)
        by_module: dict[str, set[str]] = {}
        for uid, slug in chosen:
            by_module.setdefault(uid, set()).add(slug)
        report = LoadReport()
        store = blob_store()
        for number, (uid, slugs) in enumerate(sorted(by_module.items()), start=1):
            module = db.session.scalar(select(Module).filter_by(uid=uid))
            source = to_source(module, store)
            for lesson in source.lessons:
                if lesson.slug in slugs:
                    lesson.texts[source.language].markdown += SENTENCE.format(n=number)
            load_module(source, report, auto_version=True)
        db.session.commit()
        sync_index()
    delta.lessons_total = len(lessons)
    delta.lessons_changed = count
    delta.modules_changed = report.modules_updated
    delta.edit_s = round(time.perf_counter() - started, 2)


def school_module_count(school, country: str) -> int:
    from sqlalchemy import func, select

    from imaginecole.content.models import Module
    from imaginecole.extensions import db

    with school.app_context():
        return db.session.scalar(select(func.count(Module.id)).filter_by(country_code=country))


def measure(data: DataSet, national_dir: Path, work: Path, args) -> None:
    """Everything after the national set-up: build, cp -r, import, verify, delta."""
    national = open_app(national_dir)
    school = None
    try:
        data.raw = raw_content(national, data.country)
        out = work / "bundles"
        out.mkdir()
        log("  building the full bundle …")
        full_path, full_manifest, data.full = build(national, data.country, out)
        log(f"    {human(data.full.bytes)} in {data.full.seconds:.2f} s")
        # This machine's disk writes vary a lot from one run to the next: cp -r and the import
        # are timed in turn, several rounds, each into a fresh school, and the medians kept.
        copies, imports = [], []
        for number in range(1, args.rounds + 1):
            log(f"  round {number} of {args.rounds}: cp -r of the same blobs …")
            copies.append(copy_baseline(national, full_path, full_manifest, work))
            log(f"    {copies[-1].seconds:.2f} s (+ sync {copies[-1].sync_s:.2f} s)")
            if school is not None:
                close_app(school)
                shutil.rmtree(work / "school")
            school = make_school(work / "school", national_dir, data.country)
            log("  importing into a fresh school …")
            imports.append(import_into(school, full_path, data.full.bytes))
            log(f"    {imports[-1].seconds:.1f} s (stage_bundle {imports[-1].stage_s:.1f} s)")
        data.cp, data.cp_range = median_of(copies)
        data.imported, data.import_range = median_of(imports)
        data.import_vs_cp = ratio(data.imported.mb_per_s, data.cp.mb_per_s)
        data.served_vs_cp = ratio(data.imported.served_mb_per_s, data.cp.mb_per_s)
        data.stage_vs_cp = ratio(data.imported.stage_mb_per_s, data.cp.mb_per_s)
        if args.cold:
            log("  the same with the page cache dropped first: cp -r, then an import …")
            data.cold_cp = copy_baseline(national, full_path, full_manifest, work, cold=True)
            cold_school = make_school(work / "school-cold", national_dir, data.country)
            try:
                data.cold_imported = import_into(cold_school, full_path, data.full.bytes, cold=True)
            finally:
                close_app(cold_school)
            data.cold_import_vs_cp = ratio(data.cold_imported.mb_per_s, data.cold_cp.mb_per_s)
            log(f"    cp {data.cold_cp.seconds:.2f} s, import {data.cold_imported.seconds:.1f} s")
        data.verify = verify(school, full_path, data.full.bytes)
        log(f"  verify: {data.verify.seconds:.2f} s")

        delta = data.delta
        delta.percent_asked = args.delta_percent
        edit_lessons(national, data.country, args.delta_percent, args.seed, delta)
        log(f"  lessons edited: {delta.lessons_changed}, in {delta.modules_changed} modules")
        delta_path, delta_manifest, delta.build = build(national, data.country, out, since=1)
        delta.modules_shipped = len(delta_manifest.modules)
        delta.markdown_blobs = len(delta_manifest.files)
        delta.percent_of_full = round(100 * delta.build.bytes / data.full.bytes, 3)
        log(f"  delta: {human(delta.build.bytes)} ({delta.percent_of_full} % of the full bundle)")
        delta.imported = import_into(school, delta_path, delta.build.bytes)
        log(f"  delta import: {delta.imported.seconds:.2f} s")
        data.school_modules = school_module_count(school, data.country)
        if data.school_modules != data.raw.modules:
            data.notes.append(
                f"the school holds {data.school_modules} modules, the national {data.raw.modules}"
            )
    finally:
        close_app(national)
        if school is not None:
            close_app(school)


# ----------------------------------------------------------------------------- report


def num(value, digits: int = 2, width: int = 9) -> str:
    return f"{value:>{width}.{digits}f}" if isinstance(value, int | float) else f"{'n/a':>{width}}"


def spread(seconds: list[float]) -> str:
    """Say how far apart the fastest and slowest rounds were, when there were several."""
    if len(seconds) < 2 or seconds[0] == seconds[-1]:
        return ""
    return f"; median of the rounds, which took {seconds[0]:.2f} to {seconds[-1]:.2f} s"


def verdict(value: float | None, target: float, above: bool) -> str:
    if value is None:
        return "n/a"
    return "met" if (value >= target if above else value < target) else "missed"


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def line(label: str, nbytes: str = "", seconds=None, speed=None, note: str = "") -> None:
    """One row of a data set's table: what, bytes, seconds, MB/s, remarks."""
    shown_seconds = num(seconds, 2, 10) if seconds is not None else " " * 10
    shown_speed = num(speed, 1, 10) if speed is not None else " " * 10
    print(f"  {label:<30}{nbytes:>11}{shown_seconds}{shown_speed}  {note}".rstrip())


def print_set(data: DataSet) -> None:
    print()
    print(f"== {data.name}")
    if data.skipped:
        print(f"  skipped: {data.skipped}")
        return
    s, r, f, c, i, v, d = (
        data.source, data.raw, data.full, data.cp, data.imported, data.verify, data.delta,
    )  # fmt: skip
    print(f"  {s.what}")
    print(
        f"  national set-up {s.load_s:.1f} s: {plural(r.modules, 'module')}, "
        f"{plural(r.lessons, 'lesson')} ({r.lesson_texts} texts), "
        f"{plural(r.media_files, 'media file')} ({r.images} images)"
    )
    print()
    print(f"  {'':<30}{'bytes':>11}{'seconds':>10}{'MB/s':>10}")
    line("source folders on disk", human(s.bytes), note=f"{s.files} files, "
         f"{human(s.disk_bytes)} allocated")  # fmt: skip
    line(
        "raw content",
        human(r.total_bytes),
        note=f"media {human(r.media_bytes)} + Markdown {human(r.markdown_bytes)}",
    )
    line(
        "full bundle",
        human(f.bytes),
        note=f"{f.bytes / r.total_bytes:.3f} × raw; {f.entries} entries; manifest "
        f"{human(f.manifest_json_bytes)} ({human(f.manifest_zip_bytes)} deflated)",
    )
    line(
        "build",
        seconds=f.seconds,
        speed=f.mb_per_s,
        note=f"database read {f.database_read_s:.2f} s, build_bundle {f.write_s:.2f} s",
    )
    line(
        "cp -r (same blobs)",
        human(c.bytes),
        c.seconds,
        c.mb_per_s,
        plural(c.files, "file") + spread(data.cp_range),
    )
    line(
        "cp -r then sync", "", c.seconds + c.sync_s, c.with_sync_mb_per_s, f"sync {c.sync_s:.2f} s"
    )
    line(
        "import (import_bundle)",
        seconds=i.seconds,
        speed=i.mb_per_s,
        note=f"import / cp = {num(data.import_vs_cp, 3, 0)} (target ≥ {TARGET_IMPORT_VS_CP}: "
        f"{verdict(data.import_vs_cp, TARGET_IMPORT_VS_CP, True)})" + spread(data.import_range),
    )
    line(
        "  until the content is served",
        "",
        i.served_s,
        i.served_mb_per_s,
        f"everything but the search index, which follows the commit; "
        f"/ cp = {num(data.served_vs_cp, 3, 0)}",
    )
    print_import_split(i, data.stage_vs_cp)
    if data.cold_cp is not None and data.cold_imported is not None:
        cc, ci = data.cold_cp, data.cold_imported
        line(
            "cold cache: cp -r",
            human(cc.bytes),
            cc.seconds,
            cc.mb_per_s,
            "page cache dropped first",
        )
        line(
            "cold cache: import",
            "",
            ci.seconds,
            ci.mb_per_s,
            f"import / cp = {num(data.cold_import_vs_cp, 3, 0)} (target ≥ {TARGET_IMPORT_VS_CP}: "
            f"{verdict(data.cold_import_vs_cp, TARGET_IMPORT_VS_CP, True)}); "
            f"stage {ci.stage_s:.2f} s, served after {ci.served_s:.2f} s",
        )
    line("verify (verify_bundle)", "", v.seconds, v.mb_per_s, plural(v.problems, "problem"))
    line(
        f"delta ({d.lessons_changed} of {d.lessons_total} lessons)",
        human(d.build.bytes),
        note=f"{num(d.percent_of_full, 3, 0)} % of full (target < {TARGET_DELTA_PERCENT:g} %: "
        f"{verdict(d.percent_of_full, TARGET_DELTA_PERCENT, False)}); "
        f"{plural(d.modules_changed, 'module')} edited, {d.modules_shipped} shipped, "
        f"{plural(d.markdown_blobs, 'blob')}",
    )
    line(
        "  its manifest",
        human(d.build.manifest_zip_bytes),
        note=f"{human(d.build.manifest_json_bytes)} of JSON; its index lists all "
        f"{plural(r.modules, 'module')}",
    )
    line("  delta build", "", d.build.seconds, d.build.mb_per_s)
    line(
        "  delta import",
        "",
        d.imported.seconds,
        d.imported.mb_per_s,
        f"stage {d.imported.stage_s:.2f} s, Markdown {d.imported.markdown_s:.2f} s, "
        f"index {d.imported.index_s:.2f} s, rest {d.imported.other_s:.2f} s",
    )
    print(
        f"  school store after the full import: {human(i.store_bytes)} "
        f"({human(i.store_bytes - f.blob_bytes)} more than the bundle's blobs: image variants)"
    )
    for note in data.notes:
        print(f"  note: {note}")


def print_import_split(i: Import, stage_vs_cp: float | None) -> None:
    line(
        "  stage_bundle",
        "",
        i.stage_s,
        i.stage_mb_per_s,
        f"checks, copy, SHA-256, flush of {plural(i.blobs_copied, 'blob')}; "
        f"stage / cp = {num(stage_vs_cp, 3, 0)}",
    )
    line(
        "    lessons rendered ahead",
        "",
        i.ahead_s,
        None,
        "render_lessons, within stage_bundle, as a second process copies the media",
    )
    line(
        "    search index written ahead",
        "",
        i.index_ahead_s,
        None,
        "index_ahead, then too: documents added, segment written if the copy still runs",
    )
    line("  image variants", "", i.variants_s, None, f"make_variants, {plural(i.images, 'image')}")
    line("  writing variants, assets", "", i.image_ingest_s - i.variants_s, None)
    line("  Markdown to HTML after", "", i.markdown_s, None, "render_markdown, lessons not ahead")
    line("  search index", "", i.index_s, None, "after the commit: publish, sync_index")
    line("  modules' history", "", i.history_s, None, "record_version, one row per version")
    line("  database and the rest", "", i.other_s, None)
    line(
        "  (os.fsync, within the above)",
        "",
        i.fsync_s,
        None,
        f"{plural(i.fsync_calls, 'call')}: staged blobs are flushed with one sync per batch, "
        "variants made here with one fsync each and their folder's",
    )


def print_report(run: Run) -> None:
    print()
    print("Imaginecole bundle benchmark")
    print_machine(run)
    print(f"  temp     {run.temp_dir} (warm page cache; MB = 10^6 bytes; seed {run.seed})")
    print(
        "  raw      distinct media files the published modules reference + UTF-8 bytes of every "
        "lesson text"
    )
    print("  MB/s     build and import over the bundle's size; cp -r over the blobs' bytes")
    for data in run.sets:
        print_set(data)
    print()
    print(
        f"Targets: import at least {TARGET_IMPORT_VS_CP} × the speed of cp -r; a delta after "
        f"editing {run.targets['lessons_edited_percent']:g} % of the lessons under "
        f"{TARGET_DELTA_PERCENT:g} % of the full bundle."
    )
    print(f"Total time {run.seconds:.0f} s.")


# ----------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Benchmark bundles: build and import throughput (MB/s) next to a plain cp -r of "
            "the same bytes, full bundle size against the raw content, and the size and import "
            "time of a delta after editing 2 % of the lessons. Runs on the real corpus, and "
            "with --all also on a synthetic set of about 1 GB. Uses fresh temporary folders, "
            "always removed at the end."
        )
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the real corpus only (no synthetic set, whatever else is given)",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help="the corpus and the synthetic set (--synthetic-gb, default 1)",
    )
    parser.add_argument(
        "--synthetic-gb",
        type=float,
        default=None,
        help="size in GB (10^9 bytes) of the synthetic set; giving it runs the set "
        "(default with --all: 1; 0 runs none)",
    )
    parser.add_argument(
        "--no-corpus", action="store_true", help="skip the real corpus (synthetic set only)"
    )
    parser.add_argument(
        "--corpus-dir", type=Path, default=DEFAULT_CORPUS, help="default: %(default)s"
    )
    parser.add_argument(
        "--delta-percent",
        type=float,
        default=2.0,
        help="percentage of lessons edited before the delta (default: %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=20250131,
        help="seed of every random choice (default: %(default)s)",
    )
    parser.add_argument(
        "--tmp-dir",
        type=Path,
        default=None,
        help="where to make the temporary folder (default: the system's); it needs about "
        f"{SPACE_FACTOR} × the synthetic set free",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        help="seconds each `imaginecole content …` command may take (default: %(default)s)",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="also time cp -r and a full import with the page cache dropped first, as from a "
        "stick just plugged in (needs root: writes /proc/sys/vm/drop_caches)",
    )
    parser.add_argument(
        "--rounds",
        type=at_least_one,
        default=3,
        help="times cp -r and the full import are each run, in turn; the medians are reported "
        "(default: 3)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument(
        "--keep", action="store_true", help="keep the temporary folder (its path is shown)"
    )
    args = parser.parse_args(argv)
    if args.cold and not can_drop_page_cache():
        parser.error("--cold needs root: the page cache cannot be dropped otherwise")
    if args.quick:
        args.synthetic_gb = 0.0
    elif args.synthetic_gb is None:
        args.synthetic_gb = 1.0 if args.all else 0.0
    if not 0 <= args.synthetic_gb <= 20:
        parser.error("--synthetic-gb must be between 0 and 20")
    if not 0 < args.delta_percent <= 100:
        parser.error("--delta-percent must be between 0 and 100")
    if args.no_corpus and not args.synthetic_gb:
        parser.error("--no-corpus leaves nothing to measure: add --all or --synthetic-gb")
    if not args.no_corpus and not args.corpus_dir.is_dir():
        parser.error(f"the corpus is not at {args.corpus_dir}")
    if args.tmp_dir is not None and not args.tmp_dir.is_dir():
        parser.error(f"{args.tmp_dir} is not a folder")
    return args


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def run_set(data: DataSet, work: Path, args, set_up: Callable[[Path], None]) -> None:
    """Set up a national instance with ``set_up``, measure, then remove the set's folder."""
    work.mkdir()
    national = work / "national"
    national.mkdir()
    try:
        set_up(national)
        measure(data, national, work, args)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from sync.bundle import BundleError

    previous = signal.signal(signal.SIGTERM, _interrupt)  # cleaned up like Ctrl+C
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="imaginecole-bundles-bench-", dir=args.tmp_dir))
    run = Run(
        **this_machine(),
        temp_dir=str(work),
        seed=args.seed,
        targets={
            "import_vs_cp_at_least": TARGET_IMPORT_VS_CP,
            "delta_percent_of_full_under": TARGET_DELTA_PERCENT,
            "lessons_edited_percent": args.delta_percent,
        },
    )
    try:
        if not args.no_corpus:
            log(
                f"Corpus: France curriculum + {len(CORPUS_COURSES)} course sites of {args.corpus_dir}"
            )
            data = DataSet(
                "corpus",
                "fr",
                Source(f"{args.corpus_dir}: " + ", ".join(f for f, *_ in CORPUS_COURSES)),
            )
            run.sets.append(data)
            run_set(
                data,
                work / "corpus",
                args,
                lambda national: set_up_corpus(national, args.corpus_dir, data, args.timeout),
            )
        if args.synthetic_gb:
            target = int(args.synthetic_gb * GB)
            name = f"synthetic {args.synthetic_gb:g} GB"
            data = DataSet(
                name,
                "zz",
                Source(f"synthetic content for zz, about {human(target)} of PDFs and JPEGs"),
            )
            run.sets.append(data)
            free = shutil.disk_usage(work).free
            if free < SPACE_FACTOR * target:
                data.skipped = (
                    f"{human(free)} free in {work}, the run needs about {SPACE_FACTOR} × "
                    f"{human(target)}; choose another --tmp-dir or a smaller --synthetic-gb"
                )
                log(f"{name}: {data.skipped}")
            else:
                log(f"{name}:")
                run_set(
                    data,
                    work / "synthetic",
                    args,
                    lambda national: set_up_synthetic(
                        national, work / "synthetic", target, args.seed, data, args.timeout
                    ),
                )
        run.seconds = round(time.perf_counter() - started, 1)
        print_report(run)
        if args.json:
            write_json(args.json, run)
        return 0
    except (RuntimeError, OSError, subprocess.SubprocessError, BundleError) as error:
        log(f"Benchmark failed: {error}")
        return 1
    except KeyboardInterrupt:
        log("Interrupted.")
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        remove_unless_kept(work, args.keep)


if __name__ == "__main__":
    sys.exit(main())
