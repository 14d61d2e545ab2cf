"""``content load`` and ``content import-course`` keep what editors curated; a dry run writes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from imaginecole.accounts.models import User
from imaginecole.content.models import Module
from imaginecole.curation import operations as curation
from imaginecole.curation.models import ModuleVersion
from imaginecole.extensions import db
from tests.conftest import TEST_CONTENT
from tests.imaginecole.uploads.test_uploads import make_course

CURATED = "L'eau, relue par l'équipe nationale"
UID = "zz-sciences-eau"


def _curate(app, uid: str = UID, title: str = CURATED) -> None:
    with app.app_context():
        editor = User(email="ed@example.org", name="Ed", password_hash="!", role="editor",
                      country_code="zz")  # fmt: skip
        db.session.add(editor)
        module = db.session.scalar(select(Module).filter_by(uid=uid))
        form = curation.MetadataForm.from_module(module)
        form.title = {**form.title, module.language: title}
        assert curation.update_metadata(module, editor, form)
        db.session.commit()


def _title(app, uid: str = UID) -> str:
    with app.app_context():
        module = db.session.scalar(select(Module).filter_by(uid=uid))
        return module.title[module.language]


def _origins(app, uid: str = UID) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(ModuleVersion.origin)
                .filter_by(module_uid=uid)
                .order_by(ModuleVersion.version)
            )
        )


def test_content_load_keeps_curated_fields_unless_told_to_take_the_files(app, runner):
    assert runner.invoke(args=["content", "load", str(TEST_CONTENT)]).exit_code == 0
    assert _origins(app) == ["files"]
    _curate(app)

    again = runner.invoke(args=["content", "load", str(TEST_CONTENT)])
    assert again.exit_code == 0, again.output
    assert "Keeping what editors changed in the browser:" in again.output
    assert f"{UID}: title (fr)" in again.output
    assert "Nothing changed" in again.output
    assert _title(app) == CURATED

    taken = runner.invoke(args=["content", "load", "--take-files", str(TEST_CONTENT)])
    assert taken.exit_code == 0, taken.output
    assert _title(app) == "Le cycle de l'eau"
    assert _origins(app) == ["files", "curation", "files"]


def _import_course(runner, course, *extra: str):
    return runner.invoke(
        args=["content", "import-course", str(course), "--country", "zz", "--level", "CM1",
              "--subject", "sciences", *extra]
    )  # fmt: skip


def _module_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Module.id)))


def test_import_course_dry_run_reports_and_writes_nothing(app, runner, tmp_path):
    assert runner.invoke(args=["content", "load", str(TEST_CONTENT)]).exit_code == 0
    course = make_course(tmp_path)

    dry = _import_course(runner, course, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "new       zz-cours-eau-evaporation  L'évaporation  (3 lessons)" in dry.output
    assert "Dry run: 2 modules would be added, 0 updated, 0 unchanged. Nothing was written." in (
        dry.output
    )
    assert _module_count(app) == 3  # the zz modules only

    real = _import_course(runner, course)
    assert real.exit_code == 0, real.output
    assert _module_count(app) == 5  # the home page opens the first chapter: no module
    assert _origins(app, "zz-cours-eau-pluie") == ["import"]
    _curate(app, "zz-cours-eau-pluie", "La pluie, relue")

    dry = _import_course(runner, course, "--dry-run")
    assert "unchanged zz-cours-eau-pluie  La pluie, relue" in dry.output
    assert "would keep what editors changed: zz-cours-eau-pluie: title (fr)" in dry.output
    assert "0 modules would be added, 0 updated, 2 unchanged" in dry.output
    dry = _import_course(runner, course, "--dry-run", "--take-files")
    assert "1 updated, 1 unchanged" in dry.output
    assert _title(app, "zz-cours-eau-pluie") == "La pluie, relue"


def test_import_course_groups_the_course_and_reports_images_without_description(
    app, runner, tmp_path
):
    assert runner.invoke(args=["content", "load", str(TEST_CONTENT)]).exit_code == 0
    course = make_course(tmp_path)
    page = course / "docs" / "pluie" / "cours.md"
    page.write_text("# La pluie\n\nLes nuages.\n\n![](../evaporation/soleil.png)\n", "utf-8")

    result = _import_course(runner, course, "--competency", "ZZ-SCI-1")

    assert result.exit_code == 0, result.output
    assert f'no description: {page.resolve()}:5: image: "../evaporation/soleil.png": no ' in (
        result.output
    )
    with app.app_context():
        for uid in ("zz-cours-eau-evaporation", "zz-cours-eau-pluie"):
            module = db.session.scalar(select(Module).filter_by(uid=uid))
            assert [c.code for c in module.competencies()] == ["ZZ-SCI-1"]
        module = db.session.scalar(select(Module).filter_by(uid="zz-cours-eau-evaporation"))
        # No ATTRIBUTION.md: the work is named after the site (mkdocs.yml), the authors after
        # the folder.
        assert module.attribution == "« Le cycle de l'eau », par cours-eau, licence CC BY-SA 4.0."
    refused = _import_course(runner, course, "--competency", "ZZ-MATH-1")
    assert refused.exit_code != 0
    assert 'competency "ZZ-MATH-1" belongs to the subject "mathematiques"' in refused.output
