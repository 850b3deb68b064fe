"""``masker ca``: CA creation (0600 key), shared CA from a mounted file, trust bundle."""

from __future__ import annotations

import os
import ssl
import stat
import subprocess
import sys

import certifi
from cryptography import x509

from masker import cli
from masker.proxy import ca


def test_masker_ca_writes_bundle_and_prints_env_lines(tmp_path, capsys):
    out = tmp_path / "bundle.pem"
    assert cli.main(["ca", "--data-dir", str(tmp_path / "data"), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    printed = captured.out.splitlines()
    assert printed == [f"export {name}={out.resolve()}" for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")]
    assert "written to" in captured.err  # the words go to stderr: stdout is only shell
    key = tmp_path / "data" / "ca" / ca.KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    bundle = out.read_text()
    assert "PRIVATE KEY" not in bundle
    assert bundle.startswith(certifi.contents()[:200])
    masker_cert = (tmp_path / "data" / "ca" / ca.CERT_FILE).read_text()
    assert bundle.rstrip().endswith(masker_cert.rstrip())
    ssl.create_default_context(cafile=str(out))  # loadable as a trust store
    assert x509.load_pem_x509_certificate(masker_cert.encode()).subject.rfc4514_string() == "O=Masker,CN=Masker sidecar CA"


def test_replicas_share_a_ca_from_a_mounted_file(tmp_path):
    first = ca.ensure_ca(tmp_path / "one")
    secret = tmp_path / "secret.pem"
    secret.write_bytes((tmp_path / "one" / ca.KEY_FILE).read_bytes())
    second = ca.ensure_ca(tmp_path / "two", {"MASKER_CA_FILE": str(secret)})
    assert second == first
    assert (tmp_path / "two" / ca.CERT_FILE).read_bytes() == first
    assert stat.S_IMODE((tmp_path / "two" / ca.KEY_FILE).stat().st_mode) == 0o600


def test_ca_dir_from_env(tmp_path):
    assert ca.ca_dir(tmp_path, {"MASKER_CA_DIR": "/run/secrets/masker-ca"}).as_posix() == "/run/secrets/masker-ca"
    assert ca.ca_dir(tmp_path, {}) == tmp_path / "ca"


def test_masker_ca_output_can_be_evaluated_and_sourced(tmp_path):
    """``eval "$(masker ca)"`` and ``. file`` set the variables, a path with a space included."""
    out = tmp_path / "my bundle" / "ca.pem"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASKER_")}
    cmd = [sys.executable, "-m", "masker.cli", "ca", "--data-dir", str(tmp_path / "data"), "--out", str(out)]
    lines = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env, timeout=120).stdout
    (tmp_path / "env.sh").write_text(lines)
    script = 'eval "$LINES"; echo "$SSL_CERT_FILE|$REQUESTS_CA_BUNDLE"; unset SSL_CERT_FILE; . "$ENVFILE"; echo "$NODE_EXTRA_CA_CERTS"'
    shown = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True, timeout=30,
                           env={"PATH": "/usr/bin:/bin", "LINES": lines, "ENVFILE": str(tmp_path / "env.sh")}).stdout
    b = str(out.resolve())
    assert shown.splitlines() == [f"{b}|{b}", b]
