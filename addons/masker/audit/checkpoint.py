"""Signed checkpoints: an Ed25519 signature over ``{size, last_hash, merkle_root}``.

A hash chain alone cannot show that its tail was cut, that an older copy was
put back, or that a key holder re-sealed a forged tail. A checkpoint kept
where the journal host cannot rewrite it can: a verifier that trusts one
rejects a journal shorter than ``size``, or one whose event ``size - 1`` does
not end in ``last_hash``, or whose first ``size`` events do not hash to
``merkle_root``.

The signed body also carries ``range``, the compact Merkle range of the first
``size`` leaves (at most 64 hashes): an ``anchor`` checkpoint written at a
retention cut lets a pruned journal still prove the root of its whole history.

Since the journal pins its key and origin (``journal_opened``), a checkpoint
also names the log ``origin`` and its ``epoch`` (0 until an operator accepts a
truncation, ``journal_truncated``, which starts the next epoch) and the
journal's ``replica`` id; all are left out of the signed body when empty/0, so older checkpoints verify unchanged.
Next to each JSON checkpoint the journal writes the same tree head as a C2SP
tlog-checkpoint note (``.note``, see ``masker.audit.note``).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import rfc8785
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from . import note as notemod
from .keys import KeyPin, fingerprint
from .merkle import CompactRange

CHECKPOINT = "checkpoint"
ANCHOR = "anchor"
_VERSION = 1


@dataclass(frozen=True, slots=True)
class Checkpoint:
    type: str  # CHECKPOINT or ANCHOR
    size: int
    last_hash: str  # hex, curr_hash of event size-1 (the chain genesis when size == 0)
    merkle_root: str  # hex, RFC 6962 root of events [0, size)
    range: tuple[str, ...]  # hex compact range of events [0, size)
    ts: str
    public_key: str  # hex of the raw Ed25519 public key
    signature: str  # hex
    origin: str = ""  # the log's origin (base, without the epoch suffix); "" in older checkpoints
    epoch: int = 0
    replica: str = ""  # the replica id of the journal (MASKER_REPLICA_ID); "" in older checkpoints

    def body(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "v": _VERSION,
            "type": self.type,
            "size": self.size,
            "last_hash": self.last_hash,
            "merkle_root": self.merkle_root,
            "range": list(self.range),
            "ts": self.ts,
        }
        if self.origin:
            doc["origin"] = self.origin
        if self.epoch:
            doc["epoch"] = self.epoch
        if self.replica:
            doc["replica"] = self.replica
        return doc

    def signed_bytes(self) -> bytes:
        return rfc8785.dumps(self.body())

    def compact_range(self) -> CompactRange:
        return CompactRange(self.size, [bytes.fromhex(h) for h in self.range])

    def to_json(self) -> dict[str, object]:
        doc = self.body()
        doc["public_key"] = self.public_key
        doc["fingerprint"] = fingerprint(VerifyKey(bytes.fromhex(self.public_key)))
        doc["signature"] = self.signature
        return doc


def sign(
    signing_key: SigningKey, type_: str, last_hash: str, tree: CompactRange, ts: str, *, origin: str = "", epoch: int = 0,
    replica: str = "",
) -> Checkpoint:
    unsigned = Checkpoint(
        type=type_,
        size=tree.size,
        last_hash=last_hash,
        merkle_root=tree.root().hex(),
        range=tuple(h.hex() for h in tree.hashes),
        ts=ts,
        public_key=bytes(signing_key.verify_key).hex(),
        signature="",
        origin=origin,
        epoch=epoch,
        replica=replica,
    )
    sig = signing_key.sign(unsigned.signed_bytes()).signature
    return replace(unsigned, signature=sig.hex())


def check(cp: Checkpoint, verify_key: VerifyKey | KeyPin | None) -> str | None:
    """Why ``cp`` is not to be trusted, or None.

    ``verify_key``: the pinned key, or a ``KeyPin`` (keys or fingerprints).
    Without one the embedded public key is used, which proves integrity but
    not who signed: pin the key to prove authorship.
    """
    pin = KeyPin.of(verify_key)
    try:
        key = VerifyKey(bytes.fromhex(cp.public_key))
        if pin is not None and not pin.accepts(key):
            return f"{cp.type} at size {cp.size} is signed by another key ({fingerprint(key)}; trusted: {pin.describe()})"
        key.verify(cp.signed_bytes(), bytes.fromhex(cp.signature))
    except (BadSignatureError, ValueError):
        return f"{cp.type} at size {cp.size} has a bad signature"
    try:
        tree = cp.compact_range()
    except ValueError:
        return f"{cp.type} at size {cp.size} has a malformed range"
    if tree.root().hex() != cp.merkle_root:
        return f"{cp.type} at size {cp.size}: range does not match merkle_root"
    return None


def load(path: Path) -> Checkpoint:
    """Parse a checkpoint file; raises ValueError on any malformed field."""
    try:
        doc = json.loads(Path(path).read_bytes())
        cp = Checkpoint(
            type=str(doc["type"]),
            size=int(doc["size"]),
            last_hash=str(doc["last_hash"]),
            merkle_root=str(doc["merkle_root"]),
            range=tuple(str(h) for h in doc["range"]),
            ts=str(doc["ts"]),
            public_key=str(doc["public_key"]),
            signature=str(doc["signature"]),
            origin=str(doc.get("origin", "")),
            epoch=int(doc.get("epoch", 0)),
            replica=str(doc.get("replica", "")),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"unreadable checkpoint {Path(path).name}: {type(exc).__name__}") from None
    if doc.get("v") != _VERSION or cp.type not in (CHECKPOINT, ANCHOR) or cp.size < 0 or cp.epoch < 0:
        raise ValueError(f"unsupported checkpoint {Path(path).name}")
    return cp


def write_synced(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (created or truncated) and fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write, fsync, rename, fsync the directory: the file is whole or absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write_synced(tmp, data)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save(cp: Checkpoint, path: Path) -> Path:
    write_atomic(path, json.dumps(cp.to_json(), indent=2, sort_keys=True).encode("ascii") + b"\n")
    return path


def file_name(cp: Checkpoint, suffix: str = ".json") -> str:
    """``checkpoint-<size:012d>.json`` (epoch 0) or ``checkpoint-<size:012d>-e<epoch>.json``."""
    return f"{cp.type}-{cp.size:012d}{f'-e{cp.epoch}' if cp.epoch else ''}{suffix}"


_NAME_RE = re.compile(r"^checkpoint-(\d{12,})(?:-e([1-9]\d*))?\.(json|note)$")


def parse_name(name: str) -> tuple[int, int, str] | None:
    """(size, epoch, "json"|"note") of a checkpoint file name, or None."""
    m = _NAME_RE.match(name)
    return (int(m[1]), int(m[2] or 0), m[3]) if m else None


def latest(directory: Path) -> Path | None:
    """The JSON checkpoint of the newest epoch with the largest size in ``directory``, if any."""
    if not directory.is_dir():
        return None
    found = [(parsed[1], parsed[0], p) for p in directory.iterdir()
             if (parsed := parse_name(p.name)) is not None and parsed[2] == "json"]
    return max(found)[2] if found else None


# -- the same tree head as a C2SP checkpoint note -------------------------------------


def epoch_origin(origin: str, epoch: int) -> str:
    """The origin line of an epoch: a log whose history was cut is a new log (tlog-checkpoint)."""
    return origin if epoch == 0 else f"{origin}/epoch-{epoch}"


def split_origin(line: str) -> tuple[str, int]:
    """(base origin, epoch) of an origin line."""
    base, sep, tail = line.rpartition("/epoch-")
    if sep and tail.isdigit() and not tail.startswith("0") and base:
        return base, int(tail)
    return line, 0


def sign_note(signing_key: SigningKey, origin: str, epoch: int, size: int, merkle_root_hex: str) -> str:
    """The C2SP tlog-checkpoint note; key name = origin line."""
    return notemod.sign_checkpoint(signing_key, epoch_origin(origin, epoch), size, bytes.fromhex(merkle_root_hex))


@dataclass(frozen=True, slots=True)
class SignedHead:
    """A tree head {size, root} someone signed: a JSON checkpoint or a note, read from ``path``."""

    path: Path
    size: int
    epoch: int
    merkle_root: str  # hex
    last_hash: str | None  # JSON checkpoints only
    origin: str  # base origin ("" for an older JSON checkpoint)
    kind: str  # "json" or "note"
    public_key: bytes | None  # JSON: the embedded key; note: the key that verified (after ``verify``)
    checkpoint: Checkpoint | None = None
    note_text: str | None = None

    @property
    def name(self) -> str:
        return self.path.name

    def verify(self, pin: KeyPin, keys: set[bytes]) -> tuple[SignedHead | None, str | None]:
        """(the head with its signer, None) if a trusted key signed it, else (None, why).

        ``keys``: raw public keys to try on a note (a note names its key only by
        a 4-byte ID); each must also be accepted by ``pin``.
        """
        if self.checkpoint is not None:
            problem = check(self.checkpoint, pin)
            return (None, f"{self.name}: {problem}") if problem else (self, None)
        assert self.note_text is not None
        line = epoch_origin(self.origin, self.epoch)
        candidates = [(line, k) for k in keys if pin.accepts(k)]
        try:
            head, good = notemod.open_checkpoint(self.note_text, candidates)
        except notemod.NoteError as exc:
            return None, f"{self.name}: {exc} (trusted: {pin.describe()})"
        if head.size != self.size or head.root.hex() != self.merkle_root:
            return None, f"{self.name}: note changed while read"
        return replace(self, public_key=good[0]), None


def read_head(path: Path) -> SignedHead:
    """Parse (not verify) a ``.json`` checkpoint or a ``.note``; ValueError if malformed."""
    path = Path(path)
    if path.suffix == ".note":
        try:
            data = path.read_bytes()
            text, _ = notemod.split(data)
            head = notemod.parse_checkpoint(text)
        except (OSError, notemod.NoteError) as exc:
            raise ValueError(f"unreadable checkpoint note {path.name}: {exc}") from None
        base, epoch = split_origin(head.origin)
        return SignedHead(path, head.size, epoch, head.root.hex(), None, base, "note", None,
                          note_text=data.decode("utf-8"))
    cp = load(path)
    return SignedHead(path, cp.size, cp.epoch, cp.merkle_root, cp.last_hash, cp.origin, "json",
                      bytes.fromhex(cp.public_key) if _is_hex(cp.public_key, 32) else None, checkpoint=cp)


def _is_hex(s: str, n: int) -> bool:
    return len(s) == 2 * n and all(c in "0123456789abcdefABCDEF" for c in s)


def all_heads(directory: Path) -> list[SignedHead]:
    """Every checkpoint file (``.json`` and ``.note``) in ``directory`` (for rare, thorough checks)."""
    if not Path(directory).is_dir():
        return []
    heads = []
    for p in sorted(Path(directory).iterdir()):
        parsed = parse_name(p.name)
        if parsed is None:
            continue
        head = read_head(p)
        if (head.size, head.epoch) != parsed[:2]:
            raise ValueError(f"checkpoint {p.name} does not hold the size and epoch its name says")
        heads.append(head)
    return heads


def newest_heads(directory: Path) -> list[SignedHead]:
    """Per epoch, the checkpoint files (``.json`` and ``.note``) of the largest size in ``directory``.

    Raises ValueError for a malformed one: checkpoints are written atomically,
    so a damaged newest file is tampering, not an accident.
    """
    if not Path(directory).is_dir():
        return []
    best: dict[int, tuple[int, list[Path]]] = {}
    for p in Path(directory).iterdir():
        parsed = parse_name(p.name)
        if parsed is None:
            continue
        size, epoch, _ = parsed
        cur = best.get(epoch)
        if cur is None or size > cur[0]:
            best[epoch] = (size, [p])
        elif size == cur[0]:
            cur[1].append(p)
    heads = []
    for epoch in sorted(best):
        size, paths = best[epoch]
        for p in sorted(paths):
            head = read_head(p)
            if head.size != size or head.epoch != epoch:
                raise ValueError(f"checkpoint {p.name} does not hold the size and epoch its name says")
            heads.append(head)
    return heads
