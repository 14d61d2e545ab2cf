"""The search index on Whoosh, for a school server: ``WhooshIndex`` is a ``SearchIndex``.

One document per module and one per lesson text, each analysed in its own language. The
index can always be rebuilt from the database; a damaged index is detected when opened.
Only this module and the analysis it uses (``analysis``) import whoosh.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from itertools import chain
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import OSA
from whoosh import index as whoosh_index
from whoosh import sorting
from whoosh.codec.whoosh3 import W3Codec
from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema
from whoosh.filedb.filestore import FileStorage
from whoosh.query import And, Every, NullQuery, Or, Phrase, Query, Term
from whoosh.writing import MERGE_SMALL, OPTIMIZE

from imaginecole.search.analysis import ANALYZERS, exact_analyzer
from imaginecole.search.interface import (
    Document,
    Hit,
    SearchQuery,
    SearchResults,
    replace_in_one_update,
)
from imaginecole.search.query import (
    FACETS,
    TYPO_MAX_COUNT,
    TYPO_RATIO,
    languages_written_like,
    parse_user_query,
)
from imaginecole.search.snippets import make_snippet

log = logging.getLogger(__name__)

LANGUAGES = ("fr", "en", "ar")
SCHEMA_VERSION = "4"  # raise when analysis changes: indexes are rebuilt at start
FIELD_BOOSTS = {"title": 4.0, "text": 1.0, "exact": 1.5}
SPELLING_DISTANCE = 2  # edits between a typed word and the spelling suggested for it
RESULT_CACHE_SIZE = 256  # recent results kept per process: a class types the teacher's words
MAX_SEGMENTS = 2  # an update leaving more merges them all: fewer is faster and smaller to read
MAX_KNOWN_TERMS = 20_000  # field words remembered per index version: about 3.5 MB at most

Known = Callable[[str, str], bool]  # whether a field of the index holds a word


def _codec() -> W3Codec:
    # Posting blocks are not compressed: zlib took a quarter of each commit (an import's last
    # step) to save a quarter of a few megabytes. Each segment records its own codec, so
    # segments written either way are read alike.
    return W3Codec(compression=0)


def make_schema() -> Schema:
    fields = {
        "id": ID(unique=True, stored=True),
        "kind": ID(stored=True),  # module | lesson
        "module_uid": ID(stored=True),
        "lesson_slug": STORED(),
        "lang": ID(stored=True),
        "country": ID(stored=True),
        "levels": KEYWORD(
            stored=True, commas=True
        ),  # "cc:slug" tokens: level slugs repeat across countries
        "subject": ID(stored=True),
        "resource_type": ID(stored=True),
        "fingerprint": STORED(),
        "title": STORED(),
        "module_title": STORED(),
        "body": STORED(),
    }
    for lang in LANGUAGES:
        fields[f"title_{lang}"] = TEXT(analyzer=ANALYZERS[lang]())
        fields[f"text_{lang}"] = TEXT(analyzer=ANALYZERS[lang]())
        fields[f"exact_{lang}"] = TEXT(analyzer=exact_analyzer(lang), spelling=True)
    return Schema(**fields)


# ---------------------------------------------------------------------------- queries


def _analyzed(schema: Schema, fieldname: str, text: str) -> tuple[str, ...]:
    # A title field is analysed as the text field of its language (make_schema): each word
    # of a query is analysed once less per language.
    if fieldname.startswith("title_"):
        fieldname = "text_" + fieldname.removeprefix("title_")
    return tuple(token.text for token in schema[fieldname].analyzer(text))


def _alternatives(
    schema: Schema, lang: str, text: str, phrase: bool, known: Known
) -> list[Query] | None:
    """Return the ways ``text`` can match the fields of ``lang``.

    None if it means nothing there (no field keeps a word of it); [] if it means something
    but no indexed word matches it (``known`` says which words are indexed).
    """
    alternatives: list[Query] = []
    meaningful = False
    for kind, boost in FIELD_BOOSTS.items():
        fieldname = f"{kind}_{lang}"
        terms = _analyzed(schema, fieldname, text)
        if not terms:
            continue
        meaningful = True
        if not all(known(fieldname, term) for term in terms):
            continue  # it cannot match in this field
        if len(terms) == 1:
            alternatives.append(Term(fieldname, terms[0], boost=boost))
        elif phrase:
            alternatives.append(Phrase(fieldname, terms, boost=boost))
        else:
            alternatives.append(And([Term(fieldname, t) for t in terms], boost=boost))
    return alternatives if meaningful else None


def _everything_known(fieldname: str, text: str) -> bool:
    return True


def build_query(
    schema: Schema,
    words: list[str],
    phrases: list[str],
    require_all: bool = True,
    known: Known = _everything_known,
) -> Query | None:
    """Match documents of each language on the words that mean something in that language.

    Every document is in one language and fills only that language's fields. A stop word of
    that language ("de" in French, "the" in English) asks nothing of its documents, while it
    still counts where it is a real word ("while" in a Python lesson written in French).
    With ``require_all`` every remaining word must match; otherwise any of them may.

    Return None when no word means anything (an empty query), and a ``NullQuery`` when the
    words mean something but ``known`` (whether a field holds a word) says nothing can match.
    Leaving out what cannot match changes neither the matches nor their scores (a sum over
    the parts that match), but Whoosh no longer builds a matcher for each part in each
    segment: most of the time of a query, as most words are in one language only.
    """
    # Short words that are stop words somewhere ("de", "la", "the", "in", "or") carry too little
    # to require anywhere; longer ones ("while", "sommes") may be the very word sought.
    words = [
        w
        for w in words
        if len(w) > 3 or all(_analyzed(schema, f"text_{lang}", w) for lang in LANGUAGES)
    ]
    meaningful = False
    per_language: list[Query] = []
    for lang in LANGUAGES:
        parts: list[Query] = []
        missing = False  # a word means something here, yet nothing here has it
        for text, phrase in [(w, False) for w in words] + [(p, True) for p in phrases]:
            found = _alternatives(schema, lang, text, phrase, known)
            if found is None:
                continue
            meaningful = True
            if found:
                parts.append(Or(found))
            else:
                missing = True
        if not parts or (missing and require_all):
            continue
        per_language.append(
            parts[0] if len(parts) == 1 else (And(parts) if require_all else Or(parts))
        )
    if not meaningful:
        return None
    if not per_language:
        return NullQuery
    return per_language[0] if len(per_language) == 1 else Or(per_language)


def query_stems(schema: Schema, lang: str, words: list[str], phrases: list[str]) -> list[str]:
    """Return the indexed forms of the query's words in ``lang``, to mark them in snippets."""
    stems: set[str] = set()
    for text in [*words, *phrases]:
        for kind in ("text", "exact"):
            stems.update(_analyzed(schema, f"{kind}_{lang}", text))
    return sorted(stems, key=len, reverse=True)


