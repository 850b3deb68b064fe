"""The sidecar started exactly as its Kubernetes container spec says, as local processes.

For each overlay the test renders the manifests (deploy/kubernetes/render.py)
and starts the image's ENTRYPOINT (``masker run``) with the container's args
and environment (``$(VAR)`` expanded, Secret keys and fieldRefs resolved), as
the kubelet would:

- in a network namespace of its own with a veth "pod IP" (198.51.100.2, a
  documentation range that lives only inside that namespace), where the
  kubelet's probes are sent to the probe ports of the manifest;
- as the manifest's non-root uid/gid, with fsGroup as supplementary group;
- every Secret / ConfigMap volume laid out from its items (mode defaultMode,
  group fsGroup) and bind-mounted read-only, the PersistentVolumeClaim
  writable, and the rest of the root filesystem read-only (a private mount
  namespace: ``mount -o remount,bind,ro /``). Paths live under a per-test
  directory standing for the container's ``/``: each mount path and each arg or
  variable value under one is prefixed with it.

Test-only additions to the args, and nothing else: ``--set scripts=`` the
redirect addon (api.openai.com -> the fake upstream in the namespace) and
``--set ssl_verify_upstream_trusted_ca=`` the fake upstream's CA.

Transparent mode additionally runs the image's proxy-init script
(deploy/image/proxy-init.sh) in the namespace with the init container's env,
then a client that sets no proxy connects to "api.openai.com" (198.51.100.10:443)
and must be masked. A stand-in for the provider's network sends Masker's own
connections to 198.51.100.10:443 on to the fake upstream.

Needs root, ``ip`` (netns, veth), ``unshare``, ``setpriv``; transparent mode
also ``iptables``/``ip6tables``. Without them each test is skipped with the
reason (never silently).
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from masker.proxy import ca
from tests.e2e.fake_upstream import FakeUpstream
from tests.e2e.leak_helpers import kinds_in
from tests.e2e.phi import CHART, PHI
from tests.helpers.scripts import KUBE, ROOT, load_script

podspec = load_script(KUBE / "podspec.py")
render = load_script(KUBE / "render.py")

VENV_BIN = Path(sys.executable).parent
POD_IP = "198.51.100.2"
PROVIDER_IP = "198.51.100.10"  # "api.openai.com" for the transparent-mode client
POD_NAME = "voice-agent-0"
READY_TIMEOUT = 60.0


def _missing_tools(*tools: str) -> list[str]:
    return [t for t in tools if shutil.which(t) is None]


def require(*tools: str) -> None:
    """Skip, loudly and with the reason, where the pod cannot be emulated."""
    if os.geteuid() != 0:
        pytest.skip("DEPLOY TEST NOT RUN: needs root (network and mount namespaces, another uid)")
    missing = _missing_tools("ip", "unshare", "setpriv", *tools)
    if missing:
        pytest.skip(f"DEPLOY TEST NOT RUN: missing {', '.join(missing)} (apt-get install iproute2 util-linux iptables)")


# --- the network namespace --------------------------------------------------------------------------


class Netns:
    """A network namespace with lo and a veth pair (the pod's interface holds POD_IP);
    ``call`` runs a function on a thread inside it (sockets it opens live there)."""

    def __init__(self) -> None:
        self.name = f"masker-deploy-{os.getpid()}-{secrets.token_hex(3)}"
        self.ip("netns", "add", self.name)
        for cmd in (["link", "set", "lo", "up"], ["link", "add", "eth0", "type", "veth", "peer", "name", "peer0"],
                    ["addr", "add", f"{POD_IP}/24", "dev", "eth0"], ["addr", "add", f"{PROVIDER_IP}/32", "dev", "peer0"],
                    ["link", "set", "eth0", "up"], ["link", "set", "peer0", "up"]):
            self.ip("-n", self.name, *cmd)
        self._pool = concurrent.futures.ThreadPoolExecutor(1, initializer=self._enter)

    @staticmethod
    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)

    def _enter(self) -> None:
        fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        try:
            os.setns(fd, os.CLONE_NEWNET)
        finally:
            os.close(fd)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self._pool.submit(fn, *args).result(timeout=120)

    def exec_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.name]

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=30, check=False)


# --- the pod's files, as the kubelet lays them out --------------------------------------------------


@dataclass
class Pod:
    root: Path  # stands for the container's /
    spec: dict
    values: dict[tuple[str, str, str], str]  # (kind, name, key) -> value of every Secret / ConfigMap key

    def host(self, container_path: str) -> Path:
        return self.root / container_path.lstrip("/")

    def map_value(self, c: dict, value: str) -> str:
        """A value naming a path under one of the container's mounts, moved under ``root``."""
        for m in podspec.mounts(self.spec, c):
            if value == m.path or value.startswith(m.path + "/"):
                return str(self.host(value))
        return value


def cluster_values(work: Path) -> dict[tuple[str, str, str], str]:
    """What the required Secrets and ConfigMaps hold: fresh keys, a fresh CA (``masker ca``), its bundle."""
    keys = {name: base64.b64encode(secrets.token_bytes(32)).decode()
            for name in ("MASKER_KEY_K_HEALTHCARE", "MASKER_AUDIT_KEY", "MASKER_SIGNING_KEY")}
    ca_dir = work / "ca-out" / "ca"
    cert = ca.ensure_ca(ca_dir)
    bundle = ca.write_bundle(cert, work / "ca-out" / ca.BUNDLE_FILE)
    values = {("Secret", "masker-keys", k): v for k, v in keys.items()}
    values.update({("Secret", "masker-ca", name): (ca_dir / name).read_text() for name in ca.SECRET_KEYS})
    values[("ConfigMap", "masker-ca-bundle", "ca-bundle.pem")] = bundle.read_text()
    return values


def lay_out(pod: Pod, docs: list[dict], c: dict) -> list[tuple[Path, bool]]:
    """Write the container's mounts under ``pod.root``; return (host dir, read-only) per mount."""
    config_maps = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    fs_group = pod.spec["securityContext"]["fsGroup"]
    out = []
    for m in podspec.mounts(pod.spec, c):
        directory = pod.host(m.path)
        directory.mkdir(parents=True, exist_ok=True)
        if m.kind in ("Secret", "ConfigMap"):
            for path, key in m.files.items():
                if m.kind == "ConfigMap" and m.name in config_maps:
                    text = config_maps[m.name]["data"][key]
                else:
                    text = pod.values[(m.kind, m.name, key)]
                f = directory / path
                f.write_text(text)
                os.chown(f, 0, fs_group)
                f.chmod(m.mode if m.mode is not None else 0o644)
            directory.chmod(0o755)
        elif m.kind == "PersistentVolumeClaim":
            os.chown(directory, 0, fs_group)
            directory.chmod(0o2775)  # the volume root, group-writable for fsGroup
        out.append((directory, m.read_only))
    return out


# --- starting the container ---------------------------------------------------------------------------


def image_entrypoint() -> list[str]:
    entry = re.findall(r"^ENTRYPOINT\s+(\[.*\])\s*$", (ROOT / "deploy" / "Dockerfile").read_text(), re.MULTILINE)[-1]
    return json.loads(entry)


def _interpreter_unreachable_dir() -> tuple[Path, Path] | None:
    """(dir, child): the first directory on the interpreter's path that others cannot enter
    (pyenv under /root), and its child on that path; None when every one can be entered."""
    target = Path(sys.base_prefix).resolve()
    for parent in reversed(target.parents):
        if not parent.stat().st_mode & 0o001:
            return parent, parent / target.relative_to(parent).parts[0]
    return None


MOUNT_SCRIPT = r"""
set -eu
# the writable volumes keep their own mounts; the rest of / becomes read-only
for d in $RW_DIRS; do mount --bind "$d" "$d"; done
for d in $RO_DIRS; do mount --bind -o ro "$d" "$d"; done
if [ -n "${HIDDEN_DIR:-}" ]; then
  # make the interpreter reachable for the container's uid: an empty, enterable
  # directory over HIDDEN_DIR with only the child that leads to Python in it
  mount --bind "$HIDDEN_CHILD" "$STAGE"
  mount -t tmpfs -o mode=0755,size=1m tmpfs "$HIDDEN_DIR"
  mkdir -p "$HIDDEN_CHILD"
  mount --bind "$STAGE" "$HIDDEN_CHILD"
  mount -o remount,ro "$HIDDEN_DIR"
fi
mount -o remount,bind,ro /
exec setpriv --reuid "$RUN_UID" --regid "$RUN_GID" --groups "$FS_GROUP" --inh-caps=-all --bounding-set=-all \
  --no-new-privs -- "$@"
"""


@dataclass
class Running:
    proc: subprocess.Popen
    log: Path
    pod: Pod

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def tree_memory_kib(self) -> tuple[int, int]:
        """(RSS, PSS) in KiB of the sidecar and its worker processes."""
        pids = {self.proc.pid}
        changed = True
        while changed:
            changed = False
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                pid, ppid = int(stat.parent.name), int(fields[1])
                if ppid in pids and pid not in pids:
                    pids.add(pid)
                    changed = True
        rss = pss = 0
        for pid in pids:
            try:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            rss += int(re.search(r"^Rss:\s+(\d+)", rollup, re.MULTILINE).group(1))
            pss += int(re.search(r"^Pss:\s+(\d+)", rollup, re.MULTILINE).group(1))
        return rss, pss


def start_container(ns: Netns, pod: Pod, docs: list[dict], name: str, extra_args: list[str],
                    extra_env: dict[str, str]) -> Running:
    c = podspec.container(pod.spec, name)
    mounts = lay_out(pod, docs, c)
    env = {k: pod.map_value(c, v) for k, v in podspec.environment(c, pod.values, POD_NAME).items()}
    args = [pod.map_value(c, a) for a in c.get("args", [])]
    entry, *entry_args = image_entrypoint()
    sc = c["securityContext"]
    hidden = _interpreter_unreachable_dir()
    stage = pod.root / ".stage"
    stage.mkdir(exist_ok=True)
    wrapper_env = {
        "PATH": f"{VENV_BIN}:/usr/sbin:/usr/bin:/sbin:/bin",
        "RW_DIRS": " ".join(str(d) for d, ro in mounts if not ro),
        "RO_DIRS": " ".join(str(d) for d, ro in mounts if ro),
        "HIDDEN_DIR": str(hidden[0]) if hidden else "",
        "HIDDEN_CHILD": str(hidden[1]) if hidden else "",
        "STAGE": str(stage),
        "RUN_UID": str(sc["runAsUser"]), "RUN_GID": str(sc["runAsGroup"]),
        "FS_GROUP": str(pod.spec["securityContext"]["fsGroup"]),
    }
    # the image's ENV (deploy/Dockerfile) that the venv stands for, then the container's
    image_env = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "HOME": "/nonexistent"}
    log = pod.root.parent / f"{name}.log"
    cmd = [*ns.exec_prefix(), "unshare", "--mount", "--propagation", "private", "sh", "-c", MOUNT_SCRIPT, "sh",
           "env", "-i", *[f"{k}={v}" for k, v in {**image_env, "PATH": wrapper_env["PATH"], **env, **extra_env}.items()],
           str(VENV_BIN / entry), *entry_args, *args, *extra_args]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=wrapper_env, stdout=out, stderr=subprocess.STDOUT)
    return Running(proc, log, pod)


