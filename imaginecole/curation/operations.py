"""Curation by national teams: a module's metadata, lesson order and publication, with history.

Every change raises the module's version by one and recomputes its fingerprint from the module
as a bundle sees it (``content.sources.to_source``), so the next bundle, full or delta, carries
it. Each version is recorded as a ``ModuleVersion`` with a snapshot and a one-line summary. Changes are
flushed: the caller commits, then brings the search index up to date (``sync_index``).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from imaginecole.accounts.models import User
from imaginecole.content.models import Module, ModuleCompetency, module_levels
from imaginecole.content.operations import remove_module
from imaginecole.content.sources import to_source
from imaginecole.curation.models import ModuleVersion  # imported here, its table gets created
from imaginecole.curriculum.models import Competency, Level, Subject
from imaginecole.extensions import db
from imaginecole.media.operations import blob_store
from sync import model as fmt
from sync.content import LANGUAGES, OPEN_LICENCES, RESOURCE_TYPES
from sync.model import module_info
from sync.submissions import InvalidText, validate_text

EDITING_ROLES = ("editor", "admin")
MAX_TITLE = 300
MAX_SUMMARY = 2000
MAX_ATTRIBUTION = 500
MAX_KEYWORD = 60
MAX_KEYWORDS = 30
LINE_BREAKS = re.compile(r"[\r\n\t]+")
SHOWN_IN_SUMMARY = 40  # characters of a text shown in a history line before it is cut


@dataclass(frozen=True)
class Problem:
    """Why a field was refused: a code the page turns into words, and what it refers to."""

    code: str
    value: str = ""
    limit: int = 0


@dataclass(frozen=True)
class Change:
    """One difference between two versions; ``lang`` names the language (or the lesson's slug)."""

    field: str
    lang: str
    before: str
    after: str

    def line(self) -> str:
        name = f"{self.field} ({self.lang})" if self.lang else self.field
        return f"{name}: {self.before} → {self.after}"


class CurationError(ValueError):
    """A change that cannot be made as asked; ``problems`` maps each form field to its problem."""

    def __init__(self, problems: dict[str, Problem]):
        super().__init__("; ".join(f"{name}: {p.code} {p.value}" for name, p in problems.items()))
        self.problems = problems


@dataclass
class MetadataForm:
    """A module's editable metadata as plain values, in the content format's terms.

    Levels, competencies and subject are given by their codes and slug, as in ``module.toml``;
    a language left empty in ``title`` or ``summary`` drops that translation.
    """

    title: dict[str, str] = field(default_factory=dict)
    summary: dict[str, str] = field(default_factory=dict)
    levels: list[str] = field(default_factory=list)
    subject: str = ""
    competencies: list[str] = field(default_factory=list)
    assesses: list[str] = field(default_factory=list)
    resource_type: str = ""
    licence: str = ""
    attribution: str = ""
    keywords: list[str] = field(default_factory=list)

    @classmethod
    def from_module(cls, module: Module) -> MetadataForm:
        """Return the module's current metadata, to fill the form."""
        return cls(
            title=dict(module.title),
            summary=dict(module.summary),
            levels=[level.code for level in module.levels],
            subject=module.subject.slug,
            competencies=[c.code for c in module.competencies("teaches")],
            assesses=[c.code for c in module.competencies("assesses")],
            resource_type=module.resource_type,
            licence=module.licence,
            attribution=module.attribution,
            keywords=list(module.keywords),
        )


# ---------------------------------------------------------------------------- permission


def can_curate(user: User | None, country_code: str) -> bool:
    """Return whether ``user`` may curate the modules of ``country_code``."""
    return (
        user is not None
        and not user.disabled
        and user.role in EDITING_ROLES
        and user.can_act_for(country_code)
    )


def check_can_curate(user: User | None, module: Module) -> None:
    """Raise PermissionError unless ``user`` is an editor of the module's country or an admin.

    The pages check too; this guard keeps a command or a future page from forgetting it.
    """
    if not can_curate(user, module.country_code):
        raise PermissionError(f"this account may not curate the modules of {module.country_code}")


# ---------------------------------------------------------------------------- reading


def country_modules(country_code: str, level: str = "", subject: str = "") -> list[Module]:
    """Return a country's modules, published or not, optionally only of a level and a subject.

    ``level`` and ``subject`` are slugs, as in catalogue URLs.
    """
    query = (
        select(Module)
        .filter_by(country_code=country_code)
        .join(Subject, Module.subject_id == Subject.id)
        .options(selectinload(Module.levels), selectinload(Module.subject))
        .order_by(Subject.position, Module.uid)
    )
    if level:
        query = (
            query.join(module_levels, module_levels.c.module_id == Module.id)
            .join(Level, Level.id == module_levels.c.level_id)
            .where(Level.slug == level)
        )
    if subject:
        query = query.where(Subject.slug == subject)
    return list(db.session.scalars(query))


def history(module: Module) -> list[ModuleVersion]:
    """Return the recorded versions of ``module``, newest first."""
    return history_of(module.uid)


def history_of(uid: str) -> list[ModuleVersion]:
    """Return the recorded versions of the module ``uid``, newest first, even once deleted."""
    return list(
        db.session.scalars(
            select(ModuleVersion)
            .filter_by(module_uid=uid)
            .options(selectinload(ModuleVersion.changed_by))
            .order_by(ModuleVersion.version.desc())
        )
    )


def history_with_changes(uid: str) -> list[tuple[ModuleVersion, list[Change] | None]]:
    """Return each recorded version of module ``uid``, newest first, with what changed since the
    one before, even once the module is removed.

    The oldest recorded version has None: nothing was recorded before it to compare with.
    """
    versions = history_of(uid)
    olders: list[ModuleVersion | None] = [*versions[1:], None] if versions else []
    return [
        (row, changes_between(older.snapshot, row.snapshot) if older is not None else None)
        for row, older in zip(versions, olders, strict=True)
    ]


def competency_groups(country_code: str) -> list[tuple[Subject, list[Competency]]]:
    """Return the country's subjects, each with its competencies in curriculum order."""
    nodes = db.session.scalars(
        select(Competency).filter_by(country_code=country_code).order_by(Competency.position)
    ).all()
    subjects = db.session.scalars(
        select(Subject).filter_by(country_code=country_code).order_by(Subject.position)
    ).all()
    return [(s, [c for c in nodes if c.subject_id == s.id]) for s in subjects]


def snapshot(module: Module, source: fmt.Module | None = None) -> dict:
    """Return what a version of ``module`` was: metadata, lesson order, each lesson's fingerprint."""
    source = source or to_source(module, blob_store())
    info = module_info(source)
    return {
        "version": module.version,
        "fingerprint": module.fingerprint,
        "published": module.published,
        **{name: info[name] for name in SNAPSHOT_FIELDS},
        "authors": [asdict(author) for author in source.authors],
        "lessons": [
            {
                "slug": lesson.slug,
                "position": lesson.position,
                "title": {lang: text.title for lang, text in lesson.texts.items()},
                "fingerprint": _lesson_fingerprint(lesson),
            }
            for lesson in source.lessons
        ],
    }


def _lesson_fingerprint(lesson: fmt.Lesson) -> str:
    # Its texts only, not its position: a moved lesson keeps its fingerprint.
    data = {lang: asdict(text) for lang, text in lesson.texts.items()}
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


# ---------------------------------------------------------------------------- changes


def update_metadata(
    module: Module, editor: User, changes: MetadataForm, *, expected_version: int | None = None
) -> bool:
    """Give ``module`` the metadata in ``changes``; return False when nothing differs.

    Raises CurationError with the problems of every field (nothing is written), and when
    ``expected_version`` (the version the form was shown at) is no longer the module's, so
    that one editor does not silently undo another's work.
    """
    check_can_curate(editor, module)
    problems, wanted = _validate(module, changes)
    if problems:
        raise CurationError(problems)
    current = _metadata_of(module)
    if wanted == current:
        return False
    _check_version(module, expected_version)
    before = snapshot(module)

    # New objects: a JSON column notices a replaced value, not one changed in place.
    module.title = dict(wanted["title"])
    module.summary = dict(wanted["summary"])
    if wanted["levels"] != current["levels"]:
        module.levels = _rows(Level, module.country_code, "code", wanted["levels"])
    if wanted["subject"] != current["subject"]:
        module.subject = db.session.scalar(
            select(Subject).filter_by(country_code=module.country_code, slug=wanted["subject"])
        )
    for relation, name in (("teaches", "competencies"), ("assesses", "assesses")):
        if wanted[name] != current[name]:
            _set_links(
                module, relation, _rows(Competency, module.country_code, "code", wanted[name])
            )
    module.resource_type = wanted["resource_type"]
    module.licence = wanted["licence"]
    module.attribution = wanted["attribution"]
    module.keywords = list(wanted["keywords"])
    _save(module, editor, before)
    return True


def reorder_lessons(
    module: Module, editor: User, slugs_in_order: list[str], *, expected_version: int | None = None
) -> bool:
    """Put the lessons of ``module`` in the order of ``slugs_in_order``; False when it is the same.

    Every lesson must be named exactly once (CurationError on field ``lessons`` otherwise).
    """
    check_can_curate(editor, module)
    lessons = sorted(module.lessons, key=lambda lesson: lesson.position)
    current = [lesson.slug for lesson in lessons]
    if len(slugs_in_order) != len(current) or set(slugs_in_order) != set(current):
        raise CurationError({"lessons": Problem("invalid_order")})
    if list(slugs_in_order) == current:
        return False
    _check_version(module, expected_version)
    before = snapshot(module)
    by_slug = {lesson.slug: lesson for lesson in lessons}
    # Numbered from 1 like the lesson files (01-…), so a module written back to files reads the same.
    for position, slug in enumerate(slugs_in_order, start=1):
        by_slug[slug].position = position
    _save(module, editor, before)
    return True


def set_published(
    module: Module, editor: User, published: bool, *, expected_version: int | None = None
) -> bool:
    """Publish or unpublish ``module``; return False when it already is.

    An unpublished module leaves the catalogue, search and the next bundle (schools receive a
    removal); it stays on the curation pages and keeps its history.
    """
    check_can_curate(editor, module)
    if module.published == published:
        return False
    _check_version(module, expected_version)
    before = snapshot(module)
    module.published = published
    _save(module, editor, before)
    return True


def delete_module(module: Module, editor: User, *, expected_version: int | None = None) -> int:
    """Delete ``module`` with its lessons; return the version its deletion is recorded as.

    Its history stays (keyed by the module's id) with a last row saying who deleted it, so a
    module sent again later continues from there. The next bundle removes it from schools;
    its media stay in the store for other modules (``imaginecole check --repair`` drops those
    nothing uses).
    """
    check_can_curate(editor, module)
    _check_version(module, expected_version)
    version = record_removal(module, "curation", editor)
    remove_module(module.uid)
    return version


def record_removal(module: Module, origin: str, user: User | None, reference: str = "") -> int:
    """Record in its history that ``module`` is being removed; return the version recorded.

    The row is the version after the module's last one, marked deleted and unpublished, so the
    history says when, who and what removed it (a person, or a bundle on a school server).
    The caller removes the module.
    """
    before = snapshot(module)
    if not db.session.scalar(
        select(ModuleVersion.id).filter_by(module_uid=module.uid, version=module.version)
    ):
        db.session.add(
            ModuleVersion(module_uid=module.uid, version=module.version, snapshot=before)
        )
    version = next_free_version(module.uid, module.version + 1)
    db.session.add(
        ModuleVersion(
            module_uid=module.uid,
            version=version,
            # The country tells, once the module is gone, who may read its history.
            snapshot={
                **before,
                "version": version,
                "published": False,
                "deleted": True,
                "country": module.country_code,
            },
            changed_by_id=user.id if user is not None else None,
            origin=origin,
            reference=reference[:300],
            summary="deleted",
        )
    )
    db.session.flush()
    return version


def next_free_version(uid: str, version: int) -> int:
    """Return ``version``, or one above the history of a module deleted and now sent again."""
    recorded = db.session.scalar(
        select(ModuleVersion.version)
        .filter_by(module_uid=uid)
        .order_by(ModuleVersion.version.desc())
        .limit(1)
    )
    return version if recorded is None or recorded < version else recorded + 1


# ---------------------------------------------------------------------------- helpers


def _validate(module: Module, form: MetadataForm) -> tuple[dict[str, Problem], dict]:
    """Return the problems of ``form`` per field and its values cleaned, in ``_metadata_of`` terms."""
    problems: dict[str, Problem] = {}
    country = module.country_code
    wanted: dict = {"title": {}, "summary": {}}
    for name, limit in (("title", MAX_TITLE), ("summary", MAX_SUMMARY)):
        for lang in LANGUAGES:
            value = _clean_text(
                problems,
                f"{name}_{lang}",
                getattr(form, name).get(lang, ""),
                limit,
                required=lang == module.language,
                one_line=name == "title",
            )
            if value:
                wanted[name][lang] = value

    levels = _known(Level, country, "code")
    wanted["levels"] = _codes_in_order(problems, "levels", form.levels, levels, "unknown_level")
    if not form.levels and "levels" not in problems:
        problems["levels"] = Problem("required")

    subjects = _known(Subject, country, "slug")
    if not form.subject:
        problems["subject"] = Problem("required")
    elif form.subject not in subjects:
        problems["subject"] = Problem("unknown_subject", form.subject)
    wanted["subject"] = form.subject

    competencies = _known(Competency, country, "code")
    for name in ("competencies", "assesses"):
        wanted[name] = _codes_in_order(
            problems, name, getattr(form, name), competencies, "unknown_competency"
        )

    if not form.resource_type:
        problems["resource_type"] = Problem("required")
    elif form.resource_type not in RESOURCE_TYPES:
        problems["resource_type"] = Problem("unknown_resource_type", form.resource_type)
    wanted["resource_type"] = form.resource_type

    if not form.licence:
        problems["licence"] = Problem("required")
    elif form.licence not in OPEN_LICENCES:
        problems["licence"] = Problem("closed_licence", form.licence)
    wanted["licence"] = form.licence

    wanted["attribution"] = _clean_text(
        problems, "attribution", form.attribution, MAX_ATTRIBUTION, required=True, one_line=True
    )

    keywords: list[str] = []
    for raw in form.keywords:
        value = _clean_text(problems, "keywords", raw, MAX_KEYWORD, required=False, one_line=True)
        if value and value.casefold() not in {k.casefold() for k in keywords}:
            keywords.append(value)
    if len(keywords) > MAX_KEYWORDS and "keywords" not in problems:
        problems["keywords"] = Problem("too_many", limit=MAX_KEYWORDS)
    wanted["keywords"] = keywords
    return problems, wanted


def _clean_text(
    problems: dict[str, Problem],
    name: str,
    value: str,
    limit: int,
    *,
    required: bool,
    one_line: bool,
) -> str:
    try:
        validate_text(value, name)
    except InvalidText:
        problems[name] = Problem("invalid_text")
        return ""
    # Line breaks only: spaces stay as typed, so a form sent back unchanged changes nothing.
    value = (LINE_BREAKS.sub(" ", value) if one_line else value).strip()
    if required and not value:
        problems[name] = Problem("required")
    elif len(value) > limit:
        problems[name] = Problem("too_long", limit=limit)
    return value


def _known(model, country_code: str, key: str) -> dict[str, int]:
    """Return the curriculum position of each code (or slug) of ``model`` in the country."""
    rows = db.session.execute(
        select(getattr(model, key), model.position).filter_by(country_code=country_code)
    )
    return {code: position for code, position in rows}


def _codes_in_order(
    problems: dict[str, Problem], name: str, codes: list[str], known: dict[str, int], unknown: str
) -> list[str]:
    # Alignment is a set: kept in curriculum order so the order of the form changes nothing.
    for code in codes:
        if code not in known:
            problems[name] = Problem(unknown, code)
            break
    return sorted({code for code in codes if code in known}, key=lambda code: (known[code], code))


def _metadata_of(module: Module) -> dict:
    """Return the module's editable metadata, comparable with what ``_validate`` returns."""
    country = module.country_code
    levels = _known(Level, country, "code")
    competencies = _known(Competency, country, "code")

    def ordered(codes: list[str], known: dict[str, int]) -> list[str]:
        return sorted(set(codes), key=lambda code: (known.get(code, 0), code))

    return {
        "title": {lang: text for lang, text in module.title.items() if text},
        "summary": {lang: text for lang, text in module.summary.items() if text},
        "levels": ordered([level.code for level in module.levels], levels),
        "subject": module.subject.slug,
        "competencies": ordered([c.code for c in module.competencies("teaches")], competencies),
        "assesses": ordered([c.code for c in module.competencies("assesses")], competencies),
        "resource_type": module.resource_type,
        "licence": module.licence,
        "attribution": module.attribution,
        "keywords": list(module.keywords),
    }


def _rows(model, country_code: str, key: str, codes: list[str]) -> list:
    found = {
        getattr(row, key): row
        for row in db.session.scalars(
            select(model).filter_by(country_code=country_code).where(getattr(model, key).in_(codes))
        )
    }
    return [found[code] for code in codes]


def _set_links(module: Module, relation: str, wanted: list[Competency]) -> None:
    """Make the module's ``relation`` links those of ``wanted``, keeping links that stay."""
    wanted_ids = {c.id for c in wanted}
    kept = [
        link
        for link in module.competency_links
        if link.relation != relation or link.competency_id in wanted_ids
    ]
    have = {link.competency_id for link in kept if link.relation == relation}
    module.competency_links = kept + [
        ModuleCompetency(competency=c, relation=relation) for c in wanted if c.id not in have
    ]


def _check_version(module: Module, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != module.version:
        raise CurationError({"version": Problem("changed_meanwhile", str(module.version))})


def record_version(
    module: Module, origin: str, user: User | None = None, reference: str = ""
) -> ModuleVersion:
    """Record the module's current version in its history: what it is, who and what made it.

    For versions made outside curation (a load, an upload, an accepted submission). A version
    number recorded already (content changed without raising its version) is recorded again
    over the old row: the history keeps one row per version.
    """
    db.session.flush()
    db.session.expire(module, ["levels", "competency_links", "lessons", "subject"])
    after = snapshot(module)
    previous = db.session.scalar(
        select(ModuleVersion)
        .filter_by(module_uid=module.uid)
        .where(ModuleVersion.version < module.version)
        .order_by(ModuleVersion.version.desc())
        .limit(1)
    )
    row = db.session.scalar(
        select(ModuleVersion).filter_by(module_uid=module.uid, version=module.version)
    )
    if row is None:
        row = ModuleVersion(module_uid=module.uid, version=module.version)
        db.session.add(row)
    row.snapshot = after
    row.changed_by_id = user.id if user is not None else None
    row.origin = origin
    row.reference = reference[:300]
    row.summary = (
        "; ".join(change.line() for change in changes_between(previous.snapshot, after))
        if previous is not None
        else ""
    )
    db.session.flush()
    return row


def _save(module: Module, editor: User, before: dict, origin: str = "curation") -> None:
    """Raise the version, recompute the fingerprint, record the version and flush.

    ``before`` is the snapshot taken before the change. It is recorded too when the version it
    describes has no history row yet (a module loaded from files or a bundle has none), so the
    first curated version can be compared with what it replaced.
    """
    if not db.session.scalar(
        select(ModuleVersion.id).filter_by(module_uid=module.uid, version=module.version)
    ):
        db.session.add(
            ModuleVersion(module_uid=module.uid, version=module.version, snapshot=before)
        )
    module.version += 1
    try:
        db.session.flush()
        # Read back what was stored, in the order the database gives it, so the fingerprint is
        # the one a bundle built later computes from the same rows.
        db.session.expire(module, ["levels", "competency_links", "lessons", "subject"])
        source = to_source(module, blob_store())
        module.fingerprint = source.fingerprint()
        after = snapshot(module, source)
        db.session.add(
            ModuleVersion(
                module_uid=module.uid,
                version=module.version,
                snapshot=after,
                changed_by_id=editor.id,
                origin=origin,
                summary="; ".join(change.line() for change in changes_between(before, after)),
            )
        )
        db.session.flush()
    except IntegrityError:
        # Another editor saved this same version first (unique module_uid + version). The
        # failed flush leaves the session unusable: roll back to read the version that won.
        db.session.rollback()
        latest = db.session.scalar(select(Module.version).filter_by(uid=module.uid))
        raise CurationError({"version": Problem("changed_meanwhile", str(latest))}) from None


SNAPSHOT_FIELDS = (
    "title",
    "summary",
    "levels",
    "subject",
    "competencies",
    "assesses",
    "resource_type",
    "licence",
    "attribution",
    "keywords",
    "authors",
    "derived_from",
    "language",
)


def changes_between(before: dict, after: dict) -> list[Change]:
    """Return what differs from snapshot ``before`` to snapshot ``after``, in the form's order."""
    changes: list[Change] = []
    for name in SNAPSHOT_FIELDS:
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if isinstance(old, dict) or isinstance(new, dict):
            old, new = old or {}, new or {}
            changes.extend(
                Change(name, lang, shorten(old.get(lang)), shorten(new.get(lang)))
                for lang in sorted(set(old) | set(new), key=_language_order)
                if old.get(lang) != new.get(lang)
            )
        elif name == "authors":
            names = [[a.get("name", "") for a in side or []] for side in (old, new)]
            changes.append(Change(name, "", shorten(names[0]), shorten(names[1])))
        else:
            changes.append(Change(name, "", shorten(old), shorten(new)))
    old_lessons = before.get("lessons", [])
    new_lessons = after.get("lessons", [])
    old_order = [lesson["slug"] for lesson in old_lessons]
    new_order = [lesson["slug"] for lesson in new_lessons]
    if old_order != new_order:
        changes.append(Change("lessons", "", shorten(old_order), shorten(new_order)))
    old_texts = {lesson["slug"]: lesson.get("fingerprint") for lesson in old_lessons}
    for lesson in new_lessons:
        slug = lesson["slug"]
        if slug in old_texts and old_texts[slug] != lesson.get("fingerprint"):
            changes.append(Change("lesson", slug, "", "changed"))
    if after.get("deleted"):
        changes.append(Change("deleted", "", "", "yes"))
    if before.get("published") != after.get("published"):
        changes.append(
            Change(
                "published", "", shorten(before.get("published")), shorten(after.get("published"))
            )
        )
    return changes


def _language_order(lang: str) -> tuple[int, str]:
    return (LANGUAGES.index(lang) if lang in LANGUAGES else len(LANGUAGES), lang)


def shorten(value: object) -> str:
    """Return a value as one short line, for a history line or a comparison."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    text = " ".join(str(value).split())
    return text if len(text) <= SHOWN_IN_SUMMARY else text[: SHOWN_IN_SUMMARY - 1] + "…"
