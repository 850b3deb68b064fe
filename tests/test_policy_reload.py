"""Policy reload through the engine holder: the file watch, a refused reload, SIGHUP wiring."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from mitmproxy.test import taddons

from masker.engine import TextField
from masker.policy.load import default_policy_path
from masker.proxy import policy_reload
from masker.proxy.engine_holder import EngineHolder
from masker.proxy.options import MaskerOptions
from masker.proxy.policy_reload import PolicyReloader
from masker.scope import Scope

TEXT = "Please call me back at 555-123-4567 today."
REGEX_ONLY = default_policy_path().read_text().replace("passes: [regex, ner]", "passes: [regex]")


def _redacting(text: str) -> str:
    return re.sub(r"(  PHONE:.*)action: tokenize", r"\1action: redact", text)


def _masked(holder: EngineHolder) -> str:
    assert holder.engine is not None
    return holder.engine.mask_texts([TextField(TEXT, "user", "m")], Scope("a", "s"))[0]


def test_a_changed_file_is_reloaded_and_a_broken_one_keeps_the_running_policy(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MASKER_ENV", raising=False)
    monkeypatch.setattr(policy_reload, "WATCH_INTERVAL_S", 0.05)
    policy = tmp_path / "policy.yaml"
    policy.write_text(REGEX_ONLY)
    holder = EngineHolder()
    reloader = PolicyReloader(holder)

    async def scenario() -> None:
        with taddons.context(MaskerOptions(), holder, reloader) as tctx:
            tctx.options.update(masker_data_dir=str(tmp_path / "data"), masker_policy=str(policy),
                                masker_workers=0, masker_policy_watch=True)
            holder.running()
            reloader.running()
            first = holder.runtime.engine.generation
            assert "MSKV1.PHONE." in _masked(holder)
            policy.write_text(_redacting(REGEX_ONLY))
            await _until(lambda: holder.runtime.engine.generation == first + 1)
            assert "[REDACTED:PHONE]" in _masked(holder)
            policy.write_text("entities: [")  # a half-written file: refused, the running policy stays
            await asyncio.sleep(0.5)
            assert holder.runtime.engine.generation == first + 1 and "[REDACTED:PHONE]" in _masked(holder)
            reloader.done()
            holder.done()

    asyncio.run(scenario())


def test_reload_without_a_runtime_says_why(tmp_path: Path) -> None:
    holder = EngineHolder()
    with taddons.context(MaskerOptions(), holder):
        outcome = holder.reload("test")
    assert not outcome.ok and "no running engine" in outcome.message


async def _until(condition, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail("condition not reached")
        await asyncio.sleep(0.05)
