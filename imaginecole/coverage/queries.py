"""How well a country's curriculum is covered by published modules, level by subject.

Read-only. Every figure comes from a fixed number of aggregate queries, whatever the size of
the curriculum, so the map stays fast for a country with hundreds of competencies.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import case, func, select

from imaginecole.content.models import Module, ModuleCompetency, module_levels
from imaginecole.curriculum.models import (
    Competency,
    Country,
    Cycle,
    Level,
    Subject,
    competency_levels,
)
from imaginecole.extensions import db
from imaginecole.localized import Shown, pick

IN_CURRICULUM = "in_curriculum"
GAP = "gap"
NOT_IN_CURRICULUM = "not_in_curriculum"
CSV_HEADER = ("level", "subject", "subject_name", "modules", "status")


class CoverageNotFound(LookupError):
    """The country, level or subject asked for does not exist."""


@dataclass(frozen=True)
class Cell:
    """Published modules of one subject taught at one level."""

    level_slug: str
    subject_slug: str
    modules: int
    in_curriculum: bool

    @property
    def gap(self) -> bool:
        return self.in_curriculum and self.modules == 0

    @property
    def status(self) -> str:
        if not self.in_curriculum:
            return NOT_IN_CURRICULUM
        return GAP if self.modules == 0 else IN_CURRICULUM


@dataclass(frozen=True)
class SubjectColumn:
    slug: str
    name: dict[str, str]
    # Distinct published modules of the subject: one taught at two levels counts once here.
    total: int

    def shown(self, lang: str) -> Shown:
        return pick(self.name, lang)


@dataclass(frozen=True)
class LevelRow:
    code: str
    slug: str
    name: dict[str, str]
    cells: tuple[Cell, ...]  # in the order of Grid.subjects

    @property
    def total(self) -> int:
        # A module has exactly one subject, so the cells of a row never count it twice.
        return sum(cell.modules for cell in self.cells)

    def shown(self, lang: str) -> Shown:
        return pick(self.name, lang)


@dataclass(frozen=True)
class CycleGroup:
    code: str
    name: dict[str, str]
    rows: tuple[LevelRow, ...]

    def shown(self, lang: str) -> Shown:
        return pick(self.name, lang)


@dataclass(frozen=True)
class Grid:
    country_code: str
    country_name: dict[str, str]
    subjects: tuple[SubjectColumn, ...]
    cycles: tuple[CycleGroup, ...]

    @property
    def rows(self) -> list[LevelRow]:
        return [row for cycle in self.cycles for row in cycle.rows]

    @property
    def total(self) -> int:
        """Return the number of distinct published modules of the country."""
        return sum(subject.total for subject in self.subjects)

    @property
    def gaps(self) -> list[tuple[LevelRow, SubjectColumn]]:
        return [
            (row, subject)
            for row in self.rows
            for subject, cell in zip(self.subjects, row.cells, strict=True)
            if cell.gap
        ]

    @property
    def pairs_in_curriculum(self) -> int:
        return sum(cell.in_curriculum for row in self.rows for cell in row.cells)

    def cell(self, level_slug: str, subject_slug: str) -> Cell:
        for row in self.rows:
            if row.slug == level_slug:
                for cell in row.cells:
                    if cell.subject_slug == subject_slug:
                        return cell
        raise CoverageNotFound(f"{level_slug} × {subject_slug}")

    def row(self, level: str) -> LevelRow:
        """Return the row of a level given by its code or its slug."""
        for row in self.rows:
            if level in (row.code, row.slug):
                return row
        raise CoverageNotFound(level)

    def subject(self, slug: str) -> SubjectColumn:
        for subject in self.subjects:
            if subject.slug == slug:
                return subject
        raise CoverageNotFound(slug)

    def shown(self, lang: str) -> Shown:
        return pick(self.country_name, lang)


@dataclass(frozen=True)
class Row:
    """One competency of the drill-down, with the published modules linked to it."""

    code: str
    type: str
    label: dict[str, str]
    depth: int
    direct: int  # modules that teach or assess this node itself
    subtree: int  # distinct modules linked to this node or to any node under it

    @property
    def gap(self) -> bool:
        return self.subtree == 0

    def shown(self, lang: str) -> Shown:
        return pick(self.label, lang)


def _country(country_code: str) -> Country:
    country = db.session.get(Country, country_code)
    if country is None:
        raise CoverageNotFound(country_code)
    return country


def coverage_grid(country_code: str) -> Grid:
    """Return the level × subject grid of published modules of a country.

    A pair is in the curriculum when a competency of the subject is listed at the level, or
    when any module (published or not) is filed there; competencies without levels place a
    subject nowhere, since they would otherwise mark it at every level. A pair in the
    curriculum with no published module is a gap.
    """
    country = _country(country_code)
    cycles = db.session.scalars(
        select(Cycle).filter_by(country_code=country.code).order_by(Cycle.position)
    ).all()
    levels = db.session.scalars(
        select(Level).filter_by(country_code=country.code).order_by(Level.position)
    ).all()
    subjects = db.session.scalars(
        select(Subject).filter_by(country_code=country.code).order_by(Subject.position)
    ).all()

    published = func.sum(case((Module.published.is_(True), 1), else_=0))
    cell_counts: dict[tuple[int, int], int] = {}
    for level_id, subject_id, count in db.session.execute(
        select(module_levels.c.level_id, Module.subject_id, published)
        .join(Module, Module.id == module_levels.c.module_id)
        .where(Module.country_code == country.code)
        .group_by(module_levels.c.level_id, Module.subject_id)
    ):
        cell_counts[(level_id, subject_id)] = int(count or 0)
    planned = set(cell_counts) | {
        (level_id, subject_id)
        for level_id, subject_id in db.session.execute(
            select(competency_levels.c.level_id, Competency.subject_id)
            .join(Competency, Competency.id == competency_levels.c.competency_id)
            .where(Competency.country_code == country.code)
            .distinct()
        )
    }
    subject_totals = dict(
        db.session.execute(
            select(Module.subject_id, func.count(Module.id))
            .where(Module.country_code == country.code, Module.published.is_(True))
            .group_by(Module.subject_id)
        ).all()
    )

    def level_row(level: Level) -> LevelRow:
        return LevelRow(
            code=level.code,
            slug=level.slug,
            name=dict(level.name),
            cells=tuple(
                Cell(
                    level_slug=level.slug,
                    subject_slug=subject.slug,
                    modules=cell_counts.get((level.id, subject.id), 0),
                    in_curriculum=(level.id, subject.id) in planned,
                )
                for subject in subjects
            ),
        )

    levels_of_cycle: dict[int, list[Level]] = defaultdict(list)
    for level in levels:
        levels_of_cycle[level.cycle_id].append(level)
    return Grid(
        country_code=country.code,
        country_name=dict(country.name),
        subjects=tuple(
            SubjectColumn(
                slug=subject.slug, name=dict(subject.name), total=subject_totals.get(subject.id, 0)
            )
            for subject in subjects
        ),
        cycles=tuple(
            CycleGroup(
                code=cycle.code,
                name=dict(cycle.name),
                rows=tuple(level_row(level) for level in levels_of_cycle[cycle.id]),
            )
            for cycle in cycles
            if levels_of_cycle[cycle.id]
        ),
    )


def competency_coverage(country_code: str, level_slug: str, subject_slug: str) -> list[Row]:
    """Return the competency tree of a subject at a level, in curriculum order, with counts.

    A node belongs to the level when its levels include it, when it lies under a node that
    does, or when it has no levels and no parent (a node without levels under a parent follows
    that parent). A node whose parent is left out is shown at the top. Only published modules
    taught at that level are counted, whatever their own subject.
    """
    country = _country(country_code)
    level = db.session.scalar(select(Level).filter_by(country_code=country.code, slug=level_slug))
    subject = db.session.scalar(
        select(Subject).filter_by(country_code=country.code, slug=subject_slug)
    )
    if level is None or subject is None:
        raise CoverageNotFound(f"{level_slug} × {subject_slug}")

    nodes = db.session.scalars(
        select(Competency)
        .filter_by(country_code=country.code, subject_id=subject.id)
        .order_by(Competency.position, Competency.code)
    ).all()
    node_levels: dict[int, set[int]] = defaultdict(set)
    for competency_id, level_id in db.session.execute(
        select(competency_levels.c.competency_id, competency_levels.c.level_id)
        .join(Competency, Competency.id == competency_levels.c.competency_id)
        .where(Competency.subject_id == subject.id)
    ):
        node_levels[competency_id].add(level_id)
    linked: dict[int, set[int]] = defaultdict(set)
    for competency_id, module_id in db.session.execute(
        select(ModuleCompetency.competency_id, ModuleCompetency.module_id)
        .join(Competency, Competency.id == ModuleCompetency.competency_id)
        .join(Module, Module.id == ModuleCompetency.module_id)
        .join(module_levels, module_levels.c.module_id == Module.id)
        .where(
            Competency.subject_id == subject.id,
            module_levels.c.level_id == level.id,
            Module.published.is_(True),
        )
        .distinct()
    ):
        linked[competency_id].add(module_id)

    known = {node.id for node in nodes}
    children: dict[int | None, list[Competency]] = defaultdict(list)
    for node in nodes:
        # A parent of another subject (or missing) cannot be shown here: treat the node as a root.
        children[node.parent_id if node.parent_id in known else None].append(node)

    in_subtree: dict[int, set[int]] = {}

    def gather(node: Competency) -> set[int]:
        """Return the modules linked to ``node`` or anything under it, remembering each."""
        in_subtree[node.id] = modules = set(linked.get(node.id, ()))
        for child in children.get(node.id, []):
            if child.id not in in_subtree:  # a cycle in bad data must not loop for ever
                modules |= gather(child)
        return modules

    rows: list[Row] = []
    placed: set[int] = set()

    def place(node: Competency, depth: int, included: bool) -> None:
        placed.add(node.id)
        own = node_levels.get(node.id, set())
        included = included or level.id in own or (not own and node.parent_id not in known)
        if included:
            rows.append(
                Row(
                    code=node.code,
                    type=node.type,
                    label=dict(node.label),
                    depth=depth,
                    direct=len(linked.get(node.id, ())),
                    subtree=len(in_subtree[node.id]),
                )
            )
        for child in children.get(node.id, []):
            if child.id not in placed:
                place(child, depth + 1 if included else depth, included)

    for root in children[None]:
        gather(root)
        place(root, 0, False)
    return rows


def coverage_csv(country_code: str) -> str:
    """Return the grid as CSV text, one row per level × subject, without a byte order mark."""
    grid = coverage_grid(country_code)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in grid.rows:
        for subject, cell in zip(grid.subjects, row.cells, strict=True):
            writer.writerow(
                (row.code, subject.slug, pick(subject.name, "fr").text, cell.modules, cell.status)
            )
    return out.getvalue()
