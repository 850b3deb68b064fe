"""The admin tornado application: every route of the admin listener, in one list.

Routes (``openapi.yaml`` documents each; ``tests/test_agents.py`` checks
that the two agree):

* ``/login`` (public): the page's login form; a right token sets the session cookie;
* ``/metrics``: Prometheus exposition (``masker.metrics``);
* ``/api/v1/openapi.yaml``: the OpenAPI document;
* ``/api/v1/audit/verify`` (POST): the journal and its signed checkpoints;
* ``/api/v1/admin/policy*``, ``/api/v1/agents*``: ``policy_api``;
* ``/``, ``/static/*``, ``/api/v1/live``: the live firewall view (``view``);
* ``/api/v1/sessions*``: sessions, their journal events, signed reports (``sessions_api``).
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import tornado.web

from masker.admin import policy_api, sessions_api, view
from masker.admin.auth import COOKIE, COOKIE_DAYS, AdminHandler, NotFound, token_matches

OPENAPI = Path(__file__).with_name("openapi.yaml")
LOGIN_PAGE = Path(__file__).with_name("static") / "login.html"


class LoginHandler(AdminHandler):
    public = True

    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.write(LOGIN_PAGE.read_bytes())

    def post(self) -> None:
        if not token_matches(self.get_body_argument("token", ""), self.backend.admin_token):
            self.set_status(401)
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.write(LOGIN_PAGE.read_bytes().replace(b"<!--error-->", b'<p class="error">Wrong token.</p>'))
            return
        self.set_signed_cookie(COOKIE, self.backend.cookie_value, expires_days=COOKIE_DAYS, httponly=True,
                               samesite="Strict", secure=self.request.protocol == "https")
        self.redirect("/")


class MetricsHandler(AdminHandler):
    async def get(self) -> None:
        body, content_type = await asyncio.to_thread(self.backend.metrics)  # gauges read SQLite
        self.set_header("Content-Type", content_type)
        self.write(body)


class OpenApiHandler(AdminHandler):
    public = True  # the API's shape is no secret; every call it describes needs the token

    def get(self) -> None:
        self.set_header("Content-Type", "application/yaml")
        self.write(OPENAPI.read_bytes())


class VerifyHandler(AdminHandler):
    async def post(self) -> None:
        try:
            result = await asyncio.to_thread(self.backend.verify)
        except Exception as e:  # noqa: BLE001 - the reason is the type, never a message
            self.send_error_json(500, "verify_failed", f"verification could not run ({type(e).__name__})")
            return
        self.send_json(200 if result.get("ok") else 409, result)


def routes(backend: Any) -> list[tuple[str, type, dict[str, Any]]]:
    args = {"backend": backend}
    return [
        (r"/login", LoginHandler, args),
        (r"/metrics", MetricsHandler, args),
        (r"/api/v1/openapi.yaml", OpenApiHandler, args),
        (r"/api/v1/audit/verify", VerifyHandler, args),
        *policy_api.routes(backend),
        *view.routes(backend),
        *sessions_api.routes(backend),
    ]


def make_app(backend: Any) -> tornado.web.Application:
    return tornado.web.Application(
        routes(backend),
        cookie_secret=secrets.token_bytes(32),  # per process: a restart logs every page out
        default_handler_class=NotFound,
        default_handler_args={"backend": backend},
        xsrf_cookies=False,  # state-changing calls need the bearer header, which a cross-site form cannot send
        compress_response=False,
    )