def assert_contained(running: Running, c: dict, pod: Pod) -> None:
    """The sidecar really runs as the container would: its uid, gid and groups, no
    capabilities, a read-only root and read-only Secret/ConfigMap mounts."""
    status = Path(f"/proc/{running.proc.pid}/status").read_text()
    field = lambda name: re.search(rf"^{name}:\s+(.*)$", status, re.MULTILINE).group(1).split()
    sc = c["securityContext"]
    assert set(field("Uid")) == {str(sc["runAsUser"])} and set(field("Gid")) == {str(sc["runAsGroup"])}
    assert field("Groups") == [str(pod.spec["securityContext"]["fsGroup"])]
    assert int(field("CapEff")[0], 16) == 0
    options = {}
    for line in Path(f"/proc/{running.proc.pid}/mountinfo").read_text().splitlines():
        parts = line.split()
        options[parts[4]] = parts[5].split(",")
    assert "ro" in options["/"], "read-only root filesystem"
    for m in podspec.mounts(pod.spec, c):
        assert ("ro" if m.read_only else "rw") in options[str(pod.host(m.path))], m.path


def stop(running: Running) -> None:
    running.proc.terminate()
    try:
        running.proc.wait(15)
    except subprocess.TimeoutExpired:
        running.proc.kill()
        running.proc.wait(5)


