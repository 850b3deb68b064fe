"""What mitmweb shows of Masker's work (``masker run --web``, ``mitmweb -s``).

* Every LLM flow gets a comment and a mark once it is over: agent, session,
  route template, outcome and the kinds masked (the access line's fields,
  ``masker.proxy.access_log``: never a value). A request Masker refused is
  marked ⛔ and its comment says the answer is Masker's own and nothing was
  sent upstream (mitmweb would otherwise show it under the upstream's URL
  as if the provider had answered); one that went through is marked 🔒,
  a broken stream (or a client that went away) ❌.
* A streamed (SSE) response is kept viewable: with a UI attached, a bounded
  copy (first ``KEEP_STREAM_BYTES``) of what the client received, i.e. the
  rehydrated stream, becomes the flow's body once the stream ends (without
  it mitmweb says "Content is missing"). mitmproxy's own
  ``store_streamed_bodies`` would keep every byte of every stream in
  memory; this copy stops at the bound and says so.

The copy holds rehydrated PHI, like every buffered response mitmweb shows:
``--web`` is for debugging only.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable

from mitmproxy import ctx, http
from mitmproxy.hooks import UpdateHook

from masker.proxy import access_log

log = logging.getLogger("masker.proxy")

KEEP_STREAM_BYTES = 1024 * 1024
MARK_MASKED = ":lock:"
MARK_REFUSED = ":no_entry:"
MARK_BROKEN = ":x:"


def comment_for(fields: dict) -> str:
    """The flow comment: the access line's fields in words (no values)."""
    masked = ", ".join(f"{k} {v}" for k, v in fields["masked"].items()) or "nothing"
    where = f"agent {fields['agent']}, session {fields['session']}, {fields['method']} {fields['host']}{fields['route']}"
    code = fields["outcome"]
    if code == "forwarded":
        head = f"Masker: forwarded masked, answered by the upstream ({fields['status']})"
    elif code in ("stream_killed", "client_disconnected", "error"):
        head = f"Masker: {code} (status {fields['status']})"
    else:
        head = f"Masker: REFUSED {code} ({fields['status']}): this answer is Masker's own"
        if code.startswith("upstream_"):
            head += " (the upstream failed)"
        elif code != "rehydration_failed":
            head += "; nothing was sent upstream"
    return f"{head}. {where}. Masked: {masked}. Added {fields['added_ms']} ms."


class _Copy:
    """The first ``limit`` bytes a stream callable emitted."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0
        self.total = 0

    def add(self, out: bytes | list[bytes]) -> None:
        for chunk in [out] if isinstance(out, bytes) else out:
            self.total += len(chunk)
            room = self.limit - self.size
            if room > 0:
                self.parts.append(chunk[:room])
                self.size += min(room, len(chunk))

    def body(self) -> bytes:
        data = b"".join(self.parts)
        if self.total > self.size:
            data += f"\n\n[masker: {self.total - self.size} more bytes streamed; kept {self.size} for display]\n".encode()
        return data


class FlowMarks:
    def __init__(self, keep_bytes: int = KEEP_STREAM_BYTES) -> None:
        self._keep = keep_bytes
        self._copies: weakref.WeakKeyDictionary[http.HTTPFlow, _Copy] = weakref.WeakKeyDictionary()
        self._stored_by_mitmproxy = False  # store_streamed_bodies (mitmweb's): mitmproxy keeps the whole stream

    def configure(self, updated: set[str]) -> None:
        if "store_streamed_bodies" in updated:  # an option of mitmweb only
            self._stored_by_mitmproxy = bool(ctx.options.store_streamed_bodies)

    @staticmethod
    def _ui() -> bool:
        try:
            return ctx.master.addons.get("view") is not None
        except Exception:  # noqa: BLE001 - no master
            return False

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        try:
            resp = flow.response
            if resp is None or not callable(resp.stream) or not self._ui() or self._stored_by_mitmproxy:
                return
            inner: Callable = resp.stream
            copy = _Copy(self._keep)

            def stream(data: bytes) -> bytes | list[bytes]:
                out = inner(data)
                try:
                    copy.add(out)
                except Exception:  # noqa: BLE001 - the copy is for display; the stream goes on untouched
                    pass
                return out

            resp.stream = stream
            self._copies[flow] = copy
        except Exception as e:  # noqa: BLE001
            log.error("masker could not keep a stream for display: %s", type(e).__name__)

    def response(self, flow: http.HTTPFlow) -> None:
        self._mark(flow)

    def error(self, flow: http.HTTPFlow) -> None:
        self._mark(flow)

    def http_connect(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None:
            self._mark(flow)

    def _mark(self, flow: http.HTTPFlow) -> None:
        try:
            copy = self._copies.pop(flow, None)
            if copy is not None and flow.response is not None:
                flow.response.data.content = copy.body()  # after the stream: nothing more is sent from it
            if not access_log.is_masker_flow(flow):
                return
            fields = access_log.summary(flow, time.time())
            flow.comment = comment_for(fields)
            if fields["outcome"] == "forwarded":
                flow.marked = MARK_MASKED
            elif fields["outcome"] in ("stream_killed", "client_disconnected", "error"):
                flow.marked = MARK_BROKEN
            else:
                flow.marked = MARK_REFUSED
            if self._ui():
                ctx.master.addons.trigger(UpdateHook([flow]))
        except Exception as e:  # noqa: BLE001 - a mark never breaks a flow
            log.error("masker could not mark a flow: %s", type(e).__name__)
