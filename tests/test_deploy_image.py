"""deploy/Dockerfile and deploy/image: lint, the CPU / CUDA requirements, and the
CA files a Kubernetes Secret must carry (``masker ca`` writes them all; a
read-only CA directory missing one stops start-up with its name)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from masker import cli
from masker.proxy import ca
from tests.helpers.scripts import IMAGE, ROOT, load_script

DOCKERFILE = ROOT / "deploy" / "Dockerfile"
variant_requirements = load_script(IMAGE / "variant_requirements.py")

HADOLINT = Path(sys.executable).parent / "hadolint"


def test_dockerfile_passes_hadolint():
    done = subprocess.run([str(HADOLINT), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_can_fail(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:latest\nRUN apt-get install curl\n")
    assert subprocess.run([str(HADOLINT), str(bad)], capture_output=True, timeout=120, check=False).returncode != 0


def test_every_file_the_image_copies_is_in_the_build_context():
    """COPY sources exist and the allowlist in .dockerignore lets them through."""
    allowed = [line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")]
    for line in re.findall(r"^COPY\s+(?!--from)(.+)$", DOCKERFILE.read_text(), re.MULTILINE):
        *sources, _dest = line.split()
        for src in sources:
            assert (ROOT / src).exists(), src
            assert any(src == a or src.startswith(a + "/") for a in allowed), f"{src} is not in .dockerignore's allowlist"


def test_image_entrypoint_is_masker_run():
    """The manifests give only args: the image must start ``masker run``."""
    entry = re.findall(r"^ENTRYPOINT\s+(\[.*\])\s*$", DOCKERFILE.read_text(), re.MULTILINE)[-1]
    assert entry == '["masker", "run"]'


def lock_text() -> str:
    return (ROOT / "requirements.lock").read_text()


def test_cpu_variant_swaps_onnxruntime_gpu_for_the_cpu_build_of_the_same_version():
    cpu_lock = (IMAGE / "onnxruntime-cpu.lock").read_text()
    cpu = variant_requirements.requirements("cpu", lock_text(), cpu_lock)
    names = [e.split("==")[0] for e in variant_requirements.entries(cpu)]
    assert "onnxruntime-gpu" not in names and names.count("onnxruntime") == 1
    locked = [e.split("==")[0] for e in variant_requirements.entries(lock_text())]
    assert sorted(names) == sorted(["onnxruntime" if n == "onnxruntime-gpu" else n for n in locked])
    assert all("--hash=sha256:" in e for e in variant_requirements.entries(cpu)), "every entry hash-pinned"
    assert variant_requirements.requirements("cuda", lock_text(), cpu_lock) == "".join(variant_requirements.entries(lock_text()))


def test_a_stale_cpu_pin_stops_the_build():
    stale = "onnxruntime==0.0.1 \\\n    --hash=sha256:" + "0" * 64 + "\n"
    with pytest.raises(ValueError, match="refresh"):
        variant_requirements.requirements("cpu", lock_text(), stale)
    with pytest.raises(ValueError, match="variant"):
        variant_requirements.requirements("rocm", lock_text(), stale)


def test_proxy_init_script_is_valid_sh_and_names_its_settings():
    script = IMAGE / "proxy-init.sh"
    assert os.access(script, os.X_OK)
    subprocess.run(["sh", "-n", str(script)], check=True, timeout=30)
    done = subprocess.run(["sh", str(script)], capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin:/bin"}, check=False)
    assert done.returncode != 0 and "MASKER_TRANSPARENT_PORT is not set" in done.stderr


def test_masker_ca_writes_every_file_the_ca_secret_holds(tmp_path):
    out = tmp_path / "ca-out"
    assert cli.main(["ca", "--data-dir", str(out), "--out", str(out / "ca-bundle.pem")]) == 0
    assert all((out / "ca" / name).is_file() for name in ca.SECRET_KEYS)
    assert "DH PARAMETERS" in (out / "ca" / ca.DHPARAM_FILE).read_text()


def ensure_ca_read_only(secret: Path) -> subprocess.CompletedProcess:
    """``ensure_ca(secret)`` in a child that sees ``secret`` read-only: a read-only bind
    mount (as the kubelet mounts a Secret) when root, else a directory without write bits."""
    code = "import sys; from pathlib import Path; from masker.proxy import ca; sys.stdout.buffer.write(ca.ensure_ca(Path(sys.argv[1])))"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "addons")}
    if os.geteuid() == 0:
        script = 'mount --bind -o ro "$1" "$1" && shift && exec "$@"'
        cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(secret),
               sys.executable, "-c", code, str(secret)]
    else:
        secret.chmod(0o555)
        cmd = [sys.executable, "-c", code, str(secret)]
    try:
        return subprocess.run(cmd, capture_output=True, timeout=120, env=env, check=False)
    finally:
        secret.chmod(0o755)


def test_a_read_only_ca_dir_missing_a_file_is_named_at_start(tmp_path):
    ca.ensure_ca(tmp_path / "src")
    secret = tmp_path / "secret"
    secret.mkdir()
    for name in (ca.KEY_FILE, ca.CERT_FILE):
        (secret / name).write_bytes((tmp_path / "src" / name).read_bytes())
    refused = ensure_ca_read_only(secret)
    assert refused.returncode != 0
    assert b"CAError" in refused.stderr and ca.DHPARAM_FILE.encode() in refused.stderr
    assert b"Read-only file system" not in refused.stderr
    (secret / ca.DHPARAM_FILE).write_bytes((tmp_path / "src" / ca.DHPARAM_FILE).read_bytes())
    accepted = ensure_ca_read_only(secret)
    assert accepted.returncode == 0, accepted.stderr[-2000:]
    assert accepted.stdout == (tmp_path / "src" / ca.CERT_FILE).read_bytes()
    assert sorted(p.name for p in secret.iterdir()) == sorted(ca.SECRET_KEYS), "nothing written"
