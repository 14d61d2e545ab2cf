"""The teacher's editor: fields and their messages, preview, drafts, revisions, submit, withdraw.

The helpers at the top (a school server with two teachers, signing in, a valid form, small
images) are shared by the other tests of this folder.
"""

from __future__ import annotations

import html
import io
import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
from PIL import Image
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from imaginecole.accounts.models import User
from imaginecole.accounts.operations import create_user
from imaginecole.extensions import db
from imaginecole.submissions import operations as service
from imaginecole.submissions.models import Revision, Submission, TeacherFile
from imaginecole.submissions.operations import (
    SubmissionError,
    SubmissionForm,
    create_submission,
    save_revision,
    submit,
)
from sync.exercises import exercise_problems, exercises_of
from tests.conftest import copy_data_dir, load_content, make_app

PASSWORD = "correct horse battery"
FAST_HASH = "scrypt:1024:8:1"  # the same check at login, with fewer rounds
ORIGIN = {"Origin": "http://localhost"}
TEACHER = "awa@ecole-a.zz"
COLLEAGUE = "fatou@ecole-a.zz"
EDITOR = "moussa@education.zz"
ADMIN = "root@imaginecole.zz"
NEW = "/en/my/submissions/new"
MINE = "/en/my/submissions"


# ---------------------------------------------------------------------------- shared helpers


def image_bytes(fmt: str = "JPEG", size=(48, 32), color=(200, 60, 20), **options) -> bytes:
    mode = "RGBA" if fmt == "PNG" and len(color) == 4 else "RGB"
    buffer = io.BytesIO()
    Image.new(mode, size, color).save(buffer, fmt, **options)
    return buffer.getvalue()


def lesson(**changes) -> dict:
    """The fields of a complete, valid resource as the form posts them."""
    fields = {
        "title": "Les fractions au marché",
        "summary": "Partager des galettes en parts égales pour comprendre les fractions.",
        "language": "fr",
        "levels": ["CM1"],
        "subject": "mathematiques",
        "competencies": ["ZZ-MATH-1", "ZZ-MATH-1-1"],
        "licence": "CC-BY-SA-4.0",
        "markdown": "# Les fractions au marché\n\nUne galette coupée en **quatre** : $\\frac{1}{4}$.\n",
        "action": "save",
    }
    fields.update(changes)
    return {key: value for key, value in fields.items() if value is not None}


def fast_passwords(app) -> None:
    """Give every account a cheaper hash of PASSWORD, so that tests may sign in often."""
    with app.app_context():
        for user in db.session.scalars(select(User)):
            user.password_hash = generate_password_hash(PASSWORD, FAST_HASH)
        db.session.commit()


def new_server(folder: Path, accounts=()):
    """A server with zz loaded and the given accounts: (email, name, role, country, school)."""
    app = make_app(folder)
    assert not load_content(app).problems
    with app.app_context():
        for email, name, role, country, school in accounts:
            create_user(email, name, PASSWORD, role, country, school)
        db.session.commit()
    fast_passwords(app)
    with app.app_context():
        db.engine.dispose()  # so that the folder can be copied as it is
    return app


def copy_server(template: Path, folder: Path, **config):
    """A new app on a copy of ``template``'s data folder."""
    copy_data_dir(template, folder)
    return make_app(folder, **config)


def sign_in(app, email: str):
    client = app.test_client()
    response = client.post("/en/login", data={"email": email, "password": PASSWORD}, headers=ORIGIN)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def csrf(client) -> str:
    with client.session_transaction() as session:
        return session["csrf"]


def post_form(client, url: str, fields: dict, files=()):
    """Post the editor form as a browser does: multipart, with the token and the files."""
    data = {**fields, "csrf_token": csrf(client)}
    if files:
        data["files"] = [(io.BytesIO(content), name) for content, name in files]
    return client.post(url, data=data, content_type="multipart/form-data")


