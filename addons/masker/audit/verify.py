"""The journal's on-disk form, how to read it back, and how to verify it.

Layout of a journal directory (see docs/audit-schema-v1.md):

* ``events-YYYY-MM-DD.jsonl``: one event per line, UTC date of the append;
  files in name order hold consecutive ``seq`` values.
* ``anchor.json``: written by a retention prune, the signed checkpoint at the
  cut (absent until the first prune).
* ``journal.lock``: ``fcntl.flock`` target; writers hold it exclusively while
  appending, verifiers hold it shared while reading.

A line is the RFC 8785 canonical JSON of the event *body* (every field but the
two hashes, ``seq`` included) with ``"curr_hash"`` and ``"prev_hash"`` added at
the end, where ``curr_hash = HMAC-SHA256(audit_key, bytes(prev_hash) || body)``.
The chain starts at ``GENESIS_HASH``. The Merkle leaf of an event is its body.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import math
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rfc8785
from nacl.signing import VerifyKey

from . import checkpoint as cpmod
from .keys import KeyPin
from .merkle import CompactRange, inclusion_proof, leaf_hash, verify_inclusion
from .merkle import root as merkle_root

GENESIS_HASH = "0" * 64
ANCHOR_FILE = "anchor.json"
LOCK_FILE = "journal.lock"
CHAIN_OK = "chain ok"
_FILE_RE = re.compile(r"^events-\d{4}-\d{2}-\d{2}\.jsonl$")
_MAX_SAFE_INT = 2**53


# -- format -------------------------------------------------------------------


def _fast_ok(o: Any) -> bool:
    """Whether ``json.dumps`` writes ``o`` exactly as RFC 8785 would.

    True for str/None/bool, integers within 2**53, floats that Python and
    ECMAScript both print positionally, and containers of those with ASCII keys.
    """
    t = type(o)
    if t is str or t is bool or o is None:
        return True
    if t is int:
        return -_MAX_SAFE_INT < o < _MAX_SAFE_INT
    if t is float:
        return math.isfinite(o) and 1e-4 <= abs(o) < 1e15 and not o.is_integer()
    if t is dict:
        return all(type(k) is str and k.isascii() and _fast_ok(v) for k, v in o.items())
    if t is list:
        return all(_fast_ok(v) for v in o)
    return False


def canonical(obj: Any) -> bytes:
    """RFC 8785 canonical JSON (a fast path for the common shapes, else ``rfc8785``)."""
    if _fast_ok(obj):
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return rfc8785.dumps(obj)


def chain_hash(audit_key: bytes, prev_hash: str, body: bytes) -> str:
    return hmac.new(audit_key, bytes.fromhex(prev_hash) + body, hashlib.sha256).hexdigest()


def encode_line(body: bytes, prev_hash: str, curr_hash: str) -> bytes:
    return body[:-1] + b',"curr_hash":"%s","prev_hash":"%s"}\n' % (curr_hash.encode(), prev_hash.encode())


def journal_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if _FILE_RE.match(p.name))


# -- reading ------------------------------------------------------------------


class ChainBroken(Exception):
    """The journal does not verify. ``seq`` is the first event that cannot be trusted."""

    def __init__(self, message: str, seq: int, *, torn: bool = False, file: str | None = None, offset: int = 0):
        super().__init__(message)
        self.seq = seq
        self.torn = torn  # an unterminated final line: what a crash mid-write leaves
        self.file = file
        self.offset = offset


@dataclass(slots=True)
class ChainState:
    """Where a reader (or the writer) stands: the next seq and the chain tip."""

    size: int = 0  # next seq == number of events ever appended
    last_hash: str = GENESIS_HASH
    tree: CompactRange = field(default_factory=CompactRange)
    first_seq: int = 0  # first retained seq (the anchor's size after a prune)
    file: str | None = None  # file holding the last record read
    offset: int = 0  # end of the last whole record in ``file``

    def copy(self) -> ChainState:
        return ChainState(self.size, self.last_hash, self.tree.copy(), self.first_seq, self.file, self.offset)


@dataclass(frozen=True, slots=True)
class Record:
    seq: int
    body: dict[str, Any]  # the event fields and seq, hashes removed
    body_bytes: bytes  # canonical body: HMAC input and Merkle leaf data
    curr_hash: str


def initial_state(directory: Path, verify_key: VerifyKey | KeyPin | None = None) -> ChainState:
    """The state before the first retained line: genesis, or the prune anchor."""
    path = directory / ANCHOR_FILE
    if not path.exists():
        return ChainState()
    try:
        anchor = cpmod.load(path)
    except ValueError as exc:
        raise ChainBroken(str(exc), 0) from None
    problem = cpmod.check(anchor, verify_key)
    if problem or anchor.type != cpmod.ANCHOR:
        raise ChainBroken(problem or "anchor.json is not an anchor", 0)
    return ChainState(anchor.size, anchor.last_hash, anchor.compact_range(), anchor.size)


_CURR_KEY = b',"curr_hash":"'
_PREV_KEY = b'","prev_hash":"'
_SUFFIX_LEN = len(_CURR_KEY) + 64 + len(_PREV_KEY) + 64 + 3  # ... + '"}\n'


def _parse(line: bytes, audit_key: bytes, state: ChainState) -> Record:
    """Check one line against the chain tip. The HMAC covers the body bytes as
    written (the writer writes them canonical), so a verifier need not
    re-canonicalize: any changed byte breaks the HMAC or the line's shape."""
    seq = state.size
    if (
        len(line) <= _SUFFIX_LEN + 1
        or line[:1] != b"{"
        or line[-_SUFFIX_LEN : -_SUFFIX_LEN + len(_CURR_KEY)] != _CURR_KEY
        or line[-82:-67] != _PREV_KEY
        or line[-3:] != b'"}\n'
    ):
        raise ChainBroken(f"seq {seq}: line is not in journal form (altered)", seq)
    body = line[:-_SUFFIX_LEN] + b"}"
    try:
        curr, prev = line[-146:-82].decode("ascii"), line[-67:-3].decode("ascii")
        rec = json.loads(body)
    except ValueError:
        raise ChainBroken(f"seq {seq}: line is not valid JSON", seq) from None
    if not isinstance(rec, dict):
        raise ChainBroken(f"seq {seq}: line is not a JSON object", seq)
    found = rec.get("seq")
    if type(found) is not int or found != seq:
        what = f"seq {found}" if type(found) is int else "no valid seq"
        raise ChainBroken(f"seq {seq}: found {what} (line deleted, duplicated or reordered)", seq)
    if prev != state.last_hash:
        raise ChainBroken(f"seq {seq}: prev_hash does not match the previous event", seq)
    try:
        expected = chain_hash(audit_key, prev, body)
    except ValueError:
        raise ChainBroken(f"seq {seq}: prev_hash is not hex", seq) from None
    if not hmac.compare_digest(expected, curr):
        raise ChainBroken(f"seq {seq}: curr_hash does not match (event altered, or wrong audit key)", seq)
    return Record(seq, rec, body, curr)


