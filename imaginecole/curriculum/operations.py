"""Change a country's curriculum framework from the browser, with a versioned history.

Every change, whether typed in the editor, made with a quick form or uploaded as a file, takes
one path: validate with the file validator, compare with what the database holds, work out
which modules are affected, ask for confirmation when any is, then apply and record the new
version, flushed: the caller commits, then brings the search index up to date.

What happens to a module that uses something the new framework no longer has:

- a level, subject or competency that only changed its code (see ``diff_curricula``) is renamed
  in place: the module follows it under the new code;
- a removed competency is taken off the module (taught or assessed);
- a removed level is taken off the module; a module left with no level at all is withdrawn
  from publication (a module without a level is invalid in the content format, and the next
  bundle removes it from schools) and stays here, unpublished, for the team to fix;
- a removed subject is refused while modules use it: a module cannot exist without a subject,
  so they must be moved or deleted first.

Each affected module's version is raised and its fingerprint recomputed, so the next bundle
carries the change to schools. Nothing is ever kept behind the editor's back, as a content
load from files does (``content.operations._remove_unused``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import tempfile
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import selectinload

import imaginecole.curriculum.models  # noqa: F401  (registers the table for create_all)
from imaginecole.accounts.models import User
from imaginecole.content.models import Module, ModuleCompetency
from imaginecole.content.operations import LoadReport, load_curriculum
from imaginecole.content.sources import to_source
from imaginecole.curriculum.models import (
    Competency,
    Country,
    CurriculumVersion,
    Cycle,
    Domain,
    Level,
    Subject,
)
from imaginecole.curriculum.queries import curriculum_of
from imaginecole.extensions import db
from imaginecole.localized import Shown, pick
from imaginecole.media.operations import blob_store
from sync import model as fmt
from sync.content import read_curriculum
from sync.curriculum_file import CurriculumDiff, diff_curricula, dump_curriculum
from sync.problems import Problem, ProblemList
from sync.text import slugify
from sync.tomllines import TomlLines

FILE_NAME = "curriculum.toml"
MAX_TOML_BYTES = 1024 * 1024  # the largest real framework is under 30 kB
_COUNTRY_CODE = re.compile(r"^[a-z]{2}$")


# ---------------------------------------------------------------------------- results


@dataclass
class ModuleImpact:
    """What a curriculum change does to one module."""

    uid: str
    title: dict[str, str]
    language: str
    published: bool
    version: int
    loses_levels: list[str] = field(default_factory=list)
    loses_competencies: list[tuple[str, str]] = field(default_factory=list)  # (code, relation)
    loses_subject: str = ""
    follows: list[tuple[str, str, str]] = field(default_factory=list)  # (section, old, new)
    levels_left: list[str] = field(default_factory=list)  # its level codes afterwards

    @property
    def blocked(self) -> bool:
        """Whether the change cannot be applied because of this module."""
        return bool(self.loses_subject)

    @property
    def withdrawn(self) -> bool:
        """Whether the module is taken out of publication (it has no level left)."""
        return self.published and not self.levels_left

    @property
    def new_version(self) -> int:
        return self.version + 1

    def shown_title(self, lang: str) -> Shown:
        return pick(self.title, lang, self.language)


@dataclass
class Impact:
    modules: list[ModuleImpact] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.modules)

    @property
    def blocked(self) -> list[ModuleImpact]:
        return [m for m in self.modules if m.blocked]


@dataclass
class Result:
    """The outcome of checking or applying a proposed curriculum.

    ``status``: ``invalid`` (see ``problems``), ``unchanged``, ``ready`` (can be applied as is),
    ``needs_confirmation`` (modules are affected: see ``impact``), ``blocked`` (a module would
    lose its subject), ``stale`` (the curriculum or its modules changed since the editor saw
    the preview: show it again), ``applied`` (``version`` is the recorded number).
    ``token`` names what the preview showed; applying with it guarantees the same outcome.
    """

    status: str
    problems: list[Problem] = field(default_factory=list)
    curriculum: fmt.Curriculum | None = None
    diff: CurriculumDiff = field(default_factory=CurriculumDiff)
    impact: Impact = field(default_factory=Impact)
    token: str = ""
    version: int | None = None


class CurriculumNotApplied(Exception):
    """The database would not end up holding exactly the proposed curriculum."""


# ---------------------------------------------------------------------------- checking


def check_toml(country: str, text: str) -> tuple[fmt.Curriculum | None, list[Problem]]:
    """Validate ``text`` as the curriculum.toml of ``country`` with the content validator.

    Problems name the line and field in ``text``; their path is always ``curriculum.toml``.
    """
    problems = ProblemList()
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TOML_BYTES:
        problems.add(FILE_NAME, None, "", f"the file is larger than {MAX_TOML_BYTES // 1024} kB")
        return None, problems
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    stated = _stated_code(text)
    with tempfile.TemporaryDirectory() as folder:
        # The validator wants the file in a folder named after its code; naming it after the
        # code the file states lets us say in our own words when it is another country's.
        path = Path(folder) / (stated or country) / FILE_NAME
        path.parent.mkdir()
        try:
            path.write_text(text, encoding="utf-8")
        except UnicodeEncodeError:
            problems.add(FILE_NAME, None, "", "the text contains characters that are not UTF-8")
            return None, problems
        found = ProblemList()
        curriculum = read_curriculum(path, found)
    problems.extend(Problem(FILE_NAME, p.line, p.field, p.message) for p in found)
    if stated and stated != country:
        line = TomlLines(text).line_of(("code",))
        problems.add(
            FILE_NAME, line, "code", f'is "{stated}", but this is the curriculum of {country}'
        )
        curriculum = None
    return (curriculum if not problems else None), problems


def decode_upload(data: bytes) -> tuple[str | None, list[Problem]]:
    """Return the text of an uploaded file, or the line where it stops being UTF-8."""
    if len(data) > MAX_TOML_BYTES:
        message = f"the file is larger than {MAX_TOML_BYTES // 1024} kB"
        return None, [Problem(FILE_NAME, None, "", message)]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        return None, [Problem(FILE_NAME, line, "", "the file is not valid UTF-8 text")]


def _stated_code(text: str) -> str | None:
    try:
        code = tomllib.loads(text).get("code")
    except (tomllib.TOMLDecodeError, RecursionError):
        return None
    return code if isinstance(code, str) and _COUNTRY_CODE.match(code) else None


def impact(country: str, new: fmt.Curriculum) -> Impact:
    """Return the modules (published or not) that ``new`` would change, and how."""
    current = _current(country)
    return _impact(country, diff_curricula(current, new))


def _impact(country: str, diff: CurriculumDiff) -> Impact:
    removed_levels = set(diff.removed("levels"))
    removed_subjects = set(diff.removed("subjects"))
    removed_nodes = set(diff.removed("competencies"))
    recoded = {section: diff.recoded(section) for section in ("levels", "subjects", "competencies")}
    levels = removed_levels | set(recoded["levels"])
    subjects = removed_subjects | set(recoded["subjects"])
    nodes = removed_nodes | set(recoded["competencies"])
    if not (levels or subjects or nodes):
        return Impact()
    query = (
        select(Module)
        .where(
            Module.country_code == country,
            or_(
                Module.levels.any(Level.code.in_(levels)),
                Module.subject.has(Subject.slug.in_(subjects)),
                Module.competency_links.any(
                    ModuleCompetency.competency.has(Competency.code.in_(nodes))
                ),
            ),
        )
        .options(
            selectinload(Module.levels),
            selectinload(Module.subject),
            selectinload(Module.competency_links).selectinload(ModuleCompetency.competency),
        )
        .order_by(Module.uid)
    )
    found = []
    for module in db.session.scalars(query):
        entry = ModuleImpact(
            uid=module.uid,
            title=dict(module.title),
            language=module.language,
            published=module.published,
            version=module.version,
        )
        for level in module.levels:
            if level.code in removed_levels:
                entry.loses_levels.append(level.code)
            else:
                new_code = recoded["levels"].get(level.code, level.code)
                entry.levels_left.append(new_code)
                if new_code != level.code:
                    entry.follows.append(("levels", level.code, new_code))
        slug = module.subject.slug
        if slug in removed_subjects:
            entry.loses_subject = slug
        elif slug in recoded["subjects"]:
            entry.follows.append(("subjects", slug, recoded["subjects"][slug]))
        for link in sorted(module.competency_links, key=lambda x: (x.relation != "teaches", x.competency.position)):  # fmt: skip
            code = link.competency.code
            if code in removed_nodes:
                entry.loses_competencies.append((code, link.relation))
            elif code in recoded["competencies"]:
                follow = ("competencies", code, recoded["competencies"][code])
                if follow not in entry.follows:
                    entry.follows.append(follow)
        found.append(entry)
    return Impact(found)


def _current(country: str) -> fmt.Curriculum:
    current = curriculum_of(country)
    if current is None:
        raise LookupError(f"no curriculum is loaded for {country}")
    return current


def _token(base: str, new: fmt.Curriculum, found: Impact) -> str:
    data = {"base": base, "new": new.fingerprint(), "impact": asdict(found)}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]


def propose(country: str, new: fmt.Curriculum | None, problems: list[Problem]) -> Result:
    """Compare a checked proposal with the database: what changes and which modules it affects.

    Writes nothing; ``new`` and ``problems`` come from ``check_toml``.
    """
    current = _current(country)
    if new is None or problems:
        return Result("invalid", problems=list(problems))
    if new.fingerprint() == current.fingerprint():
        return Result("unchanged", curriculum=new)
    diff = diff_curricula(current, new)
    found = _impact(country, diff)
    status = "blocked" if found.blocked else ("needs_confirmation" if found else "ready")
    return Result(
        status,
        curriculum=new,
        diff=diff,
        impact=found,
        token=_token(current.fingerprint(), new, found),
    )


def preview_toml(country: str, text: str) -> Result:
    """Check TOML text and tell what applying it would change, without changing anything."""
    return propose(country, *check_toml(country, text))


# ---------------------------------------------------------------------------- applying


def import_toml(
    country: str,
    text: str,
    editor: User | None,
    confirm_orphans: bool,
    *,
    seen: str | None = None,
    source: str = "import",
) -> Result:
    """Apply curriculum.toml text (uploaded or typed); on any problem nothing changes."""
    new, problems = check_toml(country, text)
    if new is None:
        return propose(country, None, problems)
    return apply_curriculum(country, new, editor, confirm_orphans, seen=seen, source=source)


def apply_curriculum(
    country: str,
    new: fmt.Curriculum,
    editor: User | None,
    confirm_orphans: bool,
    *,
    seen: str | None = None,
    source: str = "edit",
) -> Result:
    """Make ``new`` the country's curriculum, record it as a version and update its modules.

    Refused (nothing written) when it is invalid, would take a subject from a module, affects
    modules and ``confirm_orphans`` is false, or ``seen`` (the token of the preview the editor
    confirmed) no longer matches: the editor must see exactly what will happen. When writing
    fails part way, the session is rolled back, so that "nothing was changed" holds, and the
    result says why. Once "applied", the caller commits, then runs ``sync_index`` if modules
    were affected.
    """
    # A dataclass built in code passes the same checks as a file: write it out and read it back.
    checked, problems = check_toml(country, dump_curriculum(new))
    result = propose(country, checked, problems)
    if result.status not in ("ready", "needs_confirmation"):
        return result
    if seen is not None and seen != result.token:
        return replace(result, status="stale")
    if result.impact and not confirm_orphans:
        return replace(result, status="needs_confirmation")
    if checked is None:  # propose() said it is valid; this only narrows the type
        return result
    try:
        number = _apply(country, checked, result, editor, source)
    except IntegrityError:
        # Another editor recorded a version at the same moment: show the new state instead.
        db.session.rollback()
        return replace(result, status="stale")
    except (SQLAlchemyError, CurriculumNotApplied) as error:
        db.session.rollback()
        message = f"the change could not be saved ({error}); nothing was changed"
        return Result("invalid", problems=[Problem(FILE_NAME, None, "", message)])
    return replace(result, status="applied", version=number)


def _apply(
    country: str, new: fmt.Curriculum, result: Result, editor: User | None, source: str
) -> int:
    current = _current(country)
    _record_earlier_state(country, current)
    diff = result.diff
    _rename_in_place(country, diff)

    uids = [m.uid for m in result.impact.modules]
    modules = list(
        db.session.scalars(
            select(Module)
            .where(Module.uid.in_(uids))
            .options(selectinload(Module.levels), selectinload(Module.competency_links))
        )
    )
    gone_levels = set(diff.removed("levels"))
    gone_nodes = set(diff.removed("competencies"))
    for module in modules:
        module.levels = [lv for lv in module.levels if lv.code not in gone_levels]
        module.competency_links = [
            link for link in module.competency_links if link.competency.code not in gone_nodes
        ]
        if not module.levels:
            module.published = False
    db.session.flush()

    report = LoadReport()
    # The stored fingerprint is that of the last file loaded, not of what the rows hold now.
    db.session.get(Country, country).fingerprint = ""
    load_curriculum(new, report)
    if report.notes:
        raise CurriculumNotApplied(report.notes[0])

    store = blob_store()
    for module in modules:
        module.version += 1
        module.fingerprint = to_source(module, store).fingerprint()
    db.session.flush()
    db.session.expire_all()
    if curriculum_of(country) != new:
        raise CurriculumNotApplied("the database does not hold the curriculum as written")
    return _add_version(country, new, source, diff, editor).number


def _rename_in_place(country: str, diff: CurriculumDiff) -> None:
    """Give rows whose code changed their new code, so what refers to them stays attached."""
    for section, model, key in (
        ("cycles", Cycle, "code"),
        ("levels", Level, "code"),
        ("domains", Domain, "slug"),
        ("subjects", Subject, "slug"),
        ("competencies", Competency, "code"),
    ):
        for old, new in diff.recoded(section).items():
            row = db.session.scalar(select(model).filter_by(country_code=country, **{key: old}))
            setattr(row, key, new)
            if model is Level:
                row.slug = slugify(new)
    db.session.flush()


def _record_earlier_state(country: str, current: fmt.Curriculum) -> None:
    """Record the state before this change, if the history does not end with it already.

    Done at the first change rather than when a page is first viewed, so reading never
    writes; a load from files or a bundle import since the last version shows as its own.
    """
    latest = db.session.scalar(
        select(CurriculumVersion)
        .filter_by(country_code=country)
        .order_by(CurriculumVersion.number.desc())
        .limit(1)
    )
    if latest is None:
        _add_version(country, current, "start", CurriculumDiff(), None)
    elif latest.fingerprint != current.fingerprint():
        before, _ = check_toml(country, latest.toml)
        diff = diff_curricula(before, current) if before is not None else CurriculumDiff()
        _add_version(country, current, "outside", diff, None)


def _add_version(
    country: str,
    curriculum: fmt.Curriculum,
    source: str,
    diff: CurriculumDiff,
    editor: User | None,
) -> CurriculumVersion:
    number = db.session.scalar(
        select(func.coalesce(func.max(CurriculumVersion.number), 0)).filter_by(country_code=country)
    )
    version = CurriculumVersion(
        country_code=country,
        number=number + 1,
        toml=dump_curriculum(curriculum),
        fingerprint=curriculum.fingerprint(),
        source=source,
        summary=diff.to_data(),
        changed_by_id=editor.id if editor is not None else None,
    )
    db.session.add(version)
    db.session.flush()
    return version


# ---------------------------------------------------------------------------- reading


def export_toml(country: str) -> str:
    """Return the country's curriculum, as the database holds it, in curriculum.toml format."""
    return dump_curriculum(_current(country))


