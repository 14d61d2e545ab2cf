"""Writing a curriculum back as curriculum.toml, and telling what changed between two."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest

from sync.content import read_curriculum
from sync.curriculum_file import Change, CurriculumDiff, diff_curricula, dump_curriculum
from sync.model import Competency, Level
from sync.problems import ProblemList
from sync.text import slugify
from tests.conftest import REPO_ROOT, TEST_CONTENT

CURRICULUM_FILES = sorted((REPO_ROOT / "content").glob("*/curriculum.toml")) + [
    TEST_CONTENT / "zz" / "curriculum.toml"
]


def read(path: Path):
    problems = ProblemList()
    curriculum = read_curriculum(path, problems)
    assert curriculum is not None, [str(p) for p in problems]
    return curriculum


def read_text(tmp_path: Path, code: str, text: str):
    path = tmp_path / code / "curriculum.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    problems = ProblemList()
    return read_curriculum(path, problems), problems


@pytest.fixture
def zz():
    return read(TEST_CONTENT / "zz" / "curriculum.toml")


# ---------------------------------------------------------------------------- dump


@pytest.mark.parametrize("path", CURRICULUM_FILES, ids=lambda p: p.parent.name)
def test_every_real_curriculum_round_trips_to_an_equal_curriculum(path, tmp_path):
    original = read(path)
    text = dump_curriculum(original)

    again, problems = read_text(tmp_path, original.code, text)

    assert not problems, [str(p) for p in problems]
    assert again == original
    assert again.fingerprint() == original.fingerprint()
    assert dump_curriculum(again) == text  # deterministic: the same data, the same bytes
    assert not diff_curricula(original, again)


def test_the_dump_follows_the_documented_layout(zz):
    text = dump_curriculum(zz)
    lines = text.splitlines()

    assert lines[:2] == ['code = "zz"', 'languages = ["fr", "ar"]']
    # Plain keys come before the first table, as TOML requires; then the sections in order.
    headers = [line for line in lines if line.startswith("[")]
    assert headers[:2] == ["[name]", "[framework]"]
    order = [h for i, h in enumerate(headers) if i == 0 or h != headers[i - 1]]
    assert order == [
        "[name]",
        "[framework]",
        "[[cycles]]",
        "[[levels]]",
        "[[domains]]",
        "[[subjects]]",
        "[[competencies]]",
    ]
    assert 'name = { fr = "Primaire", en = "Primary", ar = "الابتدائي" }' in lines
    assert 'levels = ["CM1", "7e année"]' in lines
    # Optional keys are left out when empty, never written as empty values.
    top = text.split('code = "ZZ-MATH-1"\n', 1)[1].split("\n\n", 1)[0]
    assert "parent" not in top
    assert 'parent = "ZZ-MATH-1"' in text
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert tomllib.loads(text)["framework"]["version"] == "2024"


def test_languages_are_written_fr_en_ar_whatever_the_order_in_memory(zz):
    shuffled = copy.deepcopy(zz)
    shuffled.name = {"ar": zz.name["ar"], "en": zz.name["en"], "fr": zz.name["fr"]}
    assert dump_curriculum(shuffled) == dump_curriculum(zz)


def test_awkward_texts_are_escaped_and_read_back_as_written(zz, tmp_path):
    tricky = copy.deepcopy(zz)
    label = 'Dire « bonjour », "salut" \\ au revoir\tà tous\nsur deux lignes \x07'
    tricky.competencies[0].label = {"fr": label, "ar": 'قراءة "الكسور"'}
    tricky.name["en"] = "Zed = land [test] # not a comment"

    again, problems = read_text(tmp_path, "zz", dump_curriculum(tricky))

    assert not problems, [str(p) for p in problems]
    assert again.competencies[0].label == tricky.competencies[0].label
    assert again.name == tricky.name


def test_a_numeric_framework_version_is_written_as_text(zz, tmp_path):
    text = dump_curriculum(zz).replace('version = "2024"', "version = 2024")
    as_number, _ = read_text(tmp_path, "zz", text)
    assert dump_curriculum(as_number) == dump_curriculum(zz)


# ---------------------------------------------------------------------------- diff


def changes(old, new) -> list[tuple]:
    return [
        (c.section, c.action, c.key, c.old_key, c.field, c.before, c.after)
        for c in diff_curricula(old, new).changes
    ]


def test_identical_curricula_have_no_difference(zz):
    diff = diff_curricula(zz, copy.deepcopy(zz))
    assert not diff and len(diff) == 0


def test_an_added_level_and_competency(zz):
    new = copy.deepcopy(zz)
    new.levels.insert(1, Level("CM2", "cm2", "primaire", 1, 6, {"fr": "Cours moyen 2"}))
    new.competencies.append(
        Competency("ZZ-SCI-2", "sciences", "competence", {"fr": "Observer"}, None, ["CM2"])
    )

    diff = diff_curricula(zz, new)

    assert diff.added("levels") == ["CM2"]
    assert diff.added("competencies") == ["ZZ-SCI-2"]
    assert len(diff) == 2  # the other levels kept their relative order: no "reordered"


def test_a_removed_level_and_the_competency_levels_that_follow(zz):
    new = copy.deepcopy(zz)
    new.levels = [lv for lv in new.levels if lv.code != "7e année"]
    new.competencies[2].levels = ["CM1"]

    assert changes(zz, new) == [
        ("levels", "removed", "7e année", "", "", "", ""),
        ("competencies", "changed", "ZZ-SCI-1", "", "levels", "CM1, 7e année", "CM1"),
    ]
    assert diff_curricula(zz, new).removed("levels") == ["7e année"]


def test_renamed_labels_and_names(zz):
    new = copy.deepcopy(zz)
    new.levels[0].name = {**new.levels[0].name, "en": "Year 5"}
    new.competencies[1].label = {"fr": "Lire une fraction", "en": "Read a fraction"}
    new.cycles[1].name = {"fr": "Collège (cycle 3)"}

    found = changes(zz, new)

    assert ("levels", "renamed", "CM1", "", "name") == found[1][:5]
    assert found[1][6] == "fr: Cours moyen 1re année · en: Year 5"
    assert found[0][:5] == ("cycles", "renamed", "college", "", "name")
    assert found[2][:5] == ("competencies", "renamed", "ZZ-MATH-1-1", "", "label")
    assert found[2][5:] == ("fr: Lire et écrire une fraction simple", "fr: Lire une fraction · en: Read a fraction")  # fmt: skip


def test_a_competency_moved_to_another_parent_and_other_fields(zz):
    new = copy.deepcopy(zz)
    new.competencies[1].parent = None
    new.competencies[0].type = "theme"
    new.levels[1].grade = 6
    new.subjects[2].domain = "sciences"

    assert changes(zz, new) == [
        ("levels", "changed", "7e année", "", "grade", "7", "6"),
        ("subjects", "moved", "histoire", "", "domain", "humanites", "sciences"),
        ("competencies", "changed", "ZZ-MATH-1", "", "type", "competence", "theme"),
        ("competencies", "moved", "ZZ-MATH-1-1", "", "parent", "ZZ-MATH-1", ""),
    ]


def test_a_level_code_with_the_same_slug_is_the_same_level(zz):
    new = copy.deepcopy(zz)
    new.levels[1].code = "7E ANNÉE"
    new.levels[1].slug = slugify("7E ANNÉE")
    new.competencies[2].levels = ["CM1", "7E ANNÉE"]

    diff = diff_curricula(zz, new)

    assert diff.recoded("levels") == {"7e année": "7E ANNÉE"}
    # The competency names the same level under its new code: not a change of its own.
    assert [(c.section, c.action) for c in diff.changes] == [("levels", "recoded")]


def test_a_level_with_a_new_code_in_the_same_place_is_recoded_not_replaced(zz):
    new = copy.deepcopy(zz)
    new.levels[1] = Level("7e", "7e", "college", 2, 7, {"fr": "Septième"})
    new.competencies[2].levels = ["CM1", "7e"]

    assert changes(zz, new) == [
        ("levels", "recoded", "7e", "7e année", "", "", ""),
        ("levels", "renamed", "7e", "", "name", "fr: Septième année · en: Year 7", "fr: Septième"),
    ]


def test_codes_of_cycles_domains_subjects_and_competencies_can_change(zz):
    new = copy.deepcopy(zz)
    new.cycles[1].code = "moyen"
    new.levels[1].cycle = "moyen"
    new.domains[1].slug = "lettres"
    new.subjects[2].domain = "lettres"
    new.subjects[0].slug = "maths"
    for node in new.competencies:
        node.subject = "maths" if node.subject == "mathematiques" else node.subject
    new.competencies[0].code = "ZZ-M-1"
    new.competencies[1].parent = "ZZ-M-1"

    diff = diff_curricula(zz, new)

    assert diff.recoded("cycles") == {"college": "moyen"}
    assert diff.recoded("domains") == {"humanites": "lettres"}
    assert diff.recoded("subjects") == {"mathematiques": "maths"}
    assert diff.recoded("competencies") == {"ZZ-MATH-1": "ZZ-M-1"}
    # Following a renamed cycle, domain, subject or parent is not a move.
    assert {c.action for c in diff.changes} == {"recoded"}


def test_an_ambiguous_replacement_is_a_removal_and_an_addition(zz):
    old = copy.deepcopy(zz)
    old.levels.append(Level("7e bis", "7e-bis", "college", 2, 7, {"fr": "Septième bis"}))
    new = copy.deepcopy(zz)
    new.levels = [new.levels[0], Level("7e", "7e", "college", 2, 7, {"fr": "Septième"})]
    new.competencies[2].levels = ["CM1"]

    diff = diff_curricula(old, new)

    # Two old levels could be the new one: guessing would move modules to the wrong level.
    assert diff.recoded("levels") == {}
    assert diff.removed("levels") == ["7e année", "7e bis"]
    assert diff.added("levels") == ["7e"]


def test_a_new_order_is_reported_once_per_section(zz):
    new = copy.deepcopy(zz)
    new.levels.reverse()
    new.subjects.reverse()

    assert changes(zz, new) == [
        ("levels", "reordered", "", "", "", "", ""),
        ("subjects", "reordered", "", "", "", "", ""),
    ]


def test_country_fields(zz):
    new = copy.deepcopy(zz)
    new.languages = ["fr"]
    new.framework_version = "2025"
    new.framework_title = {"fr": "Programme révisé"}

    assert changes(zz, new) == [
        ("country", "changed", "", "", "languages", "fr, ar", "fr"),
        ("country", "changed", "", "", "framework_version", "2024", "2025"),
        ("country", "changed", "", "", "framework_title", "fr: Programme d'essai · en: Test curriculum", "fr: Programme révisé"),
    ]  # fmt: skip


def test_every_difference_in_fingerprint_shows_in_the_diff_of_real_curricula():
    # Comparing two different real countries exercises every section at once.
    sn, ci = read(REPO_ROOT / "content/sn/curriculum.toml"), read(REPO_ROOT / "content/ci/curriculum.toml")  # fmt: skip
    diff = diff_curricula(sn, ci)
    assert diff
    sections = {c.section for c in diff.changes}
    assert {"country", "levels", "competencies"} <= sections


def test_a_diff_survives_a_trip_through_plain_data(zz):
    new = copy.deepcopy(zz)
    new.levels[1].code, new.levels[1].slug = "7e", "7e"
    new.competencies[2].levels = ["CM1", "7e"]
    new.competencies.pop(1)
    diff = diff_curricula(zz, new)

    data = diff.to_data()

    assert data[0] == {"section": "levels", "action": "recoded", "key": "7e", "old_key": "7e année"}
    assert CurriculumDiff.from_data(data) == diff
    assert Change(**data[-1]) == diff.changes[-1]
