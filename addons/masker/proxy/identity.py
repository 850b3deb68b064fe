"""Who is calling: agent and session for each LLM request -> ``Scope``.

Agent, first match wins:
1. reverse mode path ``/proxy/{agent_id}/...`` (the prefix is removed before
   forwarding),
2. ``X-Masker-Agent`` header,
3. proxy-auth username (``HTTPS_PROXY=http://billing-bot@127.0.0.1:8080``):
   sent as ``Proxy-Authorization: Basic`` on the CONNECT (HTTPS) or on the
   request itself (plain HTTP); no password is required,
4. ``default``.

Session: ``X-Masker-Session``, else option ``masker_default_session``
(``default``). Masker headers and Proxy-Authorization never go upstream.

Id rule: ``masker.ids`` (no identifier in an id; a refused id is answered
with JSON 400, 407 on a CONNECT).
"""

from __future__ import annotations

import base64
import binascii
import re
import weakref

from mitmproxy import connection, ctx, exceptions, http

from masker.ids import (  # noqa: F401 - the id rule, re-exported for the proxy's callers
    BAD_IDENTITY,
    INVALID_AGENT_ID,
    INVALID_SESSION_ID,
    IdentityError,
    check_agent_id,
    check_session_id,
    id_problem,
)
from masker.proxy import errors, routing
from masker.scope import DEFAULT_AGENT, Scope

DEFAULT_SESSION = "default"

AGENT_HEADER = "x-masker-agent"
SESSION_HEADER = "x-masker-session"
STRIPPED_HEADERS = (AGENT_HEADER, SESSION_HEADER, "x-masker-admin-token", "proxy-authorization")
SCOPE_KEY = "masker_scope"

_PATH_AGENT_RE = re.compile(r"^/proxy/([^/?#]+)(/[^?#]*)?(\?.*)?$")


def proxy_auth_user(header: str | None) -> str | None:
    """Username of a ``Basic`` Proxy-Authorization header (password ignored)."""
    if not header:
        return None
    scheme, _, cred = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise IdentityError("Proxy-Authorization must use the Basic scheme")
    try:
        user = base64.b64decode(cred.strip(), validate=True).decode("utf-8").partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        raise IdentityError("malformed Proxy-Authorization header") from None
    return check_agent_id(user, "proxy-auth user") if user else None


def split_agent_path(path: str) -> tuple[str | None, str]:
    """``/proxy/billing-bot/v1/chat?x`` -> ``("billing-bot", "/v1/chat?x")``."""
    m = _PATH_AGENT_RE.match(path)
    if not m:
        return None, path
    return check_agent_id(m.group(1), "path agent id"), (m.group(2) or "/") + (m.group(3) or "")


class Identity:
    """Attaches ``flow.metadata["masker_scope"]`` and strips Masker headers.

    Owns ``masker_default_session`` (checked once, in ``configure``).
    """

    def __init__(self) -> None:
        self._conn_user: weakref.WeakKeyDictionary[connection.Client, str] = weakref.WeakKeyDictionary()
        self._default_session = DEFAULT_SESSION

    def load(self, loader) -> None:
        loader.add_option(
            "masker_default_session", str, DEFAULT_SESSION, "Session used when a request has no X-Masker-Session header."
        )

    def configure(self, updated: set[str]) -> None:
        if "masker_default_session" in updated:
            session = ctx.options.masker_default_session.strip()
            if not session:
                raise exceptions.OptionsError("masker_default_session must not be empty")
            problem = id_problem(session)
            if problem is not None:
                raise exceptions.OptionsError(f"masker_default_session {problem}")
            self._default_session = session

    def http_connect(self, flow: http.HTTPFlow) -> None:
        try:
            user = proxy_auth_user(flow.request.headers.get("proxy-authorization"))
            flow.request.headers.pop("proxy-authorization", None)
            if user:
                self._conn_user[flow.client_conn] = user
        except IdentityError as e:
            errors.refuse(flow, 407, e.code, str(e))
        except Exception as e:  # noqa: BLE001 - fail closed
            errors.fail_closed(flow, "identity", e)

    def request(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None:
            return
        try:
            flow.metadata[SCOPE_KEY] = self.scope_of(flow)
        except IdentityError as e:
            errors.refuse(flow, 400, e.code, str(e))
        except Exception as e:  # noqa: BLE001 - fail closed
            errors.fail_closed(flow, "identity", e)

    def scope_of(self, flow: http.HTTPFlow) -> Scope:
        headers = flow.request.headers
        agent = None
        if routing.is_reverse(flow):
            agent, flow.request.path = split_agent_path(flow.request.path)
        if agent is None and headers.get(AGENT_HEADER):
            agent = check_agent_id(headers[AGENT_HEADER].strip(), "X-Masker-Agent")
        if agent is None:
            agent = proxy_auth_user(headers.get("proxy-authorization")) or self._conn_user.get(flow.client_conn)
        header = headers.get(SESSION_HEADER, "").strip()
        session = check_session_id(header, "X-Masker-Session") if header else self._default_session
        for name in STRIPPED_HEADERS:
            headers.pop(name, None)
        return Scope(agent or DEFAULT_AGENT, session)
