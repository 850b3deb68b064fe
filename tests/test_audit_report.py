"""Signed session reports: JSON (Masker Audit Schema v1) and PDF, and their verification."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest
import rfc8785
from nacl.signing import SigningKey
from pypdf import PdfReader

from masker.audit.events import Event
from masker.audit.journal import Journal
from masker.audit.merkle import leaf_hash, root
from masker.audit.report import SIG_SUFFIX, ReportError, build_report, verify_report
from masker.audit.verify import canonical, chain_hash, encode_line, journal_files
from masker.policy.load import default_policy_path, load_policy

KEY = bytes(range(32))
SK = SigningKey(b"\x05" * 32)
CREATED = datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
SESSION = "Zoë-intake-7"
COVERAGE = {
    "A": {"category": "Names", "status": "partial", "kinds": ["NAME"], "covered": ["NAME"], "gaps": [], "note": ""},
    "D": {"category": "Telephone numbers", "status": "full", "kinds": ["PHONE"], "covered": ["PHONE"], "gaps": [],
          "note": ""},
    "R": {"category": "Any other unique identifying number", "status": "none", "kinds": ["NPI"], "covered": [],
          "gaps": [{"kind": "NPI", "reason": "not listed in the policy"}], "note": ""},
}


@pytest.fixture(scope="module")
def policy():
    return load_policy(default_policy_path())


@pytest.fixture
def journal_dir(tmp_path: Path, policy) -> Path:
    jdir = tmp_path / "journal"
    p = {"policy": policy.name, "policy_hash": policy.hash}
    s = {"agent": "nurse-bot", "session": SESSION}
    with Journal(jdir, KEY, SK, checkpoint_dir=tmp_path / "cp") as j:
        j.append([Event(kind="policy_loaded", detail={"tokenization": policy.tokenization, "kid": policy.kid}, **p)])
        j.append([Event(kind="detection", agent="other", session="another", entity_kind="NAME", **p)])
        for i, kind in enumerate(["NAME", "PHONE", "NAME", "CREDIT_CARD"]):
            tok = f"MSKV1.{kind}.K_HEALTHCARE.ABCDEFGHIJKLMNOPQRSTUVWXYZ"
            j.append([
                Event(kind="detection", detector="regex", entity_kind=kind, span=(i, i + 4),
                      detail={"confidence": 0.9}, **s, **p),
                Event(kind="redaction_applied", entity_kind=kind, span=(i, i + 4), token=tok, **s, **p),
            ])
        j.append([Event(kind="residual_scan", detail={"clean": True, "findings": 0}, **s, **p)])
        j.append([Event(kind="request_forwarded", detail={"host": "api.openai.com", "path": "/v1/chat/completions"},
                        **s, **p)])
        j.append([Event(kind="rehydration", entity_kind="NAME", **s, **p),
                  Event(kind="rehydration_failed", reason="unknown token", **s, **p)])
    return jdir


def build(journal_dir: Path, out: Path, policy, **kw):
    return build_report(journal_dir, KEY, SESSION, SK, coverage=COVERAGE, policy=policy, out_dir=out,
                        created=CREATED, **kw)


def test_json_report_summarises_the_session_and_is_canonical(journal_dir: Path, tmp_path: Path, policy) -> None:
    json_path, _ = build(journal_dir, tmp_path / "out", policy)
    data = json_path.read_bytes()
    doc = json.loads(data)
    assert rfc8785.dumps(doc) == data
    assert doc["schema"] == "masker-audit-v1" and doc["session"] == SESSION and doc["agent"] == "nurse-bot"
    assert doc["events"]["count"] == 12
    assert doc["events"]["by_kind"] == {"detection": 4, "redaction_applied": 4, "rehydration": 1,
                                        "rehydration_failed": 1, "request_forwarded": 1, "residual_scan": 1}
    assert doc["events"]["by_entity"]["NAME"] == {"detection": 2, "redaction_applied": 2, "rehydration": 1}
    assert doc["pci"]["card_detections"] == 1 and "PCI DSS" in doc["pci"]["note"]
    assert doc["residual_scan"]["status"] == "clean" and doc["residual_scan"]["scans"] == 1
    assert doc["rehydration"] == {"successes": 1, "failures": 1}
    assert doc["upstream"] == [{"host": "api.openai.com", "requests": 1, "paths": ["/v1/chat/completions"]}]
    assert doc["tokenization"]["kids"] == ["K_HEALTHCARE"]
    assert policy.tokenization in doc["tokenization"]["schemes"]
    assert doc["policy"]["hash"] == policy.hash
    assert doc["retention"]["retention_days"] == policy.audit.retention_days
    assert doc["coverage"]["categories"]["R"]["status"] == "none"
    assert doc["coverage"]["summary"] == {"full": 1, "none": 1, "partial": 1}
    assert "164.514(c)" in doc["statement"] and "NOT de-identified" in doc["statement"]
    # the Merkle root is over exactly this session's journal lines
    lines = [json.loads(x) for x in journal_files(journal_dir)[0].read_bytes().splitlines()]
    bodies = [{k: v for k, v in r.items() if k not in ("prev_hash", "curr_hash")} for r in lines
              if r["session"] == SESSION]
    assert doc["merkle_root_hex"] == root([leaf_hash(canonical(b)) for b in bodies]).hex()


def test_signature_verifies_with_the_openssl_cli(journal_dir: Path, tmp_path: Path, policy) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not installed")
    json_path, _ = build(journal_dir, tmp_path / "out", policy)
    pem = json_path.with_name(json_path.stem + ".pub.pem")
    sig = json_path.with_name(json_path.name + SIG_SUFFIX)
    cmd = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(pem), "-rawin", "-in", str(json_path),
           "-sigfile", str(sig)]
    ok = subprocess.run(cmd, capture_output=True, text=True)
    if "rawin" in ok.stderr and ok.returncode != 0:
        pytest.skip("this openssl has no -rawin")
    assert ok.returncode == 0 and "Signature Verified Successfully" in ok.stdout
    json_path.write_bytes(json_path.read_bytes().replace(b'"count":12', b'"count":13'))
    assert subprocess.run(cmd, capture_output=True).returncode != 0


def test_pdf_shows_the_facts_and_carries_the_signed_json(journal_dir: Path, tmp_path: Path, policy) -> None:
    json_path, pdf_path = build(journal_dir, tmp_path / "out", policy)
    doc = json.loads(json_path.read_bytes())
    reader = PdfReader(pdf_path)
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "Masker compliance report" in text and SESSION in text
    assert doc["merkle_root_hex"] in text.replace("\n", "")
    assert doc["signer"]["fingerprint"] in text
    assert "164.514(c)" in text and "api.openai.com" in text
    assert reader.attachments[json_path.name] == [json_path.read_bytes()]
    assert reader.attachments[json_path.name + SIG_SUFFIX] == [json_path.with_name(json_path.name + SIG_SUFFIX).read_bytes()]
    fonts = {str(f["/BaseFont"]) for p in reader.pages for f in p["/Resources"]["/Font"].values()}
    assert any("DejaVu" in f for f in fonts)


def test_reports_are_reproducible_for_a_fixed_date(journal_dir: Path, tmp_path: Path, policy) -> None:
    a = build(journal_dir, tmp_path / "a", policy)
    b = build(journal_dir, tmp_path / "b", policy)
    assert a[0].read_bytes() == b[0].read_bytes()
    assert a[1].read_bytes() == b[1].read_bytes()


def test_verify_report_accepts_genuine_reports(journal_dir: Path, tmp_path: Path, policy) -> None:
    json_path, pdf_path = build(journal_dir, tmp_path / "out", policy)
    for path in (json_path, pdf_path):
        result = verify_report(path, pubkey=SK.verify_key, journal_dir=journal_dir, audit_key=KEY)
        assert result.ok and result.message == "report ok" and result.event_count == 12


def test_verify_report_names_the_first_failure(journal_dir: Path, tmp_path: Path, policy) -> None:
    json_path, pdf_path = build(journal_dir, tmp_path / "out", policy)
    other = SigningKey.generate().verify_key
    assert "another key" in verify_report(json_path, pubkey=other, journal_dir=None, audit_key=None).message

    good = json_path.read_bytes()
    json_path.write_bytes(good.replace(b'"failures":1', b'"failures":0'))
    assert verify_report(json_path, pubkey=SK.verify_key, journal_dir=None, audit_key=None).message == (
        "signature does not verify")
    json_path.write_bytes(good.replace(b"{", b"{ ", 1))
    assert "canonical" in verify_report(json_path, pubkey=SK.verify_key, journal_dir=None, audit_key=None).message
    json_path.write_bytes(good)
    # a PDF whose sibling JSON differs from its attachment
    json_path.write_bytes(good.replace(b'"failures":1', b'"failures":0'))
    r = verify_report(pdf_path, pubkey=SK.verify_key, journal_dir=None, audit_key=None)
    assert not r.ok and "embedded JSON differs" in r.message
    json_path.write_bytes(good)


def test_verify_report_recomputes_the_merkle_root_from_the_journal(journal_dir: Path, tmp_path: Path, policy) -> None:
    json_path, pdf_path = build(journal_dir, tmp_path / "out", policy)
    path = journal_files(journal_dir)[0]
    lines = path.read_bytes().splitlines(keepends=True)
    # re-seal the whole journal with one session event changed (a key holder's forgery)
    forged, prev = [], "0" * 64
    for raw in lines:
        rec = json.loads(raw)
        del rec["prev_hash"], rec["curr_hash"]
        if rec.get("kind") == "rehydration_failed":
            rec["kind"] = "rehydration"
        body = canonical(rec)
        curr = chain_hash(KEY, prev, body)
        forged.append(encode_line(body, prev, curr))
        prev = curr
    path.write_bytes(b"".join(forged))
    r = verify_report(pdf_path, pubkey=SK.verify_key, journal_dir=journal_dir, audit_key=KEY)
    assert not r.ok and "Merkle root differs" in r.message
    path.write_bytes(b"".join(lines[:5]))  # truncated
    r = verify_report(json_path, pubkey=SK.verify_key, journal_dir=journal_dir, audit_key=KEY)
    assert not r.ok and "fewer than" in r.message


def test_coverage_may_be_a_callable_and_unknown_sessions_fail(journal_dir: Path, tmp_path: Path, policy) -> None:
    calls = []
    json_path, _ = build_report(journal_dir, KEY, SESSION, SK, coverage=lambda: calls.append(1) or COVERAGE,
                                policy=None, out_dir=tmp_path / "c", created=CREATED)
    doc = json.loads(json_path.read_bytes())
    assert calls == [1]
    assert (doc["policy"]["name"], doc["policy"]["hash"]) == (policy.name, policy.hash)  # from the events
    assert doc["retention"]["retention_days"] is None
    with pytest.raises(ReportError):
        build_report(journal_dir, KEY, "no-such-session", SK, coverage=COVERAGE, policy=None, out_dir=tmp_path / "d")


# -- DEV-ONLY marking, measured recall in the PDF, progress (issue #21) --------------------------------------


def test_dev_only_report_is_marked_in_json_pdf_and_verification(journal_dir: Path, tmp_path: Path, policy) -> None:
    json_path, pdf_path = build(journal_dir, tmp_path / "out", policy, dev_signing_key=True)
    doc = json.loads(json_path.read_bytes())
    assert doc["signing_key_dev_only"] is True  # inside the signed bytes
    first = PdfReader(pdf_path).pages[0].extract_text()
    assert "DEV-ONLY SIGNING KEY" in first.split("Masker compliance report")[0]  # above the title
    for path in (json_path, pdf_path):
        result = verify_report(path, pubkey=SK.verify_key, journal_dir=journal_dir, audit_key=KEY)
        assert result.ok and "DEV-ONLY signing key" in result.message
    prod, _ = build(journal_dir, tmp_path / "prod", policy)
    assert json.loads(prod.read_bytes())["signing_key_dev_only"] is False


def test_a_pdf_hiding_the_dev_marking_of_its_json_fails(journal_dir: Path, tmp_path: Path, policy) -> None:
    from masker.audit.pdf import render_pdf

    json_path, _ = build(journal_dir, tmp_path / "out", policy, dev_signing_key=True)
    data = json_path.read_bytes()
    signature = json_path.with_name(json_path.name + SIG_SUFFIX).read_bytes()
    shown = {**json.loads(data), "signing_key_dev_only": False}  # the page says production, the JSON says dev
    forged = tmp_path / "forged.pdf"
    forged.write_bytes(render_pdf(shown, data, signature, json_name=json_path.name, created=CREATED))
    result = verify_report(forged, pubkey=SK.verify_key)
    assert not result.ok and "DEV-ONLY" in result.message


def test_pdf_shows_measured_recall_beside_the_status(journal_dir: Path, tmp_path: Path, policy) -> None:
    measured = {**COVERAGE["A"], "recall": {"metric": "recall_any_span", "note": "",
                                            "measured": [{"set": "asq", "spans": 814, "recall": 0.9705,
                                                          "measured_at": "2026-12-03"}]}}
    unmeasured = {**COVERAGE["R"], "recall": {"metric": "recall_any_span", "measured": [],
                                              "note": "not measured: no benchmark set has values of this category"}}
    evaluation = {"applies": True, "reason": "", "model_id": "sha256:abc", "metric": "recall_any_span",
                  "passes": "ner,regex", "sets": {"asq": {"source": "asq_phi", "docs": 1051, "spans": 2975,
                                                          "measured_at": "2026-12-03"}}}
    _, pdf_path = build_report(journal_dir, KEY, SESSION, SK, coverage={"A": measured, "R": unmeasured},
                               policy=policy, out_dir=tmp_path / "o", created=CREATED, evaluation=evaluation)
    text = " ".join("\n".join(p.extract_text() for p in PdfReader(pdf_path).pages).split())
    assert "asq 97.0% of 814" in text
    assert "not measured: no benchmark set has values" in text
    assert "asq: 1051 documents, 2975 gold values, from asq_phi, measured 2026-12-03" in text


def test_progress_is_shown_only_when_asked(journal_dir: Path, tmp_path: Path, policy) -> None:
    import io

    from masker.audit.progress import Progress

    lines = sum(len(p.read_bytes().splitlines()) for p in journal_files(journal_dir))
    shown = io.StringIO()
    json_path, _ = build(journal_dir, tmp_path / "a", policy, progress=Progress(shown, enabled=True, interval=0))
    text = shown.getvalue()
    assert f"verifying journal: {lines}/{lines} events" in text
    assert text.index("verifying journal") < text.index("computing coverage") < text.index("rendering PDF")
    assert SESSION not in text
    quiet = io.StringIO()
    build(journal_dir, tmp_path / "b", policy, progress=Progress(quiet))  # a StringIO is no terminal
    assert quiet.getvalue() == ""
    shown = io.StringIO()
    assert verify_report(json_path, pubkey=SK.verify_key, journal_dir=journal_dir, audit_key=KEY,
                         progress=Progress(shown, enabled=True, interval=0)).ok
    assert f"verifying journal: {lines}/{lines} events" in shown.getvalue()


def test_progress_counts_are_throttled() -> None:
    import io

    from masker.audit.progress import Progress

    now = [0.0]
    out = io.StringIO()
    p = Progress(out, enabled=True, interval=1.0, clock=lambda: now[0])
    for i in range(1, 101):
        now[0] = i * 0.1  # 10 s in all
        p.count("verifying journal", i, 100)
    p.stage("rendering PDF")
    lines = out.getvalue().split("\r")
    assert 9 <= len(lines) - 1 <= 11  # about one redraw a second, plus the final count
    assert "verifying journal: 100/100 events" in out.getvalue()
    assert out.getvalue().endswith("\nrendering PDF\n")
