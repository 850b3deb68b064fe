"""A fresh install works: every module ``addons/`` imports is declared, and the
lock files pin every declared dependency (with hashes).

* Third-party imports anywhere under ``addons/`` (AST scan, imports inside
  functions included) must come from a distribution named in
  ``[project].dependencies``: the ``[test]`` extra does not count (production
  does not install it), nor does a package that merely arrives as someone
  else's dependency today (mitmproxy 12.3 stopped pulling in zstandard).
* ``requirements.lock`` (runtime) and ``requirements-test.lock`` (runtime +
  ``[test]``) are what ``make test`` and the image install with
  ``pip install --require-hashes``: every entry pinned with ``==`` and
  hashes, every declared dependency pinned at a version its specifier
  allows, both files agreeing on every shared package. Refresh them with
  ``make lock``.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
ADDONS = ROOT / "addons"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
RUNTIME = [Requirement(r) for r in PROJECT["dependencies"]]
TEST_EXTRA = [Requirement(r) for r in PROJECT["optional-dependencies"]["test"]]
RUNTIME_LOCK = ROOT / "requirements.lock"
TEST_LOCK = ROOT / "requirements-test.lock"
# The platform the lock files are for (see their first line and the Makefile).
LOCK_ENV = {
    "implementation_name": "cpython", "platform_python_implementation": "CPython", "os_name": "posix",
    "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
    "python_version": "3.12", "python_full_version": "3.12.1", "extra": "",
}
# Top-level modules and packages under addons/ (the package itself, the mitmdump script entry).
LOCAL = {p.stem for p in ADDONS.glob("*.py")} | {p.name for p in ADDONS.iterdir() if (p / "__init__.py").is_file()}


def imports_under(directory: Path) -> dict[str, set[str]]:
    """Top-level module name -> files (relative to the repository) that import it.

    Absolute ``import`` / ``from`` statements anywhere in a file, and
    ``importlib.import_module("literal")`` calls.
    """
    found: dict[str, set[str]] = {}
    for path in sorted(directory.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        names: list[str] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.append(node.module)
            elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
                  and isinstance(node.args[0].value, str)
                  and ast.unparse(node.func) in ("importlib.import_module", "import_module", "__import__")):
                names.append(node.args[0].value)
        for name in names:
            found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def _declared(requirements: list[Requirement], env: dict[str, str] | None = None) -> dict[str, Requirement]:
    """Canonical name -> requirement, for those whose marker holds (in ``env``, default this interpreter)."""
    return {canonicalize_name(r.name): r for r in requirements if r.marker is None or r.marker.evaluate(env)}


def test_the_scan_sees_the_known_imports():
    found = imports_under(ADDONS)
    assert {"mitmproxy", "yaml", "zstandard", "brotli", "onnxruntime", "masker"} <= set(found)
    assert LOCAL >= {"masker", "masker_sidecar"}


def test_every_third_party_import_under_addons_is_a_declared_runtime_dependency():
    providers = importlib.metadata.packages_distributions()
    declared = _declared(RUNTIME)
    test_only = _declared(TEST_EXTRA)
    problems = []
    for module, files in sorted(imports_under(ADDONS).items()):
        if module in sys.stdlib_module_names or module in LOCAL:
            continue
        where = ", ".join(sorted(files)[:3]) + (" ..." if len(files) > 3 else "")
        dists = {canonicalize_name(d) for d in providers.get(module, [])}
        if not dists:
            problems.append(f"{module!r} (imported by {where}) is not installed: no distribution provides it")
        elif not dists & declared.keys():
            extra = " (it is in the [test] extra, which production does not install)" if dists & test_only.keys() else ""
            problems.append(f"{module!r} (imported by {where}) comes from {', '.join(sorted(dists))}, "
                            f"not in [project].dependencies{extra}")
    assert not problems, "add to pyproject.toml [project].dependencies, then `make lock`:\n  " + "\n  ".join(problems)


@dataclass
class Pin:
    version: str
    hashes: list[str] = field(default_factory=list)
    via_project: bool = False  # pip-compile's "# via masker (pyproject.toml)": a direct dependency


_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;[^\\]*)?\\?\s*$")
_HASH = re.compile(r"^\s+--hash=(sha256:[0-9a-f]{64})\s*\\?\s*$")


def read_lock(path: Path) -> dict[str, Pin]:
    """Canonical name -> pin; fails on any requirement line that is not ``name==version``."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            if current is not None and line.strip().endswith("masker (pyproject.toml)"):
                current.via_project = True
            continue
        if (m := _HASH.match(line)) and current is not None:
            current.hashes.append(m.group(1))
        elif m := _PIN.match(line):
            current = pins.setdefault(canonicalize_name(m.group(1)), Pin(m.group(2)))
        else:
            pytest.fail(f"{path.name}:{number}: not a hashed name==version pin: {line.strip()!r}")
    return pins


