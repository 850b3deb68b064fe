"""The engine factory is code, never an option.

Options can be changed at run time (``--set``, mitmweb's options editor); an
option naming the engine factory would let anyone who can set options swap in
a callable that does not mask. So there is none: the factory is a constructor
argument (``sidecar_addons(engine_factory=...)``), and ``--set
masker_engine_factory=...`` is refused by every way of starting the sidecar.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mitmproxy import exceptions
from mitmproxy.test import taddons

from masker.proxy.assembly import sidecar_addons
from masker.proxy.engine_holder import EngineHolder
from masker.proxy.options import MaskerOptions

ROOT = Path(__file__).resolve().parents[1]
E2E = ROOT / "tests" / "e2e"
VENV_BIN = Path(sys.executable).parent
FACTORY_SET = "masker_engine_factory=fake_engine:build_engine"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and not k.startswith("MASKER_")}
    env["PYTHONPATH"] = os.pathsep.join([str(E2E), str(ROOT / "addons")])
    return env


def test_no_masker_option_chooses_the_engine():
    with taddons.context(MaskerOptions()) as tctx:
        names = [name for name in tctx.options.keys() if name.startswith("masker_")]
        assert names and not [n for n in names if "factory" in n or "engine" in n], names
        with pytest.raises(exceptions.OptionsError, match="Unknown option.*masker_engine_factory"):
            tctx.options.set(FACTORY_SET)  # what --set and mitmweb's editor go through


def test_the_factory_is_a_constructor_argument(tmp_path):
    built: list[Path] = []

    def factory(policy_path, data_dir, env, **_options):
        built.append(data_dir)
        raise RuntimeError("not an engine")  # the holder fails closed: not ready

    addons = sidecar_addons(engine_factory=factory)
    holder = next(a for a in addons if isinstance(a, EngineHolder))
    with taddons.context(*addons) as tctx:
        tctx.options.update(masker_data_dir=str(tmp_path))
        holder.running()
        assert built == [tmp_path] and holder.engine is None and holder.unready()
    with pytest.raises(ValueError):
        EngineHolder(object(), factory=factory)


def test_masker_run_rejects_the_option(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "masker.cli", "run", "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path),
         "--set", FACTORY_SET],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Unknown option(s): masker_engine_factory" in proc.stderr


@pytest.mark.parametrize("script", ["addons/masker_sidecar.py", "tests/e2e/fake_sidecar.py"])
def test_mitmdump_script_refuses_to_run_with_the_option(tmp_path, script):
    """mitmdump keeps an unknown ``--set`` "deferred" and would ignore it;
    Masker's options addon makes it a start-up error (exit 1)."""
    proc = subprocess.run(
        [str(VENV_BIN / "mitmdump"), "-s", str(ROOT / script), "--listen-host", "127.0.0.1", "--listen-port", "0",
         "--set", f"confdir={tmp_path / 'ca'}", "--set", f"masker_data_dir={tmp_path}", "--set", "masker_workers=0",
         "--set", FACTORY_SET],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-2000:]
    assert "unknown Masker option(s): masker_engine_factory; refusing to run" in out
