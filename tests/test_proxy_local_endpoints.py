"""Local endpoints: /healthz, /readyz, and the admin-token protected POST /audit/verify
over a real audit journal."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets

from mitmproxy.test import taddons, tflow

from masker.audit.events import REQUEST_FORWARDED, Event
from masker.audit.journal import Journal
from masker.proxy.engine_holder import EngineHolder
from masker.proxy.local_endpoints import LocalEndpoints
from masker.proxy.options import MaskerOptions


def _local(path: str, method: str = "GET", token: str | None = None):
    f = tflow.tflow()
    f.request.host, f.request.port, f.request.scheme = "masker.local", 80, "http"
    f.request.method, f.request.path = method, path
    if token is not None:
        f.request.headers["X-Masker-Admin-Token"] = token
    return f


def test_audit_verify_needs_the_admin_token_and_reports_the_chain(tmp_path, monkeypatch):
    key = secrets.token_bytes(32)
    monkeypatch.setenv("MASKER_AUDIT_KEY", base64.b64encode(key).decode())
    journal = Journal(tmp_path / "journal", key)
    journal.append([Event(kind=REQUEST_FORWARDED, agent="a", session="s", detail={"path": "/v1/messages"})] * 3)
    journal.close()
    holder = EngineHolder()
    endpoints = LocalEndpoints(ready=lambda: holder.problem, verify=holder.verify)
    with taddons.context(MaskerOptions(), holder, endpoints) as tctx:
        tctx.options.update(masker_data_dir=str(tmp_path), masker_admin_token="t0ken")
        for token, status in ((None, 403), ("wrong", 403)):
            f = _local("/audit/verify", "POST", token)
            asyncio.run(endpoints.request(f))
            assert f.response.status_code == status
        f = _local("/audit/verify", "POST", "t0ken")
        asyncio.run(endpoints.request(f))
        doc = json.loads(f.response.content)
        assert f.response.status_code == 200, doc
        assert doc["ok"] is True and doc["event_count"] >= 3
        ready = _local("/readyz")
        asyncio.run(endpoints.request(ready))
        assert ready.response.status_code == 503  # no engine was built
        assert json.loads(ready.response.content)["status"] == "not_ready"


def test_tampered_journal_fails_verification(tmp_path, monkeypatch):
    key = secrets.token_bytes(32)
    monkeypatch.setenv("MASKER_AUDIT_KEY", base64.b64encode(key).decode())
    journal = Journal(tmp_path / "journal", key)
    journal.append([Event(kind=REQUEST_FORWARDED, agent="a", session="s", detail={"path": "/v1/x"})] * 2)
    journal.close()
    for p in (tmp_path / "journal").glob("*.jsonl"):
        p.write_text(p.read_text().replace('"agent":"a"', '"agent":"b"', 1))
    holder = EngineHolder()
    endpoints = LocalEndpoints(ready=lambda: None, verify=holder.verify)
    with taddons.context(MaskerOptions(), holder, endpoints) as tctx:
        tctx.options.update(masker_data_dir=str(tmp_path), masker_admin_token="t0ken")
        f = _local("/audit/verify", "POST", "t0ken")
        asyncio.run(endpoints.request(f))
        assert f.response.status_code == 409
        assert json.loads(f.response.content)["ok"] is False
