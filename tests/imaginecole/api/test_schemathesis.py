"""A bounded schemathesis run over the OpenAPI document the app serves.

Every request the document allows must get an answer that is no server error and that matches
the document (status, content type, body).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import load_content, make_app

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_OPERATION = 30  # bounded: the whole run takes seconds


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("api"))
    load_content(app)
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def operations(schema) -> dict:
    return {op.label: op for op in (result.ok() for result in schema.get_all_operations())}


def test_the_document_describes_every_operation(api_schema):
    assert sorted(operations(api_schema)) == [
        "GET /countries",
        "GET /countries/{code}",
        "GET /countries/{code}/case",
        "GET /countries/{code}/curriculum",
        "GET /modules",
        "GET /modules/{id}",
        "GET /modules/{id}/lessons/{slug}",
        "GET /search",
    ]


@pytest.mark.parametrize(
    "label",
    [
        "GET /countries",
        "GET /countries/{code}",
        "GET /countries/{code}/case",
        "GET /countries/{code}/curriculum",
        "GET /modules",
        "GET /modules/{id}",
        "GET /modules/{id}/lessons/{slug}",
        "GET /search",
    ],
)
def test_every_answer_matches_the_openapi_document(api_schema, label):
    operation = operations(api_schema)[label]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(case):
        # The test client does not undo gzip, which the app uses for any client that takes it.
        case.call_and_validate(checks=CHECKS, headers={"Accept-Encoding": "identity"})

    check()
