"""Friendly error pages in the visitor's language; no traceback ever reaches a reader."""

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import BadRequest, HTTPException

from imaginecole.limits import TextDoesNotFit


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if request.path.startswith("/api/"):
            return _json_error(error.code or 500)
        template = "errors/404.html" if error.code == 404 else "errors/error.html"
        return render_template(template, error=error), error.code

    @app.errorhandler(TextDoesNotFit)
    def text_does_not_fit(error: TextDoesNotFit):
        # A form sent more than a field holds, past the checks of its page.
        app.logger.warning("Refused: %s", error)
        return http_error(BadRequest())

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        app.logger.exception("Unhandled error")
        if request.path.startswith("/api/"):
            return _json_error(500)
        return render_template("errors/500.html"), 500


def _json_error(status: int):
    """Answer a program reading the API in JSON, as the API's own errors are."""
    if status == 404:
        message = _("Nothing is published at this address.")
    elif status == 405:
        message = _("This address only answers GET requests.")
    elif status >= 500:
        message = _("The server could not answer; try again in a moment.")
    else:
        message = _("This request cannot be answered.")
    return jsonify(error={"status": status, "message": message}), status
