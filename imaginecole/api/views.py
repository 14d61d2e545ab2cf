"""The read-only JSON API at /api/v1, described by its OpenAPI document.

Every answer is the same for every reader: no session is read or written (no cookie, see
``imaginecole.security``), any
site may read it (CORS), and an unchanged answer costs a client one ``304`` (ETag).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _

from imaginecole.api import queries
from imaginecole.api.openapi import openapi_document
from imaginecole.config import LANGUAGES
from imaginecole.curriculum.case import cf_package
from imaginecole.i18n import current_language
from imaginecole.search import SearchQuery, search_index

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_PAGE = 1000
MAX_PER_PAGE = 100
SEARCH_PER_PAGE = 10  # as /api/v1/search always answered; per_page asks for more


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@bp.before_request
def refuse_nul_characters():
    # No text column can hold one (PostgreSQL refuses the query): a clear 400, not a 500.
    values = [*(request.view_args or {}).values(), *request.args.values()]
    if any("\x00" in str(value) for value in values):
        raise ApiError(400, _("A parameter contains a NUL character."))


@bp.after_request
def shareable(response):
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "If-None-Match"
    response.headers["Access-Control-Expose-Headers"] = "ETag"
    response.headers["Access-Control-Max-Age"] = "86400"
    if request.method in ("GET", "HEAD") and response.status_code == 200:
        response.headers["Cache-Control"] = "no-cache"  # ask each time; a 304 costs nothing
        response.add_etag()
        response.make_conditional(request)
    return response


@bp.errorhandler(ApiError)
def api_error(error: ApiError):
    return jsonify(error={"status": error.status, "message": error.message}), error.status


@bp.route("/openapi.json")
def openapi():
    return jsonify(openapi_document())


@bp.route("/countries")
def countries():
    return jsonify(countries=queries.countries())


@bp.route("/countries/<code>")
def country(code: str):
    return jsonify(_found(queries.country(code), _("No country has the code %(code)s.", code=code)))


@bp.route("/countries/<code>/curriculum")
def curriculum(code: str):
    return jsonify(
        _found(queries.curriculum(code), _("No country has the code %(code)s.", code=code))
    )


@bp.route("/countries/<code>/case")
def case(code: str):
    lang = _language()
    return jsonify(
        _found(cf_package(code, lang), _("No country has the code %(code)s.", code=code))
    )


@bp.route("/modules")
def modules():
    page, per_page = _paging(default_per_page=20)
    selection = queries.ModuleFilter(
        country=_text("country", 2),
        level=_text("level", 60),
        subject=_text("subject", 80),
        language=_text("language", 8),
        resource_type=_text("type", 40),
    )
    if (selection.level or selection.subject) and not selection.country:
        raise ApiError(400, _("A level or a subject needs a country."))
    total, found = queries.module_page(selection, page, per_page)
    return jsonify(
        total=total,
        page=page,
        per_page=per_page,
        pages=(total + per_page - 1) // per_page,
        modules=found,
    )


@bp.route("/modules/<uid>")
def module(uid: str):
    return jsonify(_found(queries.module(uid), _("No published module has the id %(id)s.", id=uid)))


@bp.route("/modules/<uid>/lessons/<slug>")
def lesson(uid: str, slug: str):
    lang = _language()
    return jsonify(
        _found(queries.lesson(uid, slug, lang), _("This module has no lesson %(slug)s.", slug=slug))
    )


@bp.route("/search")
def search():
    args = request.args
    try:
        per_page = min(max(int(args.get("per_page", SEARCH_PER_PAGE)), 1), 50)
    except ValueError:
        per_page = SEARCH_PER_PAGE
    # Page numbers out of range are read as the nearest one, as they always were: clients rely
    # on it. The reader's language comes from Accept-Language, as on the search page.
    query = SearchQuery.from_args(args, per_page, current_language())
    results = search_index().search(query)
    details = queries.module_details(sorted({hit.module_uid for hit in results.hits}))
    response = jsonify(
        query=query.text,
        total=results.total,
        page=query.page,
        per_page=per_page,
        pages=results.pages,
        suggestion=results.suggestion or None,
        corrected=results.corrected,
        partial=results.partial,
        facets={
            name: [{"value": v, "count": c} for v, c in values]
            for name, values in results.facets.items()
        },
        results=[
            {
                "kind": hit.kind,
                "module": hit.module_uid,
                "lesson": hit.lesson_slug or None,
                "language": hit.lang,
                "title": hit.title,
                "module_title": hit.module_title,
                "snippet_html": hit.snippet,
                "country": hit.country,
                "levels": hit.levels,
                "subject": hit.subject,
                "resource_type": hit.resource_type,
                **details.get(hit.module_uid, {"licence": None, "authors": []}),
            }
            for hit in results.hits
        ],
    )
    response.headers["Vary"] = "Accept-Language"
    return response


def _language() -> str:
    lang = request.args.get("lang", "fr")
    if lang not in LANGUAGES:
        raise ApiError(400, _("lang must be one of: %(choices)s.", choices="fr, en, ar"))
    return lang


def _found(data: dict | None, message: str) -> dict:
    if data is None:
        raise ApiError(404, message)
    return data


def _text(name: str, limit: int) -> str:
    value = request.args.get(name, "")
    if len(value) > limit:
        raise ApiError(
            400, _("%(name)s is longer than %(limit)d characters.", name=name, limit=limit)
        )
    return value


def _paging(default_per_page: int) -> tuple[int, int]:
    page = _whole("page", 1, 1, MAX_PAGE)
    per_page = _whole("per_page", default_per_page, 1, MAX_PER_PAGE)
    return page, per_page


def _whole(name: str, default: int, low: int, high: int) -> int:
    text = request.args.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ApiError(
            400,
            _(
                "%(name)s must be a whole number from %(low)d to %(high)d.",
                name=name,
                low=low,
                high=high,
            ),
        )
    return value
