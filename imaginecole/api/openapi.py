"""The OpenAPI 3.1 document of /api/v1: what each answer holds, checked against the answers."""

from __future__ import annotations

from imaginecole.config import LANGUAGES

LOCALIZED = {
    "type": "object",
    "description": "A text per language code (fr, en, ar …); some languages may be missing.",
    "additionalProperties": {"type": "string"},
}
URL = {"type": "string", "format": "uri"}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict, optional: tuple[str, ...] = ()) -> dict:
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
    }


def _array(items: dict) -> dict:
    return {"type": "array", "items": items}


SCHEMAS = {
    "Localized": LOCALIZED,
    "Error": _object(
        {
            "error": _object(
                {
                    "status": {"type": "integer"},
                    "message": {"type": "string", "description": "In the reader's language"},
                }
            )
        }
    ),
    "Licence": _object(
        {
            "id": {
                "type": "string",
                "description": "SPDX identifier",
                "examples": ["CC-BY-SA-4.0"],
            },
            "name": _ref("Localized"),
            "url": URL,
        }
    ),
    "Author": _object({"name": {"type": "string"}, "role": {"type": "string"}}),
    "Framework": _object(
        {"id": {"type": "string"}, "version": {"type": "string"}, "title": _ref("Localized")}
    ),
    "Country": _object(
        {
            "code": {"type": "string", "pattern": "^[a-z]{2}$"},
            "name": _ref("Localized"),
            "languages": _array({"type": "string"}),
            "framework": _ref("Framework"),
            "module_count": {"type": "integer", "minimum": 0},
            "links": _object({"curriculum": URL, "modules": URL, "page": URL}),
        }
    ),
    "Curriculum": _object(
        {
            "country": {"type": "string"},
            "framework": _ref("Framework"),
            "cycles": _array(_object({"code": {"type": "string"}, "name": _ref("Localized")})),
            "levels": _array(
                _object(
                    {
                        "code": {"type": "string"},
                        "slug": {"type": "string"},
                        "cycle": {"type": "string"},
                        "isced": {"type": "integer"},
                        "grade": {"type": "integer"},
                        "name": _ref("Localized"),
                    }
                )
            ),
            "domains": _array(_object({"slug": {"type": "string"}, "name": _ref("Localized")})),
            "subjects": _array(
                _object(
                    {
                        "slug": {"type": "string"},
                        "domain": {"type": "string"},
                        "name": _ref("Localized"),
                    }
                )
            ),
            "competencies": _array(
                _object(
                    {
                        "code": {"type": "string"},
                        "uri": {"type": "string", "description": "Stable on every server"},
                        "type": {"type": "string"},
                        "label": _ref("Localized"),
                        "subject": {"type": "string"},
                        "parent": {"type": ["string", "null"]},
                        "levels": _array({"type": "string"}),
                    }
                )
            ),
        }
    ),
    "CFPackage": {
        "type": "object",
        "description": "1EdTech CASE 1.0 CFPackage; identifiers are UUIDs, the same on every server",
        "required": ["CFDocument", "CFItems", "CFAssociations"],
        "properties": {
            "CFDocument": {
                "type": "object",
                "required": ["identifier", "uri", "creator", "title", "lastChangeDateTime"],
            },
            "CFItems": _array(
                {
                    "type": "object",
                    "required": [
                        "identifier",
                        "uri",
                        "fullStatement",
                        "lastChangeDateTime",
                    ],
                }
            ),
            "CFAssociations": _array(
                {
                    "type": "object",
                    "required": [
                        "identifier",
                        "uri",
                        "associationType",
                        "originNodeURI",
                        "destinationNodeURI",
                        "lastChangeDateTime",
                    ],
                }
            ),
        },
    },
    "ModuleSummary": _object(
        {
            "id": {"type": "string"},
            "version": {"type": "integer"},
            "country": {"type": "string"},
            "language": {"type": "string"},
            "title": _ref("Localized"),
            "summary": _ref("Localized"),
            "levels": _array({"type": "string", "description": "Level slugs"}),
            "subject": {"type": "string", "description": "Subject slug"},
            "resource_type": {"type": "string"},
            "licence": _ref("Licence"),
            "authors": _array(_ref("Author")),
            "updated": {"type": "string", "format": "date-time"},
            "links": _object({"self": URL, "page": URL}),
        }
    ),
    "Module": {
        "allOf": [
            _ref("ModuleSummary"),
            _object(
                {
                    "languages": _array({"type": "string"}),
                    "keywords": _array({"type": "string"}),
                    "attribution": {"type": "string"},
                    "derived_from": _array({"type": "string"}),
                    "competencies": _array(
                        _object(
                            {
                                "code": {"type": "string"},
                                "uri": {"type": "string"},
                                "relation": {"enum": ["teaches", "assesses"]},
                                "label": _ref("Localized"),
                            }
                        )
                    ),
                    "lessons": _array(
                        _object(
                            {
                                "slug": {"type": "string"},
                                "position": {"type": "integer"},
                                "title": _ref("Localized"),
                                "links": _object({"self": URL, "page": URL}),
                            }
                        )
                    ),
                    "media": _array(
                        _object(
                            {
                                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                "media_type": {"type": "string"},
                                "size": {"type": "integer", "minimum": 0},
                                "name": {"type": "string"},
                                "width": {"type": ["integer", "null"]},
                                "height": {"type": ["integer", "null"]},
                                "url": URL,
                            }
                        )
                    ),
                }
            ),
        ]
    },
    "Lesson": _object(
        {
            "module": {"type": "string"},
            "slug": {"type": "string"},
            "position": {"type": "integer"},
            "language": {"type": "string", "description": "The language the text is in"},
            "languages": _array({"type": "string"}),
            "title": {"type": "string"},
            "html": {"type": "string", "description": "Sanitised HTML, maths as MathML"},
            "licence": _ref("Licence"),
            "links": _object({"module": URL, "page": URL}),
        }
    ),
    "Facet": _array(
        _object({"value": {"type": ["string", "integer"]}, "count": {"type": "integer"}})
    ),
    "SearchResults": _object(
        {
            "query": {"type": "string"},
            "total": {"type": "integer", "minimum": 0},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1},
            "pages": {"type": "integer", "minimum": 0},
            "suggestion": {"type": ["string", "null"]},
            "corrected": {"type": "boolean"},
            "partial": {"type": "boolean"},
            "facets": {"type": "object", "additionalProperties": _ref("Facet")},
            "results": _array(
                _object(
                    {
                        "kind": {"enum": ["module", "lesson"]},
                        "module": {"type": "string"},
                        "lesson": {"type": ["string", "null"]},
                        "language": {"type": "string"},
                        "title": {"type": "string"},
                        "module_title": {"type": "string"},
                        "snippet_html": {"type": "string"},
                        "country": {"type": "string"},
                        "levels": _array({"type": "string"}),
                        "subject": {"type": "string"},
                        "resource_type": {"type": "string"},
                        "licence": {"oneOf": [_ref("Licence"), {"type": "null"}]},
                        "authors": _array(_ref("Author")),
                    }
                )
            ),
        }
    ),
}


