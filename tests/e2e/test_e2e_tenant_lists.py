"""A tenant's recognizer switch, allow list and deny list on a real sidecar, with the openai SDK.

``masker run`` in reverse mode with a regex-only copy of the shipped policy
that switches the ZIP recognizer off, allows the clinic's public crisis line
and deny-lists a patient's name no detector knows. The fake upstream records
what reached it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import httpx
import pytest
from openai import OpenAI

from tests.e2e.sidecar import ROOT, Sidecar, free_port, start_sidecar

CRISIS_LINE = "1-800-555-0199"  # the clinic's own public number (a phone to the detector): allowed
PHONE = "555-867-5309"  # a patient's: masked
NAME = "Zorblatt Quux"  # deny-listed: masked although no detector knows it
ZIP = "02139"  # the ZIP recognizer is off in this policy
POLICY_EXTRA = f"""
recognizers:
  zip: {{enabled: false}}
allow:
  values: ["{CRISIS_LINE}"]
deny:
  - kind: NAME
    values: ["{NAME}"]
"""


@pytest.fixture(scope="module")
def tenant_sidecar(tmp_path_factory, upstream, upstream_certs) -> Iterator[Sidecar]:
    data_dir = tmp_path_factory.mktemp("tenant-lists")
    policy = data_dir / "policy.yaml"
    shipped = (ROOT / "configs" / "mask_policy.yaml").read_text()
    policy.write_text(shipped.replace("passes: [regex, ner]", "passes: [regex]") + POLICY_EXTRA)
    port = free_port()
    cmd = [
        sys.executable, "-m", "masker.cli", "run",
        "--listen", f"127.0.0.1:{port}",
        "--mode", f"reverse:https://127.0.0.1:{upstream.port}",
        "--data-dir", str(data_dir),
        "--policy", str(policy),
        "--set", f"ssl_verify_upstream_trusted_ca={upstream_certs[0]}",
    ]
    with start_sidecar(cmd, data_dir, port, upstream, reverse=True) as sc:
        yield sc


def test_without_the_lists_the_shipped_policy_masks_the_values_let_through():
    """Else the test below could not fail: the crisis line and the ZIP are detected by default."""
    from masker.detect.pipeline import Detector
    from masker.policy.load import default_policy_path, load_policy

    text = f"our crisis line is {CRISIS_LINE}; zip {ZIP}."
    spans = Detector(load_policy(default_policy_path())).detect(text)
    assert [(s.kind, text[s.start : s.end]) for s in spans] == [("PHONE", CRISIS_LINE), ("ZIP", ZIP)]


def test_switches_and_lists_decide_what_reaches_the_provider(tenant_sidecar, upstream):
    client = OpenAI(api_key="sk-test", base_url=f"{tenant_sidecar.url}/proxy/intake/v1", max_retries=0, timeout=30,
                    default_headers={"X-Masker-Session": "tenant-lists"}, http_client=httpx.Client(trust_env=False))
    text = f"{NAME} asked us to call {PHONE}; our crisis line is {CRISIS_LINE}; zip {ZIP}."
    client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": text}])
    sent = upstream.received[-1].body.decode()
    assert "Zorblatt" not in sent and "Quux" not in sent
    assert PHONE not in sent
    assert CRISIS_LINE in sent
    assert ZIP in sent

    events = tenant_sidecar.wait_journal(
        lambda evs: any(e["kind"] == "detection" and e["session"] == "tenant-lists" for e in evs))
    detections = [e for e in events if e["kind"] == "detection" and e["session"] == "tenant-lists"]
    whys = {e["entity_kind"]: e["detail"]["why"] for e in detections}
    assert whys["NAME"] == {"recognizer": "deny_list", "cue": "deny:value"}
    assert whys["PHONE"]["recognizer"] == "phone"
    assert "ZIP" not in whys
