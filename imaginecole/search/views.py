"""The search page, usable with JavaScript off (the same search as JSON is in imaginecole.api)."""

from __future__ import annotations

from urllib.parse import quote_plus, urlencode

from flask import Blueprint, g, render_template, request, url_for

from imaginecole.catalog.queries import facet_labels
from imaginecole.i18n import current_language
from imaginecole.pages.cache import public_page
from imaginecole.search import SearchQuery, search_index

bp = Blueprint("search", __name__, template_folder="templates")

PER_PAGE = 10
URL_SAFE = "!$'()*,/:;?@"  # left as they are in a query string, as url_for does


def query_from_request() -> SearchQuery:
    return SearchQuery.from_args(request.args, PER_PAGE, current_language())


def search_url(query: SearchQuery, changes: dict) -> str:
    """Return the URL of the search page for ``query`` with some parameters changed."""
    args = {
        "q": query.text,
        "country": query.country,
        "level": query.level,
        "subject": query.subject,
        "language": query.lang,
        "type": query.resource_type,
        "page": query.page,
    }
    args.update(changes)
    kept = {key: value for key, value in args.items() if value}
    if kept.get("page") == 1:
        del kept["page"]
    # A results page links to itself with other filters scores of times: the path is built
    # once per request and the query encoded as url_for would (spaces as +).
    if "search_page_path" not in g:
        g.search_page_path = url_for("search.page")
    if not kept:
        return g.search_page_path
    return g.search_page_path + "?" + urlencode(kept, quote_via=quote_plus, safe=URL_SAFE)


@bp.app_context_processor
def search_helpers():
    return {"search_url": search_url}


@bp.route("/<lang>/search")
@public_page
def page():
    query = query_from_request()
    results = search_index().search(query) if query.text.strip() or query.filters() else None
    labels = facet_labels(current_language()) if results else {}
    return render_template("search/results.html", query=query, results=results, labels=labels)