def _query(name: str, description: str, schema: dict | None = None) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _path(name: str, description: str) -> dict:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def _answers(schema: str, *errors: int) -> dict:
    responses = {
        "200": {
            "description": "Found",
            "headers": {"ETag": {"schema": {"type": "string"}}},
            "content": {"application/json": {"schema": _ref(schema)}},
        },
        "304": {"description": "Unchanged since the ETag sent in If-None-Match"},
    }
    for status in errors:
        responses[str(status)] = {
            "description": {400: "A parameter is not valid", 404: "Not found"}[status],
            "content": {"application/json": {"schema": _ref("Error")}},
        }
    return responses


PAGE = _query("page", "Page number", {"type": "integer", "minimum": 1, "maximum": 1000})


def _get(summary: str, parameters: list, responses: dict, operation_id: str) -> dict:
    return {
        "get": {
            "summary": summary,
            "operationId": operation_id,
            "parameters": parameters,
            "responses": responses,
        }
    }


PATHS = {
    "/countries": _get(
        "Every country, with its curriculum framework and number of published modules",
        [],
        {
            **_answers("Country", 400),
            "200": {
                "description": "Found",
                "content": {
                    "application/json": {"schema": _object({"countries": _array(_ref("Country"))})}
                },
            },
        },
        "listCountries",
    ),
    "/countries/{code}": _get(
        "One country",
        [_path("code", "Two-letter code")],
        _answers("Country", 400, 404),
        "getCountry",
    ),
    "/countries/{code}/curriculum": _get(
        "A country's curriculum: cycles, levels, domains, subjects and competencies",
        [_path("code", "Two-letter code")],
        _answers("Curriculum", 400, 404),
        "getCurriculum",
    ),
    "/countries/{code}/case": _get(
        "A country's curriculum as a 1EdTech CASE 1.0 CFPackage, its texts in one language",
        [
            _path("code", "Two-letter code"),
            _query("lang", "Language of the texts", {"enum": list(LANGUAGES)}),
        ],
        _answers("CFPackage", 400, 404),
        "getCurriculumCase",
    ),
    "/modules": _get(
        "Published modules, by id, a page at a time",
        [
            _query("country", "Two-letter code", {"type": "string", "maxLength": 2}),
            _query("level", "Level slug (needs country)", {"type": "string", "maxLength": 60}),
            _query("subject", "Subject slug (needs country)", {"type": "string", "maxLength": 80}),
            _query("language", "The module's own language", {"type": "string", "maxLength": 8}),
            _query(
                "type", "Resource type (lesson, exercise …)", {"type": "string", "maxLength": 40}
            ),
            PAGE,
            _query(
                "per_page", "Modules per page", {"type": "integer", "minimum": 1, "maximum": 100}
            ),
        ],
        {
            **_answers("ModuleSummary", 400),
            "200": {
                "description": "Found",
                "content": {
                    "application/json": {
                        "schema": _object(
                            {
                                "total": {"type": "integer", "minimum": 0},
                                "page": {"type": "integer"},
                                "per_page": {"type": "integer"},
                                "pages": {"type": "integer", "minimum": 0},
                                "modules": _array(_ref("ModuleSummary")),
                            }
                        )
                    }
                },
            },
        },
        "listModules",
    ),
    "/modules/{id}": _get(
        "A published module: licence, authors, curriculum, lessons, media",
        [_path("id", "Module id")],
        _answers("Module", 400, 404),
        "getModule",
    ),
    "/modules/{id}/lessons/{slug}": _get(
        "A lesson, in the language asked when it is translated",
        [
            _path("id", "Module id"),
            _path("slug", "Lesson slug"),
            _query("lang", "Language wanted", {"enum": list(LANGUAGES)}),
        ],
        _answers("Lesson", 400, 404),
        "getLesson",
    ),
    "/search": _get(
        "Full-text search of modules and lessons, with facets; pages out of range are clamped",
        [
            _query("q", "Words to find", {"type": "string", "maxLength": 500}),
            _query("country", "Two-letter code"),
            _query("level", "Level as country:slug (zz:cm1)"),
            _query("subject", "Subject slug"),
            _query("language", "Language of the text"),
            _query("type", "Resource type"),
            PAGE,
            _query(
                "per_page",
                "Results per page (10 unless asked)",
                {"type": "integer", "minimum": 1, "maximum": 50},
            ),
        ],
        _answers("SearchResults", 400),
        "search",
    ),
}


def openapi_document() -> dict:
    """Return the OpenAPI 3.1 document of /api/v1 (servers relative to where it is read)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Imaginecole API",
            "version": "1.0.0",
            "summary": "Read-only access to published open educational resources",
            "description": (
                "Countries, curricula, published modules and lessons, and search. Every answer "
                "is public: no cookie, any origin may read it (CORS), and each carries an ETag "
                "for conditional requests. Texts come in every language they exist in."
            ),
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "servers": [{"url": "/api/v1"}],
        "paths": PATHS,
        "components": {"schemas": SCHEMAS},
    }