@pytest.mark.parametrize("lock, requirements", [
    (RUNTIME_LOCK, RUNTIME),
    (TEST_LOCK, RUNTIME + TEST_EXTRA),
], ids=["requirements.lock", "requirements-test.lock"])
def test_the_lock_pins_every_declared_dependency_with_hashes(lock, requirements):
    assert lock.is_file(), f"{lock.name} is missing: run `make lock`"
    assert "Linux x86_64" in lock.read_text().splitlines()[0], f"{lock.name} should say which platform it is for"
    pins = read_lock(lock)
    declared = _declared(requirements, LOCK_ENV)
    problems = [f"{name}: no hashes" for name, pin in pins.items() if not pin.hashes]
    for name, req in sorted(declared.items()):
        pin = pins.get(name)
        if pin is None:
            problems.append(f"{req} is not pinned")
        elif not req.specifier.contains(Version(pin.version), prereleases=True):
            problems.append(f"{name}=={pin.version} does not satisfy {req}")
    stale = sorted(name for name, pin in pins.items() if pin.via_project and name not in declared)
    problems += [f"{name} is pinned as a direct dependency but no longer declared" for name in stale]
    assert not problems, f"{lock.name} is out of date, run `make lock`:\n  " + "\n  ".join(problems)


def test_tests_run_the_versions_production_installs():
    runtime, test = read_lock(RUNTIME_LOCK), read_lock(TEST_LOCK)
    missing = sorted(set(runtime) - set(test))
    differ = sorted(f"{n}: {runtime[n].version} vs {test[n].version}" for n in set(runtime) & set(test)
                    if runtime[n].version != test[n].version)
    assert not missing and not differ, f"requirements-test.lock must contain requirements.lock: missing {missing}, differ {differ}"


def test_installs_go_through_the_locks_with_hashes():
    makefile = (ROOT / "Makefile").read_text()
    rule = re.search(r"^\$\(VENV\)/\.installed:(.*)\n((?:\t.*\n)+)", makefile, re.M)
    assert rule, "Makefile: no $(VENV)/.installed rule"
    prerequisites, recipe = rule.group(1).split(), rule.group(2)
    assert {"requirements.lock", "requirements-test.lock"} <= set(prerequisites), "a lock refresh must reinstall"
    assert re.search(r"pip install .*--require-hashes .*-r requirements-test\.lock", recipe), recipe
    assert re.search(r"pip install .*--no-deps .*-e \.", recipe), recipe
    assert re.search(r"^lock:", makefile, re.M), "Makefile: no `make lock`"
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    # the image's requirements are the runtime lock (onnxruntime-gpu swapped for its CPU wheel in the CPU variant)
    assert re.search(r'variant_requirements\.py "\$VARIANT" requirements\.lock > (\S+)', dockerfile), "no lock-derived requirements"
    assert re.search(r"pip install .*--require-hashes .*-r /tmp/requirements\.txt", dockerfile)
    assert not re.search(r"pip install[^\n]*\s-e\s", dockerfile), "the image must not pip install -e (unlocked dependencies)"
