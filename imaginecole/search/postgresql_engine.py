"""The search index in PostgreSQL, for a national server: ``PostgresIndex`` is a ``SearchIndex``.

The documents are rows of the app's database (``search.models``): an index change is written
in the transaction of the content it follows, so every host sees both at once after the commit
(docs/decisions.md, 28). Words are analysed in Python by the same term functions as the Whoosh
engine (``analysis``: elisions, accents, stemming, stop words of French, English and Arabic), so
a query finds the same pages on a school server and on the national one; PostgreSQL stores the
terms with their positions (``tsvector``), matches them (``tsquery``: phrases are ``<->``),
counts facets, and proposes spellings with ``pg_trgm``. Each term of a document also has a row
in ``search_posting`` with what it adds to the document's rank, so a search ranks its matches
from the rows of its own terms (docs/decisions.md, 32).

Only this module writes SQL for search. What a person typed never reaches SQL as syntax: it
becomes terms of the analysis, each quoted, or bound parameters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, scoped_session

from imaginecole.search.analysis import (
    EXACT_TERMS,
    arabic_term,
    english_term,
    french_term,
)
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
    WORD,
    languages_written_like,
    parse_user_query,
)
from imaginecole.search.snippets import make_snippet

LANGUAGES = ("fr", "en", "ar")
# Raise when analysis.py changes what a word becomes, or when what the index keeps of a document
# changes (2: the postings): the index is then rebuilt at start.
ANALYSIS_VERSION = "2"
TERMS = {"fr": french_term, "en": english_term, "ar": arabic_term}
# The weight of a term's position: the text (D), words as written (C), the title (A), in the
# proportions of the Whoosh engine's field boosts (text 1, exact 1.5, title 4); B is unused.
WEIGHTS = {"A": 1.0, "B": 0.0, "C": 0.375, "D": 0.25}
# pi^2/6, the sum of 1/n^2: ts_rank divides a term's weighted sum by it.
SERIES_LIMIT = 1.64493406685
MAX_POSITIONS = 256  # per term and document, as PostgreSQL keeps at most
MAX_POSITION = 16383  # a greater position is stored as this one
# Longer "words" (a pasted hash, base64) are nobody's search; PostgreSQL refuses terms over 2 kB.
MAX_TERM_BYTES = 250
# What a hit shows, read with the page of matches in the same statement.
HIT_COLUMNS = (
    "kind",
    "module_uid",
    "lesson_slug",
    "lang",
    "title",
    "module_title",
    "body",
    "country",
    "levels",
    "subject",
    "resource_type",
)
TITLE_GAP = 2  # positions between the title and the text: no phrase spans them
WRITE_BATCH = 500


# ---------------------------------------------------------------------------- terms


def _quoted(lexeme: str) -> str:
    """Return ``lexeme`` quoted for a tsvector or tsquery literal."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def _words_as_terms(term: Callable[[str], str | None], value: str) -> list[str]:
    """Return the terms of ``value`` in order; stop words leave no gap, as in the Whoosh engine.

    A term too long to index is left out like a stop word, in texts and in queries alike.
    """
    return [
        found
        for word in WORD.findall(value)
        if (found := term(word)) is not None
        # A UTF-8 character takes at most 4 bytes: most terms need no encoding to measure.
        and (len(found) * 4 <= MAX_TERM_BYTES or len(found.encode()) <= MAX_TERM_BYTES)
    ]


def analysis_language(lang: str) -> str:
    return lang if lang in LANGUAGES else "fr"


Positions = list[tuple[int, str]]  # (position, weight letter), in order


def document_terms(doc: Document) -> dict[str, Positions]:
    """Return the terms of ``doc``, each with its positions and their weights.

    Stemmed terms are ``fr:stem`` (weight A in the title, D in the text: body and extra),
    words as written ``fr=mot`` (weight C, title, body and extra, as the Whoosh exact field).
    """
    lang = analysis_language(doc.lang)
    stem = TERMS[lang]
    terms: dict[str, Positions] = {}
    title = _words_as_terms(stem, doc.title)
    _add_positions(terms, f"{lang}:", title, 1, "A")
    text_ = _words_as_terms(stem, f"{doc.body}\n{doc.extra}")
    _add_positions(terms, f"{lang}:", text_, len(title) + TITLE_GAP, "D")
    written = f"{doc.title}\n{doc.body}\n{doc.extra}"
    _add_positions(terms, f"{lang}=", _words_as_terms(EXACT_TERMS[lang], written), 1, "C")
    return terms


