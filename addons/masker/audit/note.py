"""C2SP signed notes and transparency-log checkpoints (c2sp.org/signed-note,
c2sp.org/tlog-checkpoint), so that standard tools can check Masker's
checkpoints: Go's ``golang.org/x/mod/sumdb/note``, transparency-dev's
``formats/log`` (Tessera, the witness network), Rekor-style verifiers.

A checkpoint note::

    masker.local/audit/0123456789abcdef        <- origin
    1000                                      <- tree size, decimal
    3q2+7w...=                                <- base64 RFC 6962 root
                                              <- blank line
    — masker.local/audit/0123456789abcdef AAAAAB...=

The signature line is em dash, space, key name, space, base64(key ID ||
Ed25519 signature over the note text). The note text is everything before
the blank line, its final newline included. The key ID is
``SHA-256(key name || 0x0A || 0x01 || public key)[:4]``; the verifier key
string is ``<name>+<key ID hex>+<base64(0x01 || public key)>``. The log's
key name is its origin (tlog-checkpoint: it SHOULD match the origin line).
Unknown signature lines (witness cosignatures, other keys) are ignored, as
the spec requires.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

EM_DASH = "\u2014"
ALG_ED25519 = 0x01
MAX_NOTE_BYTES = 64 * 1024
_SIG_PREFIX = EM_DASH + " "


class NoteError(ValueError):
    """A note that is malformed, or that no trusted key signed."""


def key_id(name: str, public: bytes) -> bytes:
    """The 4-byte key ID of an Ed25519 key (signed-note, "Ed25519 signatures")."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([ALG_ED25519]) + bytes(public)).digest()[:4]


def verifier_key(name: str, public: VerifyKey | bytes) -> str:
    """``<name>+<key ID hex>+<base64(0x01 || key)>``: what ``note.NewVerifier`` takes."""
    raw = bytes(public)
    _check_name(name)
    return f"{name}+{key_id(name, raw).hex()}+{base64.b64encode(bytes([ALG_ED25519]) + raw).decode('ascii')}"


def parse_verifier_key(vkey: str) -> tuple[str, bytes]:
    """(name, raw Ed25519 public key) of a verifier key string; NoteError if malformed."""
    name, sep1, rest = vkey.strip().partition("+")
    hash_hex, sep2, b64 = rest.partition("+")
    try:
        data = base64.b64decode(b64, validate=True)
        kid = bytes.fromhex(hash_hex)
    except (binascii.Error, ValueError):
        raise NoteError("verifier key is not name+hash+base64") from None
    if not sep1 or not sep2 or len(data) != 33 or data[0] != ALG_ED25519 or len(kid) != 4:
        raise NoteError("verifier key is not an Ed25519 name+hash+base64 key")
    _check_name(name)
    if key_id(name, data[1:]) != kid:
        raise NoteError("verifier key hash does not match its name and key")
    return name, data[1:]


def _check_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() for c in name):
        raise NoteError("a key name must be non-empty, without spaces or '+'")


def sign(text: str, name: str, signing_key: SigningKey) -> str:
    """The signed note: ``text`` (ending in a newline), a blank line, one signature line."""
    _check_text(text)
    _check_name(name)
    sig = signing_key.sign(text.encode("utf-8")).signature
    blob = base64.b64encode(key_id(name, bytes(signing_key.verify_key)) + sig).decode("ascii")
    return f"{text}\n{_SIG_PREFIX}{name} {blob}\n"


@dataclass(frozen=True, slots=True)
class Signature:
    name: str
    key_id: bytes
    sig: bytes


def split(note: str | bytes) -> tuple[str, list[Signature]]:
    """The note text and its signature lines (unverified); NoteError if malformed."""
    if isinstance(note, bytes):
        if len(note) > MAX_NOTE_BYTES:
            raise NoteError("note too large")
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError("note is not UTF-8") from None
    if len(note) > MAX_NOTE_BYTES:
        raise NoteError("note too large")
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise NoteError("note holds control characters")
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NoteError("note has no signature block")
    text, block = note[: cut + 1], note[cut + 2 :]
    sigs = []
    for line in block.split("\n")[:-1]:
        if not line.startswith(_SIG_PREFIX):
            raise NoteError("malformed signature line")
        name, _, b64 = line[len(_SIG_PREFIX) :].rpartition(" ")
        try:
            raw = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise NoteError("signature is not base64") from None
        if not name or len(raw) < 5:
            raise NoteError("malformed signature line")
        sigs.append(Signature(name, raw[:4], raw[4:]))
    if not sigs:
        raise NoteError("note has no signature")
    return text, sigs


def open_note(note: str | bytes, keys: Iterable[tuple[str, bytes]]) -> tuple[str, list[bytes]]:
    """Verify ``note`` against known (name, public key) pairs.

    Returns the text and the public keys whose signatures verified. Lines of
    unknown keys are ignored; a known key's bad signature rejects the note;
    so does a note that no known key signed.
    """
    text, sigs = split(note)
    known = {(name, key_id(name, pub)): pub for name, pub in keys}
    good: list[bytes] = []
    for s in sigs:
        pub = known.get((s.name, s.key_id))
        if pub is None:
            continue
        try:
            VerifyKey(pub).verify(text.encode("utf-8"), s.sig)
        except (BadSignatureError, ValueError):
            raise NoteError(f"signature by {s.name} does not verify") from None
        good.append(pub)
    if not good:
        raise NoteError("no signature by a trusted key")
    return text, good


def _check_text(text: str) -> None:
    if not text.endswith("\n") or any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("note text must end in a newline and hold no control characters")


# -- tlog-checkpoint -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TreeHead:
    origin: str
    size: int
    root: bytes  # RFC 6962 root hash, 32 bytes
    extensions: tuple[str, ...] = ()


def checkpoint_text(origin: str, size: int, root: bytes, extensions: Iterable[str] = ()) -> str:
    ext = tuple(extensions)
    if not origin or "\n" in origin or any(not e or "\n" in e for e in ext):
        raise NoteError("origin and extension lines must be non-empty single lines")
    if size < 0 or len(root) != 32:
        raise NoteError("a checkpoint needs a size >= 0 and a 32-byte root")
    lines = [origin, str(size), base64.b64encode(root).decode("ascii"), *ext]
    return "\n".join(lines) + "\n"


def parse_checkpoint(text: str) -> TreeHead:
    """The tree head in a checkpoint note text; NoteError if it is not one."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or any(not x for x in lines[:-1]):
        raise NoteError("checkpoint text is not at least three non-empty lines")
    origin, size_s, root_s, *ext = lines[:-1]
    if not size_s.isascii() or not size_s.isdigit() or (size_s != "0" and size_s.startswith("0")):
        raise NoteError("checkpoint tree size is not a decimal without leading zeros")
    try:
        root = base64.b64decode(root_s, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError("checkpoint root hash is not base64") from None
    if len(root) != 32:
        raise NoteError("checkpoint root hash is not 32 bytes")
    return TreeHead(origin, int(size_s), root, tuple(ext))


def sign_checkpoint(signing_key: SigningKey, origin: str, size: int, root: bytes, *, name: str | None = None) -> str:
    """A signed tlog-checkpoint note; the key name defaults to the origin."""
    return sign(checkpoint_text(origin, size, root), name or origin, signing_key)


def open_checkpoint(note: str | bytes, keys: Iterable[tuple[str, bytes]]) -> tuple[TreeHead, list[bytes]]:
    text, good = open_note(note, keys)
    return parse_checkpoint(text), good
