"""Write a curriculum back as ``curriculum.toml`` and tell what changed between two of them.

Plain data in, plain data out, like ``sync.content``: the app's curriculum pages use it, and so
can a script on a laptop comparing two editions of a framework.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

from sync.content import LANGUAGES
from sync.model import Curriculum, Localized

SECTIONS = ("cycles", "levels", "domains", "subjects", "competencies")

# ---------------------------------------------------------------------------- writing

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\t": "\\t",
    "\r": "\\r",
    "\b": "\\b",
    "\f": "\\f",
}


def _string(value: str) -> str:
    """Return ``value`` as a one-line TOML basic string."""
    out = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _strings(values: Iterable[str]) -> str:
    return "[" + ", ".join(_string(v) for v in values) + "]"


def _languages(texts: Localized) -> list[str]:
    # Catalogue languages first, in their usual order, so the same data always reads the same.
    known = [lang for lang in LANGUAGES if lang in texts]
    return known + sorted(lang for lang in texts if lang not in LANGUAGES)


def _inline(texts: Localized) -> str:
    return "{ " + ", ".join(f"{lang} = {_string(texts[lang])}" for lang in _languages(texts)) + " }"


def dump_curriculum(curriculum: Curriculum) -> str:
    """Return ``curriculum`` written in the ``curriculum.toml`` format of content/README.md.

    The output depends only on the data (fixed key order, languages fr, en, ar), so dumping the
    same curriculum twice gives the same bytes, and reading it back gives an equal curriculum.
    """
    c = curriculum
    lines = [
        f"code = {_string(c.code)}",
        f"languages = {_strings(c.languages)}",
        "",
        "[name]",
        *(f"{lang} = {_string(c.name[lang])}" for lang in _languages(c.name)),
        "",
        "[framework]",
        f"id = {_string(c.framework_id)}",
        f"version = {_string(c.framework_version)}",
        f"title = {_inline(c.framework_title)}",
    ]
    for cycle in c.cycles:
        lines += [
            "",
            "[[cycles]]",
            f"code = {_string(cycle.code)}",
            f"name = {_inline(cycle.name)}",
        ]
    for level in c.levels:
        lines += [
            "",
            "[[levels]]",
            f"code = {_string(level.code)}",
            f"cycle = {_string(level.cycle)}",
            f"isced = {level.isced}",
            f"grade = {level.grade}",
            f"name = {_inline(level.name)}",
        ]
    for domain in c.domains:
        lines += [
            "",
            "[[domains]]",
            f"slug = {_string(domain.slug)}",
            f"name = {_inline(domain.name)}",
        ]
    for subject in c.subjects:
        lines += [
            "",
            "[[subjects]]",
            f"slug = {_string(subject.slug)}",
            f"domain = {_string(subject.domain)}",
            f"name = {_inline(subject.name)}",
        ]
    for node in c.competencies:
        lines += [
            "",
            "[[competencies]]",
            f"code = {_string(node.code)}",
            f"subject = {_string(node.subject)}",
            f"type = {_string(node.type)}",
        ]
        if node.parent:
            lines.append(f"parent = {_string(node.parent)}")
        if node.levels:
            lines.append(f"levels = {_strings(node.levels)}")
        lines.append(f"label = {_inline(node.label)}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- comparing


@dataclass(frozen=True)
class Change:
    """One difference between two curricula, in terms a national team uses.

    ``action`` is one of: added, removed, recoded (the same item under a new code or slug),
    renamed (its name or label), moved (to another cycle, domain, subject or parent), changed
    (another field), reordered (the order of a whole section). ``key`` is the item's code or
    slug in the new curriculum (in the old one for a removal); ``old_key`` the code before a
    recode. ``before`` and ``after`` are the values as text, for moved, renamed and changed.
    """

    section: str  # "country" or one of SECTIONS
    action: str
    key: str = ""
    old_key: str = ""
    field: str = ""
    before: str = ""
    after: str = ""


@dataclass
class CurriculumDiff:
    changes: list[Change] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changes)

    def __len__(self) -> int:
        return len(self.changes)

    def of(self, section: str, action: str) -> list[Change]:
        return [c for c in self.changes if c.section == section and c.action == action]

    def added(self, section: str) -> list[str]:
        return [c.key for c in self.of(section, "added")]

    def removed(self, section: str) -> list[str]:
        return [c.key for c in self.of(section, "removed")]

    def recoded(self, section: str) -> dict[str, str]:
        """Return {old code: new code} of the items of ``section`` that changed code."""
        return {c.old_key: c.key for c in self.of(section, "recoded")}

    def to_data(self) -> list[dict[str, str]]:
        """Return the changes as plain dicts (for JSON), leaving out empty fields."""
        return [{k: v for k, v in asdict(c).items() if v} for c in self.changes]

    @classmethod
    def from_data(cls, data: list[dict[str, str]]) -> CurriculumDiff:
        return cls([Change(**item) for item in data])


def _text(texts: Localized) -> str:
    return " · ".join(f"{lang}: {texts[lang]}" for lang in _languages(texts))


def _pair(
    old: dict[str, object],
    new: dict[str, object],
    signature: Callable[[object], object],
) -> dict[str, str]:
    """Pair items present on one side only that share a signature no other such item has."""
    lonely_old = [k for k in old if k not in new]
    lonely_new = [k for k in new if k not in old]

    def unique(keys: list[str], items: dict[str, object]) -> dict[object, str]:
        seen: dict[object, list[str]] = {}
        for key in keys:
            seen.setdefault(signature(items[key]), []).append(key)
        return {sig: found[0] for sig, found in seen.items() if len(found) == 1 and sig is not None}

    from_old, from_new = unique(lonely_old, old), unique(lonely_new, new)
    return {from_old[sig]: from_new[sig] for sig in from_old if sig in from_new}


def diff_curricula(old: Curriculum, new: Curriculum) -> CurriculumDiff:
    """Return what changed from ``old`` to ``new``, section by section.

    An item that disappears while another appears with the same identity in all but its code
    (a level with the same cycle, ISCED level and grade; a subject with the same domain and
    French name; a competency with the same subject and French label; a cycle or domain with
    the same French name) is reported as *recoded*, not as removed and added: modules that
    refer to it can follow it under its new code.
    """
    changes: list[Change] = []
    for name in ("languages", "name", "framework_id", "framework_version", "framework_title"):
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            shown = {list: ", ".join, dict: _text}.get(type(before), str)
            changes.append(Change("country", "changed", field=name, before=shown(before), after=shown(after)))  # fmt: skip

    recodes: dict[str, dict[str, str]] = {}

    def mapped(section: str, key: str | None) -> str | None:
        return recodes.get(section, {}).get(key, key) if key else key

    def first(texts: Localized) -> str | None:
        return texts.get("fr")

    sections: dict[str, tuple[Callable, Callable, str, str]] = {
        # section: (key of an item, identity apart from its key, field of its name, parent field)
        "cycles": (lambda c: c.code, lambda c: first(c.name), "name", ""),
        "levels": (
            lambda lv: lv.code,
            lambda lv: (mapped("cycles", lv.cycle), lv.isced, lv.grade),
            "name",
            "cycle",
        ),
        "domains": (lambda d: d.slug, lambda d: first(d.name), "name", ""),
        "subjects": (
            lambda s: s.slug,
            lambda s: (mapped("domains", s.domain), first(s.name)),
            "name",
            "domain",
        ),
        "competencies": (
            lambda n: n.code,
            lambda n: (mapped("subjects", n.subject), first(n.label)),
            "label",
            "parent",
        ),
    }
    parent_section = {"cycle": "cycles", "domain": "domains", "parent": "competencies"}
    for section, (key_of, signature, name_field, parent_field) in sections.items():
        before = {key_of(item): item for item in getattr(old, section)}
        after = {key_of(item): item for item in getattr(new, section)}
        pairs: dict[str, str] = {}
        if section == "levels":
            # The database knows a level by the slug of its code: "7e année" and "7e Année"
            # are one level whatever else changed.
            pairs = _pair(before, after, lambda lv: lv.slug)
        rest_old = {k: v for k, v in before.items() if k not in pairs}
        rest_new = {k: v for k, v in after.items() if k not in pairs.values()}
        pairs.update(_pair(rest_old, rest_new, signature))
        recodes[section] = pairs

        for old_key, new_key in pairs.items():
            changes.append(Change(section, "recoded", key=new_key, old_key=old_key))
        for key in before:
            if key not in after and key not in pairs:
                changes.append(Change(section, "removed", key=key))
        paired_new = set(pairs.values())
        for key in after:
            if key not in before and key not in paired_new:
                changes.append(Change(section, "added", key=key))

        to_old = {new_key: old_key for old_key, new_key in pairs.items()}
        to_old.update({key: key for key in after if key in before})
        for key, item in after.items():
            if key not in to_old:
                continue
            was = before[to_old[key]]
            if getattr(was, name_field) != getattr(item, name_field):
                changes.append(Change(section, "renamed", key=key, field=name_field, before=_text(getattr(was, name_field)), after=_text(getattr(item, name_field))))  # fmt: skip
            if parent_field:
                target = parent_section[parent_field]
                old_parent = mapped(target, getattr(was, parent_field))
                if old_parent != getattr(item, parent_field):
                    changes.append(Change(section, "moved", key=key, field=parent_field, before=old_parent or "", after=getattr(item, parent_field) or ""))  # fmt: skip
            for extra in _other_fields(section):
                was_value, value = getattr(was, extra), getattr(item, extra)
                if extra == "subject":
                    was_value = mapped("subjects", was_value)
                elif extra == "levels":
                    was_value = [mapped("levels", code) for code in was_value]
                if was_value != value:
                    shown = ", ".join if isinstance(value, list) else str
                    changes.append(Change(section, "changed", key=key, field=extra, before=shown(was_value), after=shown(value)))  # fmt: skip

        kept = set(to_old.values())
        if [k for k in before if k in kept] != [to_old[k] for k in after if k in to_old]:
            changes.append(Change(section, "reordered"))
    return CurriculumDiff(changes)


def _other_fields(section: str) -> tuple[str, ...]:
    return {
        "levels": ("isced", "grade"),
        "competencies": ("subject", "type", "levels"),
    }.get(section, ())