def scan(
    directory: Path,
    audit_key: bytes,
    state: ChainState,
    on_record: Callable[[Record, ChainState], None] | None = None,
    *,
    stop_before: str | None = None,
    before: Callable[[Record, ChainState], None] | None = None,
) -> ChainState:
    """Read and verify every line after ``state`` (which is updated in place).

    Files named ``stop_before`` or later are not read. Raises ChainBroken at
    the first problem; ``state`` then describes the last good record, so a
    torn final line can be cut at ``state.offset``. ``before`` sees each
    verified record with the state *before* it (``on_record``: after it).
    """
    files = journal_files(directory)
    if stop_before is not None:
        files = [p for p in files if p.name < stop_before]
    names = [p.name for p in files]
    if state.file is None:
        start = 0
    elif state.file in names:
        start = names.index(state.file)
    else:
        raise ChainBroken(f"journal file {state.file} vanished", state.size)
    for i in range(start, len(files)):
        name = names[i]
        offset = state.offset if state.file == name else 0
        if state.size == state.first_seq and state.file is None:
            _check_start(files[i], state)
        with open(files[i], "rb") as fh:
            fh.seek(offset)
            for line in fh:
                if not line.endswith(b"\n"):
                    last = i == len(files) - 1
                    where = "final line" if last else "line inside the journal"
                    raise ChainBroken(
                        f"seq {state.size}: unterminated {where} in {name} at byte {offset}",
                        state.size, torn=last, file=name, offset=offset,
                    )
                rec = _parse(line, audit_key, state)
                if before is not None:
                    before(rec, state)
                offset += len(line)
                state.size += 1
                state.last_hash = rec.curr_hash
                state.tree.append(leaf_hash(rec.body_bytes))
                state.file, state.offset = name, offset
                if on_record is not None:
                    on_record(rec, state)
        if state.file != name:  # an empty file: resume after it next time
            state.file, state.offset = name, 0
    return state


def _check_start(path: Path, state: ChainState) -> None:
    """A journal that starts past genesis needs an anchor that says where."""
    with open(path, "rb") as fh:
        first = fh.readline()
    if not first:
        return
    try:
        seq = json.loads(first).get("seq")
    except (ValueError, AttributeError):
        return  # _parse reports it
    if seq != state.size and state.size == 0:
        raise ChainBroken(f"journal starts at seq {seq} without an anchor (head removed)", 0)


