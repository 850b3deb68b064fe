"""Render a kustomization of this directory without kustomize.

kustomize is not in any package registry a fresh CI machine can install from
(PyPI, Debian, npm), so the tests render the overlays with this small renderer,
which implements only what these kustomizations use and refuses the rest:

- ``resources``: YAML files and directories holding a ``kustomization.yaml``;
- ``configMapGenerator``: ``name`` + ``files``, with
  ``generatorOptions.disableNameSuffixHash: true`` (no hash suffix to compute);
- ``patches``: JSON 6902 patch files (ops ``add``, ``remove``, ``replace``,
  ``test``) with a ``target`` of group/version/kind/name.

Where kustomize (or kubectl) is installed, tests/test_deploy_manifests.py
checks that both give the same objects.

    python deploy/kubernetes/render.py deploy/kubernetes/overlays/sidecar
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import yaml

KUSTOMIZATION = "kustomization.yaml"
SUPPORTED_KEYS = {"apiVersion", "kind", "resources", "configMapGenerator", "generatorOptions", "patches"}
TARGET_KEYS = {"group", "version", "kind", "name"}

Doc = dict[str, Any]


class RenderError(ValueError):
    """The kustomization uses something this renderer does not implement, or is wrong."""


def render(directory: Path) -> list[Doc]:
    """The objects of the kustomization in ``directory``, patches applied."""
    kz = yaml.safe_load((directory / KUSTOMIZATION).read_text()) or {}
    unknown = set(kz) - SUPPORTED_KEYS
    if unknown:
        raise RenderError(f"{directory / KUSTOMIZATION}: unsupported fields {sorted(unknown)}")
    docs: list[Doc] = []
    for entry in kz.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            docs.extend(render(path))
        else:
            docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    docs.extend(_generated_config_maps(directory, kz))
    for patch in kz.get("patches", []):
        _apply_patch(directory, patch, docs)
    return docs


def _generated_config_maps(directory: Path, kz: Doc) -> list[Doc]:
    generators = kz.get("configMapGenerator", [])
    if generators and not (kz.get("generatorOptions") or {}).get("disableNameSuffixHash"):
        raise RenderError(f"{directory}: configMapGenerator needs generatorOptions.disableNameSuffixHash: true")
    out = []
    for gen in generators:
        if set(gen) - {"name", "files"}:
            raise RenderError(f"{directory}: configMapGenerator supports name and files only")
        data = {}
        for name in gen["files"]:
            if "=" in name:
                raise RenderError(f"{directory}: configMapGenerator key=file is not supported")
            data[Path(name).name] = (directory / name).read_text()
        out.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": gen["name"]}, "data": data})
    return out


def _matches(doc: Doc, target: Doc) -> bool:
    group, _, version = doc.get("apiVersion", "").rpartition("/")
    return (target.get("group", group) == group and target.get("version", version) == version
            and target.get("kind", doc.get("kind")) == doc.get("kind")
            and target.get("name", doc["metadata"]["name"]) == doc["metadata"]["name"])


def _apply_patch(directory: Path, patch: Doc, docs: list[Doc]) -> None:
    if set(patch) != {"path", "target"} or set(patch["target"]) - TARGET_KEYS:
        raise RenderError(f"{directory}: patches need path and target (group/version/kind/name) only")
    ops = yaml.safe_load((directory / patch["path"]).read_text())
    if not isinstance(ops, list):
        raise RenderError(f"{directory / patch['path']}: only JSON 6902 patches (a list of ops) are supported")
    targets = [d for d in docs if _matches(d, patch["target"])]
    if not targets:
        raise RenderError(f"{directory / patch['path']}: no object matches {patch['target']}")
    for doc in targets:
        for op in ops:
            json_patch(doc, op)


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise RenderError(f"JSON pointer must start with '/': {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str]) -> Any:
    for part in parts:
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def json_patch(doc: Doc, op: Doc) -> None:
    """Apply one RFC 6902 operation (add, remove, replace, test) to ``doc`` in place."""
    *parents, last = _pointer(op["path"])
    try:
        parent = _walk(doc, parents)
        kind = op["op"]
        if kind == "test":
            if _walk(parent, [last]) != op["value"]:
                raise RenderError(f"test failed at {op['path']}")
        elif kind == "add":
            value = copy.deepcopy(op["value"])
            if isinstance(parent, list):
                parent.insert(len(parent) if last == "-" else int(last), value)
            else:
                parent[last] = value
        elif kind == "remove":
            del parent[int(last) if isinstance(parent, list) else last]
        elif kind == "replace":
            _walk(parent, [last])  # must exist
            parent[int(last) if isinstance(parent, list) else last] = copy.deepcopy(op["value"])
        else:
            raise RenderError(f"unsupported JSON patch op {kind!r}")
    except RenderError:
        raise
    except (KeyError, IndexError, ValueError, TypeError) as e:
        raise RenderError(f"{op['op']} {op['path']}: path does not exist ({type(e).__name__})") from None


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        docs = render(Path(argv[0]))
    except (OSError, RenderError) as e:
        print(f"render: {e}", file=sys.stderr)
        return 1
    sys.stdout.write(yaml.safe_dump_all(docs, sort_keys=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
