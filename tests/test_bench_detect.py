"""scripts/bench_detect.py writes the numbers the README quotes, on texts of the sizes it names."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from masker.detect.ner import default_model_dir

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_detect", ROOT / "scripts" / "bench_detect.py")
bench = importlib.util.module_from_spec(_spec)
sys.modules["bench_detect"] = bench
_spec.loader.exec_module(bench)


@pytest.mark.skipif(default_model_dir() is None, reason="no shipped NER model")
def test_small_run_writes_every_section(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    argv = ["--out", str(out), "--corpus-bytes", "20000", "--long-body-bytes", "5000,20000", "--long-body-runs", "2",
            "--token-n", "50", "--vault-requests", "5", "--ner-reps", "2", "--ner-long-body-bytes", "3000"]
    assert bench.main(argv) == 0
    capsys.readouterr()
    result = json.loads(out.read_text())
    assert result["regex_pass"]["chars"] >= 20000 and result["regex_pass"]["spans"] > 0
    long_body = result["long_body"]
    assert set(long_body) == {"5000", "20000"} and long_body["20000"]["chars"] >= 20000
    assert long_body["20000"]["spans"] > long_body["5000"]["spans"] > 0
    seconds = long_body["20000"]["seconds"]
    assert seconds["min"] <= seconds["median"] <= seconds["max"] and long_body["20000"]["runs"] == 2
    assert set(result["tokens"]["tokens_per_s"]) == {"vault-deterministic", "reversible-aead"}
    assert result["vault"]["rows"] == 100
    ner = result["ner"]
    assert set(ner["per_text_ms"]) == {"32", "128", "512"}  # texts cut at exactly these token counts (asserted inside)
    assert ner["per_text_ms"]["32"]["p50"] < ner["per_text_ms"]["512"]["p50"]
    assert {"conversation_10_turns_uncached_ms", "conversation_10_turns_cached_ms"} <= set(ner)
    assert set(ner["long_body"]) == {"3000"} and ner["long_body"]["3000"]["spans"] > 0
