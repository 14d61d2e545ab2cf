"""Load curricula and modules read by ``sync.content`` into the database and blob store.

Loading is an upsert keyed by country code and module id, and idempotent: a module whose
fingerprint has not changed is left alone, so a second run changes nothing and says so.
Everything here flushes and leaves the commit to the caller (a request, a command, a bundle
import); the caller then brings the search index up to date with ``sync_index``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import func, select

from imaginecole.extensions import db
from imaginecole.content.models import Lesson, LessonText, Module, ModuleCompetency
from imaginecole.curriculum.models import Competency, Country, Cycle, Domain, Level, Subject
from imaginecole.media.models import Asset
from imaginecole.content.models import LESSON_TITLE_CHARS, module_levels
from imaginecole.rendering import RENDERING_VERSION
from imaginecole.rendering.images import ImageRejected
from imaginecole.rendering.markdown import render_markdown
from imaginecole.media.operations import (
    IN_BATCH,
    blob_store,
    describe,
    has_variants,
    ingest_blob,
    known_assets,
    prepare_images,
)
from sync import model as fmt
from sync.content import ContentTree
from sync.problems import ProblemList
from sync.text import slugify

Progress = Callable[[str], None]


@dataclass
class LoadReport:
    countries_added: int = 0
    countries_updated: int = 0
    countries_unchanged: int = 0
    modules_added: int = 0
    modules_updated: int = 0
    modules_unchanged: int = 0
    lessons_loaded: int = 0
    problems: ProblemList = field(default_factory=ProblemList)
    notes: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)  # ids of the modules added or updated

    @property
    def changed(self) -> bool:
        return bool(
            self.countries_added
            or self.countries_updated
            or self.modules_added
            or self.modules_updated
        )


def max_video_bytes() -> int:
    """Return the largest video a lesson may hold here (setting ``MAX_VIDEO_MB``)."""
    return int(float(current_app.config["MAX_VIDEO_MB"]) * 1024 * 1024)


def load_tree(
    tree: ContentTree, progress: Progress | None = None, auto_version: bool = False
) -> LoadReport:
    """Load every valid curriculum and module of ``tree``; invalid ones are reported, not loaded.

    A module whose media are rejected, or cannot be stored (a full disk), is reported and
    leaves no row behind; the others are loaded. Any other error propagates. ``auto_version`` raises the version of each changed module
    itself: imported courses carry no version of their own, yet every change must reach
    schools in the next bundle.
    """
    report = LoadReport(problems=ProblemList(tree.problems))
    for curriculum in tree.curricula.values():
        load_curriculum(curriculum, report)
    for module in tree.modules:
        pending_before = set(db.session.new)
        try:
            load_module(module, report, auto_version=auto_version)
        except ImageRejected as error:
            report.problems.add(module.id, None, "media", str(error))
        except OSError as error:
            # Its files are stored before any of its rows change, so only the rows of the
            # files stored so far are pending: drop them. Those files stay in the store
            # unreferenced, ready for the next try.
            for row in set(db.session.new) - pending_before:
                if row in db.session:  # an asset takes its variants with it
                    db.session.expunge(row)
            report.problems.add(module.id, None, "", f"could not be saved: {error}")
        if progress:
            progress(module.id)
    return report


# ---------------------------------------------------------------------------- curriculum


def load_curriculum(source: fmt.Curriculum, report: LoadReport) -> Country:
    """Create or update a country and its framework; leave it alone when unchanged."""
    country = db.session.get(Country, source.code)
    fingerprint = source.fingerprint()
    if country is not None and country.fingerprint == fingerprint:
        report.countries_unchanged += 1
        return country
    if country is None:
        country = Country(code=source.code)
        db.session.add(country)
        report.countries_added += 1
    else:
        report.countries_updated += 1
    country.name = source.name
    country.languages = source.languages
    country.framework_id = source.framework_id
    country.framework_version = source.framework_version
    country.framework_title = source.framework_title
    country.fingerprint = fingerprint

    cycles = _upsert(
        Cycle, source.code, "code", source.cycles, lambda row, item: setattr(row, "name", item.name)
    )

    def set_level(row: Level, item: fmt.Level) -> None:
        row.code, row.name, row.isced, row.grade = item.code, item.name, item.isced, item.grade
        row.cycle = cycles[item.cycle]

    levels = _upsert(Level, source.code, "slug", source.levels, set_level)
    domains = _upsert(
        Domain,
        source.code,
        "slug",
        source.domains,
        lambda row, item: setattr(row, "name", item.name),
    )

    def set_subject(row: Subject, item: fmt.Subject) -> None:
        row.name, row.domain = item.name, domains[item.domain]

    subjects = _upsert(Subject, source.code, "slug", source.subjects, set_subject)

    def set_competency(row: Competency, item: fmt.Competency) -> None:
        row.label, row.type, row.subject = item.label, item.type, subjects[item.subject]
        row.levels = [levels[slugify(code)] for code in item.levels]

    competencies = _upsert(Competency, source.code, "code", source.competencies, set_competency)
    for item in source.competencies:
        competencies[item.code].parent = competencies[item.parent] if item.parent else None

    _remove_unused(source, report)
    db.session.flush()
    return country


def _upsert(model, country_code: str, key: str, items: list, update) -> dict:
    """Create or update the rows of ``model`` for ``items``, matched on ``key``; return them by key."""
    existing = {
        getattr(row, key): row
        for row in db.session.scalars(select(model).filter_by(country_code=country_code))
    }
    rows = {}
    for position, item in enumerate(items):
        value = getattr(item, key)
        row = existing.get(value)
        if row is None:
            row = model(country_code=country_code, **{key: value})
            db.session.add(row)
        row.position = position
        update(row, item)
        rows[value] = row
    # Rows not in the file are kept in `existing` minus `rows`; _remove_unused decides their fate.
    return rows


def _remove_unused(source: fmt.Curriculum, report: LoadReport) -> None:
    """Delete levels, subjects and competencies dropped from the file, unless modules use them."""
    db.session.flush()
    code = source.code
    keep_levels = {lv.slug for lv in source.levels}
    keep_subjects = set(source.subject_slugs())
    keep_competencies = set(source.competency_codes())
    for level in db.session.scalars(select(Level).filter_by(country_code=code)):
        if level.slug in keep_levels:
            continue
        used = db.session.scalar(
            select(module_levels.c.module_id).where(module_levels.c.level_id == level.id).limit(1)
        )
        if used:
            report.notes.append(
                f"{code}: level {level.code} was removed from the file but modules use it; kept"
            )
        else:
            db.session.delete(level)
    for subject in db.session.scalars(select(Subject).filter_by(country_code=code)):
        if subject.slug in keep_subjects:
            continue
        if db.session.scalar(select(Module.id).filter_by(subject_id=subject.id).limit(1)):
            report.notes.append(
                f"{code}: subject {subject.slug} was removed from the file but modules use it; kept"
            )
        else:
            db.session.execute(db.delete(Competency).filter_by(subject_id=subject.id))
            db.session.delete(subject)
    for node in db.session.scalars(select(Competency).filter_by(country_code=code)):
        if node.code in keep_competencies:
            continue
        if db.session.scalar(
            select(ModuleCompetency.module_id).filter_by(competency_id=node.id).limit(1)
        ):
            report.notes.append(
                f"{code}: competency {node.code} was removed from the file but modules use it; kept"
            )
        else:
            db.session.delete(node)
    for model, keep in (
        (Domain, {d.slug for d in source.domains}),
        (Cycle, {c.code for c in source.cycles}),
    ):
        key = "slug" if model is Domain else "code"
        for row in db.session.scalars(select(model).filter_by(country_code=code)):
            if getattr(row, key) not in keep:
                try:
                    with db.session.begin_nested():
                        db.session.delete(row)
                except Exception:  # still referenced by a kept level or subject
                    report.notes.append(
                        f"{code}: {model.__name__.lower()} {getattr(row, key)} is still in use; kept"
                    )


# ---------------------------------------------------------------------------- modules


def load_module(
    source: fmt.Module, report: LoadReport, auto_version: bool = False
) -> Module | None:
    """Create or update one module with its lessons and media.

    Returns None, with the reason in ``report``, for a module that may not replace the loaded
    one. Raises ``ImageRejected`` before anything is written for media that cannot be used.
    """
    existing = db.session.scalar(select(Module).filter_by(uid=source.id))
    module = _load(source, report, existing, Lookups(), auto_version=auto_version)
    if module is not None:
        db.session.flush()
    return module


class ModuleNotApplied(Exception):
    """A module of a batch could not be written; the message names it and says why."""

    def __init__(self, uid: str, reason: object):
        super().__init__(f"Module {uid} could not be applied: {reason}")


RenderedLessons = dict[tuple[str, str, str], str]
"""Sanitised HTML of lesson texts by (module id, lesson slug, language)."""


def render_lessons(sources: list[fmt.Module], arriving: frozenset[str]) -> RenderedLessons:
    """Render the lesson texts of ``sources`` before they are written (a bundle import, as it copies).

    Only the database is read, and only texts whose every media file can already be described
    are rendered: files known here, files that are not images, and images prepared by the
    publisher whose variants are in the store or in ``arriving`` (being copied, checked).
    Others (an image this server must still resize) are rendered when written. Modules this
    server has already, unchanged, are skipped: they will not be written.
    """
    uids = [source.id for source in sources]
    fingerprints: dict[str, str] = {}
    for start in range(0, len(uids), IN_BATCH):
        query = select(Module.uid, Module.fingerprint).where(
            Module.uid.in_(uids[start : start + IN_BATCH])
        )
        fingerprints.update((uid, fingerprint) for uid, fingerprint in db.session.execute(query))
    sources = [s for s in sources if fingerprints.get(s.id) != s.fingerprint()]
    store = blob_store()
    known = known_assets({sha for source in sources for sha in source.blobs})
    described = {}
    for source in sources:
        for sha, blob in source.blobs.items():
            if sha in known:
                described[sha] = describe(known[sha])
            elif not blob.media_type.startswith("image/") or has_variants(blob, store, arriving):
                described[sha] = describe(blob)
    rendered: RenderedLessons = {}
    for source in sources:
        for lesson in source.lessons:
            for text in lesson.texts.values():
                if all(sha in described for sha in text.media.values()):
                    lookup = {target: described[sha] for target, sha in text.media.items()}
                    key = (source.id, lesson.slug, text.lang)
                    rendered[key] = render_markdown(text.markdown, lookup.get, lang=text.lang)
    return rendered


def apply_modules(
    sources: list[fmt.Module], report: LoadReport, rendered: RenderedLessons | None = None
) -> list[Module]:
    """Write many modules in the caller's transaction, flushed once at the end (a bundle import).

    Rows every module needs (existing modules, the curriculum, assets) are read once, and the
    database gets one flush instead of one per module: most of an import's database time went
    to those round trips. Raises ``ModuleNotApplied`` for the first module that cannot be.
    ``rendered`` holds lesson texts rendered already (``render_lessons``).
    """
    existing: dict[str, Module] = {}
    uids = [source.id for source in sources]
    for start in range(0, len(uids), IN_BATCH):
        query = select(Module).where(Module.uid.in_(uids[start : start + IN_BATCH]))
        existing.update((module.uid, module) for module in db.session.scalars(query))
    lookups = Lookups(
        assets=known_assets({sha for s in sources for sha in s.blobs}), rendered=rendered or {}
    )
    applied = []
    with db.session.no_autoflush:
        for source in sources:
            try:
                module = _load(source, report, existing.get(source.id), lookups)
            except (ImageRejected, OSError) as error:  # an undecodable image, a full disk
                raise ModuleNotApplied(source.id, error) from error
            if module is None:  # _load said why in the report
                raise ModuleNotApplied(source.id, report.problems[-1])
            applied.append(module)
    db.session.flush()
    return applied


def _load(
    source: fmt.Module,
    report: LoadReport,
    existing: Module | None,
    lookups: Lookups,
    *,
    auto_version: bool = False,
) -> Module | None:
    fingerprint = source.fingerprint()
    if existing is not None:
        if existing.country_code != source.country:
            report.problems.add(
                source.id,
                None,
                "id",
                f"the id is already used by a module of {existing.country_code}",
            )
            return None
        if existing.fingerprint == fingerprint and (
            auto_version or existing.version == source.version
        ):
            report.modules_unchanged += 1
            return existing
        if auto_version and existing.version >= source.version:
            source = dataclasses.replace(source, version=existing.version + 1)
        elif existing.version > source.version:
            report.problems.add(
                source.id, None, "version",
                f"version {source.version} is older than the loaded version {existing.version}; not loaded",
            )  # fmt: skip
            return None
        elif existing.version == source.version and existing.fingerprint != fingerprint:
            report.notes.append(
                f"{source.id}: content changed but version is still {source.version}; raise it"
            )
    module = _write_module(existing, source, fingerprint, lookups)
    if existing is None:
        report.modules_added += 1
    else:
        report.modules_updated += 1
    report.written.append(source.id)
    report.lessons_loaded += len(source.lessons)
    return module


@dataclass
class Lookups:
    """Rows that writing modules needs again and again, each read once per batch.

    ``assets``, when given, holds every asset of the batch already in the database and those
    created since, not yet flushed: a second module using the same file must get the same row,
    and the session cannot find an unflushed row by its key.
    """

    curricula: dict[str, tuple[dict, dict, dict]] = field(default_factory=dict)
    assets: dict[str, Asset] | None = None
    rendered: RenderedLessons = field(default_factory=dict)

    def curriculum(
        self, country: str
    ) -> tuple[dict[str, Level], dict[str, Subject], dict[str, Competency]]:
        """Return the country's levels by code, subjects by slug and competencies by code."""
        if country not in self.curricula:
            levels, subjects, competencies = (
                db.session.scalars(select(model).filter_by(country_code=country)).all()
                for model in (Level, Subject, Competency)
            )
            self.curricula[country] = (
                {level.code: level for level in levels},
                {subject.slug: subject for subject in subjects},
                {competency.code: competency for competency in competencies},
            )
        return self.curricula[country]


