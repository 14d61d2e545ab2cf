"""The ``imaginecole report coverage`` command, on the figures of test_coverage.py."""

from __future__ import annotations

from imaginecole.coverage.queries import coverage_csv


def report(app, *args: str):
    return app.test_cli_runner().invoke(args=["report", "coverage", *args])


def test_the_command_prints_the_grid(national):
    result = report(national, "--country", "zz")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1:5] == [
        "Level     mathematiques  sciences  histoire  Total",
        "CM1                   1         1         –      2",
        "7e année              –         1         1      2",
        "Total                 1         1         1      3",
    ]
    assert "3 published modules; 0 gaps (0!) among 4 level × subject pairs" in result.output


def test_the_command_marks_gaps(changed):
    result = report(changed, "--country", "zz")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[2:4] == [
        "CM1                  0!         1         –      1",
        "7e année             0!         1         1      2",
    ]
    result = report(changed, "--country", "zz", "--level", "CM1", "--subject", "mathematiques")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1:5] == [
        "Directly  Subtree  Competency",
        "       0        1  ZZ-MATH-1  Résoudre des problèmes avec les fractions",
        "       0       0!    ZZ-MATH-1-1  Lire et écrire une fraction simple",
        "       1        1    ZZ-MATH-1-2  Comparer deux fractions",
    ]


def test_the_command_prints_csv_and_refuses_what_it_cannot_find(national):
    result = report(national, "--country", "zz", "--csv")
    assert result.exit_code == 0
    with national.app_context():
        # The test runner turns CRLF into LF.
        assert result.output.splitlines() == coverage_csv("zz").splitlines()
    assert report(national, "--country", "xx").exit_code == 1
    assert report(national, "--country", "zz", "--level", "CM9", "--subject", "x").exit_code == 1
    assert report(national, "--country", "zz", "--level", "CM1").exit_code == 2