def _add_positions(
    positions: dict[str, Positions], prefix: str, terms: list[str], start: int, weight: str
) -> None:
    """Add each term's position (from ``start``) and weight, as a tsvector keeps them.

    At most ``MAX_POSITIONS`` per term, and positions past ``MAX_POSITION`` become one.
    """
    for position, term in enumerate(terms, start):
        found = positions.setdefault(prefix + term, [])
        position = min(position, MAX_POSITION)
        if len(found) < MAX_POSITIONS and not (found and found[-1][0] == position):
            found.append((position, weight))


def tsvector_literal(terms: dict[str, Positions]) -> str:
    """Return the tsvector literal of ``document_terms``."""
    return " ".join(
        f"{_quoted(term)}:{','.join(f'{position}{weight}' for position, weight in at)}"
        for term, at in terms.items()
    )


def term_score(positions: Positions) -> float:
    """Return what a term adds to the rank of a document holding it at ``positions``.

    PostgreSQL's ``ts_rank`` (no normalization) counts a term so: its highest weight, plus
    every other position's weight divided by the square of the position's rank among the
    term's (1, 4, 9 …), over pi^2/6. A title word counts most, each further mention less. For
    a query of several terms (any of them, or alternatives as ours are) it adds the terms'
    scores and divides by how many the query has: the same order as adding the scores here.
    No division by the document's length: the page that teaches a subject is often the
    longest about it (on the relevance cases, dividing by 1 + log(length) lost four of them,
    by the length forty).
    """
    weights = [WEIGHTS[weight] for _, weight in positions]
    top = max(weights)
    top_rank = weights.index(top) + 1
    series = sum(weight / (rank * rank) for rank, weight in enumerate(weights, start=1))
    return (top + series - top / (top_rank * top_rank)) / SERIES_LIMIT


def _phrase_or_term(lexemes: list[str], phrase: bool) -> str:
    if len(lexemes) == 1:
        return lexemes[0]
    return "(" + (" <-> " if phrase else " & ").join(lexemes) + ")"


def _alternatives(lang: str, value: str, phrase: bool, used: set[str]) -> list[str]:
    """Return the ways ``value`` can match documents of ``lang``; [] if it means nothing there.

    Add the terms they name to ``used``.
    """
    alternatives = []
    for term, mark in ((TERMS[lang], ":"), (EXACT_TERMS[lang], "=")):
        terms = [f"{lang}{mark}{t}" for t in _words_as_terms(term, value)]
        if terms:
            used.update(terms)
            alternatives.append(_phrase_or_term([_quoted(t) for t in terms], phrase))
    return alternatives


@dataclass(frozen=True)
class TsQuery:
    """A query as PostgreSQL matches it, and the terms whose postings rank its matches."""

    text: str  # the tsquery literal
    terms: list[str]  # every term it names


def build_tsquery(words: list[str], phrases: list[str], require_all: bool = True) -> TsQuery | None:
    """Return the tsquery the Whoosh engine's ``build_query`` would mean, or None.

    Each language's part asks only for the words that mean something in it (a stop word of
    that language asks nothing of its documents); short words that are a stop word anywhere
    are dropped everywhere. Terms carry their language, so a part only reaches its documents.
    """
    words = [
        w for w in words if len(w) > 3 or all(_words_as_terms(TERMS[lang], w) for lang in LANGUAGES)
    ]
    per_language = []
    used: set[str] = set()
    for lang in LANGUAGES:
        parts = [
            "(" + " | ".join(found) + ")"
            for value, phrase in [(w, False) for w in words] + [(p, True) for p in phrases]
            if (found := _alternatives(lang, value, phrase, used))
        ]
        if parts:
            per_language.append("(" + (" & " if require_all else " | ").join(parts) + ")")
    return TsQuery(" | ".join(per_language), sorted(used)) if per_language else None