def probe(ns: Netns, c: dict, name: str) -> int:
    """The status the kubelet's httpGet probe ``name`` gets at the pod IP (0: no connection)."""
    get = c[name]["httpGet"]
    url = f"http://{POD_IP}:{podspec.port_number(c, get['port'])}{get['path']}"

    def send() -> int:
        try:
            return httpx.get(url, timeout=3, trust_env=False).status_code
        except httpx.HTTPError:
            return 0
    return ns.call(send)


def wait_ready(ns: Netns, running: Running, c: dict) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if running.proc.poll() is not None:
            raise AssertionError(f"sidecar exited ({running.proc.returncode}):\n{running.log_text()[-4000:]}")
        if probe(ns, c, "startupProbe") == 200:
            return
        time.sleep(0.3)
    raise AssertionError(f"startup probe never answered 200:\n{running.log_text()[-4000:]}")


def memory_request_kib(c: dict) -> int:
    text = c["resources"]["requests"]["memory"]
    units = {"Ki": 1, "Mi": 1024, "Gi": 1024 * 1024}
    return int(text[:-2]) * units[text[-2:]]


# --- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture
def netns() -> Iterator[Netns]:
    ns = Netns()
    yield ns
    ns.close()


@pytest.fixture
def pod_root() -> Iterator[Path]:
    """A directory the container's uid can enter (pytest's tmp_path is 0700 under root)."""
    work = Path(tempfile.mkdtemp(prefix="masker-deploy-"))
    work.chmod(0o755)
    (work / "rootfs").mkdir(mode=0o755)
    yield work
    shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def ns_upstream(netns, upstream_certs) -> Iterator[FakeUpstream]:
    _, cert, key = upstream_certs
    server = netns.call(lambda: FakeUpstream(cert, key).start())
    yield server
    server.stop()


