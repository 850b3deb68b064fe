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
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import rfc8785
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from .keys import fingerprint
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

    def body(self) -> dict[str, object]:
        return {
            "v": _VERSION,
            "type": self.type,
            "size": self.size,
            "last_hash": self.last_hash,
            "merkle_root": self.merkle_root,
            "range": list(self.range),
            "ts": self.ts,
        }

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


def sign(signing_key: SigningKey, type_: str, last_hash: str, tree: CompactRange, ts: str) -> Checkpoint:
    unsigned = Checkpoint(
        type=type_,
        size=tree.size,
        last_hash=last_hash,
        merkle_root=tree.root().hex(),
        range=tuple(h.hex() for h in tree.hashes),
        ts=ts,
        public_key=bytes(signing_key.verify_key).hex(),
        signature="",
    )
    sig = signing_key.sign(unsigned.signed_bytes()).signature
    return replace(unsigned, signature=sig.hex())


def check(cp: Checkpoint, verify_key: VerifyKey | None) -> str | None:
    """Why ``cp`` is not to be trusted, or None.

    Without ``verify_key`` the embedded public key is used, which proves
    integrity but not who signed: pin the key to prove authorship.
    """
    try:
        key = verify_key if verify_key is not None else VerifyKey(bytes.fromhex(cp.public_key))
        if verify_key is not None and bytes(verify_key).hex() != cp.public_key:
            return f"{cp.type} at size {cp.size} is signed by another key"
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
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"unreadable checkpoint {Path(path).name}: {type(exc).__name__}") from None
    if doc.get("v") != _VERSION or cp.type not in (CHECKPOINT, ANCHOR) or cp.size < 0:
        raise ValueError(f"unsupported checkpoint {Path(path).name}")
    return cp


def write_atomic(path: Path, data: bytes) -> None:
    """Write, fsync, rename, fsync the directory: the file is whole or absent."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
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


def file_name(cp: Checkpoint) -> str:
    return f"{cp.type}-{cp.size:012d}.json"


def latest(directory: Path) -> Path | None:
    """The checkpoint file with the largest size in ``directory``, if any."""
    if not directory.is_dir():
        return None
    found = sorted(directory.glob(f"{CHECKPOINT}-*.json"))
    return found[-1] if found else None
