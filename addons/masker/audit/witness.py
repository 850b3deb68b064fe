"""Witnesses: places the journal host cannot rewrite, that receive each
checkpoint as it is signed.

* ``DirWitness``: a directory on another volume (NFS, object-store mount,
  WORM share). It receives ``checkpoint-<size>[-e<epoch>].note`` (the C2SP
  tlog-checkpoint note) and ``.json`` (Masker's checkpoint) and never
  overwrites a file: a different note under an existing name is a fork and is
  reported. The directory must exist (an unmounted volume is an error, never
  silently recreated on the local disk). On start the journal also reads the
  newest checkpoint back from it, so rolling back the journal *and* the local
  checkpoints together is caught.
* ``HttpWitness``: ``POST <url>`` with the note as the body
  (``text/plain; charset=utf-8``); any 2xx is success. It is write-only: the
  start-up check cannot read it back.

Failure policy (``MASKER_WITNESS_MODE``):

* ``log`` (default): a failed push is logged (warning) and retried: directory
  witnesses on the next checkpoint, HTTP witnesses from a background thread
  (every 30 s, backing off to 5 min) and once more at shutdown; only the
  newest pending checkpoint is retried (it covers the older ones). Requests are
  not refused.
* ``strict``: every push happens synchronously when the checkpoint is signed
  (on start, every ``checkpoint_every`` events, at shutdown); a failure
  latches the journal (``AuditUnavailable``: requests get 503, ``/readyz``
  says why) until a re-verification pushes successfully. HTTP pushes then
  hold appends for up to the timeout.

No event value ever reaches a witness: a checkpoint holds sizes and hashes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import checkpoint as cpmod

log = logging.getLogger(__name__)

LOG = "log"
STRICT = "strict"
MODES = (LOG, STRICT)
DIR_ENV = "MASKER_WITNESS_DIR"
URL_ENV = "MASKER_WITNESS_URL"
MODE_ENV = "MASKER_WITNESS_MODE"
TIMEOUT_ENV = "MASKER_WITNESS_TIMEOUT"
DEFAULT_TIMEOUT = 5.0
RETRY_FIRST = 30.0
RETRY_MAX = 300.0


class WitnessError(OSError):
    """A witness did not take a checkpoint (PHI-free: witness name and error class)."""


class WitnessConfigError(ValueError):
    """MASKER_WITNESS_* is malformed."""


@dataclass(frozen=True, slots=True)
class Published:
    """One signed checkpoint, in both forms."""

    stem: str  # checkpoint-<size:012d>[-e<epoch>]
    size: int
    epoch: int
    note: str
    checkpoint_json: bytes


class DirWitness:
    kind = "dir"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def name(self) -> str:
        return f"dir:{self.path}"

    def push(self, pub: Published) -> None:
        if not self.path.is_dir():
            raise WitnessError(f"witness {self.name}: directory does not exist (volume not mounted?)")
        try:
            _write_once(self.path / f"{pub.stem}.note", pub.note.encode("utf-8"), must_match=True)
            _write_once(self.path / f"{pub.stem}.json", pub.checkpoint_json, must_match=False)
        except WitnessError:
            raise
        except OSError as exc:
            raise WitnessError(f"witness {self.name}: {type(exc).__name__}: {exc.strerror or 'write failed'}") from None

    def heads(self) -> list[cpmod.SignedHead]:
        return cpmod.newest_heads(self.path)


class HttpWitness:
    kind = "http"

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise WitnessConfigError(f"{URL_ENV}: not an http(s) URL")
        self.url = url
        self.timeout = timeout
        # Never log credentials or a query string.
        self._shown = f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"

    @property
    def name(self) -> str:
        return f"http:{self._shown}"

    def push(self, pub: Published) -> None:
        req = urllib.request.Request(
            self.url, data=pub.note.encode("utf-8"), method="POST",
            headers={"content-type": "text/plain; charset=utf-8", "user-agent": "masker-witness/1"},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - operator-configured URL
                resp.read(4096)
                status = resp.status
        except urllib.error.HTTPError as exc:
            raise WitnessError(f"witness {self.name}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise WitnessError(f"witness {self.name}: unreachable ({type(reason).__name__})") from None
        if not 200 <= status < 300:
            raise WitnessError(f"witness {self.name}: HTTP {status}")


def _write_once(path: Path, data: bytes, *, must_match: bool) -> None:
    """Create ``path`` with ``data`` (fsynced) unless it exists; never overwrite."""
    if path.exists():
        if must_match and path.read_bytes() != data:
            raise WitnessError(f"witness already holds a different {path.name} (a forked or rewritten log)")
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    cpmod.write_synced(tmp, data)
    try:
        os.link(tmp, path)  # atomic, and fails if another writer got there first
    except FileExistsError:
        if must_match and path.read_bytes() != data:
            raise WitnessError(f"witness already holds a different {path.name} (a forked or rewritten log)") from None
    finally:
        os.unlink(tmp)
    cpmod.fsync_dir(path.parent)


Witness = DirWitness | HttpWitness


class Witnesses:
    """The configured witnesses and their failure policy (``mode``: ``log`` or ``strict``)."""

    def __init__(self, witnesses: Sequence[Witness], mode: str = LOG) -> None:
        if mode not in MODES:
            raise WitnessConfigError(f"{MODE_ENV} must be one of {', '.join(MODES)}, not {mode!r}")
        self.witnesses = list(witnesses)
        self.mode = mode
        self._cv = threading.Condition()
        self._pending: dict[str, Published] = {}  # witness name -> newest checkpoint not yet taken
        self._errors: dict[str, str] = {}  # witness name -> last error
        self._next_try: dict[str, float] = {}
        self._backoff: dict[str, float] = {}
        self._last_warned: dict[str, float] = {}
        self._thread: threading.Thread | None = None
        self._stop = False

    @property
    def strict(self) -> bool:
        return self.mode == STRICT

    @property
    def dirs(self) -> list[DirWitness]:
        return [w for w in self.witnesses if isinstance(w, DirWitness)]

    def __bool__(self) -> bool:
        return bool(self.witnesses)

    def status(self) -> dict[str, str | None]:
        """Each witness's last error (None: it took the newest checkpoint it was given)."""
        with self._cv:
            return {w.name: self._errors.get(w.name) for w in self.witnesses}

    def failing(self) -> list[str]:
        with self._cv:
            return sorted(self._errors)

    def publish(self, pub: Published) -> None:
        """Hand ``pub`` to every witness. Strict: synchronously, WitnessError on any failure.
        Log: directories now, HTTP in the background; failures are logged and retried."""
        if self.strict:
            errors = [e for w in self.witnesses if (e := self._push(w, pub)) is not None]
            if errors:
                raise WitnessError("; ".join(errors) + " (MASKER_WITNESS_MODE=strict)")
            return
        background = False
        for w in self.witnesses:
            if isinstance(w, DirWitness):
                if self._push(w, pub) is not None:
                    self._queue(w, pub, now=False)
            else:
                self._queue(w, pub, now=True)
                background = True
        if background:
            self._ensure_thread()

    def flush(self, timeout: float | None = None) -> list[str]:
        """Push every pending checkpoint once, now (at shutdown); returns what still failed."""
        with self._cv:
            pending = list(self._pending.items())
        failed = []
        deadline = None if timeout is None else time.monotonic() + timeout
        for name, pub in pending:
            w = self._by_name(name)
            if w is None or (deadline is not None and time.monotonic() > deadline):
                failed.append(name)
                continue
            if self._push(w, pub) is not None:
                failed.append(name)
        return failed

    def close(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=2)

    # -- internals --------------------------------------------------------------

    def _by_name(self, name: str) -> Witness | None:
        return next((w for w in self.witnesses if w.name == name), None)

    def _push(self, w: Witness, pub: Published) -> str | None:
        """Push now; record and log the outcome; the error text or None."""
        try:
            w.push(pub)
        except WitnessError as exc:
            self._failed(w, pub, str(exc))
            return str(exc)
        self._succeeded(w, pub)
        return None

    def _failed(self, w: Witness, pub: Published, error: str) -> None:
        now = time.monotonic()
        with self._cv:
            first = w.name not in self._errors
            self._errors[w.name] = error
            if self.mode == LOG:
                cur = self._pending.get(w.name)
                if cur is None or (cur.epoch, cur.size) <= (pub.epoch, pub.size):
                    self._pending[w.name] = pub
            warn = first or now - self._last_warned.get(w.name, 0.0) >= RETRY_MAX
            if warn:
                self._last_warned[w.name] = now
        if warn:
            what = "the journal is latched" if self.strict else "will retry"
            log.warning("audit witness failed to take %s: %s (%s)", pub.stem, error, what)

    def _succeeded(self, w: Witness, pub: Published) -> None:
        with self._cv:
            recovered = self._errors.pop(w.name, None) is not None
            cur = self._pending.get(w.name)
            if cur is not None and (cur.epoch, cur.size) <= (pub.epoch, pub.size):
                del self._pending[w.name]
            self._backoff.pop(w.name, None)
            self._next_try.pop(w.name, None)
        if recovered:
            log.warning("audit witness %s took %s again", w.name, pub.stem)

    def _queue(self, w: Witness, pub: Published, *, now: bool) -> None:
        with self._cv:
            cur = self._pending.get(w.name)
            if cur is None or (cur.epoch, cur.size) <= (pub.epoch, pub.size):
                self._pending[w.name] = pub
            if now:
                self._next_try[w.name] = 0.0
            self._cv.notify_all()

    def _ensure_thread(self) -> None:
        with self._cv:
            if self._thread is None and not self._stop:
                self._thread = threading.Thread(target=self._run, name="masker-witness", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cv:
                if self._stop:
                    return
                now = time.monotonic()
                due = [(n, p) for n, p in self._pending.items()
                       if isinstance(self._by_name(n), HttpWitness) and self._next_try.get(n, 0.0) <= now]
                if not due:
                    waits = [t - now for n, t in self._next_try.items() if n in self._pending]
                    self._cv.wait(timeout=max(0.05, min(waits)) if waits else None)
                    continue
            for name, pub in due:
                w = self._by_name(name)
                if w is None:
                    continue
                if self._push(w, pub) is not None:
                    with self._cv:
                        step = min(RETRY_MAX, self._backoff.get(name, RETRY_FIRST / 2) * 2)
                        self._backoff[name] = step
                        self._next_try[name] = time.monotonic() + step


def from_env(env: Mapping[str, str] | None = None) -> Witnesses | None:
    """``MASKER_WITNESS_DIR`` (paths separated by ``os.pathsep``), ``MASKER_WITNESS_URL``
    (comma- or space-separated), ``MASKER_WITNESS_MODE`` (log|strict), ``MASKER_WITNESS_TIMEOUT``
    (seconds, default 5). None when no witness is configured."""
    env = os.environ if env is None else env
    try:
        timeout = float(env.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT)
    except ValueError:
        raise WitnessConfigError(f"{TIMEOUT_ENV} must be a number of seconds") from None
    if not 0 < timeout <= 120:
        raise WitnessConfigError(f"{TIMEOUT_ENV} must be between 0 and 120 seconds")
    found: list[Witness] = [DirWitness(Path(p)) for p in (env.get(DIR_ENV) or "").split(os.pathsep) if p.strip()]
    urls = (env.get(URL_ENV) or "").replace(",", " ").split()
    found += [HttpWitness(u, timeout) for u in urls]
    mode = (env.get(MODE_ENV) or LOG).strip().lower()
    if not found:
        if env.get(MODE_ENV) and mode not in MODES:
            raise WitnessConfigError(f"{MODE_ENV} must be one of {', '.join(MODES)}, not {mode!r}")
        return None
    return Witnesses(found, mode)


def witness_dirs_from_env(env: Mapping[str, str] | None = None) -> list[Path]:
    env = os.environ if env is None else env
    return [Path(p) for p in (env.get(DIR_ENV) or "").split(os.pathsep) if p.strip()]
