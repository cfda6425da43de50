"""The floor of a streamed session's server cost: a Sanic WebSocket handler that receives messages as
hypersp-serve's ``_stream_session`` does (``ws.recv`` with a timeout) and does nothing with them. It answers the
text message ``"end"`` with the number of messages it received. Run by ``bench/serve_cost.py --floor``:

    python bench/ws_floor_server.py PORT
"""
import sys

from sanic import Sanic

app = Sanic("ws_floor")


@app.websocket("/recognize")
async def receive_only(request, ws):
    count = 0
    while True:
        msg = await ws.recv(timeout=30.0)
        if msg is None or msg == "end":
            await ws.send(str(count))
            return
        count += 1


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]), single_process=True, access_log=False, debug=False)
