"""What only the Whoosh index has: its folder and files, its write lock, other processes.

How it searches is checked through the interface, with every engine, in ``test_interface``;
here the tests may also use whoosh itself, as an earlier release or a damaged disk would have
left an index folder.
"""

from __future__ import annotations

import dataclasses
import os
import random
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import W3Codec
from whoosh.filedb.filestore import FileStorage
from whoosh.index import TOC

from imaginecole.search.interface import SearchQuery, SearchResults
from imaginecole.search.whoosh_engine import MAX_SEGMENTS, WhooshIndex, whoosh_fields
from tests.conftest import REPO_ROOT
from tests.imaginecole.search.conftest import indexed, make_doc, search, slugs

SUBPROCESS_TIMEOUT = 60  # seconds; a child that takes longer has hung


def run_python(code: str, *args: str, timeout: float = SUBPROCESS_TIMEOUT):
    """Run ``code`` in a fresh Python process of this virtualenv, from the repository."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def index(tmp_path):
    found = WhooshIndex(tmp_path / "search")
    yield found
    found.close()


# ---------------------------------------------------------------------------- files


def test_index_written_by_an_earlier_release_is_read_and_updated(tmp_path):
    # Earlier releases compressed the posting blocks; a school's index keeps those segments.
    directory = tmp_path / "search"
    WhooshIndex(directory).rebuild(iter([]))  # the folder and schema of this release, empty
    ix = whoosh_index.open_dir(directory)
    writer = ix.writer(codec=W3Codec(compression=3))
    for slug in ("lire", "comparer"):
        writer.add_document(
            **whoosh_fields(make_doc(slug, f"{slug} une fraction", "Une fraction."))
        )
    writer.commit()
    ix.close()
    index = WhooshIndex(directory)
    assert not index.needs_rebuild()
    index.replace_modules(
        {"zz-eau": [make_doc("evaporation", "L'évaporation", "L'eau.", module_uid="zz-eau")]}
    )
    assert sorted(slugs(search(index, "fraction"))) == ["comparer", "lire"]
    assert slugs(search(index, "évaporation")) == ["evaporation"]
    index.replace_modules({}, removed=["zz-maths-fractions"])
    assert search(index, "fraction").total == 0
    index.close()


def segment_files(directory: Path) -> set[str]:
    return {path.name for path in directory.glob("*.seg")}


def unused_segment_files(directory: Path) -> set[str]:
    """Return the segment files the index's table of contents does not list."""
    toc = TOC.read(FileStorage(str(directory)), "MAIN")
    used = {segment.segment_id() for segment in toc.segments}
    return {name for name in segment_files(directory) if name.rsplit(".", 1)[0] not in used}


@pytest.mark.parametrize("prepared", [False, True], ids=["added", "prepared"])
def test_discarded_update_leaves_no_segment_file_behind(index, prepared):
    indexed(
        index,
        make_doc("lire", "Lire une fraction", "Une fraction."),
        make_doc("pluie", "La pluie", "Il pleut.", module_uid="zz-eau"),
    )
    before = segment_files(index.directory)
    update = index.begin_update()
    update.replace("zz-maths-fractions", [make_doc("lire", "Lire un décimal", "Un décimal.")])
    update.remove("zz-eau")
    if prepared:
        update.prepare()
        assert segment_files(index.directory) > before
    update.discard()
    assert segment_files(index.directory) == before
    assert not unused_segment_files(index.directory)


def module_docs(module: int, lessons: int) -> list:
    uid = f"zz-module-{module}"
    return [
        make_doc(
            f"m{module}-l{n}", f"Leçon {n} du module {module}", "Une fraction.", module_uid=uid
        )
        for n in range(lessons)
    ]


