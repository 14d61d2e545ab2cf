"""No new endpoint shows an unpublished module, a draft or a teacher's submission."""

from __future__ import annotations

from sqlalchemy import select

from imaginecole.accounts.models import User
from imaginecole.content.models import Module
from imaginecole.extensions import db
from imaginecole.search.indexing import sync_index
from imaginecole.submissions.operations import SubmissionForm, create_submission, submit
from tests.conftest import load_content, make_app
from tests.imaginecole.national_helpers import add_accounts

SECRET = "Brouillon confidentiel"
SUBMITTED = "Soumission en attente"

ENDPOINTS = (
    "/oai?verb=ListRecords&metadataPrefix=oai_dc",
    "/oai?verb=ListIdentifiers&metadataPrefix=oai_dc",
    "/oai?verb=ListSets",
    "/sitemap.xml",
    "/api/v1/countries",
    "/api/v1/countries/zz/curriculum",
    "/api/v1/modules?per_page=100",
    "/api/v1/search?q=brouillon",
    "/api/v1/search?q=soumission",
    "/api/v1/search?q=fractions",
)


def test_drafts_unpublished_modules_and_submissions_appear_nowhere(tmp_path):
    app = make_app(tmp_path / "data")
    load_content(app)
    add_accounts(app, [("editor-zz", "editor", "zz"), ("teacher-zz", "teacher", "zz")])
    with app.app_context():
        fractions = db.session.scalar(select(Module).filter_by(uid="zz-maths-fractions"))
        fractions.published = False
        draft = Module(
            uid="zz-draft",
            country_code="zz",
            subject_id=fractions.subject_id,
            version=1,
            language="fr",
            resource_type="lesson",
            licence="CC-BY-4.0",
            title={"fr": SECRET},
            summary={"fr": SECRET},
            published=False,
        )
        db.session.add(draft)
        teacher = db.session.scalar(select(User).filter_by(email="teacher-zz@example.org"))
        submission = create_submission(
            teacher,
            SubmissionForm(
                title=SUBMITTED,
                summary=SUBMITTED,
                levels=["CM1"],
                subject="mathematiques",
                licence="CC-BY-4.0",
                markdown=f"# {SUBMITTED}\n\nUn texte.",
            ),
        )
        submit(submission)
        db.session.commit()
        sync_index()
    client = app.test_client()
    for url in ENDPOINTS:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.get_data(as_text=True)
        for secret in (SECRET, SUBMITTED, "zz-draft", "Les fractions", "Awa Diallo"):
            assert secret not in body, (url, secret)
    for url in (
        "/api/v1/modules/zz-draft",
        "/api/v1/modules/zz-maths-fractions",
        "/api/v1/modules/zz-maths-fractions/lessons/comparer",
        "/fr/modules/zz-draft/",
        "/fr/modules/zz-maths-fractions/",
    ):
        assert client.get(url).status_code == 404, url
    record = client.get(
        "/oai?verb=GetRecord&identifier=oai:localhost:zz-maths-fractions&metadataPrefix=oai_dc"
    ).text
    assert 'status="deleted"' in record and "Les fractions" not in record
    draft_record = client.get(
        "/oai?verb=GetRecord&identifier=oai:localhost:zz-draft&metadataPrefix=oai_dc"
    ).text
    assert 'code="idDoesNotExist"' in draft_record