def sidecar_test_args(pod: Pod, upstream: FakeUpstream, upstream_ca: Path) -> tuple[list[str], dict[str, str]]:
    readable = pod.root.parent / "upstream-ca.pem"
    readable.write_bytes(upstream_ca.read_bytes())
    readable.chmod(0o644)
    args = ["--set", f"scripts={ROOT / 'tests' / 'e2e' / 'redirect_addon.py'}",
            "--set", f"ssl_verify_upstream_trusted_ca={readable}"]
    return args, {"FAKE_UPSTREAM_PORT": str(upstream.port)}



def chat(client: httpx.Client, url: str, headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": CHART}]}
    return client.post(url, json=body, headers={"authorization": "Bearer sk-test", **(headers or {})}, **kw)


def assert_masked(upstream: FakeUpstream, response: httpx.Response) -> None:
    assert response.status_code == 200, (response.status_code, response.headers.get("x-masker-error"), response.headers.get("server"))
    assert upstream.received, "nothing reached the upstream"
    sent = upstream.bodies().decode("utf-8", "replace")
    assert not [kind for value, kind in PHI.items() if value in sent], "PHI reached the upstream"
    assert "MSKV1." in sent, "the upstream got tokens"
    answer = response.json()["choices"][0]["message"]["content"]
    assert all(value in answer for value in PHI if value in CHART), "the answer is rehydrated"


def assert_nothing_at_rest(pod: Pod, running: Running, data_dir: Path) -> None:
    found = {}
    for path in [running.log, *data_dir.rglob("*")]:
        if path.is_file() and "sqlite" not in path.name:
            kinds = kinds_in(path.read_bytes().decode("utf-8", "replace"))
            if kinds:
                found[path.name] = kinds
    assert not found, f"planted values at rest or in the log (file: kinds): {found}"


# --- the tests ----------------------------------------------------------------------------------------


def test_sidecar_manifest_runs_probes_answer_on_the_pod_ip_and_requests_are_masked(
        netns, pod_root, ns_upstream, upstream_certs):
    require()
    docs = render.render(KUBE / "overlays" / "sidecar")
    spec = podspec.pod_spec(docs)
    pod = Pod(pod_root / "rootfs", spec, cluster_values(pod_root))
    extra_args, extra_env = sidecar_test_args(pod, ns_upstream, upstream_certs[0])
    running = start_container(netns, pod, docs, "masker", extra_args, extra_env)
    try:
        c = podspec.container(spec, "masker")
        wait_ready(netns, running, c)
        assert [probe(netns, c, p) for p in ("startupProbe", "readinessProbe", "livenessProbe")] == [200, 200, 200]
        # the proxy itself is not on the pod IP: only this pod's containers reach it
        (regular,) = [x for x in podspec.listeners(c["args"]) if x.mode == "regular"]
        assert netns.call(_connects, POD_IP, regular.port) is False
        # the agent container's settings: HTTPS_PROXY (user:x@) and the CA bundle from the ConfigMap
        agent = podspec.container(spec, "agent")
        agent_env = {k: pod.map_value(agent, v) for k, v in podspec.environment(agent, pod.values).items()}
        lay_out(pod, docs, agent)

        def send() -> httpx.Response:
            with httpx.Client(proxy=agent_env["HTTPS_PROXY"], verify=agent_env["SSL_CERT_FILE"], timeout=60,
                              trust_env=False) as client:
                return chat(client, "https://api.openai.com/v1/chat/completions", {"X-Masker-Session": "deploy-1"})
        assert_masked(ns_upstream, netns.call(send))
        rss, pss = running.tree_memory_kib()
        print(f"sidecar memory after a masked request: RSS {rss // 1024} MiB, PSS {pss // 1024} MiB "
              f"(request {memory_request_kib(c) // 1024} MiB)")
        assert rss <= memory_request_kib(c), "the memory request is below the measured RSS"
        data_dir = Path(pod.map_value(c, podspec.environment(c, pod.values, POD_NAME)["MASKER_DATA_DIR"]))
        assert (data_dir / "journal").is_dir(), "the journal is on the data volume"
        assert_contained(running, c, pod)
        assert not [p for p in pod.host("/etc/masker/ca").iterdir() if p.name not in ca.SECRET_KEYS]
    finally:
        stop(running)
    assert_nothing_at_rest(pod, running, pod.host("/var/lib/masker"))


def test_the_old_loopback_listener_fails_the_probes_on_the_pod_ip(netns, pod_root, ns_upstream, upstream_certs):
    """The check that can fail: a health listener on loopback (the old manifest) never answers the kubelet."""
    require()
    docs = render.render(KUBE / "overlays" / "sidecar")
    spec = podspec.pod_spec(docs)
    c = podspec.container(spec, "masker")
    c["args"] = [a.replace("@0.0.0.0:", "@127.0.0.1:") for a in c["args"]]
    pod = Pod(pod_root / "rootfs", spec, cluster_values(pod_root))
    extra_args, extra_env = sidecar_test_args(pod, ns_upstream, upstream_certs[0])
    running = start_container(netns, pod, docs, "masker", extra_args, extra_env)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while "ready in" not in running.log_text() and running.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.3)
        assert "ready in" in running.log_text(), running.log_text()[-3000:]
        assert probe(netns, c, "readinessProbe") == 0
    finally:
        stop(running)


