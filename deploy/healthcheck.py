"""Docker HEALTHCHECK: exit 0 when hypersp-serve answers GET /healthz on $HYPERSP_PORT (HTTPS with the
self-signed default certificate, or plain HTTP behind a TLS proxy), else 1."""
import os
import ssl
import sys
import urllib.request

port = os.environ.get("HYPERSP_PORT", "15000")
for scheme in ("https", "http"):
    try:
        with urllib.request.urlopen(f"{scheme}://127.0.0.1:{port}/healthz", timeout=4,
                                    context=ssl._create_unverified_context() if scheme == "https" else None) as r:
            sys.exit(0 if r.status == 200 else 1)
    except (OSError, ValueError):
        continue
sys.exit(1)
