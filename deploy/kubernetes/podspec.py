"""Read rendered manifests the way the kubelet and ``masker run`` will.

Shared by the manifest checks (tests/test_deploy_manifests.py) and the test
that starts the sidecar as its container spec says (tests/e2e/test_e2e_deploy.py):
the pod template of a workload, a container by name, its environment with
``$(VAR)`` references expanded as the kubelet does, what each mount holds
(Secret / ConfigMap keys), and the addresses Masker listens on given its args.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Doc = dict[str, Any]
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def find(docs: list[Doc], kind: str, name: str | None = None) -> Doc:
    found = [d for d in docs if d["kind"] == kind and name in (None, d["metadata"]["name"])]
    if len(found) != 1:
        raise LookupError(f"expected one {kind} {name or ''}, found {len(found)}")
    return found[0]


def pod_spec(docs: list[Doc]) -> Doc:
    """The pod template spec of the one workload in ``docs``."""
    workloads = [d for d in docs if d["kind"] in WORKLOAD_KINDS]
    if len(workloads) != 1:
        raise LookupError(f"expected one workload, found {len(workloads)}")
    return workloads[0]["spec"]["template"]["spec"]


def all_containers(spec: Doc) -> list[Doc]:
    return list(spec.get("initContainers", [])) + list(spec.get("containers", []))


def container(spec: Doc, name: str) -> Doc:
    found = [c for c in all_containers(spec) if c["name"] == name]
    if len(found) != 1:
        raise LookupError(f"expected one container {name!r}, found {len(found)}")
    return found[0]


def expand(text: str, env: dict[str, str]) -> str:
    """``$(NAME)`` replaced by an earlier variable, as the kubelet does (unknown ones stay)."""
    return _VAR.sub(lambda m: env.get(m.group(1), m.group(0)), text)


def environment(c: Doc, values: dict[tuple[str, str, str], str], pod_name: str = "pod-0") -> dict[str, str]:
    """The container's variables. ``values`` maps (kind, object name, key) to the
    value of each Secret / ConfigMap key referenced; ``fieldRef: metadata.name`` is ``pod_name``."""
    env: dict[str, str] = {}
    if c.get("envFrom"):
        raise ValueError("envFrom is not used by these manifests: name each variable")
    for var in c.get("env", []):
        if "value" in var:
            env[var["name"]] = expand(var["value"], env)
            continue
        source = var["valueFrom"]
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            env[var["name"]] = values[("Secret", ref["name"], ref["key"])]
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            env[var["name"]] = values[("ConfigMap", ref["name"], ref["key"])]
        elif source.get("fieldRef", {}).get("fieldPath") == "metadata.name":
            env[var["name"]] = pod_name
        else:
            raise ValueError(f"unsupported valueFrom in {var['name']}: {source}")
    return env


@dataclass(frozen=True)
class Mount:
    path: str
    read_only: bool
    kind: str  # "Secret", "ConfigMap", "PersistentVolumeClaim", "emptyDir"
    name: str  # the object's name ("" for emptyDir)
    files: dict[str, str]  # path in the mount -> key of the object (Secret / ConfigMap)
    mode: int | None  # defaultMode of a Secret / ConfigMap volume


def mounts(spec: Doc, c: Doc) -> list[Mount]:
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    out = []
    for m in c.get("volumeMounts", []):
        if "subPath" in m or "subPathExpr" in m:
            raise ValueError("subPath mounts are not used by these manifests")
        v = volumes[m["name"]]
        if "secret" in v or "configMap" in v:
            kind = "Secret" if "secret" in v else "ConfigMap"
            src = v["secret"] if kind == "Secret" else v["configMap"]
            name = src["secretName"] if kind == "Secret" else src["name"]
            if "items" not in src:
                raise ValueError(f"volume {m['name']}: list its items (a missing key must stop the pod)")
            files = {item["path"]: item["key"] for item in src["items"]}
            out.append(Mount(m["mountPath"], bool(m.get("readOnly")), kind, name, files, src.get("defaultMode")))
        elif "persistentVolumeClaim" in v:
            out.append(Mount(m["mountPath"], bool(m.get("readOnly")), "PersistentVolumeClaim",
                             v["persistentVolumeClaim"]["claimName"], {}, None))
        elif "emptyDir" in v:
            out.append(Mount(m["mountPath"], bool(m.get("readOnly")), "emptyDir", "", {}, None))
        else:
            raise ValueError(f"unsupported volume {m['name']}")
    return out


@dataclass(frozen=True)
class Listener:
    mode: str  # mitmproxy mode type: regular, reverse, transparent...
    spec: str  # the mode as given
    host: str
    port: int

    @property
    def on_pod_ip(self) -> bool:
        """Reachable on the pod IP (the kubelet's probes, a Service)."""
        return self.host in ("", "0.0.0.0", "::")


def listeners(args: list[str]) -> list[Listener]:
    """What ``masker run ARGS`` listens on, computed with Masker's own argument parser."""
    from masker.cli import build_parser
    from mitmproxy.proxy.mode_specs import ProxyMode

    parsed = build_parser().parse_args(["run", *args])
    host, port = parsed.listen
    out = []
    for spec in parsed.mode or ["regular"]:
        mode = ProxyMode.parse(spec)
        out.append(Listener(mode.type_name, spec, mode.listen_host(host), mode.listen_port(port) or port))
    return out


def port_number(c: Doc, port: int | str) -> int:
    """A probe's or Service's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in c.get("ports", []) if "name" in p}
    return named[port]