def uid_from(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    match = re.search(r"/my/submissions/([0-9a-f]+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(1)


def kept_files(page: str) -> list[str]:
    """The ids of the attached files, as the editor page offers to keep them."""
    return re.findall(r'name="keep_file" value="(\d+)" checked', page)


def problem(page: str, name: str) -> str | None:
    match = re.search(rf'<p class="error" id="{name}-problem">([^<]*)</p>', page)
    return match.group(1) if match else None


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def submission_of(app, uid: str) -> dict:
    """A submission and its revisions as plain values."""
    with app.app_context():
        submission = db.session.scalar(select(Submission).filter_by(uid=uid))
        return {
            "status": submission.status,
            "author": submission.author.email,
            "revisions": [
                {
                    "uid": r.uid,
                    "parent": r.parent_uid,
                    "title": r.title,
                    "files": [(f["name"], f["media_type"]) for f in r.files],
                    "markdown": r.markdown,
                    "summary": r.summary,
                }
                for r in submission.revisions
            ],
        }


# ---------------------------------------------------------------------------- fixtures

ACCOUNTS = [
    (TEACHER, "Awa Diop", "teacher", "zz", "École A"),
    (COLLEAGUE, "Fatou Sow", "teacher", "zz", "École A"),
    (EDITOR, "Moussa Ba", "editor", "zz", ""),
    (ADMIN, "Admin", "admin", None, ""),
]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("editor") / "data"
    new_server(folder, ACCOUNTS)
    return folder


@pytest.fixture
def school(template, tmp_path):
    return copy_server(template, tmp_path / "data")


@pytest.fixture
def teacher(school):
    return sign_in(school, TEACHER)


# ---------------------------------------------------------------------------- fields


REQUIRED = ["title", "summary", "levels", "subject", "licence", "markdown"]


@pytest.mark.parametrize("missing", REQUIRED)
def test_a_missing_field_is_named_and_everything_typed_is_kept(school, teacher, missing):
    fields = lesson(**{missing: None})

    response = post_form(teacher, NEW, fields)

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Some fields need your attention; nothing was lost." in page
    assert problem(page, missing) == "This field is required."
    for other in set(REQUIRED) - {missing}:
        assert problem(page, other) is None, other
    # What the teacher typed is still in the form.
    if missing != "title":
        assert 'value="Les fractions au marché"' in page
    if missing != "summary":
        assert "Partager des galettes en parts égales" in page
    if missing != "markdown":
        assert "Une galette coupée en **quatre**" in page
    if missing != "levels":
        assert 'value="CM1" checked' in page
    if missing != "subject":
        assert '<option value="mathematiques" selected>' in page
    if missing != "licence":
        assert 'value="CC-BY-SA-4.0" checked' in page
    assert '<option value="ZZ-MATH-1" selected>' in page
    assert count(school, Submission) == 0


def test_an_empty_form_names_every_required_field(school, teacher):
    response = post_form(teacher, NEW, {"action": "save", "title": "  ", "markdown": "\n"})

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    for name in REQUIRED:
        assert problem(page, name) == "This field is required.", name
    assert count(school, Submission) == 0


@pytest.mark.parametrize("licence", [None, "", "CC0-1.0", "proprietary", "CC-BY-NC-4.0"])
def test_no_open_licence_no_submission(school, teacher, licence):
    response = post_form(teacher, NEW, lesson(licence=licence, action="submit"))

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert problem(page, "licence") == "This field is required."
    legend = re.search(r"<legend>(Licence[^<]*)</legend>", page).group(1)
    assert "required" in legend
    assert count(school, Submission) == 0


@pytest.mark.parametrize(
    "field, value",
    [
        ("levels", ["CE9"]),
        ("levels", ["CM1", "Terminale"]),
        ("subject", "astrologie"),
        ("competencies", ["ZZ-MATH-99"]),
        ("competencies", ["ZZ-MATH-1", "SN-MATH-1"]),
        ("language", "xx"),
    ],
)
def test_values_not_in_the_curriculum_are_refused(school, teacher, field, value):
    response = post_form(teacher, NEW, lesson(**{field: value}))

    assert response.status_code == 400
    assert problem(response.get_data(as_text=True), field) == "Choose from the list."
    assert count(school, Submission) == 0


@pytest.mark.parametrize("field", ["title", "summary", "markdown"])
@pytest.mark.parametrize("bad", ["\x00", "\x07", "\x1b[31m"], ids=["nul", "bell", "escape"])
def test_invisible_control_characters_are_refused_clearly(school, teacher, field, bad):
    response = post_form(teacher, NEW, lesson(**{field: f"Les frac{bad}tions"}))

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert problem(page, field) == (
        "This text contains invisible control characters; please retype it."
    )
    assert count(school, Submission) == 0


@pytest.mark.parametrize("field", ["title", "summary", "markdown"])
def test_a_lone_surrogate_is_refused(school, field):
    # A browser cannot send one (forms travel as UTF-8); the service refuses it all the same.
    with school.app_context():
        teacher = db.session.scalar(select(User).filter_by(email=TEACHER))
        fields = lesson(**{field: "Les frac\ud800tions"})
        fields.pop("action")
        with pytest.raises(SubmissionError) as refused:
            create_submission(teacher, SubmissionForm(**fields))
        assert refused.value.problems == {field: "invalid_text"}
    assert count(school, Submission) == 0


def test_broken_utf8_in_a_form_never_becomes_a_lone_surrogate(school, teacher):
    # The UTF-8 form of a lone surrogate (ED A0 80), which no browser sends but a script can.
    fields = {**lesson(title="Les frac@tions"), "csrf_token": csrf(teacher)}
    body = urlencode(fields, doseq=True).replace("%40", "%ED%A0%80")

    response = teacher.post(NEW, data=body, content_type="application/x-www-form-urlencoded")

    assert response.status_code in (302, 400)
    with school.app_context():
        for title in db.session.scalars(select(Revision.title)):
            assert not re.search("[\ud800-\udfff]", title)
            title.encode("utf-8")  # storable and showable as it is


def test_texts_that_are_too_long_are_refused(school, teacher):
    response = post_form(teacher, NEW, lesson(title="T" * 301, summary="S" * 2001))

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert problem(page, "title") == "This text is too long."
    assert problem(page, "summary") == "This text is too long."


# ---------------------------------------------------------------------------- preview


def test_preview_renders_markdown_with_mathml_and_the_image_and_saves_nothing(school, teacher):
    markdown = (
        "# Partager\n\nUn quart s'écrit $\\frac{1}{4}$.\n\n$$x^2 + 1$$\n\n"
        "![Une galette en quatre](galette.jpg)\n\n<script>alert('x')</script>\n"
    )

    response = post_form(
        teacher,
        NEW,
        lesson(markdown=markdown, action="preview"),
        files=[(image_bytes(), "galette.jpg")],
    )

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    preview = page[page.index('<section class="preview">') : page.index("</section>")]
    assert "<h1>Partager</h1>" in preview
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">' in preview
    assert "<mfrac>" in preview and 'display="block"' in preview
    with school.app_context():
        upload = db.session.scalar(select(TeacherFile))
    image = f'<img src="/media/{upload.sha256}.jpg" alt="Une galette en quatre"'
    assert image in preview
    assert "<script>" not in preview  # HTML in the lesson text is shown, never run
    # The text has its own heading: as when published, the title is not added above it.
    assert preview.count("<h1>") == 1 and "Les fractions au marché" not in preview
    # Nothing was saved: no submission, no revision. The file is kept for the next save and
    # offered as attached.
    assert count(school, Submission) == 0 and count(school, Revision) == 0
    assert kept_files(page) == [str(upload.id)]
    assert 'value="Les fractions au marché"' in page


def test_the_previewed_image_can_be_loaded(school, teacher):
    response = post_form(
        teacher,
        NEW,
        lesson(markdown="![Une galette](galette.jpg)", action="preview"),
        files=[(image_bytes(), "galette.jpg")],
    )
    src = re.search(r'<img src="(/media/[0-9a-f]{64}\.jpg)"', response.get_data(as_text=True))
    assert teacher.get(src.group(1)).status_code == 200


def test_an_uploaded_file_is_downloaded_under_its_cleaned_name(school, teacher):
    response = post_form(
        teacher,
        NEW,
        lesson(markdown="[La fiche](Fiche élève n°1.pdf)", action="preview"),
        files=[(b"%PDF-1.4\n%%EOF\n", "Fiche élève n°1.pdf")],
    )
    assert response.status_code == 200
    with school.app_context():
        upload = db.session.scalar(select(TeacherFile))

    served = teacher.get(f"/media/{upload.sha256}.pdf")

    assert served.status_code == 200
    assert upload.name == "fiche-eleve-n1.pdf"
    assert served.headers["Content-Disposition"] == (
        "attachment; filename=\"fiche-eleve-n1.pdf\"; filename*=UTF-8''fiche-eleve-n1.pdf"
    )
    policy = served.headers["Content-Security-Policy"]
    directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["default-src"] == ["'none'"]


# ---------------------------------------------------------------------------- drafts and revisions


def edit_fields(client, uid: str) -> dict:
    """The edit form of ``uid`` as the page fills it, ready to be posted back."""
    page = client.get(f"{MINE}/{uid}/edit").get_data(as_text=True)
    with client.application.app_context():
        latest = db.session.scalar(select(Submission).filter_by(uid=uid)).latest
        fields = {
            "title": latest.title,
            "summary": latest.summary,
            "language": latest.language,
            "levels": list(latest.levels),
            "subject": latest.subject,
            "competencies": list(latest.competencies),
            "licence": latest.licence,
            "markdown": latest.markdown,
        }
    for key, value in fields.items():
        if isinstance(value, str) and key in ("title",):
            assert f'value="{value}"' in page, key
    fields["keep_file"] = kept_files(page)
    return {**fields, "action": "save"}


def test_saving_makes_a_draft_with_one_revision(school, teacher):
    response = post_form(teacher, NEW, lesson(), files=[(image_bytes(), "galette.jpg")])

    uid = uid_from(response)
    saved = submission_of(school, uid)
    assert saved["status"] == "draft" and saved["author"] == TEACHER
    assert len(saved["revisions"]) == 1
    first = saved["revisions"][0]
    assert first["parent"] is None
    assert first["files"] == [("galette.jpg", "image/jpeg")]
    page = teacher.get(response.headers["Location"])
    assert page.status_code == 200
    text = text_of(page.get_data(as_text=True))
    assert "Draft saved." in text and "Status: Draft" in text


def test_saving_leaves_the_commit_to_the_caller(school):
    with school.app_context():
        teacher = db.session.scalar(select(User).filter_by(email=TEACHER))
        fields = lesson()
        fields.pop("action")
        submission = create_submission(teacher, SubmissionForm(**fields))
        assert save_revision(submission, teacher, SubmissionForm(**{**fields, "title": "Autre"}))
        submit(submission)
        assert len(submission.revisions) == 2
        db.session.rollback()
    assert count(school, Submission) == 0
    assert count(school, Revision) == 0


def test_a_save_that_fails_midway_leaves_nothing_written(school, teacher, monkeypatch):
    def fail(submission):
        raise RuntimeError("the disk is gone")

    # After the draft and its revision are flushed, before anything is committed.
    monkeypatch.setattr(service, "submit", fail)
    response = post_form(teacher, NEW, lesson(action="submit"))
    assert response.status_code == 500
    assert count(school, Submission) == 0
    assert count(school, Revision) == 0


def test_saving_again_without_a_change_adds_no_revision(school, teacher):
    uid = uid_from(post_form(teacher, NEW, lesson(), files=[(image_bytes(), "galette.jpg")]))

    for _ in range(2):
        response = post_form(teacher, f"{MINE}/{uid}/edit", edit_fields(teacher, uid))
        assert response.status_code == 302

    assert len(submission_of(school, uid)["revisions"]) == 1
    # Windows line breaks from a browser are the same text.
    fields = edit_fields(teacher, uid)
    fields["markdown"] = fields["markdown"].replace("\n", "\r\n")
    post_form(teacher, f"{MINE}/{uid}/edit", fields)
    assert len(submission_of(school, uid)["revisions"]) == 1


def test_each_edit_is_a_new_revision_edited_from_the_previous_one(school, teacher):
    uid = uid_from(post_form(teacher, NEW, lesson(), files=[(image_bytes(), "galette.jpg")]))

    fields = edit_fields(teacher, uid)
    post_form(teacher, f"{MINE}/{uid}/edit", {**fields, "title": "Les fractions, deuxième"})
    fields = edit_fields(teacher, uid)
    fields["keep_file"] = []  # the picture taken off
    post_form(
        teacher,
        f"{MINE}/{uid}/edit",
        {**fields, "summary": "Autre résumé."},
        files=[(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "fiche.pdf")],
    )

    revisions = submission_of(school, uid)["revisions"]
    assert [r["title"] for r in revisions] == [
        "Les fractions au marché",
        "Les fractions, deuxième",
        "Les fractions, deuxième",
    ]
    assert [r["parent"] for r in revisions] == [None, revisions[0]["uid"], revisions[1]["uid"]]
    assert len({r["uid"] for r in revisions}) == 3
    assert revisions[1]["files"] == [("galette.jpg", "image/jpeg")]
    assert revisions[2]["files"] == [("fiche.pdf", "application/pdf")]
    assert revisions[2]["summary"] == "Autre résumé."
    history = teacher.get(f"{MINE}/{uid}").get_data(as_text=True)
    assert history.count("— Les fractions, deuxième</li>") == 2


def test_a_refused_edit_changes_nothing_and_keeps_the_typing(school, teacher):
    uid = uid_from(post_form(teacher, NEW, lesson()))

    fields = edit_fields(teacher, uid)
    response = post_form(
        teacher, f"{MINE}/{uid}/edit", {**fields, "title": "Nouveau titre", "licence": ""}
    )

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert problem(page, "licence") == "This field is required."
    assert 'value="Nouveau titre"' in page
    assert len(submission_of(school, uid)["revisions"]) == 1


def test_another_teachers_upload_cannot_be_attached_by_its_id(school, teacher):
    colleague = sign_in(school, COLLEAGUE)
    post_form(colleague, NEW, lesson(action="preview"), files=[(image_bytes(), "secret.jpg")])
    with school.app_context():
        theirs = db.session.scalar(select(TeacherFile.id))

    response = post_form(teacher, NEW, {**lesson(), "keep_file": [str(theirs)]})

    assert response.status_code == 400
    assert problem(response.get_data(as_text=True), "files") == "Choose from the list."
    assert count(school, Submission) == 0


# ---------------------------------------------------------------------------- submit, withdraw


def test_submit_makes_it_ready_to_send(school, teacher):
    uid = uid_from(post_form(teacher, NEW, lesson()))

    response = post_form(
        teacher, f"{MINE}/{uid}/edit", {**edit_fields(teacher, uid), "action": "submit"}
    )

    assert uid_from(response) == uid
    saved = submission_of(school, uid)
    assert saved["status"] == "submitted" and len(saved["revisions"]) == 1
    text = text_of(teacher.get(f"{MINE}/{uid}").get_data(as_text=True))
    assert "Status: Ready to send" in text
    assert "ready to go to the national team with the next export" in text
    # Still editable until a decision: an edit is a new revision, and it stays ready to send.
    fields = edit_fields(teacher, uid)
    post_form(teacher, f"{MINE}/{uid}/edit", {**fields, "title": "Corrigé", "action": "submit"})
    saved = submission_of(school, uid)
    assert saved["status"] == "submitted" and len(saved["revisions"]) == 2


def test_submitting_straight_from_a_new_form(school, teacher):
    uid = uid_from(post_form(teacher, NEW, lesson(action="submit")))
    assert submission_of(school, uid)["status"] == "submitted"


def test_withdraw_is_final_and_stops_edits(school, teacher):
    uid = uid_from(post_form(teacher, NEW, lesson(action="submit")))

    response = teacher.post(f"{MINE}/{uid}/withdraw", data={"csrf_token": csrf(teacher)})

    assert response.status_code == 302
    assert submission_of(school, uid)["status"] == "withdrawn"
    page = teacher.get(f"{MINE}/{uid}").get_data(as_text=True)
    text = text_of(page)
    assert "Status: Withdrawn" in text and "The resource was withdrawn." in text
    assert f"{MINE}/{uid}/edit" not in page and f"{MINE}/{uid}/withdraw" not in page
    # No more edits, by the page or by a crafted post.
    response = teacher.get(f"{MINE}/{uid}/edit")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/{uid}")
    assert "This resource can no longer be changed." in text_of(
        teacher.get(response.headers["Location"]).get_data(as_text=True)
    )
    response = post_form(teacher, f"{MINE}/{uid}/edit", lesson(title="Ressuscité"))
    assert response.status_code == 302
    response = post_form(teacher, f"{MINE}/{uid}/edit", lesson(title="Soumis", action="submit"))
    saved = submission_of(school, uid)
    assert saved["status"] == "withdrawn" and len(saved["revisions"]) == 1
    with school.app_context():
        submission = db.session.scalar(select(Submission).filter_by(uid=uid))
        teacher_row = submission.author
        with pytest.raises(SubmissionError):
            save_revision(submission, teacher_row, SubmissionForm(**lesson(action=None)))


def test_my_submissions_lists_only_my_own_with_their_status(school, teacher):
    colleague = sign_in(school, COLLEAGUE)
    draft = uid_from(post_form(teacher, NEW, lesson(title="Brouillon d'Awa")))
    ready = uid_from(post_form(teacher, NEW, lesson(title="Prête d'Awa", action="submit")))
    gone = uid_from(post_form(teacher, NEW, lesson(title="Retirée d'Awa")))
    teacher.post(f"{MINE}/{gone}/withdraw", data={"csrf_token": csrf(teacher)})
    theirs = uid_from(post_form(colleague, NEW, lesson(title="Celle de Fatou")))

    page = teacher.get(MINE).get_data(as_text=True)

    rows = re.findall(
        r"<tr><td><a href=\"[^\"]+/([0-9a-f]+)\">([^<]+)</a></td>\s*<td>([^<]+)</td>", page
    )
    assert sorted(rows) == sorted(
        [
            (draft, "Brouillon d&#39;Awa", "Draft"),
            (ready, "Prête d&#39;Awa", "Ready to send"),
            (gone, "Retirée d&#39;Awa", "Withdrawn"),
        ]
    )
    assert theirs not in page and "Celle de Fatou" not in page
    other = colleague.get(MINE).get_data(as_text=True)
    assert theirs in other and draft not in other
    assert "You have not written any resource yet." in sign_in(school, ADMIN).get(MINE).get_data(
        as_text=True
    )


def test_the_editor_escapes_what_a_teacher_typed(school, teacher):
    title = '"><script>alert(1)</script>'
    uid = uid_from(post_form(teacher, NEW, lesson(title=title, summary="<b>gras</b>")))

    for url in (MINE, f"{MINE}/{uid}", f"{MINE}/{uid}/edit"):
        page = teacher.get(url).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in page, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, url


# ---------------------------------------------------------------------------- exercises

EXERCISE = (
    "# Les fractions au marché\n\n```exercice\nUne galette en quatre : quelle part ?\n"
    "réponse: 1/4\nexplication: Une part sur quatre.\n```\n"
)


def test_the_preview_shows_an_exercise_with_its_correction(school, teacher):
    response = post_form(teacher, NEW, lesson(markdown=EXERCISE, action="preview"))

    page = response.get_data(as_text=True)
    preview = page[page.index('<section class="preview">') : page.index("</section>")]
    assert "Une galette en quatre : quelle part ?" in preview
    assert '<div class="exercise-correction">' in preview and "Une part sur quatre." in preview
    assert 'name="answer"' not in preview  # the teacher sees the worksheet, not the pupil's form


def test_an_exercise_with_a_mistake_is_not_saved_and_the_preview_names_its_line(school, teacher):
    broken = EXERCISE.replace("réponse: 1/4\n", "")

    saved = post_form(teacher, NEW, lesson(markdown=broken))
    previewed = post_form(teacher, NEW, lesson(markdown=broken, action="preview"))

    assert saved.status_code == 400
    assert problem(saved.get_data(as_text=True), "markdown") == (
        "An exercise has mistakes: the preview says which line to fix."
    )
    assert count(school, Submission) == 0
    preview = previewed.get_data(as_text=True)
    section = preview[preview.index('<section class="preview">') :]
    # The problem is in the resource's language, like its exercises.
    assert "ligne 3: l’exercice n’a pas de réponse" in section


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("fr", "ligne 6: « bleu » n’est pas un nombre (écrivez 4,8 ou 4.8 ou 3/4)"),
        ("ar", "السطر 6: «bleu» ليس عددًا (اكتب 4,8 أو 4.8 أو 3/4)"),
    ],
)
def test_the_preview_names_an_exercise_mistake_in_the_resource_language(
    school, teacher, lang, expected
):
    broken = EXERCISE.replace("réponse: 1/4\n", "réponse: bleu\ntype: nombre\n")

    previewed = post_form(teacher, NEW, lesson(markdown=broken, language=lang, action="preview"))

    preview = html.unescape(previewed.get_data(as_text=True))
    section = preview[preview.index('<section class="preview">') :]
    assert expected in section
    assert "is not a number" not in section  # nothing left in English


@pytest.mark.parametrize("lang", ["fr", "en", "ar"])
def test_the_editor_shows_a_valid_example_of_each_kind_of_exercise(school, teacher, lang):
    page = teacher.get(NEW.replace("/en/", f"/{lang}/")).get_data(as_text=True)
    example = html.unescape(
        re.search(r"<details class=\"meta\">.*?<pre>(.*?)</pre>", page, re.S)[1]
    )
    assert exercise_problems(example) == []
    kinds = [block.exercise.kind for block in exercises_of(example)]
    assert kinds == ["number", "choice", "blanks"]
