"""Security defaults of the demo server: which pages may open its WebSockets, and its TLS key.

Origins (``serve.allowed_origins``, ``hypersp-serve --allowed-origins``)
    A browser sends ``Origin`` with every WebSocket handshake; a page on another site could otherwise stream
    into this server with the visitor's network position. A session is allowed when it has no ``Origin``
    (not a browser: command-line and server clients send none), when the origin is the server's own (the
    ``Host`` the request was sent to: the pages this server serves), or when it matches an entry of the list:
    a full origin (``https://app.example.com:8443``), a host name (``app.example.com``: any scheme and port)
    or ``*`` (any). The default list is ``localhost, 127.0.0.1, ::1``. Others are closed with 1008 and a reason.

TLS (``hypersp-serve`` without ``--ssl-cert``/``--no-ssl``)
    One private key per certificate folder (``--ssl-cert-dir``, default ``$XDG_CACHE_HOME/hypersp/tls`` or
    ``~/.cache/hypersp/tls``, mode 0700), made once and kept across restarts, so a browser's exception for the
    self-signed certificate keeps working. The certificate is re-issued from that key only when it is missing,
    expires within a week, or does not name the host being served. New files are written under temporary
    names in the same folder and renamed into place; a failed attempt removes them; servers starting at once
    take turns (a lock on the folder) and so share one key. Nothing is written to the system's temporary
    folder, and the per-start ``hypersp-tls-*`` folders of earlier versions are removed.
"""
from __future__ import annotations

import fcntl
import ipaddress
import logging
import os
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Dict, Iterable, Optional, Set, Tuple
from urllib.parse import urlsplit

log = logging.getLogger("hypersp.serve")

DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


# ---- WebSocket origins -------------------------------------------------------------------------
def _host_port(netloc: str, scheme: str) -> Tuple[str, int]:
    """``"Example.com:8443"`` -> ``("example.com", 8443)``; the scheme's default port when none is given."""
    parts = urlsplit(f"//{netloc}")
    try:
        port = parts.port
    except ValueError:  # a port that is not a number
        port = -1
    return (parts.hostname or "").lower(), port if port is not None else DEFAULT_PORTS.get(scheme, -1)


def origin_allowed(origin: Optional[str], host: str, allowed: Iterable[str]) -> bool:
    """Whether a WebSocket handshake with ``Origin: origin``, sent to ``Host: host``, may proceed (see the
    module's docstring for the rules). ``origin`` None or empty: not a browser, allowed."""
    if not origin:
        return True
    allowed = [a.strip() for a in allowed if a.strip()]
    if "*" in allowed:
        return True
    parsed = urlsplit(origin.strip())
    scheme = parsed.scheme.lower()
    if not parsed.hostname:  # "null": a file:// page or a sandboxed frame
        return "null" in allowed
    name, port = _host_port(parsed.netloc, scheme)
    if host and (name, port) == _host_port(host, scheme):
        return True  # same origin: a page this server served
    for entry in allowed:
        if "://" in entry:
            want = urlsplit(entry)
            if want.scheme.lower() == scheme and _host_port(want.netloc, want.scheme.lower()) == (name, port):
                return True
        elif entry.lower().strip("[]") == name:
            return True
    return False