# ---------------------------------------------------------------------------- the index


def _merge_policy(writer, segments: list) -> list:
    """Merge the small segments, and all of them when more than ``MAX_SEGMENTS`` would be left.

    Each import adds a segment and Whoosh's own policy keeps the large ones: five imports left
    five, which every search reads one after the other (one segment answered about a fifth
    faster). Merging everything costs a few seconds on a school's index, taken while the
    update holds the write lock and before it is published.
    """
    kept = MERGE_SMALL(writer, segments)
    if len(kept) + writer._added > MAX_SEGMENTS:  # the segment this update writes comes on top
        return OPTIMIZE(writer, kept)
    return kept


class WhooshIndexUpdate:
    """Changes to a Whoosh index, written as they come and seen by searches once published.

    A Whoosh commit has two steps: writing the new segment (sorting and writing the postings,
    nearly all of its time) and then the table of contents that makes the segment seen.
    ``prepare`` does the first, so a caller can do it early (a bundle import, while its media
    are still being copied), and ``publish`` then does only the second (after the database
    commit). Until it is published or discarded the update holds the index's write lock:
    other writers wait.
    """

    def __init__(self, writer) -> None:
        self._writer = writer
        self._segments: list | None = None  # the index's segments once this one is written
        self._existing = list(writer.segments)  # before: a merge policy may extend that list
        self.modules: set[str] = set()  # modules whose documents this update replaces

    def replace(self, uid: str, documents: Iterable[Document]) -> None:
        """Replace every document of module ``uid`` with ``documents``."""
        self._check_can_change(uid)
        self._writer.delete_by_term("module_uid", uid)
        for doc in documents:
            self._writer.add_document(**whoosh_fields(doc))
        self.modules.add(uid)

    def remove(self, uid: str) -> None:
        """Drop every document of module ``uid``."""
        self._check_can_change(uid)
        self._writer.delete_by_term("module_uid", uid)

    def _check_can_change(self, uid: str) -> None:
        # Deleting reaches only documents already in the index, not those this update added.
        if uid in self.modules or self._segments is not None:
            raise ValueError(f"module {uid} is already in this update, or the update is written")

    def prepare(self) -> None:
        """Write the new segment now; searches do not see it until ``publish``."""
        if self._segments is not None:
            return
        writer = self._writer
        # What SegmentWriter.commit() does before it writes the table of contents.
        segments = list(writer._merge_segments(_merge_policy, None, None))
        if writer._added:
            segments.append(writer._finalize_segment())
        else:
            writer._close_segment()
        self._segments = segments

    def publish(self) -> None:
        """Make the changes seen by searches, at once, and release the write lock."""
        self.prepare()
        self._writer._commit_toc(self._segments)
        self._writer._finish()

    def discard(self) -> None:
        """Drop the changes and release the write lock; nothing once published."""
        writer = self._writer
        if writer.is_closed:
            return
        try:
            if self._segments is None:
                writer._close_segment()
            # A segment written by prepare() is in no table of contents: delete its files.
            whoosh_index.clean_files(
                writer.storage, writer.indexname, writer.generation - 1, self._existing
            )
        finally:
            writer._finish()


