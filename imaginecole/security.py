"""Response headers that keep every page self-contained and safe for anonymous readers."""

from flask import Flask, Request
from flask.sessions import SecureCookieSessionInterface, SessionMixin

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self'; media-src 'self'; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


# Answers the same for everyone, read by programs: a signed-in editor's cookie must neither
# change them nor be refreshed by them.
SESSIONLESS_PATHS = ("/api/", "/oai", "/opds/")


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with no session at all on ``SESSIONLESS_PATHS``."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        if request.path.startswith(SESSIONLESS_PATHS):
            return self.make_null_session(app)
        return super().open_session(app, request)


def register(app: Flask) -> None:
    app.session_interface = SessionInterface()

    @app.after_request
    def set_headers(response):
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response
