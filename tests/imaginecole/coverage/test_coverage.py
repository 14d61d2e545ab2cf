"""The coverage map: figures counted by hand on the zz test content, pages and CSV.

What zz holds (tests/data/content/zz):

- levels CM1 (cycle primaire) and 7e année (cycle college); subjects mathematiques, sciences,
  histoire, in that order;
- competencies ZZ-MATH-1 (CM1) with its child ZZ-MATH-1-1 (CM1), ZZ-SCI-1 (CM1 and 7e année),
  none for histoire;
- modules zz-maths-fractions (CM1, mathematiques, teaches ZZ-MATH-1-1, assesses ZZ-MATH-1),
  zz-sciences-eau (CM1 and 7e année, sciences, teaches ZZ-SCI-1) and zz-histoire-royaume
  (7e année, histoire, no competency), all published.

So mathematiques at 7e année and histoire at CM1 are not in the curriculum, and there is no gap.
"""

from __future__ import annotations

import pytest
from sqlalchemy import event

from imaginecole.coverage.queries import (
    CoverageNotFound,
    competency_coverage,
    coverage_csv,
    coverage_grid,
)
from imaginecole.extensions import db
from tests.imaginecole.national_helpers import signed_in

SUBJECTS = ["mathematiques", "sciences", "histoire"]


def cells(grid) -> dict[str, list[tuple[int, str]]]:
    return {row.code: [(cell.modules, cell.status) for cell in row.cells] for row in grid.rows}


def tree(rows) -> list[tuple[str, int, int, int, bool]]:
    return [(row.code, row.depth, row.direct, row.subtree, row.gap) for row in rows]


# ---------------------------------------------------------------------------- figures


def test_grid_of_the_test_content(national):
    with national.app_context():
        grid = coverage_grid("zz")
    assert [s.slug for s in grid.subjects] == SUBJECTS
    assert [(c.code, [r.code for r in c.rows]) for c in grid.cycles] == [
        ("primaire", ["CM1"]),
        ("college", ["7e année"]),
    ]
    assert cells(grid) == {
        "CM1": [(1, "in_curriculum"), (1, "in_curriculum"), (0, "not_in_curriculum")],
        "7e année": [(0, "not_in_curriculum"), (1, "in_curriculum"), (1, "in_curriculum")],
    }
    assert [row.total for row in grid.rows] == [2, 2]
    # zz-sciences-eau is in both rows but is one module of sciences.
    assert [s.total for s in grid.subjects] == [1, 1, 1]
    assert grid.total == 3
    assert grid.gaps == []
    assert grid.pairs_in_curriculum == 4


def test_drill_down_of_the_test_content(national):
    with national.app_context():
        # ZZ-MATH-1 is assessed by the fractions module, which also teaches its child: one
        # module in the subtree, not two.
        assert tree(competency_coverage("zz", "cm1", "mathematiques")) == [
            ("ZZ-MATH-1", 0, 1, 1, False),
            ("ZZ-MATH-1-1", 1, 1, 1, False),
        ]
        assert tree(competency_coverage("zz", "cm1", "sciences")) == [("ZZ-SCI-1", 0, 1, 1, False)]
        assert tree(competency_coverage("zz", "7e-annee", "sciences")) == [
            ("ZZ-SCI-1", 0, 1, 1, False)
        ]
        assert competency_coverage("zz", "7e-annee", "mathematiques") == []
        assert competency_coverage("zz", "7e-annee", "histoire") == []
        with pytest.raises(CoverageNotFound):
            competency_coverage("zz", "cm9", "histoire")
        with pytest.raises(CoverageNotFound):
            coverage_grid("xx")


def test_csv_of_the_test_content(national):
    with national.app_context():
        text = coverage_csv("zz")
    assert text.splitlines() == [
        "level,subject,subject_name,modules,status",
        "CM1,mathematiques,Mathématiques,1,in_curriculum",
        "CM1,sciences,Sciences d'observation,1,in_curriculum",
        "CM1,histoire,Histoire,0,not_in_curriculum",
        "7e année,mathematiques,Mathématiques,0,not_in_curriculum",
        "7e année,sciences,Sciences d'observation,1,in_curriculum",
        "7e année,histoire,Histoire,1,in_curriculum",
    ]


def test_unpublished_modules_are_not_counted_and_gaps_show(changed):
    with changed.app_context():
        grid = coverage_grid("zz")
        assert cells(grid) == {
            # CM1 × mathematiques: competencies, but the only module is unpublished.
            "CM1": [(0, "gap"), (1, "in_curriculum"), (0, "not_in_curriculum")],
            # 7e année × mathematiques: no competency, only an unpublished module.
            "7e année": [(0, "gap"), (1, "in_curriculum"), (1, "in_curriculum")],
        }
        assert [row.total for row in grid.rows] == [1, 2]
        assert [s.total for s in grid.subjects] == [0, 1, 1]
        assert grid.total == 2
        assert [(row.code, s.slug) for row, s in grid.gaps] == [
            ("CM1", "mathematiques"),
            ("7e année", "mathematiques"),
        ]
        assert grid.pairs_in_curriculum == 5
        assert "CM1,mathematiques,Mathématiques,0,gap" in coverage_csv("zz").splitlines()

        assert tree(competency_coverage("zz", "cm1", "mathematiques")) == [
            ("ZZ-MATH-1", 0, 0, 1, False),
            ("ZZ-MATH-1-1", 1, 0, 0, True),
            ("ZZ-MATH-1-2", 1, 1, 1, False),
        ]
        # The child without levels follows its parent, which is not at 7e année.
        assert competency_coverage("zz", "7e-annee", "mathematiques") == []
        # The history module counts for the science competency, but only at its own level.
        assert tree(competency_coverage("zz", "cm1", "sciences")) == [("ZZ-SCI-1", 0, 1, 1, False)]
        assert tree(competency_coverage("zz", "7e-annee", "sciences")) == [
            ("ZZ-SCI-1", 0, 2, 2, False)
        ]
        for level in ("cm1", "7e-annee"):
            assert tree(competency_coverage("zz", level, "histoire")) == [
                ("ZZ-HIST-1", 0, 0, 0, True)
            ]