@contextmanager
def shared_lock(directory: Path) -> Iterator[None]:
    """Hold the journal lock shared, so no writer is mid-line while we read."""
    path = directory / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


# -- verifying ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    event_count: int  # events read and verified (retained lines)
    message: str  # exactly CHAIN_OK when ok
    first_bad_seq: int | None = None
    size: int = 0  # total events ever appended (pruned ones included)
    last_hash: str = ""
    merkle_root: str = ""  # RFC 6962 root over all ``size`` events, hex
    checked: tuple[str, ...] = ()  # the signed checkpoints (files) the journal was compared with
    notes: tuple[str, ...] = ()  # PHI-free remarks: accepted truncations, skipped checkpoints


def verify_journal(
    directory: Path,
    audit_key: bytes,
    *,
    checkpoint: Path | None = None,
    verify_key: VerifyKey | KeyPin | None = None,
    checkpoint_dirs: Sequence[Path] = (),
) -> VerifyResult:
    """Verify the chain, and against signed checkpoints that nothing was cut,
    rolled back or re-sealed up to their size.

    ``checkpoint``: one trusted checkpoint (``.json`` or C2SP ``.note``);
    else the newest of each epoch in ``checkpoint_dirs`` (the local
    checkpoint directory, witness directories). ``verify_key``: the pinned
    key (or a ``KeyPin``); the journal's signed key-rotation events extend
    it. Without one, checkpoints are checked with the key the journal pins
    or the one they embed, which proves integrity, not authorship.
    """
    from .integrity import JournalIntegrityError, examine

    directory = Path(directory)
    try:
        if checkpoint is not None:
            heads, explicit = [cpmod.read_head(Path(checkpoint))], True
        else:
            heads, explicit = [h for d in checkpoint_dirs for h in cpmod.newest_heads(Path(d))], False
    except ValueError as exc:
        return VerifyResult(False, 0, str(exc), 0)
    with shared_lock(directory):
        try:
            verdict = examine(directory, audit_key, KeyPin.of(verify_key), heads, explicit=explicit)
        except JournalIntegrityError as exc:
            st = exc.state
            extra: dict[str, Any] = dict(size=st.size, last_hash=st.last_hash, merkle_root=st.tree.root().hex()) if st else {}
            count = st.size - st.first_seq if st else 0
            return VerifyResult(False, count, str(exc), exc.seq, **extra)
    st = verdict.state
    return VerifyResult(
        True, st.size - st.first_seq, CHAIN_OK, None, st.size, st.last_hash, st.tree.root().hex(),
        tuple(str(h.path) for h in verdict.checked), tuple(verdict.notes),
    )


@dataclass(frozen=True, slots=True)
class EventProof:
    """RFC 6962 inclusion proof of one event in the journal's tree of ``size`` events."""

    seq: int
    size: int
    leaf_hash: str  # hex SHA-256(0x00 || body)
    proof: tuple[str, ...]  # hex, leaf to root
    root: str  # hex; compare with a trusted checkpoint's merkle_root of the same size

    def verify(self, expected_root: str | None = None) -> bool:
        return verify_inclusion(
            bytes.fromhex(self.leaf_hash), self.seq, self.size, [bytes.fromhex(p) for p in self.proof],
            bytes.fromhex(expected_root or self.root),
        )


def event_proof(directory: Path, audit_key: bytes, seq: int, size: int | None = None) -> EventProof:
    """Prove that event ``seq`` is in the first ``size`` events (default: all).

    Reads and verifies the journal; needs every leaf from seq 0, so it raises
    ValueError on a pruned journal (prove against the anchor's era instead).
    """
    directory = Path(directory)
    leaves: list[bytes] = []
    with shared_lock(directory):
        try:
            state = initial_state(directory)
            if state.first_seq:
                raise ValueError("the journal was pruned; proofs need every event from seq 0")
            scan(directory, audit_key, state, lambda rec, _st: leaves.append(leaf_hash(rec.body_bytes)))
        except ChainBroken as exc:
            raise ValueError(f"journal does not verify: {exc}") from None
    size = len(leaves) if size is None else size
    if not 0 <= seq < size <= len(leaves):
        raise ValueError(f"no event {seq} in a tree of {size} events")
    tree = leaves[:size]
    return EventProof(
        seq, size, tree[seq].hex(), tuple(p.hex() for p in inclusion_proof(tree, seq)), merkle_root(tree).hex()
    )