# ---- TLS ---------------------------------------------------------------------------------------
def default_cert_dir() -> Path:
    """``$XDG_CACHE_HOME/hypersp/tls``, or ``~/.cache/hypersp/tls``."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "hypersp" / "tls"


def san_names(host: str) -> Set[str]:
    """The subjectAltName entries a certificate for ``host`` carries (``DNS:localhost``, ``IP:127.0.0.1``,
    and the host itself unless it is a wildcard bind address)."""
    names = {"DNS:localhost", "IP:127.0.0.1"}
    try:
        ipaddress.ip_address(host)
        if host not in ("0.0.0.0", "::"):
            names.add(f"IP:{host}")
    except ValueError:
        names.add(f"DNS:{host}")
    return names


def _openssl() -> str:
    from hypersp.config import ConfigError

    openssl = shutil.which("openssl")
    if openssl is None:
        raise ConfigError("openssl is not installed, so no certificate can be made: install it, pass "
                          "--ssl-cert/--ssl-key, or --no-ssl")
    return openssl


def _private_dir(path: Path) -> None:
    """Create ``path`` with mode 0700, or check that an existing one is a folder only its owner can enter."""
    from hypersp.config import ConfigError

    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.stat()
    if not stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"--ssl-cert-dir {path} is not a folder")
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise ConfigError(f"--ssl-cert-dir {path} must belong to you with mode 0700 (it has {oct(st.st_mode & 0o777)}"
                          f"): its private key must not be readable by others; run chmod 700 {path} or choose "
                          "another folder")


def _cert_names(openssl: str, cert: Path) -> Optional[Set[str]]:
    """The certificate's subjectAltName entries (``DNS:...``, ``IP:...``), or None when it is unreadable or
    expires within 7 days (then it is re-issued)."""
    valid = subprocess.run([openssl, "x509", "-in", str(cert), "-noout", "-checkend", str(7 * 86400)],
                           capture_output=True)
    if valid.returncode != 0:
        return None
    out = subprocess.run([openssl, "x509", "-in", str(cert), "-noout", "-ext", "subjectAltName"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return None
    lines = out.stdout.splitlines()[1:]  # after the "X509v3 Subject Alternative Name:" title
    return {n.strip().replace("IP Address:", "IP:") for n in ",".join(lines).split(",") if n.strip()}


def self_signed_cert(host: str = "127.0.0.1", cert_dir: Optional[os.PathLike] = None) -> Dict[str, str]:
    """The self-signed certificate and key for serving ``host``, kept in ``cert_dir`` (default
    :func:`default_cert_dir`). Returns ``{"cert": path, "key": path}``. The key (RSA 2048, mode 0600) is
    made once; the certificate (365 days) is re-issued from it when needed (module docstring)."""
    openssl = _openssl()
    folder = Path(cert_dir) if cert_dir else default_cert_dir()
    _private_dir(folder)
    remove_legacy_temp_certs()
    key, cert = folder / "key.pem", folder / "cert.pem"
    made = []  # temporary files of this call, removed if anything fails
    lock = os.open(folder, os.O_RDONLY)  # servers starting at once: one makes the key, the others then use it
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not key.exists():
            tmp_key = folder / f".key.pem.{os.getpid()}.tmp"
            made.append(tmp_key)
            fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # private before any byte
            os.close(fd)
            subprocess.run([openssl, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                            "-out", str(tmp_key)], check=True, capture_output=True)
            os.replace(tmp_key, key)
            if cert.exists():
                cert.unlink()  # it belonged to another key
            log.info("TLS: new private key %s", key)
        want = san_names(host)
        have = _cert_names(openssl, cert) if cert.exists() else None
        if have is None or not want <= have:
            names = sorted(want | (have or set()))
            tmp_cert = folder / f".cert.pem.{os.getpid()}.tmp"
            made.append(tmp_cert)
            subprocess.run([openssl, "req", "-new", "-x509", "-key", str(key), "-out", str(tmp_cert), "-days", "365",
                            "-subj", "/CN=hypersp-demo", "-addext", "subjectAltName=" + ",".join(names)],
                           check=True, capture_output=True)
            os.replace(tmp_cert, cert)
            log.info("TLS: self-signed certificate %s for %s", cert, ", ".join(names))
    except subprocess.CalledProcessError as err:
        from hypersp.config import ConfigError

        raise ConfigError(f"openssl could not make the certificate in {folder}: "
                          f"{err.stderr.decode(errors='replace').strip()[-300:]}") from None
    finally:
        for path in made:
            if path.exists():
                path.unlink()
        os.close(lock)  # releases the lock
    return {"cert": str(cert), "key": str(key)}


def remove_legacy_temp_certs(min_age_s: float = 3600.0) -> int:
    """Remove the ``hypersp-tls-*`` folders that earlier versions made in the temporary folder at every start
    and never removed (each held a private key). Only folders of this user holding nothing but
    ``cert.pem``/``key.pem``, untouched for ``min_age_s`` seconds (not one an older server is starting
    with right now), are removed. Returns how many were."""
    removed, now = 0, time.time()
    for path in Path(tempfile.gettempdir()).glob("hypersp-tls-*"):
        try:
            st = path.lstat()
            if (stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and now - st.st_mtime > min_age_s
                    and set(os.listdir(path)) <= {"cert.pem", "key.pem"}):
                shutil.rmtree(path)
                removed += 1
        except OSError:
            continue
    if removed:
        log.info("TLS: removed %d temporary certificate folder(s) left by earlier versions", removed)
    return removed
