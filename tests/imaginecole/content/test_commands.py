"""The ``imaginecole content …`` commands: summaries, problems with file, line and field."""

from __future__ import annotations

import re

from tests.conftest import TEST_CONTENT, add_exercise_lesson
from tests.imaginecole.content.test_operations import module_dir, module_row, replace_in

PROBLEM_LINE = re.compile(
    r"^\s*(?P<path>/\S+?):(?P<line>\d+): (?P<field>[\w .]+): (?P<message>.+)$"
)


def test_cli_load_prints_a_summary_then_nothing_changed(runner):
    first = runner.invoke(args=["content", "load", str(TEST_CONTENT)])

    assert first.exit_code == 0, first.output
    assert "Countries: 1 added, 0 updated, 0 unchanged." in first.output
    assert "Modules: 3 added, 0 updated, 0 unchanged; 4 lessons loaded." in first.output
    assert "Nothing changed" not in first.output

    second = runner.invoke(args=["content", "load", str(TEST_CONTENT)])

    assert second.exit_code == 0, second.output
    assert "Countries: 0 added, 0 updated, 1 unchanged." in second.output
    assert "Modules: 0 added, 0 updated, 3 unchanged; 0 lessons loaded." in second.output
    assert "Nothing changed: everything was already loaded." in second.output


def test_cli_load_reports_problems_and_fails_but_loads_the_rest(runner, app, content_copy):
    replace_in(module_dir(content_copy) / "module.toml", "version = 1", "version = 0")

    result = runner.invoke(args=["content", "load", str(content_copy)])

    assert result.exit_code == 1
    assert "Modules: 2 added" in result.output
    assert f"{module_dir(content_copy) / 'module.toml'}:2: version:" in result.output
    assert module_row(app, "zz-maths-fractions") is not None
    assert module_row(app) is None


def test_cli_check_passes_on_a_clean_tree(runner, app):
    result = runner.invoke(args=["content", "check", str(TEST_CONTENT)])

    assert result.exit_code == 0, result.output
    assert "1 countries, 3 valid modules, 4 lessons" in result.output
    assert "No problems found." in result.output
    assert module_row(app, "zz-maths-fractions") is None  # check loads nothing


def test_cli_check_fails_and_prints_file_line_field_message(runner, content_copy):
    toml = module_dir(content_copy) / "module.toml"
    lesson = module_dir(content_copy) / "01-evaporation.md"
    replace_in(toml, 'licence = "CC-BY-4.0"', 'licence = "CC-BY-NC-4.0"')
    replace_in(toml, 'subject = "sciences"', 'subject = "physique"')
    replace_in(lesson, "# L'évaporation", "L'évaporation")

    result = runner.invoke(args=["content", "check", str(content_copy)])

    assert result.exit_code != 0
    assert "3 problems" in result.output
    found = {
        (m["path"], int(m["line"]), m["field"])
        for m in map(PROBLEM_LINE.match, result.output.splitlines())
        if m
    }
    assert found == {
        (str(toml), 5, "subject"),
        (str(toml), 8, "licence"),
        (str(lesson), 1, "title"),
    }
    assert (
        f'{toml}:8: licence: is not an open licence we accept (did you mean "CC-BY-4.0"?)'
        in result.output
    )


def test_cli_check_of_a_missing_folder_fails(runner, tmp_path):
    result = runner.invoke(args=["content", "check", str(tmp_path / "nowhere")])

    assert result.exit_code != 0
    assert "no such content folder" in result.output


def test_cli_load_of_a_missing_folder_says_so_first_and_fails(runner, tmp_path):
    result = runner.invoke(args=["content", "load", str(tmp_path / "nowhere")])

    assert result.exit_code == 1
    assert f"{tmp_path / 'nowhere'}: no such content folder" in result.output
    assert "Nothing changed" not in result.output and "Traceback" not in result.output


def test_cli_check_names_the_line_of_an_exercise_mistake_and_loads_nothing_of_it(
    runner, app, content_copy
):
    lesson = add_exercise_lesson(content_copy) / "09-exercices.md"
    replace_in(lesson, "- [x] la pluie", "- [ ] la pluie")
    replace_in(lesson, "- [x] l'évaporation", "- [ ] l'évaporation")
    replace_in(lesson, "tolérance: 0,05", "tolérance: un peu")
    line_of_choice = lesson.read_text().split("\n").index("- [ ] l'évaporation") + 1
    line_of_tolerance = lesson.read_text().split("\n").index("tolérance: un peu") + 1

    checked = runner.invoke(args=["content", "check", str(content_copy)])
    loaded = runner.invoke(args=["content", "load", str(content_copy)])

    assert checked.exit_code == 1
    assert f"{lesson}:{line_of_choice}: exercise: no choice is marked right" in checked.output
    assert f'{lesson}:{line_of_tolerance}: exercise: tolérance: "un peu"' in checked.output
    assert loaded.exit_code == 1
    assert module_row(app) is None  # the module with the mistakes: not even its good lesson
    assert module_row(app, "zz-maths-fractions") is not None


def test_cli_check_refuses_a_video_over_the_limit_and_says_why(runner, app, content_copy):
    media = module_dir(content_copy) / "media"
    media.mkdir()
    (media / "film.webm").write_bytes(b"\x1a\x45\xdf\xa3" + b"\0" * (2 * 1024 * 1024))
    lesson = module_dir(content_copy) / "01-evaporation.md"
    lesson.write_text(lesson.read_text() + "\n![Un film](media/film.webm)\n")
    app.config["MAX_VIDEO_MB"] = 1

    result = runner.invoke(args=["content", "check", str(content_copy)])

    assert result.exit_code == 1
    assert '"media/film.webm" is a video of 2.0 MB; videos may be at most 1 MB' in result.output
    assert "IMAGINECOLE_MAX_VIDEO_MB" in result.output and "pupils pay for their data" in result.output
    app.config["MAX_VIDEO_MB"] = 5
    assert runner.invoke(args=["content", "check", str(content_copy)]).exit_code == 0
