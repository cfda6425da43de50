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
    counted in ``hypersp_errors_total`` of ``server.metrics`` under ``app_name``, the status and its reason."""
    server.metrics.inc("hypersp_errors_total", app=app_name, code=err.status, reason=err.reason)
    return json_response({"error": err.message}, status=err.status)


async def ws_error(ws, err, server, app_name: str) -> None:
    """End a WebSocket session over bad input: ``{"error": message}``, then close with ``err.ws_code`` and the
    message as the close reason (cut to the 123 bytes a close frame holds), counted like :func:`error_response`.
    A client that is already gone is no error."""
    from websockets.exceptions import ConnectionClosed

    server.metrics.inc("hypersp_errors_total", app=app_name, code=err.ws_code, reason=err.reason)
    try:
        await ws.send(json_text({"error": err.message}))
        await ws.close(err.ws_code, close_reason(err.message))
    except ConnectionClosed:
        pass


def count_limit_close(ws, server, app_name: str) -> None:
    """Count a session that websockets itself closed with 1009 (a frame over ``serve.max_frame_kb``; Sanic then
    cancels the handler or its ``recv`` raises ConnectionClosed). Call it where the session ends that way."""
    sent = getattr(getattr(ws, "ws_proto", None), "close_sent", None)  # the close frame the server sent, if any
    if sent is not None and sent.code == 1009:
        server.metrics.inc("hypersp_errors_total", app=app_name, code=1009, reason="too_large")


def close_reason(message: str) -> str:
    """A WebSocket close reason must fit in 123 bytes of UTF-8: ``message`` cut at a character boundary."""
    return message.encode("utf-8")[:120].decode("utf-8", errors="ignore")