def query_stems(lang: str, words: list[str], phrases: list[str]) -> list[str]:
    """Return the indexed forms of the query's words in ``lang``, to mark them in snippets."""
    stems: set[str] = set()
    for value in [*words, *phrases]:
        for term in (TERMS[lang], EXACT_TERMS[lang]):
            stems.update(_words_as_terms(term, value))
    return sorted(stems, key=len, reverse=True)


# ---------------------------------------------------------------------------- writing

_WORDS_OF_MODULES = """
    SELECT left(l.lexeme, 2) AS lang, substr(l.lexeme, 4) AS word,
           sum(coalesce(array_length(l.positions, 1), 1)) AS n
    FROM search_document d, unnest(d.terms) AS l
    WHERE {where} AND substr(l.lexeme, 3, 1) = '='
    GROUP BY 1, 2
"""
_INSERT_DOCUMENT = text(
    """
    INSERT INTO search_document (id, module_uid, kind, lesson_slug, lang, country, levels,
        subject, resource_type, title, module_title, body, terms)
    VALUES (:id, :module_uid, :kind, :lesson_slug, :lang, :country, :levels, :subject,
        :resource_type, :title, :module_title, :body, CAST(:terms AS tsvector))
    """
)
# Documents are known by their id in the batch, by their number in the postings.
_INSERT_POSTINGS = text(
    """
    INSERT INTO search_posting (term, document, score)
    SELECT p.term, d.number, p.score
    FROM unnest(CAST(:ids AS text[]), CAST(:terms AS text[]), CAST(:scores AS real[]))
         AS p (id, term, score)
    JOIN search_document d ON d.id = p.id
    """
)


def _delete_documents(connection: Connection, condition: str, parameters: dict) -> None:
    """Delete the documents ``d`` meeting ``condition``, and their postings.

    A document's postings are found by its terms, through the postings' key: no other index.
    """
    connection.execute(
        text(
            "DELETE FROM search_posting p USING search_document d, unnest(d.terms) AS l "
            f"WHERE {condition} AND p.term = l.lexeme AND p.document = d.number"  # noqa: S608
        ),
        parameters,
    )
    connection.execute(
        text(f"DELETE FROM search_document d WHERE {condition}"),  # noqa: S608 (ours)
        parameters,
    )


def _row(doc: Document, terms: dict[str, Positions]) -> dict:
    return {
        "id": doc.id,
        "module_uid": doc.module_uid,
        "kind": doc.kind,
        "lesson_slug": doc.lesson_slug,
        "lang": doc.lang,
        "country": doc.country,
        "levels": ",".join(doc.levels),
        "subject": doc.subject,
        "resource_type": doc.resource_type,
        "title": doc.title,
        "module_title": doc.module_title,
        "body": doc.body,
        "terms": tsvector_literal(terms),
    }


def _batches(items: Iterable, size: int = WRITE_BATCH) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def write_changes(
    connection: Connection, documents: dict[str, list[Document]], removed: Iterable[str] = ()
) -> None:
    """Replace the documents of each module in ``documents``, drop those of ``removed``.

    Written in the connection's transaction: seen by other connections once it commits.
    """
    uids = sorted({*documents, *removed})
    if not uids:
        return
    connection.execute(
        text(
            "INSERT INTO search_state (id, analysis) VALUES (1, :version) "
            "ON CONFLICT (id) DO NOTHING"
        ),
        {"version": ANALYSIS_VERSION},
    )
    # Word counts first, while the old documents still say which words they held; in the
    # order of the key, so that two writers never wait for each other's rows crosswise.
    counts = connection.execute(
        text(
            "UPDATE search_word w SET count = w.count - old.n FROM ("
            + _WORDS_OF_MODULES.format(where="d.module_uid = ANY(:uids)")
            + " ORDER BY 1, 2) AS old WHERE w.lang = old.lang AND w.word = old.word "
            "RETURNING w.lang, w.word, w.count"
        ),
        {"uids": uids},
    ).all()
    gone = [(lang, word) for lang, word, count in counts if count <= 0]
    for batch in _batches(gone):
        connection.execute(
            text(
                "DELETE FROM search_word WHERE (lang, word) IN "
                "(SELECT * FROM unnest(CAST(:langs AS text[]), CAST(:words AS text[])))"
            ),
            {"langs": [lang for lang, _ in batch], "words": [word for _, word in batch]},
        )
    _delete_documents(connection, "d.module_uid = ANY(:uids)", {"uids": uids})
    connection.execute(text("DELETE FROM search_module WHERE uid = ANY(:uids)"), {"uids": uids})
    _insert(connection, (doc for docs in documents.values() for doc in docs))
    connection.execute(
        text(
            "INSERT INTO search_word (lang, word, count) "
            + _WORDS_OF_MODULES.format(where="d.module_uid = ANY(:uids)")
            + " ORDER BY 1, 2 ON CONFLICT (lang, word) "
            "DO UPDATE SET count = search_word.count + excluded.count"
        ),
        {"uids": [uid for uid in uids if uid in documents]},
    )