def count_queries(app, call) -> int:
    statements = []

    def record(*_args):
        statements.append(1)

    with app.app_context():
        engine = db.engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            call()
        finally:
            event.remove(engine, "before_cursor_execute", record)
    return len(statements)


def test_a_fixed_number_of_queries_whatever_the_data(national, changed):
    for call in (
        lambda: coverage_grid("zz"),
        lambda: competency_coverage("zz", "cm1", "mathematiques"),
        lambda: coverage_csv("zz"),
    ):
        small, larger = count_queries(national, call), count_queries(changed, call)
        assert small == larger <= 7


# ---------------------------------------------------------------------------- pages

MAP = "/{lang}/national/zz/coverage"
DETAIL = "/{lang}/national/zz/coverage/cm1/mathematiques"
CSV = "/{lang}/national/zz/coverage.csv"


@pytest.mark.parametrize("email", ["editor-zz@example.org", "admin@example.org"])
@pytest.mark.parametrize("page", [MAP, DETAIL, CSV])
def test_editors_of_the_country_and_admins_see_the_pages(national, email, page):
    response = signed_in(national, email).get(page.format(lang="fr"))
    assert response.status_code == 200


@pytest.mark.parametrize("page", [MAP, DETAIL, CSV])
def test_others_do_not(national, page):
    url = page.format(lang="fr")
    assert signed_in(national, "editor-yy@example.org").get(url).status_code == 404
    assert signed_in(national, "teacher-zz@example.org").get(url).status_code == 403
    response = signed_in(national, None).get(url)
    assert response.status_code == 302
    assert "/fr/login?next=" in response.headers["Location"]


@pytest.mark.parametrize(
    "url",
    [
        "/fr/national/xx/coverage",
        "/fr/national/zz/coverage/cm9/mathematiques",
        "/fr/national/zz/coverage/cm1/latin",
        "/fr/national/xx/coverage.csv",
    ],
)
def test_unknown_places_are_not_found(national, url):
    assert signed_in(national, "admin@example.org").get(url).status_code == 404


def test_the_map_page(national):
    html = signed_in(national, "editor-zz@example.org").get(MAP.format(lang="fr")).text
    assert '<table class="cov">' in html
    assert html.count('<td class="cov-none">') == 2  # mathematiques at 7e année, histoire at CM1
    assert '<td class="cov-gap">' not in html
    assert html.count('<td class="cov-1">') == 4
    # The count leads to the catalogue, the cell to the competencies.
    assert 'href="/fr/zz/cm1/mathematiques/"' in html
    assert 'href="/fr/national/zz/coverage/cm1/mathematiques"' in html
    assert 'href="/fr/national/zz/coverage/7e-annee/mathematiques"' not in html
    assert 'href="/fr/national/zz/coverage.csv"' in html
    assert 'class="cov-legend"' in html
    assert 'style="' not in html  # the CSP allows no inline style


def test_gaps_are_marked_with_words_not_only_colour(changed):
    client = signed_in(changed, "admin@example.org")
    html = client.get(MAP.format(lang="en")).text
    assert html.count('<td class="cov-gap">') == 2
    assert html.count('<strong class="cov-n">0 <span class="cov-flag">gap</span></strong>') == 2
    # No published module: no link to an empty catalogue page.
    assert 'href="/en/zz/cm1/mathematiques/"' not in html
    assert 'href="/en/zz/7e-annee/mathematiques/"' not in html
    detail = client.get(DETAIL.format(lang="en")).text
    assert detail.count('<span class="cov-flag">gap</span>') == 2  # the cell and ZZ-MATH-1-1
    assert "ZZ-MATH-1-2" in detail
    assert 'class="cov-d1"' in detail


def test_the_drill_down_page(national):
    html = signed_in(national, "editor-zz@example.org").get(DETAIL.format(lang="fr")).text
    assert "ZZ-MATH-1" in html and "ZZ-MATH-1-1" in html
    assert "Lire et écrire une fraction simple" in html
    assert 'href="/fr/zz/cm1/mathematiques/"' in html
    assert 'href="/fr/national/zz/coverage"' in html


def test_the_page_in_arabic_is_right_to_left(national):
    html = signed_in(national, "admin@example.org").get(MAP.format(lang="ar")).text
    assert 'dir="rtl"' in html
    assert '<table class="cov">' in html
    assert 'href="/ar/national/zz/coverage/cm1/sciences"' in html


def test_the_csv_download(national):
    response = signed_in(national, "editor-zz@example.org").get(CSV.format(lang="fr"))
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    with national.app_context():
        assert response.data.decode("utf-8-sig") == coverage_csv("zz")
    assert "Mathématiques".encode() in response.data
