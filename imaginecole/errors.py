"""Friendly error pages in the visitor's language; no traceback ever reaches a reader."""

from flask import Flask, render_template
from werkzeug.exceptions import BadRequest, HTTPException

from imaginecole.limits import TextDoesNotFit


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
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
        return render_template("errors/500.html"), 500