def _connects(host: str, port: int) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def test_transparent_manifest_redirects_the_pods_443_into_masker(netns, pod_root, ns_upstream, upstream_certs):
    require("iptables", "ip6tables")
    docs = render.render(KUBE / "overlays" / "transparent")
    spec = podspec.pod_spec(docs)
    pod = Pod(pod_root / "rootfs", spec, cluster_values(pod_root))
    init = podspec.container(spec, "masker-proxy-init")
    init_env = podspec.environment(init, pod.values)
    done = subprocess.run([*netns.exec_prefix(), "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                           *[f"{k}={v}" for k, v in init_env.items()], str(ROOT / "deploy" / "image" / "proxy-init.sh")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    c = podspec.container(spec, "masker")
    # Stand-in for the provider's network: Masker's own connections to PROVIDER_IP:443 reach the fake upstream.
    subprocess.run([*netns.exec_prefix(), "iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", PROVIDER_IP,
                    "--dport", "443", "-m", "owner", "--uid-owner", str(c["securityContext"]["runAsUser"]),
                    "-j", "REDIRECT", "--to-ports", str(ns_upstream.port)], check=True, capture_output=True, timeout=30)
    extra_args, extra_env = sidecar_test_args(pod, ns_upstream, upstream_certs[0])
    running = start_container(netns, pod, docs, "masker", extra_args, extra_env)
    try:
        wait_ready(netns, running, c)
        agent = podspec.container(spec, "agent")
        agent_env = {k: pod.map_value(agent, v) for k, v in podspec.environment(agent, pod.values).items()}
        assert "HTTPS_PROXY" not in agent_env
        lay_out(pod, docs, agent)

        def send() -> httpx.Response:
            # the agent (here uid 0, not Masker's) connects straight to the provider's address
            with httpx.Client(verify=agent_env["SSL_CERT_FILE"], timeout=60, trust_env=False) as client:
                return chat(client, f"https://{PROVIDER_IP}/v1/chat/completions",
                            {"Host": "api.openai.com", "X-Masker-Session": "deploy-t"},
                            extensions={"sni_hostname": "api.openai.com"})
        assert_masked(ns_upstream, netns.call(send))
        assert "transparent" in running.log_text()
    finally:
        stop(running)
    assert_nothing_at_rest(pod, running, pod.host("/var/lib/masker"))