def _insert(connection: Connection, documents: Iterable[Document]) -> int:
    """Insert ``documents`` and their modules' fingerprints; return the document count."""
    count = 0
    for batch in _batches(documents):
        unique = {doc.id: doc for doc in batch}  # a document given twice: the last one
        terms = {doc.id: document_terms(doc) for doc in unique.values()}
        _delete_documents(connection, "d.id = ANY(:ids)", {"ids": list(unique)})
        connection.execute(_INSERT_DOCUMENT, [_row(doc, terms[doc.id]) for doc in unique.values()])
        postings: dict[str, list] = {"ids": [], "terms": [], "scores": []}
        for doc_id, found in terms.items():
            for term, positions in found.items():
                postings["ids"].append(doc_id)
                postings["terms"].append(term)
                postings["scores"].append(term_score(positions))
        connection.execute(_INSERT_POSTINGS, postings)
        fingerprints = {doc.module_uid: doc.fingerprint for doc in batch}
        connection.execute(
            text(
                "INSERT INTO search_module (uid, fingerprint) VALUES (:uid, :fingerprint) "
                "ON CONFLICT (uid) DO UPDATE SET fingerprint = excluded.fingerprint"
            ),
            [{"uid": uid, "fingerprint": f} for uid, f in sorted(fingerprints.items())],
        )
        count += len(batch)
    return count


class PostgresIndexUpdate:
    """Changes to the index, written in the session's transaction under a savepoint.

    ``prepare`` writes them (other connections do not see them), ``publish`` commits the
    session, which publishes them for every host, ``discard`` rolls back to the savepoint.
    """

    def __init__(self, session: Session | scoped_session) -> None:
        self._session = session
        self._documents: dict[str, list[Document]] = {}
        self._removed: set[str] = set()
        self._savepoint = None
        self._prepared = False
        self._published = False
        self.modules: set[str] = set()  # modules whose documents this update replaces

    def replace(self, uid: str, documents: Iterable[Document]) -> None:
        """Replace every document of module ``uid`` with ``documents``."""
        self._check_can_change(uid)
        self._documents[uid] = list(documents)
        self.modules.add(uid)

    def remove(self, uid: str) -> None:
        """Drop every document of module ``uid``."""
        self._check_can_change(uid)
        self._removed.add(uid)

    def _check_can_change(self, uid: str) -> None:
        if uid in self.modules or uid in self._removed or self._prepared:
            raise ValueError(f"module {uid} is already in this update, or the update is written")

    def prepare(self) -> None:
        """Write the changes in the transaction; other connections see them once published."""
        if self._prepared:
            return
        self._savepoint = self._session.begin_nested()
        write_changes(self._session.connection(), self._documents, self._removed)
        self._prepared = True

    def publish(self) -> None:
        """Commit the session: the changes, and what else it holds, are seen by every host."""
        self.prepare()
        if self._savepoint.is_active:
            self._savepoint.commit()
        self._session.commit()
        self._published = True

    def discard(self) -> None:
        """Roll the changes back to before they were written; nothing once published."""
        if not self._published and self._savepoint is not None and self._savepoint.is_active:
            self._savepoint.rollback()
        self._prepared = True  # no more changes: the update is over


@dataclass
class _Facets:
    total: int
    facets: dict[str, list[tuple[str, int]]]


