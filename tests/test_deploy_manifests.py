"""deploy/kubernetes: every overlay renders, passes the Kubernetes schemas, and is wired.

Rendering uses deploy/kubernetes/render.py (kustomize is in no registry a fresh
CI machine installs from); where kustomize or kubectl is installed, it must give
the same objects. Wiring: every Secret / ConfigMap key a pod reads exists
(rendered, or listed in required-objects.yaml), every mount names a volume,
ports match what ``masker run`` listens on given its args (Masker's own parser),
probes reach a listener on the pod IP, and the Masker containers run as the
image's non-root user on a read-only root filesystem.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from masker.policy.load import load_policy
from masker.proxy import ca
from tests.helpers.scripts import KUBE, ROOT, load_script

podspec = load_script(KUBE / "podspec.py")
render = load_script(KUBE / "render.py")

OVERLAYS = ("sidecar", "transparent", "gateway")
# native sidecars (initContainers with restartPolicy: Always) are on by default from 1.29
K8S_VERSIONS = ("1.29", "1.37")
LOOPBACK = ("127.0.0.1", "::1", "localhost")
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")


def rendered(overlay: str) -> list[dict]:
    return render.render(KUBE / "overlays" / overlay)


def required_objects() -> list[dict]:
    return [d for d in yaml.safe_load_all((KUBE / "required-objects.yaml").read_text()) if d]


def object_keys(docs: list[dict]) -> dict[tuple[str, str], set[str]]:
    """(kind, name) -> keys, for the Secrets and ConfigMaps the cluster will have."""
    out = {}
    for d in docs:
        if d["kind"] in ("Secret", "ConfigMap"):
            out[(d["kind"], d["metadata"]["name"])] = set(d.get("data", {})) | set(d.get("stringData", {}))
    return out


def image_user() -> int:
    users = re.findall(r"^USER\s+(\d+)\s*$", (ROOT / "deploy" / "Dockerfile").read_text(), re.MULTILINE)
    assert users, "the Dockerfile names no numeric USER"
    return int(users[-1])


def masker_containers(spec: dict) -> list[dict]:
    return [c for c in podspec.all_containers(spec) if c["name"] == "masker"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_passes_the_kubernetes_schemas(overlay):
    docs = rendered(overlay)
    assert docs
    for version in K8S_VERSIONS:
        for doc in docs:
            kubernetes_validate.validate(doc, version, strict=True)


def test_the_schema_check_can_fail():
    doc = podspec.find(rendered("sidecar"), "Deployment")
    podspec.container(podspec.pod_spec([doc]), "masker")["readonlyRootFilesystem"] = True  # a typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSIONS[-1], strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_referenced_secret_and_configmap_key_exists(overlay):
    docs = rendered(overlay)
    have = object_keys(docs + required_objects())
    claims = {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    spec = podspec.pod_spec(docs)
    volume_names = {v["name"] for v in spec.get("volumes", [])}
    used = set()
    for c in podspec.all_containers(spec):
        used |= {m["name"] for m in c.get("volumeMounts", [])}
        for var in c.get("env", []):
            for kind, ref_name in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                ref = var.get("valueFrom", {}).get(ref_name)
                if ref:
                    assert ref["key"] in have.get((kind, ref["name"]), set()), (c["name"], var["name"])
        for m in podspec.mounts(spec, c):
            if m.kind in ("Secret", "ConfigMap"):
                assert set(m.files.values()) <= have.get((m.kind, m.name), set()), (c["name"], m.path)
            if m.kind == "PersistentVolumeClaim":
                assert m.name in claims, m.name
    assert used == volume_names, "every volume is mounted and every mount names a volume"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_masker_runs_non_root_read_only_with_the_policy_keys_and_ca_it_needs(overlay, tmp_path):
    docs = rendered(overlay)
    spec = podspec.pod_spec(docs)
    assert spec["securityContext"]["runAsNonRoot"] is True
    (masker,) = masker_containers(spec)
    sc = masker["securityContext"]
    assert sc["runAsUser"] == image_user() and sc["runAsNonRoot"] is True
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"]
    assert spec["securityContext"]["fsGroup"] == sc["runAsGroup"], "the mounted files are given to Masker's group"
    env = {v["name"]: v for v in masker["env"]}
    assert env["MASKER_ENV"]["value"] == "production"
    mounts = {m.path: m for m in podspec.mounts(spec, masker)}
    writable = [m for m in mounts.values() if not m.read_only]
    assert [m.kind for m in writable] == ["PersistentVolumeClaim"], "only the data volume is writable"
    assert env["MASKER_DATA_DIR"]["value"].startswith(writable[0].path + "/")
    # the CA: a read-only Secret holding every file mitmproxy reads
    ca_mount = mounts[env["MASKER_CA_DIR"]["value"]]
    assert ca_mount.kind == "Secret" and ca_mount.read_only and set(ca_mount.files) == set(ca.SECRET_KEYS)
    assert ca_mount.mode is not None and ca_mount.mode & 0o007 == 0, "the CA key is not world-readable"
    # the policy: the ConfigMap key --policy names holds a valid policy, whose key ids have keys
    args = masker["args"]
    policy_path = Path(args[args.index("--policy") + 1])
    policy_mount = mounts[str(policy_path.parent)]
    config_map = podspec.find(docs, "ConfigMap", policy_mount.name)
    policy_file = tmp_path / policy_path.name
    policy_file.write_text(config_map["data"][policy_mount.files[policy_path.name]])
    policy = load_policy(policy_file)
    assert f"MASKER_KEY_{policy.kid}" in env, "the policy's key id has its key from the Secret"
    for name in ("MASKER_AUDIT_KEY", "MASKER_SIGNING_KEY", f"MASKER_KEY_{policy.kid}"):
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "masker-keys"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_probes_and_ports_are_what_masker_listens_on(overlay):
    spec = podspec.pod_spec(rendered(overlay))
    (masker,) = masker_containers(spec)
    listening = podspec.listeners(masker["args"])
    assert len({(x.host, x.port) for x in listening}) == len(listening), "two listeners on one address"
    by_port = {x.port: x for x in listening}
    for p in masker.get("ports", []):
        assert p["containerPort"] in by_port and by_port[p["containerPort"]].on_pod_ip, p
    for probe in PROBES:
        get = masker[probe]["httpGet"]
        assert get["path"] in ("/healthz", "/readyz")
        target = by_port[podspec.port_number(masker, get["port"])]
        # the kubelet probes the pod IP; the listener must answer Masker's endpoints and forward nothing
        assert target.on_pod_ip and target.mode == "reverse" and target.spec.split("@")[0] == "reverse:http://masker.local"
    assert masker["startupProbe"]["httpGet"]["path"] == "/readyz"
    req, lim = masker["resources"]["requests"], masker["resources"]["limits"]
    assert set(req) == set(lim) == {"cpu", "memory"}
    assert args_value(masker["args"], "--workers") == cpu_count(lim["cpu"]), "one worker per CPU of the limit"


def args_value(args: list[str], flag: str) -> int:
    return int(args[args.index(flag) + 1])


def cpu_count(quantity: str) -> int:
    return int(quantity[:-1]) // 1000 if quantity.endswith("m") else int(quantity)


@pytest.mark.parametrize("overlay", ("sidecar", "transparent"))
def test_the_sidecar_starts_before_the_agent_and_stays_off_the_pod_ip(overlay):
    spec = podspec.pod_spec(rendered(overlay))
    (masker,) = masker_containers(spec)
    assert masker in spec["initContainers"] and masker["restartPolicy"] == "Always", "a native sidecar"
    proxies = [x for x in podspec.listeners(masker["args"]) if x.mode in ("regular", "transparent")]
    assert proxies and all(x.host in LOOPBACK for x in proxies), "the proxy serves this pod only"
    (agent,) = spec["containers"]
    env = {v["name"]: v.get("value") for v in agent["env"]}
    bundle_mount = {m.path: m for m in podspec.mounts(spec, agent)}
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"):
        path = Path(env[name])
        m = bundle_mount[str(path.parent)]
        assert (m.kind, m.name, m.files[path.name]) == ("ConfigMap", "masker-ca-bundle", "ca-bundle.pem")
    if overlay == "sidecar":
        url = urlsplit(env["HTTPS_PROXY"])
        regular = [x for x in proxies if x.mode == "regular"]
        assert (url.hostname, url.port) == (regular[0].host, regular[0].port)
        assert url.username and url.password, "user:x@ form: the Realtime client (websockets) needs a password"
    else:
        assert "HTTPS_PROXY" not in env and "NO_PROXY" not in env


def test_transparent_init_redirects_to_the_transparent_listener_and_spares_masker():
    spec = podspec.pod_spec(rendered("transparent"))
    names = [c["name"] for c in spec["initContainers"]]
    assert names == ["masker-proxy-init", "masker"], "iptables first, then the sidecar"
    init = spec["initContainers"][0]
    env = {v["name"]: v["value"] for v in init["env"]}
    (masker,) = masker_containers(spec)
    (transparent,) = [x for x in podspec.listeners(masker["args"]) if x.mode == "transparent"]
    assert int(env["MASKER_TRANSPARENT_PORT"]) == transparent.port and transparent.host == "127.0.0.1"
    assert int(env["MASKER_UID"]) == masker["securityContext"]["runAsUser"]
    sc = init["securityContext"]
    assert sc["capabilities"] == {"drop": ["ALL"], "add": ["NET_ADMIN", "NET_RAW"]}
    assert "restartPolicy" not in init, "runs once, then the sidecar starts"


def test_gateway_service_hpa_pdb_and_database_url_are_wired():
    docs = rendered("gateway")
    deployment = podspec.find(docs, "Deployment")
    spec = podspec.pod_spec(docs)
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    (masker,) = masker_containers(spec)
    by_port = {x.port: x for x in podspec.listeners(masker["args"])}
    service = podspec.find(docs, "Service")
    assert service["spec"]["selector"].items() <= labels.items()
    for p in service["spec"]["ports"]:
        target = by_port[podspec.port_number(masker, p["targetPort"])]
        assert target.mode == "regular" and target.on_pod_ip
    hpa = podspec.find(docs, "HorizontalPodAutoscaler")
    ref = hpa["spec"]["scaleTargetRef"]
    assert (ref["kind"], ref["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] == deployment["spec"]["replicas"] >= 2
    pdb = podspec.find(docs, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    policy = podspec.find(docs, "NetworkPolicy")
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    named = {p["name"] for p in masker["ports"]}
    assert {port["port"] for rule in policy["spec"]["ingress"] for port in rule["ports"]} <= named
    env = {v["name"]: v for v in masker["env"]}
    assert env["MASKER_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {"name": "masker-database", "key": "url"}


def test_the_base_policy_is_the_shipped_policy():
    assert (KUBE / "base" / "mask_policy.yaml").read_bytes() == (ROOT / "configs" / "mask_policy.yaml").read_bytes()


def test_renderer_matches_kustomize_where_one_is_installed():
    """A check of the renderer itself; kustomize is optional (not on a fresh machine)."""
    tool = shutil.which("kustomize")
    cmd = [tool, "build"] if tool else ([shutil.which("kubectl"), "kustomize"] if shutil.which("kubectl") else None)
    if cmd is None:
        pytest.skip("neither kustomize nor kubectl on PATH: render.py is not compared with kustomize on this machine")
    key = lambda d: (d["kind"], d["metadata"]["name"])
    for overlay in OVERLAYS:
        out = subprocess.run([*cmd, str(KUBE / "overlays" / overlay)], capture_output=True, text=True, timeout=120, check=True).stdout
        assert sorted(yaml.safe_load_all(out), key=key) == sorted(rendered(overlay), key=key), overlay


def test_renderer_refuses_what_it_does_not_implement(tmp_path):
    (tmp_path / "kustomization.yaml").write_text("resources: []\nnamePrefix: x-\n")
    with pytest.raises(render.RenderError, match="unsupported fields"):
        render.render(tmp_path)
    doc = {"spec": {"items": ["a"]}}
    with pytest.raises(render.RenderError, match="test failed"):
        render.json_patch(doc, {"op": "test", "path": "/spec/items/0", "value": "b"})
    with pytest.raises(render.RenderError, match="does not exist"):
        render.json_patch(doc, {"op": "remove", "path": "/spec/items/3"})
    render.json_patch(doc, {"op": "add", "path": "/spec/items/0", "value": "z"})
    render.json_patch(doc, {"op": "add", "path": "/spec/items/-", "value": "y"})
    assert doc == {"spec": {"items": ["z", "a", "y"]}}