class WhooshIndex:
    """A Whoosh index in one folder; safe to read from many threads while one process writes."""

    def __init__(self, directory: Path | str):
        self.directory = Path(directory)
        self._index = None
        self._lock = threading.Lock()
        self._folder: tuple[int, int] | None = None  # the folder the open index was read from
        # Whoosh readers seek in shared buffers, so the threads of a process take turns
        # with one searcher: Python runs one of them at a time anyway, and one searcher
        # (with its facet values and word lists) is one copy in memory rather than one per
        # thread.
        self._reading = threading.Lock()
        self._view: IndexView | None = None
        self._results: OrderedDict[tuple, SearchResults] = OrderedDict()

    # -- opening, checking, repairing

    def _open(self):
        with self._lock:
            if self._index is not None and _folder_identity(self.directory) != self._folder:
                # Another process rebuilt the index (a new folder under the same name) or removed
                # it: readers of the old folder would mix its segments with the new ones.
                self._index.close()
                self._index = None
            if self._index is None:
                self._index = self._open_or_create()
                self._folder = _folder_identity(self.directory)
            return self._index

    def _open_or_create(self):
        version_file = self.directory / "schema-version"
        if version_file.exists() and version_file.read_text().strip() == SCHEMA_VERSION:
            try:
                # exists_in reads the table of contents: a damaged one raises here already.
                if whoosh_index.exists_in(self.directory):
                    ix = _storage(self.directory).open_index()
                    with ix.searcher() as searcher:  # reads the table of contents and segments
                        searcher.doc_count()
                    return ix
            except Exception as error:  # a damaged index is rebuilt, never served
                log.warning(
                    "Search index in %s is damaged (%s); it will be rebuilt",
                    self.directory,
                    error,
                )
        return self._create()

    def _create(self):
        if self.directory.exists():
            shutil.rmtree(self.directory)
        self.directory.mkdir(parents=True)
        ix = whoosh_index.create_in(self.directory, make_schema())
        (self.directory / "schema-version").write_text(SCHEMA_VERSION)
        return ix

    def needs_rebuild(self) -> bool:
        """Return True when the index was just created empty (missing, outdated or damaged)."""
        return self._open().doc_count_all() == 0

    def version(self) -> str:
        # The folder (a rebuild swaps in a new one) and the last committed table of contents.
        return f"{_folder_identity(self.directory)}:{self._open().latest_generation()}"

    def close(self) -> None:
        with self._reading:
            self._forget_view()
        with self._lock:
            if self._index is not None:
                self._index.close()
                self._index = None

    # -- writing

    def replace_modules(
        self, documents: dict[str, list[Document]], removed: Iterable[str] = ()
    ) -> None:
        """Replace the documents of each module in ``documents`` and drop those of ``removed``."""
        replace_in_one_update(self.begin_update(), documents, removed)

    def begin_update(self) -> WhooshIndexUpdate:
        """Start changes that searches see only once published."""
        # Whoosh allows one writer at a time; another process writing makes us wait, not fail.
        return WhooshIndexUpdate(self._open().writer(timeout=120.0, limitmb=64, codec=_codec()))

    def rebuild(
        self, documents: Iterable[Document], progress: Callable[[int], None] | None = None
    ) -> int:
        """Index everything anew in a fresh folder, then swap it in; return the document count."""
        fresh = WhooshIndex(self.directory.with_name(self.directory.name + ".new"))
        ix = fresh._create()
        writer = ix.writer(limitmb=128, codec=_codec())
        count = 0
        try:
            for doc in documents:
                writer.add_document(**whoosh_fields(doc))
                count += 1
                if progress:
                    progress(count)
            writer.commit(optimize=True)
        except BaseException:
            writer.cancel()
            ix.close()
            shutil.rmtree(fresh.directory, ignore_errors=True)
            raise
        ix.close()
        self.close()
        old = self.directory.with_name(self.directory.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if self.directory.exists():
            self.directory.rename(old)
        fresh.directory.rename(self.directory)
        shutil.rmtree(old, ignore_errors=True)
        return count

    def fingerprints(self) -> dict[str, str]:
        """Return the fingerprint indexed for each module (every document of it carries it)."""
        with self._open().searcher() as searcher:
            return {
                stored["module_uid"]: stored.get("fingerprint", "")
                for stored in searcher.all_stored_fields()
            }

    # -- reading

    def _current_view(self) -> IndexView:
        """Return the view of the latest version of the index; called holding ``_reading``."""
        ix = self._open()
        view = self._view
        if view is not None and view.index is ix and view.searcher.up_to_date():
            return view
        if view is not None and view.index is ix:
            # Segments that did not change are read on by the new searcher, not opened again.
            searcher = view.searcher.refresh()
        else:
            self._forget_view()
            searcher = ix.searcher()
        self._view = IndexView(ix, searcher, (self._folder, searcher.reader().generation()))
        self._results.clear()
        return self._view

    def _forget_view(self) -> None:
        if self._view is not None:
            self._view.searcher.close()
            self._view = None
        self._results.clear()

    def search(self, query: SearchQuery) -> SearchResults:
        """Return the results of ``query``, shared with later callers asking the same."""
        with self._reading:
            view = self._current_view()
            key = (view.version, dataclasses.astuple(query))
            results = self._results.get(key)
            if results is not None:
                self._results.move_to_end(key)
                return results
            results = self._search(view, query)
            self._results[key] = results
            if len(self._results) > RESULT_CACHE_SIZE:
                self._results.popitem(last=False)
            return results

    def _search(self, view: IndexView, query: SearchQuery) -> SearchResults:
        results = SearchResults(query=query)
        words, phrases = parse_user_query(query.text)
        schema = view.searcher.schema
        parsed = build_query(schema, words, phrases, known=view.known)
        if parsed is None:
            results.empty_query = True
            parsed = Every() if query.filters() else None
            if parsed is None:
                return results
        filters = [Term(name, value) for name, value in query.filters().items()]
        self._run(view, parsed, filters, words, phrases, results)
        if words and results.total < 3:
            suggestion = self._suggest(view, words, found_nothing=results.total == 0)
            if suggestion:
                results.suggestion = " ".join([suggestion, *(f'"{p}"' for p in phrases)])
                if results.total == 0:
                    corrected = build_query(schema, suggestion.split(), phrases, known=view.known)
                    if corrected is not None:
                        self._run(view, corrected, filters, suggestion.split(), phrases, results)
                        results.corrected = results.total > 0
        if results.total == 0 and len(words) + len(phrases) > 1:
            # Nothing has every word: show what has some of them, best matches first.
            partial = build_query(schema, words, phrases, require_all=False, known=view.known)
            if partial is not None:
                self._run(view, partial, filters, words, phrases, results)
                results.partial = results.total > 0
        return results

    def _run(
        self,
        view: IndexView,
        parsed: Query,
        filters: list[Query],
        words: list[str],
        phrases: list[str],
        results: SearchResults,
    ) -> None:
        query = results.query
        if parsed is NullQuery:  # a word is in no document: no need to ask Whoosh
            results.total, results.hits = 0, []
            results.facets = {name: [] for name in FACETS}
            return
        searcher, values = view.searcher, view.facets
        # The reader's language first, then by relevance: a French page must not push the
        # English translation of the same lesson below it for an English reader. A sorted
        # search also keeps every match, which the facet counts need.
        order: sorting.FacetType = sorting.ScoreFacet()
        if query.prefer_lang in LANGUAGES:
            order = sorting.MultiFacet(
                [PreferredFirst(values.of("lang"), query.prefer_lang), order]
            )
        page = max(1, query.page)
        found = searcher.search(
            parsed,
            limit=page * query.per_page,
            filter=And(filters) if filters else None,
            sortedby=order,
        )
        matched = found.docs()
        results.total = len(matched)
        results.facets = {
            name: sorted(
                values.count(name, matched).items(), key=lambda item: (-item[1], str(item[0]))
            )
            for name in FACETS
        }
        start = (page - 1) * query.per_page
        stems = {lang: query_stems(searcher.schema, lang, words, phrases) for lang in LANGUAGES}
        results.hits = [_hit(hit, stems) for hit in found[start : start + query.per_page]]

    def _suggest(self, view: IndexView, words: list[str], found_nothing: bool = False) -> str:
        """Return the query with each unknown word replaced by the closest indexed word, or ''.

        When the query found nothing, a word the index holds a few times next to a close spelling
        it holds far more often counts as unknown: texts have typos too ("algoritme").
        """
        changed = False
        corrected = []
        reader = view.searcher.reader()
        spelling = view.spelling
        for word in words:
            lower = word.lower()
            replacement = lower
            own = 0
            candidates: list[tuple[int, str]] = []
            for lang in languages_written_like(lower):
                fieldname = f"exact_{lang}"
                own = max(own, reader.frequency(fieldname, lower))
                if own and (not found_nothing or own >= TYPO_MAX_COUNT):
                    break
                for suggestion in spelling.close_words(reader, fieldname, lower, SPELLING_DISTANCE):
                    candidates.append((reader.frequency(fieldname, suggestion), suggestion))
            if candidates and len(lower) > 3:
                frequency, best = max(candidates)
                if not own or (found_nothing and frequency >= TYPO_RATIO * own):
                    replacement = best
                    changed = changed or replacement != lower
            corrected.append(replacement)
        return " ".join(corrected) if changed else ""


# ---------------------------------------------------------------------------- one version


class IndexView:
    """One version of the index as a process reads it: its searcher and what is read from it.

    Everything here is read once for the version and kept until a writer publishes another:
    the facet values of every document, the word lists of spelling suggestions, and whether a
    field holds a word (asked of every segment for each word of each query otherwise).
    """

    def __init__(self, index, searcher, version: tuple) -> None:
        self.index = index
        self.searcher = searcher
        self.version = version
        self.facets = FacetValues(searcher)
        self.spelling = Spelling()
        self._known: dict[tuple[str, str], bool] = {}

    def known(self, fieldname: str, text: str) -> bool:
        """Return True if a document of this version has ``text`` in ``fieldname``."""
        key = (fieldname, text)
        found = self._known.get(key)
        if found is None:
            if len(self._known) >= MAX_KNOWN_TERMS:  # what pupils type has no end
                self._known.clear()
            found = self._known[key] = key in self.searcher.reader()
        return found


# ---------------------------------------------------------------------------- spelling


class Spelling:
    """The words of a field that start with a letter, read once per version of the index.

    Whoosh's own suggestions compute an edit distance in Python against every word of the
    field that starts like the one asked: two thirds of an uncached query that found nothing.
    Here the words are read once for a version of the index and the distances computed by
    rapidfuzz, in C.
    """

    def __init__(self) -> None:
        self._words: dict[tuple[str, str], list[str]] = {}

    def close_words(self, reader, fieldname: str, word: str, distance: int) -> list[str]:
        """Return the other words of ``fieldname`` within ``distance`` edits of ``word``.

        ``reader`` reads this version. Edits are those of Whoosh's
        suggestions (insert, delete, replace, swap two neighbours); the first letter is kept,
        as typing mistakes seldom touch it.
        """
        field = reader.schema[fieldname]
        spelled = field.spelling_fieldname(fieldname)
        key = (spelled, word[:1])
        words = self._words.get(key)
        if words is None:
            words = [field.from_bytes(term) for term in reader.expand_prefix(spelled, word[:1])]
            self._words[key] = words
        found = process.extract(word, words, scorer=OSA.distance, score_cutoff=distance, limit=None)
        return [candidate for candidate, _, _ in found if candidate != word]


# ---------------------------------------------------------------------------- facets


class FacetValues:
    """Every document's values of the facet fields, read once per searcher.

    A searcher sees one version of the index, so the values never change under it. Counting the matches of a query is then a pass
    over their numbers, where Whoosh's grouping read the postings of every value again for each
    query and called several methods per match and facet.
    """

    def __init__(self, searcher) -> None:
        self._reader = searcher.reader()
        self._schema = searcher.schema
        self._fields: dict[str, list[tuple[str, ...]]] = {}

    def of(self, fieldname: str) -> list[tuple[str, ...]]:
        """Return the values of ``fieldname`` for each document number (several for levels)."""
        values = self._fields.get(fieldname)
        if values is None:
            reader, field = self._reader, self._schema[fieldname]
            values = [()] * reader.doc_count_all()
            for term in field.sortable_terms(reader, fieldname):
                text = field.from_bytes(term)
                for docnum in reader.postings(fieldname, term).all_ids():
                    values[docnum] += (text,)
            self._fields[fieldname] = values
        return values

    def count(self, fieldname: str, docnums: Iterable[int]) -> Counter:
        """Return how many of the documents ``docnums`` have each value of ``fieldname``."""
        return Counter(chain.from_iterable(map(self.of(fieldname).__getitem__, docnums)))


class PreferredFirst(sorting.FacetType):
    """Sort the documents having ``preferred`` among their ``values`` before the others."""

    def __init__(self, values: list[tuple[str, ...]], preferred: str) -> None:
        self.values, self.preferred = values, preferred

    def categorizer(self, global_searcher) -> sorting.Categorizer:
        return _PreferredFirstCategorizer(self.values, self.preferred)


class _PreferredFirstCategorizer(sorting.Categorizer):
    def __init__(self, values: list[tuple[str, ...]], preferred: str) -> None:
        self.values, self.preferred = values, preferred
        self.offset = 0

    def set_searcher(self, segment_searcher, docoffset: int) -> None:
        self.offset = docoffset

    def key_for(self, matcher, segment_docnum: int) -> bool:
        return self.preferred not in self.values[self.offset + segment_docnum]


def _storage(directory: Path) -> FileStorage:
    # Without mmap: Whoosh copied each memory-mapped part of a segment it opened into a buffer
    # of its own (BytesIO), so every worker process held a private copy of nearly the whole
    # index. Read from files, the index stays in the system's page cache, once for all workers.
    return FileStorage(str(directory), supports_mmap=False)


def _folder_identity(directory: Path) -> tuple[int, int] | None:
    try:
        status = directory.stat()
    except OSError:
        return None
    return status.st_dev, status.st_ino


def whoosh_fields(doc: Document) -> dict:
    """Return the fields of the index's schema that ``doc`` fills (only its language's text)."""
    fields = {
        "id": doc.id,
        "kind": doc.kind,
        "module_uid": doc.module_uid,
        "lesson_slug": doc.lesson_slug,
        "lang": doc.lang,
        "country": doc.country,
        "levels": ",".join(doc.levels),
        "subject": doc.subject,
        "resource_type": doc.resource_type,
        "fingerprint": doc.fingerprint,
        "title": doc.title,
        "module_title": doc.module_title,
        "body": doc.body,
    }
    lang = doc.lang if doc.lang in LANGUAGES else "fr"
    fields[f"title_{lang}"] = doc.title
    fields[f"text_{lang}"] = f"{doc.body}\n{doc.extra}"
    fields[f"exact_{lang}"] = f"{doc.title}\n{doc.body}\n{doc.extra}"
    return fields


def _hit(hit, stems: dict[str, list[str]]) -> Hit:
    lang = hit["lang"] if hit["lang"] in LANGUAGES else "fr"
    return Hit(
        kind=hit["kind"],
        module_uid=hit["module_uid"],
        lesson_slug=hit.get("lesson_slug", ""),
        lang=hit["lang"],
        title=hit.get("title", ""),
        module_title=hit.get("module_title", ""),
        snippet=make_snippet(hit.get("body", ""), stems.get(lang, []), arabic=lang == "ar"),
        country=hit["country"],
        levels=[level for level in hit.get("levels", "").split(",") if level],
        subject=hit["subject"],
        resource_type=hit["resource_type"],
    )