def test_imports_one_after_another_leave_few_segments_and_every_lesson(index):
    # A load installs one bundle after another: Whoosh's own policy kept a segment per bundle
    # of any size, and every search read them all.
    index.rebuild(iter(module_docs(0, 300)))
    for module, lessons in enumerate((120, 60, 90, 40, 150), start=1):
        index.replace_modules({f"zz-module-{module}": module_docs(module, lessons)})
        toc = TOC.read(FileStorage(str(index.directory)), "MAIN")
        assert len(toc.segments) <= MAX_SEGMENTS
    assert not unused_segment_files(index.directory)
    index.replace_modules({}, removed=["zz-module-2"])
    assert search(index, "fraction", per_page=1).total == 300 + 120 + 90 + 40 + 150


# ---------------------------------------------------------------------------- repair

OLD = [
    make_doc("lire", "Lire une fraction", "Une fraction partage l'unité en parts égales."),
    make_doc("comparer", "Comparer des fractions", "La plus grande fraction est un demi."),
]


@pytest.fixture
def built(tmp_path) -> Path:
    """An index folder holding OLD, written and closed as a finished load leaves it."""
    directory = tmp_path / "search"
    index = WhooshIndex(directory)
    index.rebuild(iter(OLD))
    index.close()
    return directory


def toc_file(directory: Path) -> Path:
    tocs = sorted(directory.glob("_MAIN_*.toc"))
    assert tocs, sorted(p.name for p in directory.iterdir())
    return tocs[-1]


def garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for position in range(len(data) // 3, len(data)):
        data[position] ^= 0x5A
    path.write_bytes(bytes(data))


DAMAGES = {
    "toc truncated": lambda d: toc_file(d).write_bytes(toc_file(d).read_bytes()[:20]),
    "toc emptied": lambda d: toc_file(d).write_bytes(b""),
    "toc garbled": lambda d: garble(toc_file(d)),
    "toc deleted": lambda d: toc_file(d).unlink(),
    "segments deleted": lambda d: [p.unlink() for p in d.glob("*.seg")],
    "segments truncated": lambda d: [p.write_bytes(p.read_bytes()[:64]) for p in d.glob("*.seg")],
    "segments garbled": lambda d: [garble(p) for p in d.glob("*.seg")],
    "schema version missing": lambda d: (d / "schema-version").unlink(),
    "schema version old": lambda d: (d / "schema-version").write_text("0"),
}


def test_intact_index_is_opened_as_it_is(built):
    index = WhooshIndex(built)
    assert not index.needs_rebuild()
    assert search(index, "fraction").total == 2
    index.close()


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_damaged_index_is_detected_when_opened(built, damage):
    assert list(built.glob("*.seg")), "the test needs segment files to damage"
    DAMAGES[damage](built)
    index = WhooshIndex(built)
    assert index.needs_rebuild()
    results = search(index, "fraction")  # never an error page, even before the rebuild
    assert results.total == 0
    index.rebuild(iter(OLD))
    assert search(index, "fraction").total == 2
    index.close()
    assert not WhooshIndex(built).needs_rebuild()


def writes_within(index: WhooshIndex, seconds: float) -> bool:
    """Return True when ``index`` takes a write within ``seconds`` (the writer waits up to 120 s)."""
    done = threading.Event()
    failures: list[BaseException] = []

    def write():
        try:
            index.replace_modules(
                {
                    "zz-sciences-eau": [
                        make_doc(
                            "pluie", "La pluie", "La pluie tombe.", module_uid="zz-sciences-eau"
                        )
                    ]
                }
            )
            done.set()
        except BaseException as error:
            failures.append(error)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    thread.join(timeout=seconds)
    assert not failures, failures
    return done.is_set()


def test_stale_write_lock_does_not_block_a_new_writer(built):
    lock = built / "MAIN_WRITELOCK"
    lock.write_text("left behind by a process that died")
    os.utime(lock, (0, 0))
    index = WhooshIndex(built)
    assert not index.needs_rebuild()
    assert writes_within(index, 20)
    assert search(index, "pluie").total == 1
    assert search(index, "fraction").total == 2
    index.close()


KILLED_WRITER = """
    import os, signal, sys
    from imaginecole.search.interface import Document
    from imaginecole.search.whoosh_engine import WhooshIndex

    class Trap(Document):
        # Reading the text of this document kills the process, in the middle of the write.
        def __getattribute__(self, name):
            if name == "body":
                os.kill(os.getpid(), signal.SIGKILL)
            return super().__getattribute__(name)

    def doc(n, cls=Document):
        return cls(id=f"lesson:zz-new:n{n}:fr", kind="lesson", module_uid="zz-new", lang="fr",
                   country="zz", levels=["zz:cm1"], subject="histoire", resource_type="lesson",
                   fingerprint="v2", title=f"Nouvelle leçon {n}", module_title="Nouveau",
                   body="Le royaume nouveau " * 200, lesson_slug=f"n{n}")

    index = WhooshIndex(sys.argv[1])
    documents = [doc(n) for n in range(2000)] + [doc(2000, Trap)]
    if sys.argv[2] == "replace":
        index.replace_modules({"zz-new": documents}, removed=["zz-maths-fractions"])
    else:
        index.rebuild(iter(documents))
    print("not killed")
"""


def assert_old_index_serves_and_takes_writes(index: WhooshIndex) -> None:
    """Check a writer killed in ``built`` left OLD serving, and its lock died with it."""
    assert not index.needs_rebuild()
    assert search(index, "fraction").total == 2
    assert search(index, "royaume nouveau").total == 0
    assert writes_within(index, 20)  # the next import writes at once
    assert search(index, "pluie").total == 1


@pytest.mark.parametrize("operation", ["replace", "rebuild"])
def test_writer_killed_mid_write_leaves_the_old_index(built, operation):
    done = run_python(KILLED_WRITER, str(built), operation)
    assert done.returncode == -9, done.stdout + done.stderr
    index = WhooshIndex(built)
    assert_old_index_serves_and_takes_writes(index)
    index.rebuild(iter(OLD))  # and a rebuild clears what the killed one left behind
    assert search(index, "fraction").total == 2
    assert not (built.parent / "search.new").exists()
    index.close()


KILLED_AFTER_PREPARE = """
    import os, signal, sys
    from imaginecole.search.interface import Document
    from imaginecole.search.whoosh_engine import WhooshIndex

    update = WhooshIndex(sys.argv[1]).begin_update()
    update.replace("zz-maths-fractions", [
        Document(id="lesson:zz-maths-fractions:lire:fr", kind="lesson",
                 module_uid="zz-maths-fractions", lang="fr", country="zz", levels=["zz:cm1"],
                 subject="mathematiques", resource_type="lesson", fingerprint="v2",
                 title="Le royaume nouveau", module_title="Nouveau", body="Le royaume nouveau",
                 lesson_slug="lire"),
    ])
    update.prepare()
    print("prepared", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_writer_killed_between_prepare_and_publish_leaves_the_old_index(built):
    before = segment_files(built)
    done = run_python(KILLED_AFTER_PREPARE, str(built))
    assert done.returncode == -9 and "prepared" in done.stdout, done.stdout + done.stderr
    assert segment_files(built) > before  # the prepared segment, in no table of contents
    index = WhooshIndex(built)
    assert_old_index_serves_and_takes_writes(index)
    assert not unused_segment_files(built)  # the next commit removed the one left behind
    index.close()


HOLDING_WRITER = """
    import sys, time
    from imaginecole.search.interface import Document
    from imaginecole.search.whoosh_engine import WhooshIndex

    class Slow(Document):
        # Reading this document's text holds the writer (and its lock) for a while.
        def __getattribute__(self, name):
            if name == "body":
                print("writing", flush=True)
                time.sleep(float(sys.argv[2]))
            return super().__getattribute__(name)

    doc = Slow(id="lesson:zz-new:n:fr", kind="lesson", module_uid="zz-new", lang="fr",
               country="zz", levels=["zz:cm1"], subject="histoire", resource_type="lesson",
               fingerprint="v2", title="Nouvelle leçon", module_title="Nouveau",
               body="Le royaume nouveau", lesson_slug="n")
    WhooshIndex(sys.argv[1]).replace_modules({"zz-new": [doc]}, removed=["zz-maths-fractions"])
    print("committed", flush=True)
"""


def test_readers_keep_working_while_another_process_holds_the_writer(built):
    hold = 30.0
    writer = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLDING_WRITER), str(built), str(hold)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "writing", writer.stderr.read()
        index = WhooshIndex(built)
        started = time.monotonic()
        for _ in range(50):
            assert search(index, "fraction").total == 2
            assert search(index, "royaume nouveau").total == 0
        fresh = WhooshIndex(built)  # as a server starting now would open it
        assert not fresh.needs_rebuild()
        assert search(fresh, "comparer fractions").total == 1
        assert time.monotonic() - started < hold / 2, "readers waited for the writer"
        assert writer.poll() is None, "the writer should still hold the lock"
        index.close()
        fresh.close()
    finally:
        writer.kill()
        writer.wait(timeout=SUBPROCESS_TIMEOUT)


def test_readers_see_a_commit_from_another_process(built):
    index = WhooshIndex(built)
    assert search(index, "fraction").total == 2
    done = run_python(HOLDING_WRITER, str(built), "0")
    assert done.returncode == 0, done.stderr
    assert search(index, "fraction").total == 0
    assert search(index, "royaume nouveau").total == 1
    index.close()


def test_rebuild_by_another_process_is_seen_whole(built):
    reader = WhooshIndex(built)
    assert search(reader, "fraction").total == 2
    other = WhooshIndex(built)  # as `imaginecole search reindex` next to a running server
    other.rebuild(iter([make_doc("pluie", "La pluie", "La pluie tombe.", module_uid="zz-eau")]))
    other.close()
    assert search(reader, "fraction").total == 0
    found = search(reader, "pluie")
    assert [hit.title for hit in found.hits] == ["La pluie"]
    reader.close()


def test_index_folder_removed_under_a_reader(built):
    reader = WhooshIndex(built)
    assert search(reader, "fraction").total == 2
    shutil.rmtree(built)
    assert search(reader, "fraction").total == 0  # no error while nothing is there
    assert reader.needs_rebuild()
    reader.rebuild(iter(OLD))
    assert search(reader, "fraction").total == 2
    reader.close()


def test_threads_searching_at_once_get_what_one_search_at_a_time_gets(tmp_path):
    # The threads of a worker share one searcher: a search must never see another's state.
    directory = tmp_path / "search"
    writer = WhooshIndex(directory)
    writer.replace_modules(
        {
            "zz-maths-fractions": [
                make_doc(f"l{n}", f"Fraction {n}", f"Une fraction de {n} parts égales.")
                for n in range(15)
            ],
            "zz-sciences-eau": [
                make_doc(
                    f"e{n}",
                    f"L'eau {n}",
                    "L'eau de la mare s'évapore au soleil.",
                    module_uid="zz-sciences-eau",
                    subject="sciences",
                )
                for n in range(15)
            ],
        }
    )
    writer.close()
    queries = [
        SearchQuery(text=text, page=page, subject=subject, prefer_lang="fr")
        for text in ("fraction", "eau soleil", "fractoin", "fraction soleil", '"parts égales"')
        for page in (1, 2)
        for subject in ("", "sciences")
    ]
    shared = WhooshIndex(directory)
    found: dict[int, list[SearchResults]] = {n: [] for n in range(len(queries))}
    errors: list[BaseException] = []

    def reader(order: list[int]) -> None:
        try:
            for n in order * 3:
                # A new query object each time: equal queries are answered from recent results.
                found[n].append(shared.search(dataclasses.replace(queries[n], per_page=10 + n)))
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    orders = [random.Random(seed).sample(range(len(queries)), len(queries)) for seed in range(6)]
    threads = [threading.Thread(target=reader, args=(order,)) for order in orders]
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns as often as they can
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        sys.setswitchinterval(switch)
    shared.close()
    assert not errors
    alone = WhooshIndex(directory)
    expected = [
        alone.search(dataclasses.replace(query, per_page=10 + n)) for n, query in enumerate(queries)
    ]
    alone.close()
    assert sum(results.total > 0 for results in expected) > len(queries) // 2
    for n, query in enumerate(queries):
        assert len(found[n]) == 18
        assert all(results == expected[n] for results in found[n]), query