def history(country: str) -> list[CurriculumVersion]:
    """Return the recorded versions of a country's curriculum, newest first."""
    return list(
        db.session.scalars(
            select(CurriculumVersion)
            .filter_by(country_code=country)
            .options(selectinload(CurriculumVersion.changed_by))
            .order_by(CurriculumVersion.number.desc())
        )
    )


def version_toml(country: str, number: int) -> str | None:
    """Return the TOML of one recorded version, or None when there is no such version."""
    return db.session.scalar(
        select(CurriculumVersion.toml).filter_by(country_code=country, number=number)
    )


# ---------------------------------------------------------------------------- quick edits
# Each returns a new curriculum and leaves the one given alone; the result goes through
# propose/apply like any other, so a quick edit is checked and confirmed the same way.


def add_level(
    curriculum: fmt.Curriculum,
    code: str,
    cycle: str,
    isced: int,
    grade: int,
    name: fmt.Localized,
    after: str = "",
) -> fmt.Curriculum:
    """Add a level after the level coded ``after`` ("" at the end, "^" at the start)."""
    new = copy.deepcopy(curriculum)
    code = code.strip()
    level = fmt.Level(code, slugify(code), cycle, isced, grade, _clean(name))
    codes = new.level_codes()
    if after == "^":
        position = 0
    elif after in codes:
        position = codes.index(after) + 1
    else:
        position = len(codes)
    new.levels.insert(position, level)
    return new


