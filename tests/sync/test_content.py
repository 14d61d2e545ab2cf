"""The content reader: what a national team sees when a file has a mistake.

Every problem must name the file, the line and the field in plain words; a module with a
problem is left out while the other modules of the country are still read.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from sync.content import read_content
from sync.storage import BlobHashMismatch, BlobStore
from sync.tomllines import TomlLines
from tests.conftest import TEST_CONTENT

ALL_MODULES = ["zz-histoire-royaume", "zz-maths-fractions", "zz-sciences-eau"]
BROKEN = "zz-sciences-eau"  # the module each test breaks; the other two must still be read
DISC_PNG = TEST_CONTENT / "zz" / "modules" / "zz-maths-fractions" / "media" / "disque.png"


# ---------------------------------------------------------------------------- helpers


def module_dir(root: Path, name: str = BROKEN) -> Path:
    return root / "zz" / "modules" / name


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, needle: str, last: bool = False) -> int:
    """Return the line number (from 1) of the first (or last) line containing ``needle``."""
    found = [
        number
        for number, line in enumerate(path.read_bytes().decode("utf-8", "replace").split("\n"), 1)
        if needle in line
    ]
    assert found, f"{needle!r} not in {path}"
    return found[-1] if last else found[0]


def exact_line(path: Path, text: str) -> int:
    """Return the number of the last line that is exactly ``text``."""
    lines = path.read_text(encoding="utf-8").split("\n")
    found = [number for number, line in enumerate(lines, 1) if line == text]
    assert found, f"{text!r} not a line of {path}"
    return found[-1]


def module_ids(tree) -> list[str]:
    return sorted(module.id for module in tree.modules)


def only_problem(tree):
    assert len(tree.problems) == 1, [str(p) for p in tree.problems]
    return tree.problems[0]


def assert_reported(problem, path: Path, line: int | None, field: str, *words: str) -> None:
    """The problem points at ``path``:``line`` and ``field``, and says ``words``."""
    assert problem.path == str(path)
    assert problem.line == line
    assert problem.field == field
    for word in words:
        assert word in problem.message, (word, problem.message)
    # The line a team reads: file:line: field: message
    where = str(path) if line is None else f"{path}:{line}"
    prefix = f"{where}: {field}: " if field else f"{where}: "
    assert str(problem) == prefix + problem.message


def assert_only_broken_module_left_out(tree) -> None:
    assert module_ids(tree) == [m for m in ALL_MODULES if m != BROKEN]


# ---------------------------------------------------------------------------- the zz tree


def test_the_test_country_reads_without_any_problem():
    tree = read_content(TEST_CONTENT)

    assert list(tree.problems) == []
    assert list(tree.curricula) == ["zz"]
    assert module_ids(tree) == ALL_MODULES
    curriculum = tree.curricula["zz"]
    assert curriculum.level_codes() == ["CM1", "7e année"]
    assert [level.slug for level in curriculum.levels] == ["cm1", "7e-annee"]
    assert curriculum.name == {"fr": "Zedland", "en": "Zedland", "ar": "زدلاند"}

    fractions = next(m for m in tree.modules if m.id == "zz-maths-fractions")
    assert fractions.version == 1
    assert fractions.attribution == "Équipe d'essai"
    assert [a.name for a in fractions.authors] == ["Awa Diallo"]
    assert [(lesson.position, lesson.slug) for lesson in fractions.lessons] == [
        (1, "lire-une-fraction"),
        (2, "comparer"),
    ]
    first = fractions.lessons[0]
    assert sorted(first.texts) == ["ar", "en", "fr"]
    assert first.texts["fr"].title == "Lire une fraction"
    assert first.texts["en"].title == "Reading a fraction"
    # The picture is found by the path written in the lesson, and named by its SHA-256.
    sha = hashlib.sha256(DISC_PNG.read_bytes()).hexdigest()
    assert first.texts["fr"].media == {"media/disque.png": sha}
    assert fractions.blobs[sha].media_type == "image/png"
    assert fractions.blobs[sha].size == DISC_PNG.stat().st_size

    sciences = next(m for m in tree.modules if m.id == "zz-sciences-eau")
    # attribution is optional: the authors are credited instead
    assert sciences.attribution == "Équipe d'essai"
    assert sciences.levels == ["CM1", "7e année"]


def test_reading_only_some_countries(content_copy):
    assert module_ids(read_content(content_copy, countries=["zz"])) == ALL_MODULES
    tree = read_content(content_copy, countries=["sn"])
    assert tree.modules == [] and tree.curricula == {} and list(tree.problems) == []


def test_a_missing_content_folder_is_one_clear_problem(tmp_path):
    tree = read_content(tmp_path / "nowhere")
    assert "no such content folder" in only_problem(tree).message


# ---------------------------------------------------------------------------- module mistakes


def test_invalid_toml_gives_its_line(content_copy):
    toml = module_dir(content_copy) / "module.toml"
    replace_in(toml, 'subject = "sciences"', "subject = sciences")

    tree = read_content(content_copy)

    problem = only_problem(tree)
    assert_reported(problem, toml, line_of(toml, "subject = sciences"), "", "not valid TOML")
    assert "line" not in problem.message  # the line is given once, in front
    assert_only_broken_module_left_out(tree)


def test_missing_required_field(content_copy):
    toml = module_dir(content_copy) / "module.toml"
    replace_in(toml, 'subject = "sciences"\n', "")

    tree = read_content(content_copy)

    # A missing key has no line of its own: the problem names the file and the field.
    assert_reported(only_problem(tree), toml, None, "subject", "this field is required")
    assert_only_broken_module_left_out(tree)


def test_missing_field_inside_a_section_points_at_the_section(content_copy):
    toml = module_dir(content_copy) / "module.toml"
    replace_in(toml, 'name = "Équipe d\'essai"', 'role = "illustrator"')

    tree = read_content(content_copy)

    assert_reported(
        only_problem(tree), toml, line_of(toml, "[[authors]]"), "authors.name", "required"
    )
    assert_only_broken_module_left_out(tree)


def test_unknown_field_suggests_the_right_name(content_copy):
    toml = module_dir(content_copy) / "module.toml"
    replace_in(toml, "keywords =", "keyword =")

    tree = read_content(content_copy)

    assert_reported(
        only_problem(tree),
        toml,
        line_of(toml, "keyword ="),
        "keyword",
        "unknown field",
        'did you mean "keywords"?',
    )
    assert_only_broken_module_left_out(tree)


def test_unknown_language_inside_a_title_points_at_its_line(content_copy):
    toml = module_dir(content_copy) / "module.toml"
    replace_in(toml, "[title]\n", '[title]\nde = "Der Wasserkreislauf"\n')

    tree = read_content(content_copy)

    assert_reported(
        only_problem(tree), toml, line_of(toml, "de = "), "title.de", "unknown language"
    )
    assert_only_broken_module_left_out(tree)


def test_id_must_match_the_folder(content_copy):
    toml = module_dir(content_copy) / "module.toml"
    replace_in(toml, 'id = "zz-sciences-eau"', 'id = "zz-sciences-pluie"')

    tree = read_content(content_copy)

    assert_reported(
        only_problem(tree),
        toml,
        1,
        "id",
        '"zz-sciences-pluie"',
        'folder is named "zz-sciences-eau"',
    )
    assert_only_broken_module_left_out(tree)


@pytest.mark.parametrize("bad", ["0", "-3", '"2"', "1.5", "true"])
def test_version_must_be_a_whole_number_from_one(content_copy, bad):
    toml = module_dir(content_copy) / "module.toml"
    replace_in(toml, "version = 1", f"version = {bad}")

    tree = read_content(content_copy)

    assert_reported(only_problem(tree), toml, 2, "version", "whole number of at least 1")
    assert_only_broken_module_left_out(tree)


def test_unknown_level_lists_the_known_ones(content_copy):
    toml = module_dir(content_copy) / "module.toml"
    replace_in(toml, 'levels = ["CM1", "7e année"]', 'levels = ["CM7", "7e année"]')

    tree = read_content(content_copy)

    assert_reported(
        only_problem(tree),
        toml,
        line_of(toml, "levels ="),
        "levels",
        'level "CM7" is not in the curriculum of zz',
        "known: CM1, 7e année",
    )
    assert_only_broken_module_left_out(tree)


def test_unknown_subject_lists_the_known_ones(content_copy):
    toml = module_dir(content_copy) / "module.toml"
    replace_in(toml, 'subject = "sciences"', 'subject = "physique"')

    tree = read_content(content_copy)

    assert_reported(
        only_problem(tree),
        toml,
        line_of(toml, "subject ="),
        "subject",
        'subject "physique" is not in the curriculum of zz',
        "mathematiques, sciences, histoire",
    )
    assert_only_broken_module_left_out(tree)


@pytest.mark.parametrize("key", ["competencies", "assesses"])
def test_unknown_competency_code_suggests_a_close_one(content_copy, key):
    toml = module_dir(content_copy) / "module.toml"
    replace_in(toml, 'competencies = ["ZZ-SCI-1"]', f'{key} = ["ZZ-SCI-2"]')
    if key == "assesses":
        replace_in(toml, "assesses =", "competencies = []\nassesses =")

    tree = read_content(content_copy)

    assert_reported(
        only_problem(tree),
        toml,
        line_of(toml, f"{key} = "),
        key,
        'competency "ZZ-SCI-2" is not in the curriculum',
        'did you mean "ZZ-SCI-1"?',
    )
    assert_only_broken_module_left_out(tree)


def test_licence_must_be_an_open_one(content_copy):
    toml = module_dir(content_copy) / "module.toml"
    replace_in(toml, 'licence = "CC-BY-4.0"', 'licence = "CC-BY-NC-4.0"')

    tree = read_content(content_copy)

    assert_reported(
        only_problem(tree),
        toml,
        line_of(toml, "licence ="),
        "licence",
        "not an open licence",
        'did you mean "CC-BY-4.0"?',
    )
    assert_only_broken_module_left_out(tree)


def test_title_needs_a_french_text(content_copy):
    toml = module_dir(content_copy) / "module.toml"
    replace_in(toml, "[title]\nfr = ", "[title]\nen = ")

    tree = read_content(content_copy)

    assert_reported(only_problem(tree), toml, line_of(toml, "[title]"), "title", "needs a fr text")
    assert_only_broken_module_left_out(tree)


def test_lesson_without_a_heading(content_copy):
    lesson = module_dir(content_copy) / "01-evaporation.md"
    replace_in(lesson, "# L'évaporation", "L'évaporation")

    tree = read_content(content_copy)

    assert_reported(only_problem(tree), lesson, 1, "title", 'no "# " heading')
    assert_only_broken_module_left_out(tree)


def test_a_heading_inside_a_code_block_is_not_a_title(content_copy):
    lesson = module_dir(content_copy) / "01-evaporation.md"
    lesson.write_text("```\n# pas un titre\n```\n\nDu texte.\n", encoding="utf-8")

    tree = read_content(content_copy)

    assert_reported(only_problem(tree), lesson, 1, "title", 'no "# " heading')
    assert_only_broken_module_left_out(tree)


@pytest.mark.parametrize("name", ["02_pluie.md", "02-Pluie.md", "pluie.md", "02-pluie.markdown.md"])
def test_lesson_file_badly_named(content_copy, name):
    lesson = module_dir(content_copy) / name
    lesson.write_text("# La pluie\n", encoding="utf-8")

    tree = read_content(content_copy)

    assert_reported(only_problem(tree), lesson, None, "file name", 'named like "01-my-lesson.md"')
    assert_only_broken_module_left_out(tree)


def test_two_lessons_with_the_same_number(content_copy):
    lesson = module_dir(content_copy) / "01-pluie.md"
    lesson.write_text("# La pluie\n", encoding="utf-8")

    tree = read_content(content_copy)

    assert_reported(only_problem(tree), lesson, None, "file name", "already has the number 01")
    assert_only_broken_module_left_out(tree)


def test_translation_without_its_original(content_copy):
    translation = module_dir(content_copy) / "02-pluie.en.md"
    translation.write_text("# Rain\n", encoding="utf-8")

    tree = read_content(content_copy)

    assert_reported(
        only_problem(tree), translation, None, "file name", "needs the original lesson 02-pluie.md"
    )
    assert_only_broken_module_left_out(tree)


def test_translation_whose_slug_differs_from_the_original(content_copy):
    translation = module_dir(content_copy) / "01-evaporation-de-l-eau.en.md"
    translation.write_text("# Evaporation\n", encoding="utf-8")

    tree = read_content(content_copy)

    assert_reported(
        only_problem(tree), translation, None, "file name", "01-evaporation-de-l-eau.md"
    )
    assert_only_broken_module_left_out(tree)


def test_missing_image(content_copy):
    lesson = module_dir(content_copy) / "02-pluie.md"
    lesson.write_text("# La pluie\n\nIl pleut.\n\n![Un nuage](media/nuage.png)\n", encoding="utf-8")

    tree = read_content(content_copy)

    assert_reported(only_problem(tree), lesson, 5, "media", '"media/nuage.png"', "no such file")
    assert_only_broken_module_left_out(tree)


@pytest.mark.parametrize(
    "target",
    [
        "../zz-histoire-royaume/media/carte.png",
        "media/../../zz-histoire-royaume/media/carte.png",
    ],
)
def test_image_outside_the_module_folder_is_refused(content_copy, target):
    # The file exists, but in another module: a module must carry its own media.
    other = module_dir(content_copy, "zz-histoire-royaume") / "media"
    other.mkdir()
    shutil.copy(DISC_PNG, other / "carte.png")
    (module_dir(content_copy) / "media").mkdir()
    lesson = module_dir(content_copy) / "02-pluie.md"
    lesson.write_text(f"# La pluie\n\n![Une carte]({target})\n", encoding="utf-8")

    tree = read_content(content_copy)

    assert_reported(only_problem(tree), lesson, 3, "media", "points outside the module folder")
    assert_only_broken_module_left_out(tree)


def test_a_png_that_is_really_text(content_copy):
    media = module_dir(content_copy) / "media"
    media.mkdir()
    (media / "nuage.png").write_text("this is not a picture\n", encoding="utf-8")
    lesson = module_dir(content_copy) / "02-pluie.md"
    lesson.write_text("# La pluie\n\n![Un nuage](media/nuage.png)\n", encoding="utf-8")

    tree = read_content(content_copy)

    assert_reported(only_problem(tree), lesson, 3, "media", "not a PNG file")
    assert_only_broken_module_left_out(tree)


def test_a_jpeg_named_png_is_refused(content_copy):
    media = module_dir(content_copy) / "media"
    media.mkdir()
    (media / "nuage.png").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 100)
    lesson = module_dir(content_copy) / "02-pluie.md"
    lesson.write_text("# La pluie\n\n![Un nuage](media/nuage.png)\n", encoding="utf-8")

    tree = read_content(content_copy)

    assert_reported(only_problem(tree), lesson, 3, "media", "not a PNG file")
    assert_only_broken_module_left_out(tree)


def test_unsupported_media_type(content_copy):
    media = module_dir(content_copy) / "media"
    media.mkdir()
    (media / "notes.docx").write_bytes(b"PK\x03\x04")
    lesson = module_dir(content_copy) / "02-pluie.md"
    lesson.write_text("# La pluie\n\n[Les notes](media/notes.docx)\n", encoding="utf-8")

    tree = read_content(content_copy)

    assert_reported(only_problem(tree), lesson, 3, "media", ".docx files are not supported")
    assert_only_broken_module_left_out(tree)


def test_a_target_in_angle_brackets_is_checked_too(content_copy):
    lesson = module_dir(content_copy) / "02-pluie.md"
    lesson.write_text("# La pluie\n\n![Une mare](<media/mare 2.png>)\n", encoding="utf-8")

    tree = read_content(content_copy)

    assert_reported(only_problem(tree), lesson, 3, "media", '"media/mare 2.png"', "no such file")
    assert_only_broken_module_left_out(tree)


def test_links_inside_code_and_to_the_web_are_not_media(content_copy):
    lesson = module_dir(content_copy) / "02-pluie.md"
    lesson.write_text(
        "# La pluie\n\n```\n![pas une image](media/absente.png)\n```\n\n"
        "[Météo](https://example.org/meteo) et [plus bas](#suite)\n",
        encoding="utf-8",
    )

    tree = read_content(content_copy)

    assert list(tree.problems) == []
    assert module_ids(tree) == ALL_MODULES


def test_lesson_that_is_not_utf8(content_copy):
    lesson = module_dir(content_copy) / "02-pluie.md"
    lesson.write_bytes("# La pluie\n\nIl pleut.\n\nEn été, il pleut.\n".encode("latin-1"))

    tree = read_content(content_copy)

    assert_reported(only_problem(tree), lesson, 5, "", "not valid UTF-8")
    assert_only_broken_module_left_out(tree)


def test_module_toml_that_is_not_utf8(content_copy):
    toml = module_dir(content_copy) / "module.toml"
    toml.write_bytes(toml.read_text(encoding="utf-8").encode("latin-1"))

    tree = read_content(content_copy)

    # The first character that is not ASCII is the é of "7e année".
    assert_reported(only_problem(tree), toml, line_of(toml, "levels ="), "", "not valid UTF-8")
    assert_only_broken_module_left_out(tree)


def test_lesson_with_a_nul_byte(content_copy):
    lesson = module_dir(content_copy) / "02-pluie.md"
    lesson.write_bytes(b"# La pluie\n\nIl pl\x00eut.\n")

    tree = read_content(content_copy)

    assert_reported(only_problem(tree), lesson, 3, "", "NUL byte")
    assert_only_broken_module_left_out(tree)


def test_module_without_any_lesson(content_copy):
    folder = module_dir(content_copy)
    (folder / "01-evaporation.md").unlink()

    tree = read_content(content_copy)

    assert_reported(only_problem(tree), folder, None, "lessons", "the module has no lesson")
    assert_only_broken_module_left_out(tree)


def test_every_problem_of_a_module_is_reported_at_once(content_copy):
    toml = module_dir(content_copy) / "module.toml"
    lesson = module_dir(content_copy) / "01-evaporation.md"
    replace_in(toml, "version = 1", "version = 0")
    replace_in(toml, 'licence = "CC-BY-4.0"', 'licence = "proprietary"')
    replace_in(lesson, "# L'évaporation", "L'évaporation")

    tree = read_content(content_copy)

    reported = sorted((p.path, p.line, p.field) for p in tree.problems)
    assert reported == sorted(
        [
            (str(toml), 2, "version"),
            (str(toml), line_of(toml, "licence ="), "licence"),
            (str(lesson), 1, "title"),
        ]
    )
    assert_only_broken_module_left_out(tree)


def test_problems_in_two_modules_leave_only_the_third(content_copy):
    replace_in(module_dir(content_copy) / "module.toml", "version = 1", "version = 0")
    replace_in(
        module_dir(content_copy, "zz-histoire-royaume") / "module.toml",
        'subject = "histoire"',
        'subject = "geographie"',
    )

    tree = read_content(content_copy)

    assert {Path(p.path).parent.name for p in tree.problems} == {
        "zz-sciences-eau",
        "zz-histoire-royaume",
    }
    assert module_ids(tree) == ["zz-maths-fractions"]


# ---------------------------------------------------------------------------- curriculum mistakes


def assert_country_unreadable(tree, root: Path) -> None:
    """No module of zz is read, and the modules folder gets exactly one plain message."""
    assert tree.modules == []
    assert "zz" not in tree.curricula
    modules_folder = root / "zz" / "modules"
    about_modules = [p for p in tree.problems if p.path.startswith(str(modules_folder))]
    assert len(about_modules) == 1, [str(p) for p in about_modules]
    assert about_modules[0].path == str(modules_folder)
    assert about_modules[0].message == (
        "modules not read: the curriculum of this country has problems"
    )


def curriculum_problems(tree, root: Path) -> list:
    path = str(root / "zz" / "curriculum.toml")
    return [p for p in tree.problems if p.path == path]


def test_curriculum_unknown_cycle(content_copy):
    toml = content_copy / "zz" / "curriculum.toml"
    replace_in(toml, 'cycle = "college"', 'cycle = "lycee"')

    tree = read_content(content_copy)

    [problem] = curriculum_problems(tree, content_copy)
    assert_reported(
        problem, toml, line_of(toml, 'cycle = "lycee"'), "levels.cycle", 'cycle "lycee" is not'
    )
    assert_country_unreadable(tree, content_copy)


def test_curriculum_duplicate_level(content_copy):
    toml = content_copy / "zz" / "curriculum.toml"
    with toml.open("a", encoding="utf-8") as out:
        out.write(
            '\n[[levels]]\ncode = "CM1"\ncycle = "primaire"\nisced = 1\ngrade = 5\n'
            'name = { fr = "Encore le CM1" }\n'
        )

    tree = read_content(content_copy)

    problems = curriculum_problems(tree, content_copy)
    twice = [p for p in problems if "declared twice" in p.message]
    assert len(twice) == 1
    assert_reported(
        twice[0], toml, line_of(toml, 'code = "CM1"', last=True), "levels.code", '"CM1"'
    )
    assert_country_unreadable(tree, content_copy)


def test_curriculum_competency_parent_loop(content_copy):
    toml = content_copy / "zz" / "curriculum.toml"
    replace_in(
        toml,
        'code = "ZZ-MATH-1"\nsubject = "mathematiques"\ntype = "competence"\n',
        'code = "ZZ-MATH-1"\nsubject = "mathematiques"\ntype = "competence"\n'
        'parent = "ZZ-MATH-1-1"\n',
    )

    tree = read_content(content_copy)

    problems = curriculum_problems(tree, content_copy)
    assert problems and all(p.field == "competencies.parent" for p in problems)
    assert all("the parents form a loop" in p.message for p in problems)
    assert {p.line for p in problems} == {
        line_of(toml, 'parent = "ZZ-MATH-1-1"'),
        exact_line(toml, 'parent = "ZZ-MATH-1"'),
    }
    assert_country_unreadable(tree, content_copy)


def test_curriculum_competency_parent_of_another_subject(content_copy):
    toml = content_copy / "zz" / "curriculum.toml"
    replace_in(
        toml,
        'code = "ZZ-SCI-1"\nsubject = "sciences"\n',
        'code = "ZZ-SCI-1"\nsubject = "sciences"\nparent = "ZZ-MATH-1"\n',
    )

    tree = read_content(content_copy)

    [problem] = curriculum_problems(tree, content_copy)
    assert_reported(
        problem,
        toml,
        exact_line(toml, 'parent = "ZZ-MATH-1"'),
        "competencies.parent",
        '"ZZ-MATH-1" belongs to another subject',
    )
    assert_country_unreadable(tree, content_copy)


def test_curriculum_invalid_toml(content_copy):
    toml = content_copy / "zz" / "curriculum.toml"
    replace_in(toml, "grade = 7", "grade = ")

    tree = read_content(content_copy)

    [problem] = curriculum_problems(tree, content_copy)
    assert_reported(problem, toml, exact_line(toml, "grade = "), "", "not valid TOML")
    assert_country_unreadable(tree, content_copy)


def test_curriculum_code_must_match_its_folder(content_copy):
    toml = content_copy / "zz" / "curriculum.toml"
    replace_in(toml, 'code = "zz"', 'code = "zy"')

    tree = read_content(content_copy)

    [problem] = curriculum_problems(tree, content_copy)
    assert_reported(problem, toml, 2, "code", '"zy"', 'folder is named "zz"')
    assert_country_unreadable(tree, content_copy)


# ---------------------------------------------------------------------------- tomllines

TOML = """\
# a comment
code = "zz"
languages = ["fr"]

