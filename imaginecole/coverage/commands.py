"""The ``imaginecole report …`` commands: the national team's figures, in a terminal."""

from __future__ import annotations

import click

from imaginecole.commands import database_command
from imaginecole.coverage import queries as coverage


@click.group("report", help="Print reports on the content of this instance.")
def report_group() -> None:
    pass


@report_group.command(
    "coverage", help="Published modules by level and subject of a country, with the gaps."
)
@click.option("--country", required=True, help="Country code, e.g. sn.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the grid as CSV, one row per cell.")
@click.option("--level", help="With --subject: the competencies of one level (code or slug).")
@click.option("--subject", help="With --level: the competencies of one subject (slug).")
@database_command
def report_coverage(country: str, as_csv: bool, level: str | None, subject: str | None) -> None:
    if (level is None) != (subject is None):
        raise click.UsageError("--level and --subject go together.")
    if as_csv and level:
        raise click.UsageError("--csv prints the whole grid; leave out --level and --subject.")
    try:
        if as_csv:
            click.echo(coverage.coverage_csv(country), nl=False)
            return
        grid = coverage.coverage_grid(country)
        if level and subject:
            _print_competencies(grid, grid.row(level), grid.subject(subject))
        else:
            _print_grid(grid)
    except coverage.CoverageNotFound as error:
        raise click.ClickException(
            f"Not found in the loaded curriculum of {country}: {error}"
        ) from error


def _modules(count: int) -> str:
    return f"{count} published module{'' if count == 1 else 's'}"


def _cell_text(cell: coverage.Cell) -> str:
    if not cell.in_curriculum:
        return "–"
    return "0!" if cell.gap else str(cell.modules)


def _print_table(rows: list[list[str]]) -> None:
    """Print rows with the first column aligned left and the others right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        first, *rest = row
        cells = [first.ljust(widths[0])] + [
            text.rjust(width) for text, width in zip(rest, widths[1:], strict=True)
        ]
        click.echo("  ".join(cells).rstrip())


def _print_grid(grid: coverage.Grid) -> None:
    click.echo(f"Coverage of {grid.country_code} ({grid.shown('fr')}): published modules")
    rows = [["Level", *(subject.slug for subject in grid.subjects), "Total"]]
    for row in grid.rows:
        rows.append([row.code, *(_cell_text(cell) for cell in row.cells), str(row.total)])
    rows.append(["Total", *(str(subject.total) for subject in grid.subjects), str(grid.total)])
    _print_table(rows)
    click.echo(
        f"{_modules(grid.total)}; {len(grid.gaps)} gaps (0!) among "
        f"{grid.pairs_in_curriculum} level × subject pairs in the curriculum; "
        "– not in the curriculum."
    )
    click.echo("A module taught at several levels counts at each of them; totals count it once.")


def _print_competencies(
    grid: coverage.Grid, row: coverage.LevelRow, subject: coverage.SubjectColumn
) -> None:
    cell = grid.cell(row.slug, subject.slug)
    click.echo(
        f"{row.code} × {subject.slug} ({subject.shown('fr')}): {_modules(cell.modules)}"
        + ("" if cell.in_curriculum else ", not in the curriculum")
    )
    items = coverage.competency_coverage(grid.country_code, row.slug, subject.slug)
    if not items:
        click.echo("The curriculum lists no competency of this subject at this level.")
        return
    table = [["Directly", "Subtree", "Competency"]]
    for item in items:
        table.append(
            [
                str(item.direct),
                "0!" if item.gap else str(item.subtree),
                f"{'  ' * item.depth}{item.code}  {item.shown('fr')}",
            ]
        )
    # The competency goes last so long labels do not push the counts out of line.
    widths = [max(len(line[i]) for line in table) for i in range(2)]
    for direct, subtree, label in table:
        click.echo(f"{direct.rjust(widths[0])}  {subtree.rjust(widths[1])}  {label}")
    gaps = sum(item.gap for item in items)
    click.echo(f"{len(items)} competencies, {gaps} gaps (0!: no module at this level).")