class PostgresIndex:
    """The search index in the app's PostgreSQL database; searches run on their own connection.

    Writes go through ``session`` (the app's), in its transaction; ``write`` adds changes to the
    transaction under way without committing it (``indexing`` does so within each commit).
    """

    def __init__(self, engine: Engine, session: Session | scoped_session) -> None:
        self.engine = engine
        self.session = session
        # Searches read on connections of their own, in autocommit: a search is then one
        # round trip (no BEGIN, no ROLLBACK, no SET), its one statement reading one snapshot,
        # and the planner settings below never reach the app's other queries.
        # Its pool is of the app's kind (the tests' keep no connection open).
        self.reader = create_engine(
            engine.url, isolation_level="AUTOCOMMIT", poolclass=type(engine.pool)
        )
        event.listen(self.reader, "connect", _plan_for_search)

    # -- state

    def needs_rebuild(self) -> bool:
        """Return True when the documents were indexed by another version of the analysis.

        An index never written is empty at this version: the modules already in the database
        are indexed by the next ``sync_index`` (none of their fingerprints is indexed), and
        each commit then keeps up. (No row is written before: a database holding only it would
        not count as empty for a restore.)
        """
        with self.engine.connect() as connection:
            version = connection.scalar(text("SELECT analysis FROM search_state WHERE id = 1"))
        return version is not None and version != ANALYSIS_VERSION

    def fingerprints(self) -> dict[str, str]:
        """Return the fingerprint indexed for each module."""
        connection = self.session.connection()
        return dict(connection.execute(text("SELECT uid, fingerprint FROM search_module")).all())

    def version(self) -> str:
        # The documents are rows written in the content's own transaction, so the content
        # generation that stored pages are kept under already changes with them.
        return "database"

    def close(self) -> None:
        """Close the searches' connections (a forked worker opens its own)."""
        self.reader.dispose()

    # -- writing

    def write(self, documents: dict[str, list[Document]], removed: Iterable[str] = ()) -> None:
        """Write changes in the session's transaction under way, without committing it."""
        write_changes(self.session.connection(), documents, removed)

    def begin_update(self) -> PostgresIndexUpdate:
        """Start changes that searches see only once published."""
        return PostgresIndexUpdate(self.session)

    def replace_modules(
        self, documents: dict[str, list[Document]], removed: Iterable[str] = ()
    ) -> None:
        """Replace the documents of each module in ``documents`` and drop those of ``removed``."""
        replace_in_one_update(self.begin_update(), documents, removed)

    def rebuild(
        self, documents: Iterable[Document], progress: Callable[[int], None] | None = None
    ) -> int:
        """Index everything anew in one transaction, then commit; return the document count.

        Until the commit, searches see the old documents (DELETE, not TRUNCATE: readers are
        never blocked).
        """
        connection = self.session.connection()
        try:
            for table in ("search_posting", "search_document", "search_module", "search_word"):
                connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608 (our names)
            count = 0

            def counted():
                nonlocal count
                for doc in documents:
                    yield doc
                    count += 1
                    if progress:
                        progress(count)

            _insert(connection, counted())
            connection.execute(
                text(
                    "INSERT INTO search_word (lang, word, count) "
                    + _WORDS_OF_MODULES.format(where="true")
                    + " ORDER BY 1, 2"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO search_state (id, analysis) VALUES (1, :version) "
                    "ON CONFLICT (id) DO UPDATE SET analysis = excluded.analysis"
                ),
                {"version": ANALYSIS_VERSION},
            )
            self.session.commit()
        except BaseException:
            self.session.rollback()
            raise
        return count

    # -- reading

    def search(self, query: SearchQuery) -> SearchResults:
        results = SearchResults(query=query)
        if "\x00" in "".join(query.filters().values()):
            return results  # no document has such a value (and PostgreSQL takes no NUL)
        words, phrases = parse_user_query(query.text)
        with self.reader.connect() as connection:
            parsed = build_tsquery(words, phrases)
            if parsed is None:
                results.empty_query = True
                if not query.filters():
                    return results
            self._run(connection, parsed, words, phrases, results)
            if words and results.total < 3:
                suggestion = self._suggest(connection, words, found_nothing=results.total == 0)
                if suggestion:
                    results.suggestion = " ".join([suggestion, *(f'"{p}"' for p in phrases)])
                    if results.total == 0:
                        corrected = build_tsquery(suggestion.split(), phrases)
                        if corrected is not None:
                            self._run(connection, corrected, suggestion.split(), phrases, results)
                            results.corrected = results.total > 0
            if results.total == 0 and len(words) + len(phrases) > 1:
                partial = build_tsquery(words, phrases, require_all=False)
                if partial is not None:
                    self._run(connection, partial, words, phrases, results)
                    results.partial = results.total > 0
        return results

    def _run(
        self,
        connection: Connection,
        tsquery: TsQuery | None,
        words: list[str],
        phrases: list[str],
        results: SearchResults,
    ) -> None:
        """Fill ``results`` with the total, the facets and the page of documents matching."""
        query = results.query
        conditions, parameters = [], {}
        if tsquery is not None:
            conditions.append("terms @@ CAST(:tsquery AS tsquery)")
            parameters.update(tsquery=tsquery.text, terms=tsquery.terms)
        for name, value in query.filters().items():
            if name == "levels":
                conditions.append(":levels = ANY(string_to_array(levels, ','))")
            else:
                conditions.append(f"{name} = :{name}")  # a field name of SearchQuery.filters
            parameters[name] = value
        # A match's rank is the sum of its postings' scores for the query's terms: ts_rank's
        # order, read from the postings' index instead of unpacking each match's terms. Added
        # as doubles, a few reals sum exactly, whatever their order: equal pages tie, and the
        # id then orders them the same way every time.
        ranked, ranked_join, rank = "", "", "0"
        if tsquery is not None:
            ranked = """,
                ranked AS (
                    SELECT p.document, sum(CAST(p.score AS double precision)) AS score
                    FROM search_posting p JOIN matched m ON m.number = p.document
                    WHERE p.term = ANY(CAST(:terms AS text[]))
                    GROUP BY p.document
                )"""
            ranked_join = "LEFT JOIN ranked ON ranked.document = matched.number"
            rank = "coalesce(ranked.score, 0)"
        page = max(1, query.page)
        parameters.update(
            prefer=query.prefer_lang if query.prefer_lang in LANGUAGES else "",
            limit=query.per_page,
            offset=(page - 1) * query.per_page,
        )
        # Every facet in one pass over the matches. Levels are counted per list as stored,
        # then per level in Python: far fewer rows than unnesting each match's list.
        facet_name = " ".join(f"WHEN GROUPING({name}) = 0 THEN '{name}'" for name in FACETS)
        counts = (
            f"SELECT CASE {facet_name} END, COALESCE({', '.join(FACETS)}), count(*) "
            f"FROM matched GROUP BY GROUPING SETS ({', '.join(FACETS)})"
        )
        rows = connection.execute(
            text(
                f"""
                WITH matched AS MATERIALIZED (
                    SELECT number, id, kind, lang, country, levels, subject, resource_type
                    FROM search_document WHERE {" AND ".join(conditions)}
                ){ranked},
                page AS (
                    SELECT id, lang = :prefer AS preferred, {rank} AS rank
                    FROM matched {ranked_join}
                    ORDER BY preferred DESC, rank DESC, id
                    LIMIT :limit OFFSET :offset
                )
                SELECT '' AS facet, id AS value,
                       row_number() OVER (ORDER BY preferred DESC, rank DESC, id) AS n,
                       {", ".join(f"d.{name}" for name in HIT_COLUMNS)}
                FROM page JOIN search_document d USING (id)
                UNION ALL
                SELECT *, {", ".join("NULL" for _ in HIT_COLUMNS)} FROM ({counts}) AS counts
                """  # noqa: S608 (names of ours; values are bound)
            ),
            parameters,
        ).all()
        facets = _facets(row[:3] for row in rows)
        results.total, results.facets = facets.total, facets.facets
        page_rows = sorted((row for row in rows if row[0] == ""), key=lambda row: row[2])
        results.hits = _hits([row._mapping for row in page_rows], words, phrases)

    def _suggest(self, connection: Connection, words: list[str], found_nothing: bool) -> str:
        """Return the query with each unknown word replaced by the closest indexed word, or ''.

        As the Whoosh engine does: a word the index holds a few times next to a close spelling
        it holds far more often counts as unknown when the query found nothing.
        """
        changed = False
        corrected = []
        for word in words:
            lower = word.lower()
            replacement = lower
            own = 0
            candidates: list[tuple[int, str]] = []
            for lang in languages_written_like(lower):
                own = max(own, self._count(connection, lang, lower))
                if own and (not found_nothing or own >= TYPO_MAX_COUNT):
                    break
                candidates.extend(self._close_words(connection, lang, lower))
            if candidates and len(lower) > 3:
                frequency, best = max(candidates)
                if not own or (found_nothing and frequency >= TYPO_RATIO * own):
                    replacement = best
                    changed = changed or replacement != lower
            corrected.append(replacement)
        return " ".join(corrected) if changed else ""

    @staticmethod
    def _count(connection: Connection, lang: str, word: str) -> int:
        found = connection.scalar(
            text("SELECT count FROM search_word WHERE lang = :lang AND word = :word"),
            {"lang": lang, "word": word},
        )
        return found or 0

    @staticmethod
    def _close_words(connection: Connection, lang: str, word: str) -> list[tuple[int, str]]:
        """Return (count, word) of the three indexed words closest to ``word``.

        Within two edits and with the same first letter, as Whoosh's ``suggest(maxdist=2,
        prefix=1)``; the trigram index finds the few candidates worth measuring.
        """
        rows = connection.execute(
            text(
                "SELECT word, count FROM search_word "
                "WHERE lang = :lang AND word % :word AND word <> :word AND count > 0 "
                "AND left(word, 1) = left(:word, 1) "
                "ORDER BY similarity(word, :word) DESC, count DESC LIMIT 20"
            ),
            {"lang": lang, "word": word},
        ).all()
        close = sorted(
            (distance, -count, found)
            for found, count in rows
            if (distance := edit_distance(word, found, limit=2)) <= 2
        )
        return [(-count, found) for _, count, found in close[:3]]