[name]
fr = "Zedland"
en = "Zedland"

[framework]
id = "zz-test"
title = { fr = "Programme", en = "Curriculum" }

[[levels]]
code = "CM1"
name = { fr = "Cours moyen" }

[[levels]]  # the second one
code = "CM2"
  isced = 1
name = { fr = "Cours moyen 2", ar = "الثاني" }

[a.b]
c = 3
"""


@pytest.mark.parametrize(
    ("where", "line"),
    [
        (("code",), 2),
        (("languages",), 3),
        (("name",), 5),
        (("name", "en"), 7),
        (("framework", "id"), 10),
        (("framework", "title"), 11),
        (("framework", "title", "en"), 11),
        (("levels", 0, "code"), 14),
        (("levels", 0, "name", "fr"), 15),
        (("levels", 1), 17),
        (("levels", 1, "code"), 18),
        (("levels", 1, "isced"), 19),
        (("levels", 1, "name", "ar"), 20),
        (("levels", 1, "grade"), 17),  # a missing key: its section
        (("a", "b", "c"), 23),
        (("nowhere",), None),
        (("levels", 7, "code"), None),
    ],
)
def test_tomllines_finds_the_line_of_a_key(where, line):
    assert TomlLines(TOML).line_of(where) == line


# ---------------------------------------------------------------------------- blob storage


def test_store_layout_is_two_levels_of_hash_prefix(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    sha = store.put_bytes(b"une fraction")

    assert sha == hashlib.sha256(b"une fraction").hexdigest()
    expected = tmp_path / "blobs" / sha[:2] / sha[2:4] / sha
    assert store.path(sha) == expected
    assert expected.read_bytes() == b"une fraction"
    assert store.has(sha)
    assert [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == [expected]


@pytest.mark.parametrize("bad", ["", "abc", "G" * 64, "A" * 64, "../" + "a" * 61])
def test_store_refuses_names_that_are_not_hashes(tmp_path, bad):
    with pytest.raises(ValueError):
        BlobStore(tmp_path).path(bad)


def test_put_file_is_idempotent(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    sha = hashlib.sha256(DISC_PNG.read_bytes()).hexdigest()

    assert store.put_file(DISC_PNG, sha) is True
    assert store.put_file(DISC_PNG, sha) is False  # already there: nothing written

    assert store.path(sha).read_bytes() == DISC_PNG.read_bytes()
    assert [p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == [sha]


def test_put_bytes_is_idempotent(tmp_path, monkeypatch):
    store = BlobStore(tmp_path / "blobs")
    sha = store.put_bytes(b"deux fois")

    def must_not_write(*args, **kwargs):
        raise AssertionError("a blob already stored was written again")

    monkeypatch.setattr(store, "_write", must_not_write)
    assert store.put_bytes(b"deux fois") == sha
    assert store.path(sha).read_bytes() == b"deux fois"


def test_hash_mismatch_leaves_no_file_and_no_temporary_file(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    source = tmp_path / "source.bin"
    source.write_bytes(b"the real bytes")
    announced = hashlib.sha256(b"other bytes").hexdigest()

    with pytest.raises(BlobHashMismatch):
        store.put_file(source, announced)

    assert not store.has(announced)
    assert not store.path(announced).exists()
    assert [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()] == []
    # A later, correct copy still works.
    good = hashlib.sha256(b"the real bytes").hexdigest()
    assert store.put_file(source, good) is True
    assert store.path(good).read_bytes() == b"the real bytes"
