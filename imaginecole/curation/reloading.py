"""What a module sent again in a file would change, against what editors curated in the browser.

An upload (or a content folder) carries the module as its authors wrote it; editors may have
changed its title, classes, lesson order … here since it was last loaded. Comparing three
versions tells them apart: the last version loaded from a file (the *base*, the newest in the
history that curation did not make), the module now, and the file. A field editors changed
since the base is *curated*: by default it is kept, whatever the file says, so sending the same
file again changes nothing. Fields only the file changed are taken from the file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlalchemy import select

from imaginecole.content.models import Module
from imaginecole.curation.models import ModuleVersion
from imaginecole.curation.operations import next_free_version, shorten, snapshot
from imaginecole.extensions import db
from sync import model as fmt
from sync.content import LANGUAGES
from sync.model import module_info

# What an editor can change in the browser, in the edit form's order; "lessons" is their order.
CURATED_FIELDS = (
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
    "lessons",
)
BY_LANGUAGE = ("title", "summary")
CHOICES = ("keep", "file", "skip")  # keep the curated fields, take the file, leave it out


@dataclass(frozen=True)
class FieldDifference:
    """A field the file gives another value than the server has; ``curated`` when editors set it."""

    field: str
    lang: str
    server: str
    file: str
    curated: bool

    def to_data(self) -> dict:
        return dataclasses.asdict(self)


def _view(snap: dict) -> dict:
    """Return the curated fields of a snapshot; lessons as their slugs in order."""
    view = {name: snap.get(name) for name in CURATED_FIELDS if name != "lessons"}
    for name in BY_LANGUAGE:
        view[name] = {lang: text for lang, text in (view[name] or {}).items() if text}
    lessons = sorted(snap.get("lessons", []), key=lambda lesson: lesson["position"])
    view["lessons"] = [lesson["slug"] for lesson in lessons]
    return view


def _view_of_source(source: fmt.Module) -> dict:
    info = module_info(source)
    return _view(
        {
            **info,
            "lessons": [{"slug": item.slug, "position": item.position} for item in source.lessons],
        }
    )


def _keys() -> list[tuple[str, str]]:
    """Return (field, language) for every curated value that can differ on its own."""
    keys = []
    for name in CURATED_FIELDS:
        if name in BY_LANGUAGE:
            keys += [(name, lang) for lang in LANGUAGES]
        else:
            keys.append((name, ""))
    return keys


def _value(view: dict, name: str, lang: str):
    return view[name].get(lang) if lang else view[name]


def base_snapshot(module: Module) -> dict | None:
    """Return the snapshot of the last version of ``module`` not made by curation, if recorded."""
    row = db.session.scalar(
        select(ModuleVersion)
        .filter_by(module_uid=module.uid)
        .where(ModuleVersion.origin != "curation", ModuleVersion.version <= module.version)
        .order_by(ModuleVersion.version.desc())
        .limit(1)
    )
    return row.snapshot if row is not None else None


def curated_keys(module: Module, now: dict | None = None) -> set[tuple[str, str]]:
    """Return the (field, language) pairs editors changed since the module was last loaded."""
    base = base_snapshot(module)
    if base is None:
        return set()
    now_view, base_view = _view(now or snapshot(module)), _view(base)
    return {key for key in _keys() if _value(now_view, *key) != _value(base_view, *key)}


def differences(module: Module, incoming: fmt.Module) -> list[FieldDifference]:
    """Return every field ``incoming`` would change on ``module``, curated ones marked."""
    now = snapshot(module)
    curated = curated_keys(module, now)
    now_view, file_view = _view(now), _view_of_source(incoming)
    found = []
    for key in _keys():
        server, given = _value(now_view, *key), _value(file_view, *key)
        if server != given:
            found.append(FieldDifference(*key, shorten(server), shorten(given), key in curated))
    return found


def keep_curated(module: Module, incoming: fmt.Module) -> fmt.Module:
    """Return ``incoming`` with the fields editors curated on ``module`` as they are now."""
    curated = curated_keys(module)
    if not curated:
        return incoming
    now_view = _view(snapshot(module))
    changes: dict = {}
    for name, lang in sorted(curated):
        current = _value(now_view, name, lang)
        if name in BY_LANGUAGE:
            texts = dict(changes.get(name, getattr(incoming, name)))
            if current:
                texts[lang] = current
            else:
                texts.pop(lang, None)
            changes[name] = texts
        elif name == "lessons":
            changes["lessons"] = _in_order(incoming.lessons, current)
        else:
            changes[name] = list(current) if isinstance(current, list) else current
    return dataclasses.replace(incoming, **changes)


def _in_order(lessons: list[fmt.Lesson], order: list[str]) -> list[fmt.Lesson]:
    """Return ``lessons`` in the curated ``order``; lessons new in the file follow, in its order."""
    by_slug = {lesson.slug: lesson for lesson in lessons}
    slugs = [slug for slug in order if slug in by_slug]
    slugs += [lesson.slug for lesson in sorted(lessons, key=lambda item: item.position)
              if lesson.slug not in slugs]  # fmt: skip
    return [
        dataclasses.replace(by_slug[slug], position=position)
        for position, slug in enumerate(slugs, start=1)
    ]


def apply_choices(
    modules: list[fmt.Module],
    choices: dict[str, str],
    *,
    auto_version: bool,
    default: str = "keep",
) -> list[fmt.Module]:
    """Return the modules to load, each as its editor chose against what was curated here.

    ``choices`` maps module ids to one of ``CHOICES``; others get ``default``. Modules new
    here, or not curated since they were last loaded, are returned as they are.
    """
    loaded = {
        row.uid: row
        for row in db.session.scalars(select(Module).where(Module.uid.in_([m.id for m in modules])))
    }
    kept = []
    for module in modules:
        existing = loaded.get(module.id)
        choice = choices.get(module.id, default)
        if existing is None:
            # A module deleted here and sent again continues its recorded history.
            version = next_free_version(module.id, module.version)
            kept.append(dataclasses.replace(module, version=version))
            continue
        if choice == "skip":
            continue
        base = base_snapshot(existing)
        if base is None or base["version"] == existing.version:
            kept.append(module)  # nothing curated here since it was loaded
            continue
        merged = keep_curated(existing, module) if choice == "keep" else module
        if not auto_version:
            # The file's version counts from the base; curation raised it since.
            same = merged.fingerprint() == existing.fingerprint
            version = existing.version if same else max(module.version, existing.version + 1)
            merged = dataclasses.replace(merged, version=version)
        kept.append(merged)
    return kept