def _write_module(
    module: Module | None, source: fmt.Module, fingerprint: str, lookups: Lookups
) -> Module:
    levels, subjects, competencies = lookups.curriculum(source.country)
    store = blob_store()
    # Each lookup of an asset would otherwise first flush the ones just added: with hundreds
    # of images that was most of a bundle import's database time. Blobs of one module are
    # distinct; earlier modules are flushed already, or their assets are in lookups.assets.
    with db.session.no_autoflush:
        blobs = list(source.blobs.values())
        # Rejects the module's unusable images before the session changes: a rejected
        # module leaves nothing in the caller's transaction.
        prepared = prepare_images(blobs, lookups.assets)
        assets = {b.sha256: ingest_blob(b, store, prepared, lookups.assets) for b in blobs}
    if module is None:
        module = Module(uid=source.id, country_code=source.country)
        db.session.add(module)
    module.set_plain_fields(source)
    module.subject = subjects.get(source.subject)
    module.authors = [{"name": a.name, "role": a.role} for a in source.authors]
    module.fingerprint = fingerprint
    module.levels = [levels[code] for code in source.levels]
    module.competency_links = [
        ModuleCompetency(competency=competencies[code], relation=relation)
        for relation, codes in (("teaches", source.competencies), ("assesses", source.assesses))
        for code in dict.fromkeys(codes)
    ]

    module.assets = list(assets.values())
    described = {sha: describe(asset) for sha, asset in assets.items()}

    if module.lessons:
        module.lessons = []
        db.session.flush()  # old lessons go before new ones reuse their slugs
    for item in source.lessons:
        lesson = Lesson(slug=item.slug, position=item.position)
        for text in item.texts.values():
            html = lookups.rendered.get((source.id, item.slug, text.lang))
            if html is None:
                lookup = {target: described[sha] for target, sha in text.media.items()}
                html = render_markdown(text.markdown, lookup.get, lang=text.lang)
            lesson.translations.append(
                LessonText(
                    lang=text.lang,
                    title=text.title[:LESSON_TITLE_CHARS],
                    markdown=text.markdown,
                    html=html,
                    rendering=RENDERING_VERSION,
                    media=text.media,
                )
            )
        module.lessons.append(lesson)
    return module


