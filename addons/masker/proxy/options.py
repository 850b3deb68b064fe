"""Masker's mitmproxy options: declared in ``load``, validated in ``configure``.

Options can be changed at run time (``--set``, mitmweb's options editor), so
none of them may choose code: the engine factory is a constructor argument
(``sidecar_addons(engine_factory=...)``), never an option. ``masker run``
rejects an unknown ``--set`` option; ``mitmdump -s`` would keep it "deferred"
and ignore it, so an unknown ``masker_*`` one (a typo, or the removed
``masker_engine_factory``) stops the proxy at start-up.

Also derives mitmproxy settings that must follow from them (``allow_hosts``,
``body_size_limit``) and refuses settings that leak (``stream_large_bodies``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from mitmproxy import ctx, exceptions
from mitmproxy.utils import human

from masker.engine_pool import MAX_WORKERS, default_workers
from masker.proxy import routing

log = logging.getLogger("masker.proxy")

DEFAULT_MAX_BODY = "16m"


class MaskerOptions:
    """Declares every ``masker_*`` option; other Masker addons only read them."""

    def load(self, loader) -> None:
        loader.add_option("masker_policy", str, "", "Mask policy YAML (empty: the shipped policy).")
        loader.add_option("masker_data_dir", str, "", "Data directory (empty: $MASKER_DATA_DIR or ./.data).")
        loader.add_option(
            "masker_llm_hosts",
            Sequence[str],
            list(routing.DEFAULT_LLM_HOSTS),
            "LLM API hosts intercepted in regular mode (host.name or *.host.name); others are tunnelled untouched.",
        )
        loader.add_option("masker_detect_timeout", str, "10", "Seconds masking may take before the request is refused (503).")
        loader.add_option(
            "masker_audit_window",
            str,
            "0.02",
            "Seconds the audit recorder waits to batch after-the-fact events (request_forwarded, rehydration) "
            "into one journal append; detection events are always journaled before the request is forwarded.",
        )
        loader.add_option(
            "masker_max_body", str, DEFAULT_MAX_BODY, "Largest request body (decoded) Masker accepts; larger gets 413."
        )
        loader.add_option(
            "masker_admin_token", str, os.environ.get("MASKER_ADMIN_TOKEN", ""),
            "Admin token (default $MASKER_ADMIN_TOKEN): the admin listener's bearer token and "
            "X-Masker-Admin-Token of POST /audit/verify on the proxy port; empty disables both.",
        )
        loader.add_option("masker_default_session", str, "default", "Session used when a request has no X-Masker-Session header.")
        loader.add_option(
            "masker_ws_keep_messages", int, 64, "WebSocket messages kept per flow (older ones are dropped from memory)."
        )
        loader.add_option(
            "masker_workers",
            int,
            default_workers(),
            "Worker processes that mask requests (0: mask inside the proxy process). "
            "Default: one per core up to 4, none on a single core.",
        )

    def running(self) -> None:
        # An error logged during start-up makes mitmproxy exit (its errorcheck addon); shutdown() in any case.
        unknown = sorted(name for name in ctx.options.deferred if name.startswith("masker_"))
        if unknown:
            log.error("unknown Masker option(s): %s; refusing to run", ", ".join(unknown))
            ctx.master.shutdown()

    def configure(self, updated: set[str]) -> None:
        o = ctx.options
        if o.stream_large_bodies:
            raise exceptions.OptionsError(
                "stream_large_bodies sends request bodies upstream unmasked; Masker refuses to run with it"
            )
        if detect_timeout() is None:
            raise exceptions.OptionsError(
                f"masker_detect_timeout must be a number of seconds > 0, not {o.masker_detect_timeout!r}"
            )
        if audit_window() is None:
            raise exceptions.OptionsError(
                f"masker_audit_window must be a number of seconds in [0, 5], not {o.masker_audit_window!r}"
            )
        if not 0 <= o.masker_workers <= MAX_WORKERS:
            raise exceptions.OptionsError(f"masker_workers must be between 0 and {MAX_WORKERS}")
        if "masker_ws_keep_messages" in updated and o.masker_ws_keep_messages < 1:
            raise exceptions.OptionsError("masker_ws_keep_messages must be >= 1")
        if not o.masker_default_session.strip():
            raise exceptions.OptionsError("masker_default_session must not be empty")
        max_body = max_body_bytes()
        if max_body is None or max_body <= 0:
            raise exceptions.OptionsError(f"invalid masker_max_body {o.masker_max_body!r}")
        try:
            allow = routing.allow_hosts_for(o.masker_llm_hosts, o.mode)
        except ValueError as e:
            raise exceptions.OptionsError(str(e)) from None
        if not o.masker_llm_hosts and not routing.reverse_targets(o.mode):
            raise exceptions.OptionsError("masker_llm_hosts is empty and no reverse mode is set: nothing would be masked")
        changes: dict[str, object] = {}
        if list(o.allow_hosts) != allow:
            changes["allow_hosts"] = allow
        if o.ignore_hosts:
            changes["ignore_hosts"] = []
        if "flow_detail" in o and o.flow_detail > 0:
            # mitmdump's flow log prints every request URL, refused ones included: PHI in the log.
            log.warning("flow_detail set to 0: mitmproxy's flow log would print request URLs, which may hold PHI")
            changes["flow_detail"] = 0
        # mitmproxy's own limit (HTML 413, body never read) is the memory cap;
        # Masker's JSON 413 applies below it.
        hard = human.parse_size(o.body_size_limit) if o.body_size_limit else None
        if hard is None or hard < max_body:
            changes["body_size_limit"] = str(2 * max_body)
        if changes:
            o.update(**changes)


def detect_timeout() -> float | None:
    """``masker_detect_timeout`` in seconds (a string option: mitmproxy cannot ``--set`` floats)."""
    try:
        value = float(ctx.options.masker_detect_timeout)
    except ValueError:
        return None
    return value if 0 < value < float("inf") else None


def audit_window() -> float | None:
    """``masker_audit_window`` in seconds, None when invalid."""
    try:
        value = float(ctx.options.masker_audit_window)
    except ValueError:
        return None
    return value if 0 <= value <= 5 else None


def max_body_bytes() -> int | None:
    try:
        return human.parse_size(ctx.options.masker_max_body)
    except ValueError:
        return None


def data_dir() -> Path:
    """``masker_data_dir``, else ``$MASKER_DATA_DIR``, else ``./.data``."""
    return Path(ctx.options.masker_data_dir or os.environ.get("MASKER_DATA_DIR") or ".data")