def _plan_for_search(dbapi_connection, _record) -> None:
    """Turn off the plans that make searches slow, once for each connection of searches.

    The planner takes a row's terms for cheap to test, but they are stored apart (TOAST) and a
    sequential scan unpacks every row's to match them: 10 times the time of the GIN index on a
    common word at 10,000 lessons (a search with filters only still gets the scan, the only way
    to it). It also takes the matches for fewer than they are, and sorted the postings and the
    matches for a merge join: 58 of 62 ms at 50,000 lessons, where hashing the matches and
    probing them with the postings takes 8.
    """
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off; SET enable_mergejoin = off")
    dbapi_connection.commit()  # in case the connection is not in autocommit yet


def _hits(rows: list, words: list[str], phrases: list[str]) -> list[Hit]:
    """Return the hits of the page's documents, in order, each with its snippet."""
    stems = {lang: query_stems(lang, words, phrases) for lang in LANGUAGES}
    hits = []
    for row in rows:
        lang = analysis_language(row["lang"])
        hits.append(
            Hit(
                kind=row["kind"],
                module_uid=row["module_uid"],
                lesson_slug=row["lesson_slug"],
                lang=row["lang"],
                title=row["title"],
                module_title=row["module_title"],
                snippet=make_snippet(row["body"], stems[lang], arabic=lang == "ar"),
                country=row["country"],
                levels=[level for level in row["levels"].split(",") if level],
                subject=row["subject"],
                resource_type=row["resource_type"],
            )
        )
    return hits


def _facets(rows) -> _Facets:
    counts: dict[str, Counter[str]] = {name: Counter() for name in FACETS}
    for facet, value, count in rows:
        if facet == "levels":  # a list of levels, "cc:slug" separated by commas
            for level in value.split(",") if value else []:
                counts["levels"][level] += count
        elif facet:
            counts[facet][value] += count
    facets = {
        name: sorted(found.items(), key=lambda item: (-item[1], str(item[0])))
        for name, found in counts.items()
    }
    return _Facets(total=sum(count for _, count in facets["kind"]), facets=facets)


def edit_distance(a: str, b: str, limit: int) -> int:
    """Return the Levenshtein distance of ``a`` and ``b``, or ``limit + 1`` when above it."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, start=1):
        current = [i]
        for j, other in enumerate(b, start=1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other))
            )
        if min(current) > limit:
            return limit + 1
        previous = current
    return min(previous[-1], limit + 1)
