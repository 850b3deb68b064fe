"""Checking a journal against what was signed about it: the key it pins,
its accepted truncations, and the newest signed checkpoints (local and
witness copies).

A hash chain cannot see its own tail cut off or an older copy put back; a
signed checkpoint kept elsewhere can. ``examine`` reads and verifies the
whole journal once and then requires, for the newest trusted checkpoint of
the journal's current epoch in each place it was kept, that the journal holds
at least that many events and has the same Merkle root (and last hash) at
that size. The sidecar runs it on every start (``masker.audit.journal``),
``masker audit verify`` runs it on demand.

The journal's own signed events:

* ``journal_opened`` (the first event of a new journal, or the first a pinning
  writer adds to an older one): pins the Ed25519 signing key and the log
  origin. Signed by that key.
* ``signing_key_rotated``: moves the pin to a new key; signed by the previous
  key (it endorses the new one) and by the new key (it accepts the history).
* ``journal_truncated``: an operator accepted a loss (``masker audit
  accept-truncation``): which checkpoint the journal fell short of, the lost
  seq range, where the chain resumed. Signed by the pinned key. It starts the
  next epoch: checkpoints of earlier epochs no longer bind, new ones carry
  the epoch (the note's origin line becomes ``<origin>/epoch-<n>``).

Every message here is PHI-free: seqs, sizes, hashes, file names, key
fingerprints.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rfc8785
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from . import checkpoint as cpmod
from .events import JOURNAL_OPENED, JOURNAL_TRUNCATED, SIGNING_KEY_ROTATED, Event, utc_now
from .keys import KeyPin, fingerprint
from .verify import ANCHOR_FILE, ChainBroken, ChainState, Record, initial_state, scan

OPENED_TYPE = "masker-journal-opened/v1"
ROTATION_TYPE = "masker-signing-key-rotation/v1"
TRUNCATION_TYPE = "masker-truncation-accepted/v1"
ACCEPT_HINT = (
    "restore the journal and checkpoints from a backup; or, if the loss is known and accepted, run "
    "`masker audit accept-truncation --checkpoint {path} --yes` (journals a signed journal_truncated event)"
)


class JournalIntegrityError(Exception):
    """The journal does not match what was signed about it: the sidecar must not start.

    ``seq``: the first seq that cannot be trusted (None when not about a seq).
    ``state``: where the verified part of the journal ends, when known.
    """

    def __init__(self, message: str, seq: int | None = None, state: ChainState | None = None) -> None:
        super().__init__(message)
        self.seq = seq
        self.state = state


class JournalBroken(JournalIntegrityError):
    """The HMAC chain itself does not verify (a line altered, deleted, reordered), or a signed event is invalid."""


class JournalTruncated(JournalIntegrityError):
    """The journal is shorter than a trusted checkpoint: its tail was cut, or an older copy was put back."""


class JournalRewritten(JournalIntegrityError):
    """The journal differs from a trusted checkpoint at its size: history rewritten and re-sealed."""


class UntrustedCheckpoint(JournalIntegrityError):
    """A checkpoint (local or witness copy) is malformed, not signed by a trusted key, or of another log."""


class SigningKeyMismatch(JournalIntegrityError):
    """The journal is pinned to another signing key, and no signed rotation links the two."""


# -- signed statements ----------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        return b""


def _sign(sk: SigningKey, statement: dict[str, Any]) -> str:
    return _b64(sk.sign(rfc8785.dumps(statement)).signature)


def _verifies(public: bytes, statement: Any, sig: Any) -> bool:
    try:
        VerifyKey(public).verify(rfc8785.dumps(statement), _unb64(sig))
        return True
    except (BadSignatureError, ValueError, TypeError, rfc8785.CanonicalizationError):
        return False


def opened_event(sk: SigningKey, origin: str) -> Event:
    pub = bytes(sk.verify_key)
    statement = {"type": OPENED_TYPE, "origin": origin, "public_key_b64": _b64(pub)}
    return Event(
        kind=JOURNAL_OPENED,
        reason="signing key and log origin pinned",
        detail={"statement": statement, "key_fingerprint": fingerprint(pub), "sig": _sign(sk, statement)},
    )


def rotation_event(previous: SigningKey, new: SigningKey, origin: str) -> Event:
    old_pub, new_pub = bytes(previous.verify_key), bytes(new.verify_key)
    statement = {
        "type": ROTATION_TYPE, "origin": origin,
        "previous_public_key_b64": _b64(old_pub), "new_public_key_b64": _b64(new_pub),
    }
    return Event(
        kind=SIGNING_KEY_ROTATED,
        reason="checkpoint and report signing key rotated",
        detail={
            "statement": statement,
            "previous_fingerprint": fingerprint(old_pub),
            "new_fingerprint": fingerprint(new_pub),
            "previous_sig": _sign(previous, statement),
            "new_sig": _sign(new, statement),
        },
    )


def truncation_event(sk: SigningKey, statement: dict[str, Any]) -> Event:
    statement = {"type": TRUNCATION_TYPE, **statement}
    pub = bytes(sk.verify_key)
    return Event(
        kind=JOURNAL_TRUNCATED,
        reason="an operator accepted the loss of journal events",
        detail={"statement": statement, "public_key_b64": _b64(pub), "key_fingerprint": fingerprint(pub),
                "sig": _sign(sk, statement)},
    )


# -- reading the journal's signed history -----------------------------------------------


@dataclass(frozen=True, slots=True)
class Truncation:
    """A valid ``journal_truncated`` event."""

    seq: int
    epoch: int
    statement: dict[str, Any]
    public_key: bytes

    @property
    def lost_from(self) -> int:
        return int(self.statement["lost"]["from_seq"])

    @property
    def lost_to(self) -> int:
        return int(self.statement["lost"]["to_seq"])

    def summary(self) -> str:
        cp = self.statement.get("checkpoint", {})
        return (
            f"truncation accepted at seq {self.seq} (epoch {self.epoch}): seq {self.lost_from}..{self.lost_to} lost "
            f"(at least {self.statement['lost']['events_at_least']} events, short of {cp.get('file', '?')} "
            f"of size {cp.get('size', '?')})"
        )


@dataclass
class History:
    """What the journal says about its own keys and epochs, collected during the scan."""

    targets: set[int]
    keys: list[bytes] = field(default_factory=list)  # the pin chain, oldest first
    key_seqs: list[int] = field(default_factory=list)
    origin: str | None = None
    truncations: list[Truncation] = field(default_factory=list)
    at: dict[int, tuple[str, str]] = field(default_factory=dict)  # size -> (last_hash, merkle_root hex)
    unpinned_signers: list[tuple[int, bytes]] = field(default_factory=list)  # signed before any pin

    def start(self, state: ChainState) -> None:
        if state.size in self.targets:
            self.at[state.size] = (state.last_hash, state.tree.root().hex())

    def after(self, _rec: Record, state: ChainState) -> None:
        if state.size in self.targets:
            self.at[state.size] = (state.last_hash, state.tree.root().hex())

    def before(self, rec: Record, state: ChainState) -> None:
        kind = rec.body.get("kind")
        if kind == JOURNAL_OPENED:
            self._opened(rec)
        elif kind == SIGNING_KEY_ROTATED:
            self._rotated(rec)
        elif kind == JOURNAL_TRUNCATED:
            self._truncated(rec, state)

    def _bad(self, rec: Record, why: str) -> JournalBroken:
        return JournalBroken(f"seq {rec.seq}: {rec.body.get('kind')} event {why}", rec.seq)

    def _detail(self, rec: Record) -> dict[str, Any]:
        d = rec.body.get("detail")
        if not isinstance(d, dict) or not isinstance(d.get("statement"), dict):
            raise self._bad(rec, "has no signed statement")
        return d

    def _opened(self, rec: Record) -> None:
        d = self._detail(rec)
        st = d["statement"]
        pub = _unb64(st.get("public_key_b64"))
        if st.get("type") != OPENED_TYPE or len(pub) != 32 or not isinstance(st.get("origin"), str):
            raise self._bad(rec, "is malformed")
        if not _verifies(pub, st, d.get("sig")):
            raise self._bad(rec, "signature does not verify")
        if self.keys:
            raise self._bad(rec, "repeats: the journal was already pinned")
        self.keys.append(pub)
        self.key_seqs.append(rec.seq)
        self.origin = st["origin"]

    def _rotated(self, rec: Record) -> None:
        d = self._detail(rec)
        st = d["statement"]
        old, new = _unb64(st.get("previous_public_key_b64")), _unb64(st.get("new_public_key_b64"))
        if st.get("type") != ROTATION_TYPE or len(old) != 32 or len(new) != 32:
            raise self._bad(rec, "is malformed")
        if not self.keys or old != self.keys[-1]:
            raise self._bad(rec, "does not start from the key the journal is pinned to")
        if st.get("origin") != self.origin:
            raise self._bad(rec, "names another log origin")
        if not _verifies(old, st, d.get("previous_sig")) or not _verifies(new, st, d.get("new_sig")):
            raise self._bad(rec, "signatures do not verify")
        self.keys.append(new)
        self.key_seqs.append(rec.seq)

    def _truncated(self, rec: Record, state: ChainState) -> None:
        d = self._detail(rec)
        st = d["statement"]
        pub = _unb64(d.get("public_key_b64"))
        try:
            epoch = int(st["epoch"])
            resumed, lost = st["resumed"], st["lost"]
            ok_shape = (
                st.get("type") == TRUNCATION_TYPE and len(pub) == 32
                and isinstance(resumed, dict) and isinstance(lost, dict)
                and int(lost["from_seq"]) <= int(lost["to_seq"])
            )
        except (KeyError, TypeError, ValueError):
            ok_shape = False
        if not ok_shape:
            raise self._bad(rec, "is malformed")
        if not _verifies(pub, st, d.get("sig")):
            raise self._bad(rec, "signature does not verify")
        if self.keys and pub != self.keys[-1]:
            raise self._bad(rec, "is signed by a key the journal is not pinned to")
        if epoch != len(self.truncations) + 1:
            raise self._bad(rec, f"starts epoch {epoch}, expected {len(self.truncations) + 1}")
        if self.origin is not None and st.get("origin") != self.origin:
            raise self._bad(rec, "names another log origin")
        if (
            resumed.get("size") != rec.seq or resumed.get("last_hash") != state.last_hash
            or resumed.get("merkle_root") != state.tree.root().hex()
        ):
            raise self._bad(rec, "does not describe the journal it resumes (moved or re-sealed)")
        if not self.keys:
            self.unpinned_signers.append((rec.seq, pub))
        self.truncations.append(Truncation(rec.seq, epoch, st, pub))


# -- the verdict ------------------------------------------------------------------------


@dataclass
class Verdict:
    state: ChainState  # after the last whole, verified event
    history: History
    trusted: KeyPin | None  # the pin extended by the journal's key chain
    epoch: int
    origin: str | None
    checked: list[cpmod.SignedHead] = field(default_factory=list)  # heads the journal matched
    beyond: list[cpmod.SignedHead] = field(default_factory=list)  # current-epoch heads past the end (tolerated)
    notes: list[str] = field(default_factory=list)
    torn: ChainBroken | None = None  # an unterminated final line after ``state`` (allow_torn)


def examine(
    directory: Path,
    audit_key: bytes,
    pin: KeyPin | None,
    heads: list[cpmod.SignedHead],
    *,
    explicit: bool = False,
    allow_torn: bool = False,
    tolerate_truncation: bool = False,
    expected_origin: str | None = None,
) -> Verdict:
    """Verify the journal, its signed history, and ``heads`` against it; raise JournalIntegrityError.

    ``explicit``: the heads were named by the caller (a checkpoint of an
    earlier epoch is then reported, and one older than a retention cut fails).
    ``allow_torn``: an unterminated final line is not an error by itself
    (only one the heads cover is). ``tolerate_truncation``: heads past the
    journal's end are returned in ``beyond`` instead of raising (accepting a
    loss). Call it holding the journal lock (shared or exclusive).
    """
    directory = Path(directory)
    try:
        state = initial_state(directory, None)
    except ChainBroken as exc:
        raise UntrustedCheckpoint(f"{ANCHOR_FILE}: {exc}", exc.seq) from None
    history = History({h.size for h in heads})
    history.start(state)
    torn = None
    try:
        scan(directory, audit_key, state, history.after, before=history.before)
    except ChainBroken as exc:
        if not (exc.torn and allow_torn):
            raise JournalBroken(str(exc), exc.seq, state) from None
        torn = exc
    except JournalIntegrityError as exc:
        exc.state = state
        raise

    # Whom to trust: the pin, extended along the journal's signed key chain.
    trusted = pin
    if history.keys:
        if pin is None:
            trusted = KeyPin(history.keys)
        elif any(pin.accepts(k) for k in history.keys):
            trusted = pin.extended(history.keys)
        else:
            raise SigningKeyMismatch(
                f"the journal is pinned to another key ({fingerprint(history.keys[-1])}, since seq "
                f"{history.key_seqs[-1]}), not to the trusted {pin.describe()}; a changed signing key needs a "
                "signed rotation (start once with the previous key in MASKER_SIGNING_KEY_OLD)", None, state)
    if trusted is not None:
        for seq, pub in history.unpinned_signers:
            if not trusted.accepts(pub):
                raise UntrustedCheckpoint(f"seq {seq}: journal_truncated is signed by an untrusted key "
                                          f"({fingerprint(pub)})", seq, state)
    anchor = directory / ANCHOR_FILE
    if state.first_seq and trusted is not None and anchor.exists():
        problem = cpmod.check(cpmod.load(anchor), trusted)
        if problem:
            raise UntrustedCheckpoint(f"{ANCHOR_FILE}: {problem}", state.first_seq, state)

    epoch = len(history.truncations)
    origin = history.origin or expected_origin
    verdict = Verdict(state, history, trusted, epoch, origin, torn=torn)
    verdict.notes.extend(t.summary() for t in history.truncations)
    note_keys = set(history.keys) | (set(trusted.keys) if trusted is not None else set())

    for head in sorted(heads, key=lambda h: (-h.epoch, -h.size, h.kind)):
        where = str(head.path)
        if trusted is None and head.kind == "note":
            verdict.notes.append(f"{head.name}: not checked (a note needs a pinned public key)")
            continue
        checked, why = head.verify(trusted, note_keys) if trusted is not None else _embedded(head)
        if checked is None:
            raise UntrustedCheckpoint(f"untrusted checkpoint {where}: {why}", None, state)
        if head.origin and origin and head.origin != origin:
            raise UntrustedCheckpoint(
                f"checkpoint {where} belongs to another log (origin {head.origin!r}; this journal's is "
                f"{origin!r}): a witness directory serves one journal", None, state)
        if head.epoch > epoch:
            raise JournalTruncated(
                f"checkpoint {where} is of epoch {head.epoch} but the journal is at epoch {epoch}: it was rolled "
                "back past an accepted truncation", state.size, state)
        if head.epoch < epoch:
            t = history.truncations[head.epoch]  # the truncation that ended that epoch
            if head.size > t.seq:
                if explicit:
                    verdict.notes.append(f"{head.name} (epoch {head.epoch}) was abandoned by the {t.summary()}")
                continue
            if not explicit:
                continue
        if head.size < state.first_seq:
            msg = (f"checkpoint at size {head.size} predates the retention cut at seq {state.first_seq}; "
                   "use a newer one")
            if explicit:
                raise JournalRewritten(msg, state.first_seq, state)
            verdict.notes.append(f"{head.name}: {msg}")
            continue
        if head.size > state.size:
            if tolerate_truncation and head.epoch == epoch:
                verdict.beyond.append(checked)
                continue
            tear = (f"; its last line is torn at byte {torn.offset} of {torn.file}, inside the checkpointed range"
                    if torn is not None else "")
            raise JournalTruncated(
                f"journal ends at seq {state.size - 1} but checkpoint {where} covers {head.size} events "
                f"(truncated or rolled back{tear}); " + ACCEPT_HINT.format(path=where), state.size, state)
        last_hash, root = history.at[head.size]
        if root != head.merkle_root or (head.last_hash is not None and last_hash != head.last_hash):
            raise JournalRewritten(
                f"journal differs from the checkpoint at size {head.size} ({where}): rewritten at or before seq "
                f"{max(head.size - 1, 0)}", max(head.size - 1, 0), state)
        verdict.checked.append(checked)
    return verdict


def _embedded(head: cpmod.SignedHead) -> tuple[cpmod.SignedHead | None, str | None]:
    """Integrity only: a JSON checkpoint checked with the key it embeds."""
    assert head.checkpoint is not None
    problem = cpmod.check(head.checkpoint, None)
    return (None, problem) if problem else (head, None)


def truncation_statement(
    verdict: Verdict, chosen: cpmod.SignedHead, origin: str, torn_bytes: int
) -> dict[str, Any]:
    """What ``journal_truncated`` signs: the checkpoint fallen short of, what was lost, where the chain resumes."""
    st = verdict.state
    newest = max([chosen, *verdict.beyond], key=lambda h: h.size)
    return {
        "origin": origin,
        "epoch": verdict.epoch + 1,
        "checkpoint": {
            "file": chosen.name, "kind": chosen.kind, "size": chosen.size, "epoch": chosen.epoch,
            "merkle_root": chosen.merkle_root, "last_hash": chosen.last_hash,
            "signer_fingerprint": fingerprint(chosen.public_key) if chosen.public_key else None,
        },
        "lost": {"from_seq": st.size, "to_seq": newest.size - 1, "events_at_least": newest.size - st.size},
        "resumed": {"size": st.size, "last_hash": st.last_hash, "merkle_root": st.tree.root().hex()},
        "torn_bytes_removed": torn_bytes,
        "accepted_at": utc_now(),
    }
