"""Masker's shared mitmproxy options: declared in ``load``, validated in ``configure``.

Each addon owns and parses its options in its own ``configure`` (never on a
request), starting from the parsed default: as for mitmproxy's own addons,
``configure`` is called with the options that changed, and an option left
at its default may never be in ``updated`` (``masker run`` embeds the
master). ``MaskerOptions`` declares the options several addons read
(policy, data dir, LLM hosts, detect timeout, body limit, admin token) and
the parse functions below, which every reader calls on the raw value and
which raise the one ``OptionsError`` that stops start-up. Options only one
addon reads are declared by that addon (``masker_workers`` and
``masker_audit_window``: ``EngineHolder``; ``masker_default_session``:
``Identity``; ``masker_ws_keep_messages``: ``RealtimeSocket``; the upstream
limits: ``UpstreamGuard``; ``masker_admin_listen``: ``AdminListener``).

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

from masker.proxy import routing

log = logging.getLogger("masker.proxy")

DEFAULT_MAX_BODY = "16m"
DEFAULT_DETECT_TIMEOUT = "10"


def default_admin_token() -> str:
    """``masker_admin_token``'s default: ``$MASKER_ADMIN_TOKEN`` (what its readers start from, too)."""
    return os.environ.get("MASKER_ADMIN_TOKEN", "")


def parse_detect_timeout(raw: str) -> float:
    """``masker_detect_timeout`` in seconds (a string option: mitmproxy cannot ``--set`` floats)."""
    value = _number(raw)
    if value is None or not 0 < value < float("inf"):
        raise exceptions.OptionsError(f"masker_detect_timeout must be a number of seconds > 0, not {raw!r}")
    return value


def parse_max_body(raw: str) -> int:
    """``masker_max_body`` in bytes (``16m``, ``64k``...)."""
    try:
        value = human.parse_size(raw)
    except ValueError:
        value = None
    if value is None or value <= 0:
        raise exceptions.OptionsError(f"invalid masker_max_body {raw!r}")
    return value


def parse_data_dir(raw: str) -> Path:
    """``masker_data_dir``, else ``$MASKER_DATA_DIR``, else ``./.data``."""
    return Path(raw or os.environ.get("MASKER_DATA_DIR") or ".data")


def parse_policy(raw: str) -> Path | None:
    """``masker_policy``: the policy file, None for the shipped one."""
    return Path(raw) if raw else None


def _number(raw: str) -> float | None:
    try:
        return float(raw)
    except ValueError:
        return None


class MaskerOptions:
    """Declares the ``masker_*`` options several addons share, and validates them
    (and the mitmproxy settings they imply) once per change."""

    def load(self, loader) -> None:
        loader.add_option("masker_policy", str, "", "Mask policy YAML (empty: the shipped policy).")
        loader.add_option("masker_data_dir", str, "", "Data directory (empty: $MASKER_DATA_DIR or ./.data).")
        loader.add_option(
            "masker_llm_hosts",
            Sequence[str],
            list(routing.DEFAULT_LLM_HOSTS),
            "LLM API hosts intercepted in regular mode (host.name or *.host.name); others are tunnelled untouched.",
        )
        loader.add_option(
            "masker_detect_timeout", str, DEFAULT_DETECT_TIMEOUT,
            "Seconds masking may take before the request is refused (503).",
        )
        loader.add_option(
            "masker_max_body", str, DEFAULT_MAX_BODY, "Largest request body (decoded) Masker accepts; larger gets 413."
        )
        loader.add_option(
            "masker_admin_token", str, default_admin_token(),
            "Admin token (default $MASKER_ADMIN_TOKEN): the admin listener's bearer token and "
            "X-Masker-Admin-Token of POST /audit/verify on the proxy port; empty disables both.",
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
        parse_detect_timeout(o.masker_detect_timeout)
        max_body = parse_max_body(o.masker_max_body)
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