def rename_level(curriculum: fmt.Curriculum, code: str, name: fmt.Localized) -> fmt.Curriculum:
    """Change a level's name in the languages given; a language left empty keeps its name."""
    new = copy.deepcopy(curriculum)
    for level in new.levels:
        if level.code == code:
            level.name = {**level.name, **_clean(name)}
    return new


def add_competency(
    curriculum: fmt.Curriculum,
    code: str,
    subject: str,
    node_type: str,
    label: fmt.Localized,
    parent: str = "",
    levels: list[str] | None = None,
) -> fmt.Curriculum:
    """Add a competency; under a parent it takes the parent's subject and follows its subtree."""
    new = copy.deepcopy(curriculum)
    by_code = {node.code: node for node in new.competencies}
    if parent in by_code:
        subject = by_code[parent].subject
    node = fmt.Competency(
        code=code.strip(),
        subject=subject,
        type=node_type.strip(),
        label=_clean(label),
        parent=parent or None,
        levels=list(levels or []),
    )
    codes = new.competency_codes()
    if parent in by_code:
        family = _descendants(new, parent) | {parent}
        position = max(i for i, c in enumerate(codes) if c in family) + 1
    else:
        same = [i for i, n in enumerate(new.competencies) if n.subject == subject]
        position = same[-1] + 1 if same else len(codes)
    new.competencies.insert(position, node)
    return new


def remove_competency(curriculum: fmt.Curriculum, code: str) -> fmt.Curriculum:
    """Remove a competency and everything under it (a child without its parent is invalid)."""
    new = copy.deepcopy(curriculum)
    gone = _descendants(new, code) | {code}
    new.competencies = [node for node in new.competencies if node.code not in gone]
    return new


def _descendants(curriculum: fmt.Curriculum, code: str) -> set[str]:
    found: set[str] = set()
    frontier = {code}
    while frontier:
        children = {
            n.code for n in curriculum.competencies if n.parent in frontier and n.code not in found
        }
        found |= children
        frontier = children
    return found


def _clean(texts: fmt.Localized) -> fmt.Localized:
    return {lang: text.strip() for lang, text in texts.items() if text and text.strip()}
