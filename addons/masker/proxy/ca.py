"""Masker's interception CA (the mitmproxy confdir) and the client trust bundle.

The CA lives in ``<data-dir>/ca`` unless ``MASKER_CA_DIR`` names a directory
(a mounted secret shared by replicas), or ``MASKER_CA_FILE`` names a PEM with
the private key and certificate, which is installed into the confdir. A
writable confdir gets every file mitmproxy reads (``ensure_ca`` writes
``mitmproxy-dhparam.pem`` too, so ``masker ca --data-dir DIR`` leaves what a
Secret needs: ``SECRET_KEYS``); a read-only one (a mounted Secret) must hold
them all, else ``ensure_ca`` stops with the names of the missing files
rather than mitmproxy crashing on a write.
Files holding the key are 0600. Clients get only the certificate, appended
to the usual public roots (``SSL_CERT_FILE`` / ``REQUESTS_CA_BUNDLE``
*replace* the trust store, so the bundle must carry both).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from mitmproxy.certs import CertStore

BASENAME = "mitmproxy"  # mitmproxy reads <confdir>/mitmproxy-ca.pem
KEY_FILE = f"{BASENAME}-ca.pem"
CERT_FILE = f"{BASENAME}-ca-cert.pem"
SECRET_FILES = (KEY_FILE, f"{BASENAME}-ca.p12")
BUNDLE_FILE = "ca-bundle.pem"
DHPARAM_FILE = f"{BASENAME}-dhparam.pem"
# What a read-only confdir (a mounted Secret) must hold: mitmproxy reads all three.
SECRET_KEYS = (KEY_FILE, CERT_FILE, DHPARAM_FILE)


class CAError(RuntimeError):
    """The CA cannot be used as configured; the message says what to fix."""


def ca_dir(data_dir: Path, env: Mapping[str, str] = os.environ) -> Path:
    return Path(env["MASKER_CA_DIR"]) if env.get("MASKER_CA_DIR") else data_dir / "ca"


def ensure_ca(confdir: Path, env: Mapping[str, str] = os.environ) -> bytes:
    """Create (or install from ``MASKER_CA_FILE``) the CA; return the client certificate (PEM)."""
    key_path = confdir / KEY_FILE
    if confdir.is_dir() and not os.access(confdir, os.W_OK):
        missing = [name for name in SECRET_KEYS if not (confdir / name).is_file()]
        if missing:
            raise CAError(f"CA directory {confdir} is read-only and lacks {', '.join(missing)} "
                          "(`masker ca --data-dir DIR` writes them to DIR/ca)")
    if not key_path.exists():
        confdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if env.get("MASKER_CA_FILE"):
            _install(Path(env["MASKER_CA_FILE"]), confdir)
        else:
            CertStore.create_store(confdir, BASENAME, 2048, organization="Masker", cn="Masker sidecar CA")
    for name in SECRET_FILES:
        p = confdir / name
        if p.exists() and os.access(p, os.W_OK) and (p.stat().st_mode & 0o077):
            p.chmod(0o600)
    cert = x509.load_pem_x509_certificates(key_path.read_bytes())[0]
    pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path = confdir / CERT_FILE
    if os.access(confdir, os.W_OK):
        if not cert_path.exists():
            cert_path.write_bytes(pem)
        CertStore.load_dhparam(confdir / DHPARAM_FILE)  # writes mitmproxy's default when missing
    return pem


def _install(source: Path, confdir: Path) -> None:
    raw = source.read_bytes()
    load_pem_private_key(raw, None)  # must hold an unencrypted key...
    x509.load_pem_x509_certificates(raw)  # ...and the certificate
    fd = os.open(confdir / KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(raw)


def write_bundle(cert_pem: bytes, out: Path, roots: Path | None = None) -> Path:
    """Public roots (certifi, or ``roots``) + Masker's CA cert, written to ``out``."""
    base = (roots or Path(certifi.where())).read_text()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(base.rstrip("\n") + "\n\n# Masker sidecar CA\n" + cert_pem.decode("ascii"))
    return out


ENV_NAMES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")


def env_lines(bundle: Path) -> list[str]:
    """What the app container needs to trust Masker (Python httpx/requests, Node),
    as ``export NAME=PATH`` lines a POSIX shell can ``eval`` or ``source`` (the path shell-quoted)."""
    b = shlex.quote(str(bundle.resolve()))
    return [f"export {name}={b}" for name in ENV_NAMES]
