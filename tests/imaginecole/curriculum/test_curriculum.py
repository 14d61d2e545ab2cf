"""Curriculum management by national teams: view, edit, import, export, history.

Every change is previewed, modules it affects are named with what happens to them, nothing
changes without confirmation or on any problem, and each applied change is a version.
"""

from __future__ import annotations

import copy
import html as htmllib
import io
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from imaginecole.accounts.operations import create_user
from imaginecole.bundles.operations import build_country_bundle, to_source
from imaginecole.content.models import Module
from imaginecole.content.operations import LoadReport, load_curriculum
from imaginecole.curriculum import operations as service
from imaginecole.curriculum.models import Competency, CurriculumVersion, Level
from imaginecole.curriculum.queries import curriculum_of
from imaginecole.extensions import db
from imaginecole.media.operations import blob_store
from sync.content import read_curriculum
from sync.curriculum_file import dump_curriculum
from sync.problems import ProblemList
from tests.conftest import (
    REPO_ROOT,
    TEST_CONTENT,
    copy_data_dir,
    give_signing_key,
    load_content,
    make_app,
)
from tests.imaginecole.national_helpers import PASSWORD

EDITOR = "moussa@education.zz"
OTHER_EDITOR = "awa@education.sn"
TEACHER = "fatou@ecole-a.zz"
ADMIN = "root@imaginecole.zz"
BASE = "/en/national/zz/curriculum"
SEVENTH = """[[levels]]
code = "7e année"
cycle = "college"
isced = 2
grade = 7
name = { fr = "Septième année", en = "Year 7" }

"""


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """A data folder with zz loaded, Senegal's curriculum, and one account of each kind."""
    folder = tmp_path_factory.mktemp("curriculum") / "data"
    app = make_app(folder)
    assert not load_content(app).problems
    with app.app_context():
        problems = ProblemList()
        load_curriculum(read_curriculum(REPO_ROOT / "content/sn/curriculum.toml", problems), LoadReport())  # fmt: skip
        create_user(EDITOR, "Moussa Ba", PASSWORD, "editor", "zz")
        create_user(OTHER_EDITOR, "Awa Ndiaye", PASSWORD, "editor", "sn")
        create_user(TEACHER, "Fatou Sow", PASSWORD, "teacher", "zz", "École A")
        create_user(ADMIN, "Admin", PASSWORD, "admin")
        db.session.commit()
        db.engine.dispose()  # closes the database so its files can be copied whole
    return folder


@pytest.fixture
def site(prepared, tmp_path):
    """A fresh copy of the prepared data folder, for a test that writes."""
    copy_data_dir(prepared, tmp_path / "data")
    return make_app(tmp_path / "data")


