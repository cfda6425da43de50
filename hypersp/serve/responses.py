"""JSON responses and messages as every hypersp route writes them (public: demo apps and plugins use these).

    from hypersp.serve.responses import json_response, error_response
    return json_response({"keywords": [...]})                   # HTTP 200, Hangul kept as is
    return json_response({"error": "job not finished"}, status=404)
    await ws.send(json_text({"partial": "안녕"}))               # a WebSocket text message

Sanic is imported only when a response is built, so importing this module stays cheap.
"""
from __future__ import annotations

import json
from typing import Any


def json_text(body: Any) -> str:
    """``body`` as compact JSON text with non-ASCII characters (Hangul) kept as they are."""
    return json.dumps(body, ensure_ascii=False)


def json_response(body: Any, status: int = 200):
    """A Sanic JSON response of ``body`` (UTF-8, Hangul not escaped) with HTTP ``status``."""
    from sanic.response import json as sanic_json

    return sanic_json(body, status=status, dumps=json_text)


def error_response(err, server, app_name: str):
    """``{"error": message}`` with the status of ``err`` (a ``hypersp.serve.protocol.ProtocolError``),
    counted in ``hypersp_errors_total`` of ``server.metrics`` under ``app_name``."""
    server.metrics.inc("hypersp_errors_total", app=app_name, code=err.status)
    return json_response({"error": err.message}, status=err.status)
