"""The project's stand-alone scripts (``deploy/``), loaded as modules by file path.

They are not packages and stay off ``sys.path``: each is loaded once from its
file, under its own name in ``sys.modules`` (dataclasses look their module up
there), so a test imports them like any other module: ``render = load_script(KUBE / "render.py")``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
KUBE = ROOT / "deploy" / "kubernetes"
IMAGE = ROOT / "deploy" / "image"


def load_script(path: Path) -> ModuleType:
    """The module of the script at ``path`` (named by its file, loaded on first use)."""
    name = path.stem
    loaded = sys.modules.get(name)
    if loaded is not None:
        if Path(loaded.__file__ or "").resolve() != path.resolve():
            raise ImportError(f"a module named {name!r} is already loaded from {loaded.__file__}, not {path}")
        return loaded
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