def signed_in(app, email: str):
    client = app.test_client()
    response = client.post(
        "/en/login",
        data={"email": email, "password": PASSWORD},
        headers={"Origin": "http://localhost"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture
def editor(site):
    return signed_in(site, EDITOR)


def token(client) -> str:
    with client.session_transaction() as session:
        return session["csrf"]


def post(client, url: str, data: dict | None = None, **kwargs):
    return client.post(url, data={"csrf_token": token(client), **(data or {})}, **kwargs)


def preview_token(html: str) -> str:
    match = re.search(r'name="token" value="([0-9a-f]+)"', html)
    assert match, "the page offers no change to apply"
    return match.group(1)


def proposed(response) -> str:
    """The curriculum text a preview page holds in its editor."""
    html = response.get_data(as_text=True)
    return htmllib.unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", html, re.S).group(1))


def export(client) -> str:
    response = client.get(f"{BASE}.toml")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def without_seventh_year(text: str) -> str:
    assert SEVENTH in text
    return text.replace(SEVENTH, "").replace('levels = ["CM1", "7e année"]', 'levels = ["CM1"]')


def text_of(response) -> str:
    """The visible text of a page, with tags removed and spaces collapsed."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<textarea.*?</textarea>", " ", html, flags=re.S)
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", html)).split())


def state(app) -> dict:
    """Everything a curriculum change may touch, to show that a refusal touched nothing."""
    with app.app_context():
        modules = {
            m.uid: (m.version, m.published, m.fingerprint, [lv.code for lv in m.levels],
                    sorted((link.competency.code, link.relation) for link in m.competency_links))
            for m in db.session.scalars(select(Module))
        }  # fmt: skip
        return {
            "curriculum": dump_curriculum(curriculum_of("zz")),
            "modules": modules,
            "versions": db.session.scalar(select(func.count(CurriculumVersion.id))),
        }


def module(app, uid: str) -> dict:
    with app.app_context():
        row = db.session.scalar(select(Module).filter_by(uid=uid))
        return {
            "version": row.version,
            "published": row.published,
            "levels": [lv.code for lv in row.levels],
            "competencies": sorted(
                (link.competency.code, link.relation) for link in row.competency_links
            ),  # fmt: skip
            "fingerprint_ok": row.fingerprint == to_source(row, blob_store()).fingerprint(),
        }


def versions(app) -> list[tuple[int, str, str | None]]:
    with app.app_context():
        return [
            (v.number, v.source, v.changed_by.email if v.changed_by else None)
            for v in service.history("zz")
        ]


# ---------------------------------------------------------------------------- viewing


def test_the_country_page_shows_the_framework_as_a_tree(editor):
    response = editor.get(BASE)

    assert response.status_code == 200
    text = text_of(response)
    assert "Test curriculum zz-test · 2024" in text
    assert "Primary primaire Code Name ISCED level Grade CM1 Middle course, year 1 1 5" in text
    assert "Lower secondary college" in text and "7e année Year 7 2 7" in text
    assert "Mathematics mathematiques ZZ-MATH-1 competence Solve problems with fractions (CM1)" in text  # fmt: skip
    html = response.get_data(as_text=True)
    # The sub-competency sits inside its parent's item.
    parent = html.index("ZZ-MATH-1</span>")
    assert html.index('<ul><li><span class="code">ZZ-MATH-1-1', parent) > parent
    for href in (
        "/curriculum/edit",
        "/curriculum.toml",
        "/curriculum/import",
        "/curriculum/history",
    ):
        assert f'href="/en/national/zz{href}"' in html
    # Reading changes nothing, not even the history.
    assert editor.get(f"{BASE}/edit").status_code == 200
    assert editor.get(f"{BASE}/history").status_code == 200


def test_the_dashboard_links_to_the_curriculum(editor):
    html = editor.get("/en/national/").get_data(as_text=True)
    assert f'href="{BASE}"' in html


def test_the_export_is_a_toml_download_that_reads_back_as_the_database_holds_it(site, editor, tmp_path):  # fmt: skip
    response = editor.get(f"{BASE}.toml")

    assert response.mimetype == "application/toml"
    assert response.headers["Content-Disposition"] == 'attachment; filename="zz-curriculum.toml"'
    path = tmp_path / "zz" / "curriculum.toml"
    path.parent.mkdir()
    path.write_bytes(response.data)
    problems = ProblemList()
    with site.app_context():
        assert read_curriculum(path, problems) == curriculum_of("zz")
    assert read_curriculum(path, problems) == read_curriculum(TEST_CONTENT / "zz/curriculum.toml", problems)  # fmt: skip


# ---------------------------------------------------------------------------- no-op


def test_export_then_import_unchanged_is_a_no_op(site, editor):
    before = state(site)
    text = export(editor)

    response = post(editor, f"{BASE}/import", {"file": (io.BytesIO(text.encode()), "zz.toml")})

    assert response.status_code == 200
    assert "This is already the curriculum: nothing would change." in text_of(response)
    assert 'value="apply"' not in response.get_data(as_text=True)
    # Applying it anyway records nothing.
    response = post(editor, f"{BASE}/edit", {"toml": text, "action": "apply", "source": "import"})
    assert response.status_code == 302
    assert "Nothing to change" in text_of(editor.get(BASE))
    assert state(site) == before
    assert versions(site) == []


# ---------------------------------------------------------------------------- adding


def test_adding_a_level_creates_a_version_and_shows_on_the_country_page(site, editor):
    modules_before = state(site)["modules"]
    form = {"code": "CM2", "cycle": "primaire", "isced": "1", "grade": "6", "after": "CM1",
            "name_fr": "Cours moyen 2e année", "name_en": "Middle course, year 2", "name_ar": ""}  # fmt: skip

    preview = post(editor, f"{BASE}/quick/add-level", form)

    assert preview.status_code == 200
    text = text_of(preview)
    assert "What will change Level CM2: added" in text
    assert "No module uses what changes." in text
    assert state(site)["versions"] == 0  # a preview writes nothing
    html = preview.get_data(as_text=True)
    assert 'name="confirm"' not in html  # nothing to confirm when no module is affected

    response = post(editor, f"{BASE}/edit", {"toml": proposed(preview), "action": "apply", "token": preview_token(html)})  # fmt: skip

    assert response.status_code == 302
    page = text_of(editor.get(BASE))
    assert "Version 2 of the curriculum recorded." in page
    assert "CM1 Middle course, year 1 1 5 CM2 Middle course, year 2 1 6 Lower secondary" in page
    assert versions(site) == [(2, "edit", EDITOR), (1, "start", None)]
    assert state(site)["modules"] == modules_before
    with site.app_context():
        assert curriculum_of("zz").level_codes() == ["CM1", "CM2", "7e année"]


def test_adding_a_competency_under_a_parent(site, editor):
    form = {"code": "ZZ-MATH-1-2", "parent": "ZZ-MATH-1", "subject": "histoire",
            "type": "palier", "label_fr": "Comparer deux fractions", "levels": ["CM1"]}  # fmt: skip
    preview = post(editor, f"{BASE}/quick/add-competency", form)
    assert "Competency ZZ-MATH-1-2: added" in text_of(preview)

    html = preview.get_data(as_text=True)
    response = post(editor, f"{BASE}/edit", {"toml": proposed(preview), "action": "apply", "token": preview_token(html)})  # fmt: skip

    assert response.status_code == 302
    with site.app_context():
        nodes = curriculum_of("zz").competencies
        assert [n.code for n in nodes] == ["ZZ-MATH-1", "ZZ-MATH-1-1", "ZZ-MATH-1-2", "ZZ-SCI-1"]
        added = nodes[2]
        # Under a parent it takes the parent's subject, whatever the subject list said.
        assert (added.parent, added.subject, added.levels) == ("ZZ-MATH-1", "mathematiques", ["CM1"])  # fmt: skip
    html = editor.get(BASE).get_data(as_text=True)
    assert html.index("ZZ-MATH-1-1") < html.index("ZZ-MATH-1-2") < html.index("ZZ-SCI-1")


def test_renaming_a_level_keeps_the_other_languages(site, editor):
    preview = post(editor, f"{BASE}/quick/rename-level", {"level": "CM1", "name_fr": "CM un", "name_en": ""})  # fmt: skip
    text = text_of(preview)
    assert "Level CM1: the name was “fr: Cours moyen 1re année · en: Middle course, year 1” and is now “fr: CM un · en: Middle course, year 1”" in text  # fmt: skip


# ---------------------------------------------------------------------------- removing


def test_removing_a_level_used_by_modules_without_confirmation_is_refused(site, editor):
    before = state(site)
    text = without_seventh_year(export(editor))

    preview = post(editor, f"{BASE}/edit", {"toml": text, "action": "preview"})
    refused = post(editor, f"{BASE}/edit", {"toml": text, "action": "apply",
                                           "token": preview_token(preview.get_data(as_text=True))})  # fmt: skip

    for response in (preview, refused):
        assert response.status_code == 200
        page = text_of(response)
        assert "Level 7e année: removed" in page
        assert "2 modules use what changes." in page
        histoire = page.split("zz-histoire-royaume", 1)[1].split("zz-sciences-eau", 1)[0]
        assert "Loses the level 7e année." in histoire
        assert "It has no level left: it will be unpublished" in histoire
        assert "Its version goes from 1 to 2" in histoire
        sciences = page.split("zz-sciences-eau", 1)[1]
        assert "Loses the level 7e année." in sciences
        assert "It has no level left" not in sciences
        assert "zz-maths-fractions" not in page
        assert 'name="confirm" value="yes"' in response.get_data(as_text=True)
    assert "Nothing was changed yet: tick the box" not in text_of(preview)
    assert "Nothing was changed yet: tick the box" in text_of(refused)
    assert state(site) == before


def test_with_confirmation_it_applies_exactly_as_the_page_said(site, editor):
    give_signing_key(site)
    with site.app_context():
        first = build_country_bundle("zz").version
        db.session.commit()
    text = without_seventh_year(export(editor))
    preview = post(editor, f"{BASE}/edit", {"toml": text, "action": "preview"})

    response = post(editor, f"{BASE}/edit", {"toml": text, "action": "apply", "confirm": "yes",
                                            "token": preview_token(preview.get_data(as_text=True))})  # fmt: skip

    assert response.status_code == 302
    assert "2 modules were updated as the preview said." in text_of(editor.get(BASE))
    assert module(site, "zz-histoire-royaume") == {
        "version": 2, "published": False, "levels": [], "competencies": [], "fingerprint_ok": True,
    }  # fmt: skip
    assert module(site, "zz-sciences-eau") == {
        "version": 2, "published": True, "levels": ["CM1"],
        "competencies": [("ZZ-SCI-1", "teaches")], "fingerprint_ok": True,
    }  # fmt: skip
    assert module(site, "zz-maths-fractions")["version"] == 1
    with site.app_context():
        assert (
            db.session.scalar(select(Level).filter_by(country_code="zz", code="7e année")) is None
        )
        # The next bundle carries the change: the delta ships the new version and removes the
        # withdrawn module from schools.
        delta = json.loads(build_country_bundle("zz", since=first).manifest)
    assert [m["id"] for m in delta["modules"]] == ["zz-sciences-eau"]
    assert delta["modules"][0]["version"] == 2
    assert delta["tombstones"] == ["zz-histoire-royaume"]
    assert "7e année" not in json.dumps(delta["curriculum"], ensure_ascii=False)
    summary = text_of(editor.get(f"{BASE}/history"))
    assert "Level 7e année: removed" in summary


def test_removing_a_competency_takes_it_off_the_modules(site, editor):
    preview = post(editor, f"{BASE}/quick/remove-competency", {"competency": "ZZ-MATH-1"})
    page = text_of(preview)
    assert "Competency ZZ-MATH-1: removed" in page and "Competency ZZ-MATH-1-1: removed" in page
    maths = page.split("zz-maths-fractions", 1)[1]
    assert "No longer teaches the competency ZZ-MATH-1-1." in maths
    assert "No longer assesses the competency ZZ-MATH-1." in maths
    html = preview.get_data(as_text=True)

    response = post(editor, f"{BASE}/edit", {"toml": proposed(preview), "action": "apply", "confirm": "yes", "token": preview_token(html)})  # fmt: skip

    assert response.status_code == 302
    assert module(site, "zz-maths-fractions") == {
        "version": 2, "published": True, "levels": ["CM1"], "competencies": [], "fingerprint_ok": True,
    }  # fmt: skip
    with site.app_context():
        assert (
            db.session.scalar(select(func.count(Competency.id)).filter_by(country_code="zz")) == 1
        )


def test_a_new_level_code_keeps_its_modules(site, editor):
    with site.app_context():
        level_id = db.session.scalar(select(Level.id).filter_by(country_code="zz", code="7e année"))
    text = export(editor).replace('"7e année"', '"7e"')
    preview = post(editor, f"{BASE}/edit", {"toml": text, "action": "preview"})
    page = text_of(preview)
    assert "Level 7e année: new code 7e" in page
    assert page.count("Keeps 7e année under its new code 7e.") == 2
    assert "Loses" not in page

    post(editor, f"{BASE}/edit", {"toml": text, "action": "apply", "confirm": "yes",
                                  "token": preview_token(preview.get_data(as_text=True))})  # fmt: skip

    assert module(site, "zz-histoire-royaume") | {"competencies": None} == {
        "version": 2, "published": True, "levels": ["7e"], "competencies": None, "fingerprint_ok": True,
    }  # fmt: skip
    assert module(site, "zz-sciences-eau")["levels"] == ["CM1", "7e"]
    with site.app_context():
        assert (
            db.session.scalar(select(Level.id).filter_by(country_code="zz", code="7e")) == level_id
        )


def test_removing_a_subject_that_modules_use_is_refused_even_when_confirmed(site, editor):
    before = state(site)
    text = export(editor).replace(
        '\n[[subjects]]\nslug = "histoire"\ndomain = "humanites"\nname = { fr = "Histoire", en = "History" }\n', ""
    )  # fmt: skip
    preview = post(editor, f"{BASE}/edit", {"toml": text, "action": "preview"})
    assert preview.status_code == 409
    assert "This change cannot be applied" in text_of(preview)
    assert "Its subject histoire would disappear" in text_of(preview)
    assert 'value="apply"' not in preview.get_data(as_text=True)

    response = post(editor, f"{BASE}/edit", {"toml": text, "action": "apply", "confirm": "yes"})

    assert response.status_code == 409
    assert state(site) == before


def test_a_confirmation_given_for_another_state_is_not_applied(site, editor):
    text = without_seventh_year(export(editor))
    preview = post(editor, f"{BASE}/edit", {"toml": text, "action": "preview"})
    seen = preview_token(preview.get_data(as_text=True))
    # Meanwhile a module starts using the level about to go (here: a curator adds it).
    with site.app_context():
        maths = db.session.scalar(select(Module).filter_by(uid="zz-maths-fractions"))
        maths.levels.append(db.session.scalar(select(Level).filter_by(code="7e année")))
        db.session.commit()
    before = state(site)

    response = post(editor, f"{BASE}/edit", {"toml": text, "action": "apply", "confirm": "yes", "token": seen})  # fmt: skip

    assert response.status_code == 409
    page = text_of(response)
    assert "This is not what your last preview showed" in page
    assert "3 modules use what changes." in page
    assert state(site) == before


def test_a_change_outside_these_pages_is_recorded_before_the_next_one(site, editor):
    text = export(editor).replace("Middle course, year 1", "Year 5")
    preview = post(editor, f"{BASE}/edit", {"toml": text, "action": "preview"})
    post(editor, f"{BASE}/edit", {"toml": text, "action": "apply", "token": preview_token(preview.get_data(as_text=True))})  # fmt: skip
    # A content load from files puts the old name back.
    load_content(site)
    text = export(editor).replace("Septième année", "Septième")
    preview = post(editor, f"{BASE}/edit", {"toml": text, "action": "preview"})
    post(editor, f"{BASE}/edit", {"toml": text, "action": "apply", "token": preview_token(preview.get_data(as_text=True))})  # fmt: skip

    assert versions(site) == [(4, "edit", EDITOR), (3, "outside", None), (2, "edit", EDITOR), (1, "start", None)]  # fmt: skip
    page = text_of(editor.get(f"{BASE}/history"))
    assert "Changed outside these pages" in page
    assert "Level CM1: the name was “fr: Cours moyen 1re année · en: Year 5” and is now “fr: Cours moyen 1re année · en: Middle course, year 1”" in page  # fmt: skip


# ---------------------------------------------------------------------------- invalid files


def test_an_invalid_toml_upload_shows_problems_with_line_numbers_and_changes_nothing(site, editor):
    before = state(site)
    text = export(editor)
    broken = text.replace('cycle = "college"', 'cycle = "lycee"').replace('isced = 1', 'isced = "un"', 1)  # fmt: skip
    lines = broken.splitlines()

    response = post(editor, f"{BASE}/import", {"file": (io.BytesIO(broken.encode()), "zz.toml")})

    assert response.status_code == 400
    page = text_of(response)
    assert "The curriculum has problems, so nothing was changed." in page
    cycle_line = lines.index('cycle = "lycee"') + 1
    isced_line = lines.index('isced = "un"') + 1
    assert f'Line {cycle_line}, field levels.cycle: cycle "lycee" is not declared in [[cycles]]' in page  # fmt: skip
    assert f"Line {isced_line}, field levels.isced: must be a whole number of at least 0" in page
    # The text stays in the editor to be corrected there.
    assert "lycee" in response.get_data(as_text=True).split("<textarea", 1)[1]
    assert 'value="apply"' not in response.get_data(as_text=True)
    assert state(site) == before


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'code = "zz"\nlanguages = ["fr"]\nname = \n', "Line 3: not valid TOML"),
        (b'code = "zz"\n# caf\xe9\n', "Line 2: the file is not valid UTF-8 text"),
        (b'code = "sn"\n', 'Line 1, field code: is "sn", but this is the curriculum of zz'),
        (b"", "Field code: this field is required"),
    ],
    ids=["syntax", "encoding", "other-country", "empty"],
)
def test_broken_uploads_say_where(site, editor, content, expected):
    before = state(site)
    response = post(editor, f"{BASE}/import", {"file": (io.BytesIO(content), "c.toml")})
    assert response.status_code == 400
    assert expected in text_of(response)
    assert state(site) == before


def test_an_invalid_apply_changes_nothing(site, editor):
    before = state(site)
    text = export(editor).replace('code = "CM1"', 'code = "7e année"')
    response = post(editor, f"{BASE}/edit", {"toml": text, "action": "apply", "confirm": "yes"})
    assert response.status_code == 400
    assert '"7e année" is declared twice' in text_of(response)
    assert state(site) == before


@pytest.mark.parametrize("isced", ["x", "²", "-1"])
def test_a_quick_edit_with_bad_values_is_shown_not_applied(site, editor, isced):
    before = state(site)
    response = post(editor, f"{BASE}/quick/add-level",
                    {"code": "CM1", "cycle": "primaire", "isced": isced, "grade": "6", "name_fr": "Doublon"})  # fmt: skip
    assert response.status_code == 400
    page = text_of(response)
    assert '"CM1" is declared twice' in page
    assert "field levels.isced: must be a whole number of at least 0" in page
    assert state(site) == before


def test_the_service_checks_a_curriculum_built_in_code_like_a_file(site):
    with site.app_context():
        new = copy.deepcopy(curriculum_of("zz"))
        new.competencies[1].parent = "ZZ-NOWHERE"
        result = service.apply_curriculum("zz", new, None, confirm_orphans=True)
        assert result.status == "invalid"
        assert [p.message for p in result.problems] == ['no competency has the code "ZZ-NOWHERE"']
        assert result.problems[0].line is not None
        assert service.history("zz") == []


def test_applying_leaves_the_commit_to_the_caller(site):
    before = state(site)
    with site.app_context():
        new = copy.deepcopy(curriculum_of("zz"))
        new.levels = [level for level in new.levels if level.code != "7e année"]
        for competency in new.competencies:
            competency.levels = [code for code in competency.levels if code != "7e année"]
        result = service.apply_curriculum("zz", new, None, confirm_orphans=True)
        assert result.status == "applied", result.problems
        assert curriculum_of("zz").level_codes() == ["CM1"]
        db.session.rollback()
    assert state(site) == before


def test_an_apply_that_fails_midway_leaves_nothing_written(site, editor, monkeypatch):
    before = state(site)
    text = without_seventh_year(export(editor))
    preview = post(editor, f"{BASE}/edit", {"toml": text, "action": "preview"})

    add_version = service._add_version

    def fail_at_the_new_version(country, new, source, *args):
        if source != "start":
            raise RuntimeError("the disk is gone")
        return add_version(country, new, source, *args)

    # After the earlier state, the modules and the curriculum are flushed, before the new
    # version is recorded.
    monkeypatch.setattr(service, "_add_version", fail_at_the_new_version)
    response = post(editor, f"{BASE}/edit", {"toml": text, "action": "apply", "confirm": "yes",
                                            "token": preview_token(preview.get_data(as_text=True))})  # fmt: skip
    assert response.status_code == 500
    assert state(site) == before


def test_impact_lists_published_and_unpublished_modules(site):
    with site.app_context():
        db.session.scalar(select(Module).filter_by(uid="zz-sciences-eau")).published = False
        db.session.commit()
        new = copy.deepcopy(curriculum_of("zz"))
        new.levels.pop(0)
        new.competencies = [n for n in new.competencies if n.subject != "mathematiques"]
        new.competencies[0].levels = ["7e année"]

        found = service.impact("zz", new)

    assert [
        (m.uid, m.published, m.loses_levels, m.levels_left, m.withdrawn) for m in found.modules
    ] == [  # fmt: skip
        ("zz-maths-fractions", True, ["CM1"], [], True),
        ("zz-sciences-eau", False, ["CM1"], ["7e année"], False),
    ]
    assert found.modules[0].loses_competencies == [("ZZ-MATH-1-1", "teaches"), ("ZZ-MATH-1", "assesses")]  # fmt: skip


# ---------------------------------------------------------------------------- access


PAGES = ["", "/edit", "/history", "/import", ".toml", "/history/1.toml"]


@pytest.mark.parametrize("suffix", PAGES)
def test_an_editor_of_another_country_sees_nothing(site, suffix):
    client = signed_in(site, OTHER_EDITOR)
    assert client.get(f"{BASE}{suffix}").status_code == 404
    # Their own country works.
    assert client.get("/en/national/sn/curriculum").status_code == 200


def test_an_editor_of_another_country_cannot_post_either(site):
    before = state(site)
    client = signed_in(site, OTHER_EDITOR)
    text = without_seventh_year(dump_curriculum(read_curriculum(TEST_CONTENT / "zz/curriculum.toml", ProblemList())))  # fmt: skip
    assert post(client, f"{BASE}/edit", {"toml": text, "action": "apply", "confirm": "yes"}).status_code == 404  # fmt: skip
    assert post(client, f"{BASE}/quick/remove-competency", {"competency": "ZZ-SCI-1"}).status_code == 404  # fmt: skip
    assert post(client, f"{BASE}/import", {"file": (io.BytesIO(text.encode()), "c.toml")}).status_code == 404  # fmt: skip
    assert state(site) == before


@pytest.mark.parametrize("suffix", PAGES)
def test_teachers_are_refused_and_visitors_asked_to_sign_in(site, suffix):
    assert signed_in(site, TEACHER).get(f"{BASE}{suffix}").status_code == 403
    response = site.test_client().get(f"{BASE}{suffix}")
    assert response.status_code == 302
    assert "/en/login" in response.headers["Location"]


def test_an_admin_manages_every_country(site):
    client = signed_in(site, ADMIN)
    assert client.get(BASE).status_code == 200
    assert client.get("/en/national/sn/curriculum").status_code == 200
    assert client.get("/en/national/xx/curriculum").status_code == 404


def test_every_form_needs_the_csrf_token(site, editor):
    before = state(site)
    text = without_seventh_year(export(editor))
    for url, data in (
        (f"{BASE}/edit", {"toml": text, "action": "apply", "confirm": "yes"}),
        (f"{BASE}/quick/remove-competency", {"competency": "ZZ-SCI-1"}),
        (f"{BASE}/import", {"file": (io.BytesIO(text.encode()), "c.toml")}),
    ):
        assert editor.post(url, data=data).status_code == 403
    assert state(site) == before
    for suffix in ("", "/edit", "/import"):
        html = editor.get(f"{BASE}{suffix}").get_data(as_text=True)
        forms = re.findall(r"<form[^>]*method=\"post\".*?</form>", html, re.S)
        assert forms
        assert all('name="csrf_token"' in form for form in forms)


def test_reading_pages_never_write(site, editor):
    for suffix in ("", "/edit", "/history", "/import", ".toml"):
        editor.get(f"{BASE}{suffix}")
    assert state(site)["versions"] == 0


# ---------------------------------------------------------------------------- history


def test_history_lists_versions_and_each_downloads(site, editor, tmp_path):
    original = export(editor)
    text = original.replace("Septième année", "Septième")
    preview = post(editor, f"{BASE}/edit", {"toml": text, "action": "preview"})
    post(editor, f"{BASE}/edit", {"toml": text, "action": "apply", "token": preview_token(preview.get_data(as_text=True))})  # fmt: skip

    page = editor.get(f"{BASE}/history")

    assert page.status_code == 200
    shown = text_of(page)
    assert "2 (current)" in shown and "Moussa Ba" in shown and "Edited in the browser" in shown
    assert "Level 7e année: the name was “fr: Septième année · en: Year 7” and is now “fr: Septième · en: Year 7”" in shown  # fmt: skip
    assert "State before the first change made here" in shown
    first = editor.get(f"{BASE}/history/1.toml")
    assert first.mimetype == "application/toml"
    assert first.headers["Content-Disposition"] == 'attachment; filename="zz-curriculum-v1.toml"'
    assert first.get_data(as_text=True) == original
    assert editor.get(f"{BASE}/history/2.toml").get_data(as_text=True) == text
    assert editor.get(f"{BASE}/history/3.toml").status_code == 404
    # An old version can be imported again: it is a change like any other.
    back = post(editor, f"{BASE}/import", {"file": (io.BytesIO(first.data), "v1.toml")})
    assert "Level 7e année: the name was “fr: Septième · en: Year 7” and is now “fr: Septième année · en: Year 7”" in text_of(back)  # fmt: skip
    assert 'name="source" value="import"' in back.get_data(as_text=True)
    post(editor, f"{BASE}/edit", {"toml": proposed(back), "action": "apply", "source": "import", "token": preview_token(back.get_data(as_text=True))})  # fmt: skip
    assert versions(site)[0] == (3, "import", EDITOR)
    assert export(editor) == original


def test_an_empty_history_says_what_the_first_change_records(editor):
    page = text_of(editor.get(f"{BASE}/history"))
    assert "No version recorded yet." in page


def test_the_pages_are_translated_where_the_catalogue_has_them(editor):
    # Interface strings go through gettext: the French page is served without error and keeps
    # the country's own words.
    response = editor.get("/fr/national/zz/curriculum")
    assert response.status_code == 200
    assert "Zedland" in response.get_data(as_text=True)


def test_an_upload_without_a_file_asks_for_one(editor):
    response = post(editor, f"{BASE}/import", {})
    assert response.status_code == 302
    assert "Choose a curriculum.toml file" in text_of(editor.get(f"{BASE}/import"))
