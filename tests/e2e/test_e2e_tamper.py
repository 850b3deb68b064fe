"""The real sidecar (``masker run``, reverse mode) refuses to start on a journal
that was cut short, torn inside its checkpointed range, rolled back (alone, or
together with its local checkpoints: the witness directory catches that) or
given a forged checkpoint; ``/readyz`` says why and nothing is forwarded. An
operator accepts a known loss with ``masker audit accept-truncation``; the
sidecar then starts, the journal verifies against a pinned key, and the
session's report names the loss.

Each start is a fresh ``masker run`` subprocess with its own data dir, witness
directory and keys in the environment (started here, not by conftest: the
witness is configured by environment only).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from masker.audit import checkpoint as cpmod
from masker.audit.merkle import CompactRange, leaf_hash
from tests.e2e.nodes import SIGNING_PUB_B64, Node, post_text
from tests.e2e.phi import values_in


@pytest.mark.timeout(600)
def test_a_rewound_journal_keeps_the_sidecar_down_until_the_loss_is_accepted(tmp_path, upstream, upstream_certs):
    node = Node(tmp_path, upstream, upstream_certs)
    sid = uuid.uuid4().hex
    with node.start() as (url, status, _):
        assert status == 200
        assert post_text(url, sid).status_code == 200
    first = node.snapshot("first")  # journal + checkpoints after one clean run
    with node.start() as (url, status, _):
        assert status == 200
        assert post_text(url, sid).status_code == 200
    good = node.snapshot("good")
    assert sorted(node.witness.glob("*.note")), "the witness got the checkpoints"

    lines = node.journal_file().read_bytes().splitlines(keepends=True)
    # 1. tail cut after a checkpoint
    node.journal_file().write_bytes(b"".join(lines[:-3]))
    node.refused("JournalTruncated", upstream, sid)
    # 2. cut mid-line (a torn last line inside the checkpointed range is not "repaired")
    node.journal_file().write_bytes(b"".join(lines[:-3]) + lines[-3][:50])
    node.refused("JournalTruncated", upstream, sid)
    assert not node.journal_file().read_bytes().endswith(b"\n")  # left as found
    # 3. the journal alone rolled back to an older copy
    node.restore(first, "journal")
    node.refused("JournalTruncated", upstream, sid)
    # 4. journal AND local checkpoints rolled back together: only the witness copy knows
    node.restore(first, "journal", "checkpoints")
    node.refused("JournalTruncated", upstream, sid)
    assert str(node.witness) in node.log.read_text()
    # 5. a forged, newer checkpoint signed by a freshly made key
    node.restore(good, "journal", "checkpoints")
    tree = CompactRange()
    for i in range(len(lines) + 5):
        tree.append(leaf_hash(b"forged %d" % i))
    forged = cpmod.sign(SigningKey.generate(), cpmod.CHECKPOINT, "ab" * 32, tree, "2030-01-01T00:00:00.000000Z")
    cpmod.save(forged, node.data / "checkpoints" / cpmod.file_name(forged))
    node.refused("UntrustedCheckpoint", upstream, sid)
    assert node.cli("audit", "verify").returncode == 2  # no pinned key: refuses to judge
    pinned = node.cli("audit", "verify", "--pubkey", SIGNING_PUB_B64)
    assert pinned.returncode == 1 and "another key" in pinned.stderr
    node.restore(good, "journal", "checkpoints")
    with node.start() as (_, status, _):
        assert status == 200  # the genuine state starts fine

    # 6. a known loss, accepted by the operator
    lines = node.journal_file().read_bytes().splitlines(keepends=True)
    node.journal_file().write_bytes(b"".join(lines[:-4]))
    node.refused("JournalTruncated", upstream, sid)
    assert node.cli("audit", "accept-truncation").returncode == 2  # needs --yes
    accepted = node.cli("audit", "accept-truncation", "--yes")
    assert accepted.returncode == 0, accepted.stderr
    assert "lost" in accepted.stdout
    with node.start() as (url, status, _):
        assert status == 200
        assert post_text(url, sid).status_code == 200
    verified = node.cli("audit", "verify", "--pubkey", SIGNING_PUB_B64)
    assert verified.returncode == 0 and verified.stdout.startswith("chain ok"), verified.stderr
    assert "truncation accepted" in verified.stdout
    report = node.cli("report", sid)
    assert report.returncode == 0, report.stderr
    json_path, pdf_path = report.stdout.split()
    doc = json.loads(Path(json_path).read_bytes())
    assert doc["journal"]["truncations"] and doc["journal"]["truncations"][0]["lost_events_at_least"] >= 4
    checked = node.cli("report", "verify", pdf_path, "--journal", str(node.data / "journal"),
                       "--pubkey", SIGNING_PUB_B64)
    assert checked.returncode == 0, checked.stderr
    # no PHI anywhere it was written down
    written = node.log.read_text() + "".join(p.read_text() for p in (node.data / "journal").glob("*.jsonl"))
    written += "".join(p.read_text() for p in node.witness.iterdir())
    assert values_in(written) == []