def stale_lessons() -> int:
    """Return how many lesson texts an older renderer made (``RENDERING_VERSION``)."""
    return db.session.scalar(
        select(func.count()).select_from(LessonText).where(LessonText.rendering < RENDERING_VERSION)
    )


def rerender_stale_lessons(batch: int = 200) -> int:
    """Render again, from their Markdown, the lesson texts an older renderer made; return how many.

    Only the stored HTML changes: the module keeps its fingerprint and version (the files did
    not change), and the write moves the content generation on, so cached pages are retired.
    The caller holds the import lock (or runs alone) and commits.
    """
    done = 0
    while True:
        texts = db.session.scalars(
            select(LessonText)
            .where(LessonText.rendering < RENDERING_VERSION)
            .order_by(LessonText.id)
            .limit(batch)
        ).all()
        if not texts:
            return done
        for text in texts:
            assets = {asset.sha256: asset for asset in text.lesson.module.assets}
            lookup = {
                target: describe(assets[sha]) for target, sha in text.media.items() if sha in assets
            }
            text.html = render_markdown(text.markdown, lookup.get, lang=text.lang)
            text.rendering = RENDERING_VERSION
        db.session.flush()
        done += len(texts)


def remove_module(uid: str) -> bool:
    """Delete a module and its lessons; return False when it was not there.

    Blobs stay in the store: other modules may share them, and a later bundle may need them.
    """
    module = db.session.scalar(select(Module).filter_by(uid=uid))
    if module is None:
        return False
    db.session.delete(module)
    db.session.flush()
    return True
