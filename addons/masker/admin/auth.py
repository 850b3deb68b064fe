"""Authentication and JSON answers shared by every admin handler.

Two credentials are accepted:

* ``Authorization: Bearer <MASKER_ADMIN_TOKEN>``, for every method (the API,
  scripts, Prometheus);
* the session cookie that ``POST /login`` sets once the token was typed into
  the page, for ``GET``/``HEAD`` only: a state-changing call must carry the
  bearer header, so a forged cross-site form cannot change a policy or an
  agent (the cookie is also ``SameSite=Strict`` and ``HttpOnly``).

Every answer is ``no-store`` and errors are JSON ``{"error": {"code",
"message"}}``, like the proxy's own refusals.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

import tornado.web

COOKIE = "masker_admin"
COOKIE_DAYS = 1  # the signed cookie's lifetime; the page asks for the token again after it
SAFE_METHODS = ("GET", "HEAD")


def token_matches(given: str, expected: str) -> bool:
    """Constant-time comparison; an empty expected token matches nothing."""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


class AdminHandler(tornado.web.RequestHandler):
    """Base of every admin endpoint: refuses unauthenticated requests with 401 JSON.

    ``public = True`` marks the few endpoints that need no credential (the
    login page and form). Subclasses read ``self.backend`` (an ``AdminBackend``).
    """

    public = False

    def initialize(self, backend: Any) -> None:
        self.backend = backend

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; frame-ancestors 'none'; form-action 'self'",
        )

    def prepare(self) -> None:
        if self.public or self.authenticated():
            return
        self.send_error_json(401, "unauthorized", "send Authorization: Bearer $MASKER_ADMIN_TOKEN (or log in on the page)")
        self.finish()

    def authenticated(self) -> bool:
        expected = self.backend.admin_token
        header = self.request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and token_matches(given.strip(), expected):
            return True
        if self.request.method in SAFE_METHODS:
            cookie = self.get_signed_cookie(COOKIE, max_age_days=COOKIE_DAYS)
            return cookie is not None and token_matches(cookie.decode(), self.backend.cookie_value)
        return False

    def json_body(self) -> Any:
        """The request body as JSON; answers 400 ``invalid_json`` (and raises ``Finish``) when it is not."""
        try:
            return json.loads(self.request.body or b"null")
        except ValueError:
            self.send_error_json(400, "invalid_json", "the request body is not valid JSON")
            raise tornado.web.Finish() from None

    def send_json(self, status: int, doc: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(doc, ensure_ascii=False).encode())

    def send_error_json(self, status: int, code: str, message: str, **extra: Any) -> None:
        self.clear_header("Content-Type")
        self.send_json(status, {"error": {"code": code, "message": message, **extra}})

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Tornado's own errors (404 for an unknown path, 405, 500) as JSON; never a traceback.
        codes = {404: "not_found", 405: "method_not_allowed", 500: "internal_error"}
        self.send_json(status_code, {"error": {"code": codes.get(status_code, "error"), "message": self._reason}})


class NotFound(AdminHandler):
    """Any path no route matches: 404 JSON (after authentication, so paths are not probed)."""

    def prepare(self) -> None:
        super().prepare()
        if not self._finished:
            self.send_error_json(404, "not_found", "no such admin endpoint")
            self.finish()
