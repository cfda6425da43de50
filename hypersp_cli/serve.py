"""hypersp-serve: serve the demo apps (subtitles, minutes, online_resp, online_tel, offline_tel).

    hypersp-serve --app online_resp                                            # shipped demo_ko_16k, https://127.0.0.1:15003/
    hypersp-serve --app online_tel                                             # shipped demo_ko_8k (8 kHz), port 15004
    hypersp-serve --app online_resp --checkpoint runs/quickstart/best.pt
    hypersp-serve --app all --checkpoint best.pt --port 15000                  # every app under /NAME/
    hypersp-serve --app online_tel --checkpoint tel.pt --host 0.0.0.0          # other machines: https://HOST:15004/
    hypersp-serve --app online_resp --host 0.0.0.0 --ssl-cert cert.pem --ssl-key key.pem
    hypersp-serve --app minutes --no-ssl                                       # plain HTTP on localhost only
    hypersp-serve --app minutes --decoding ctc_beam --lm lm3.arpa --hotword 고객센터 vad.max_segment_s=15
    hypersp-serve --app online_resp -c serve.yaml streaming.endpoint_silence_s=0.6 serve.max_streams=32
    hypersp-serve --app minutes --checkpoint export/demo_ko_16k.onnx           # an ONNX export (onnxruntime)

Settings are one config, composed as in training: the checkpoint's config < ``-c FILE.yaml`` <
``key=value`` overrides (groups ``serve.*``, ``streaming.*``, ``vad.*``, ``decoding.*``; see
``hypersp-serve --print-config``). Every route (JSON POST, uploads, subtitles, minutes, streaming
finals) runs the same engine with that config; partials stay greedy for speed.

With one app its API is at /recognize (HTTP POST and WebSocket) and its page at /, as in the
original toolkit; with ``all`` each app is mounted under /NAME/ on one port. Without --ssl-cert/--ssl-key
and without --no-ssl a self-signed certificate is made once in --ssl-cert-dir (default
~/.cache/hypersp/tls, mode 0700) and kept across restarts (the browser's microphone needs HTTPS;
accept the certificate warning once). WebSockets take pages of the server's own origin and of
localhost; --allowed-origins adds others. Browsers allow the microphone
only on HTTPS pages or on http://localhost, so --no-ssl is for a server used on localhost (or through
an SSH tunnel to it) or behind a reverse proxy that terminates TLS: a microphone page opened over
plain HTTP from another host cannot record (it says so and how to fix it). Without --app the command
only loads the checkpoint, prints what it holds and lists the apps.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import List, Optional

from hypersp_cli.common import (add_common_args, add_decoding_args, add_runtime_arg, decoding_settings,
                                load_requested_plugins, print_components, require_extra, run, setup_logging)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hypersp-serve", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", help="checkpoint file or shipped model name (default: the app's shipped demo "
                                        "model, demo_ko_16k or demo_ko_8k for the 8 kHz apps)")
    p.add_argument("--app", default=None, help="registered demo app name, or 'all' (omit to just inspect the checkpoint)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0: the app's own port (15001-15005; 15000 for 'all')")
    tls = p.add_mutually_exclusive_group()
    tls.add_argument("--no-ssl", action="store_true",
                     help="plain HTTP/WS: only for localhost (or an SSH tunnel to it) or behind a TLS-terminating "
                          "proxy; browsers refuse the microphone on plain HTTP from another host")
    tls.add_argument("--ssl-cert", help="PEM certificate (with --ssl-key)")
    tls.add_argument("--ssl-cert-dir", metavar="DIR",
                     help="folder (mode 0700) of the self-signed key and certificate, made once and kept across "
                          "restarts (default: ~/.cache/hypersp/tls, or $XDG_CACHE_HOME/hypersp/tls)")
    p.add_argument("--ssl-key", help="PEM private key")
    p.add_argument("--allowed-origins", metavar="LIST",
                   help="comma-separated origins (https://app.example.com:8443) or host names whose pages may open "
                        "WebSockets, besides the server's own pages (default: localhost,127.0.0.1,::1; '*': any); "
                        "others are closed with 1008. Shorthand for serve.allowed_origins")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    p.add_argument("--max-streams", type=int, help="shorthand for serve.max_streams (default 64; more are refused, close 1013)")
    p.add_argument("--max-body-mb", type=float, help="shorthand for serve.max_body_mb (default 200)")
    p.add_argument("--max-frame-kb", type=int, help="shorthand for serve.max_frame_kb (default 1024)")
    p.add_argument("--idle-timeout", type=float, help="shorthand for serve.idle_timeout_s (default 30 s)")
    p.add_argument("--port-file", help="write the bound port here once listening (for tests and scripts)")
    p.add_argument("--workers", type=int, default=1,
                   help="server processes, each with its own model on the same port; on a CPU machine one per core "
                        "with --threads 1 serves many streams best (README, Scaling out). Stream limits and /metrics "
                        "are per worker")
    p.add_argument("-c", "--config", action="append", default=[], metavar="FILE.yaml",
                   help="YAML config applied over the checkpoint's (repeatable)")
    p.add_argument("--print-config", action="store_true", help="print the serve/streaming/vad/decoding config and exit")
    add_runtime_arg(p)
    add_decoding_args(p)
    add_common_args(p)
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="config overrides, e.g. serve.max_streams=32 streaming.endpoint_silence_s=0.6 vad.pad_s=0.2")
    return p


SHORTHANDS = {"max_streams": "serve.max_streams", "max_body_mb": "serve.max_body_mb",
              "max_frame_kb": "serve.max_frame_kb", "idle_timeout": "serve.idle_timeout_s"}


def overrides_from(args) -> List[str]:
    """``key=value`` overrides: the shorthand flags first, then the explicit ones (which win)."""
    out = [f"{key}={getattr(args, flag)}" for flag, key in SHORTHANDS.items() if getattr(args, flag) is not None]
    if args.allowed_origins is not None:  # a list: JSON quoting keeps '*' and ':' literal in the YAML override
        origins = [o.strip() for o in args.allowed_origins.split(",") if o.strip()]
        out.append("serve.allowed_origins=" + json.dumps(origins))
    return out + list(args.overrides)


def default_checkpoint(app_names: List[str]) -> str:
    """The shipped model served when --checkpoint is omitted: one app's own ``default_checkpoint``
    (``demo_ko_8k`` for the 8 kHz apps); several apps share one model, the 16 kHz one."""
    from hypersp.registry import APPS

    if len(app_names) == 1:
        return APPS.config_class(app_names[0])().default_checkpoint
    return "demo_ko_16k"


def with_port_file(app, port_file: Optional[str], port: int):
    if port_file:
        @app.after_server_start
        async def _write_port(app_):  # tells a waiting script that the server is listening
            with open(port_file, "w") as f:
                f.write(str(port))
    return app


def worker_app(args, names: List[str], port: int):
    """The Sanic app of one worker process (``--workers N``): its own model, the same config."""
    import torch

    from hypersp.serve.server import ServerContext, create_app

    load_requested_plugins(args)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    server = ServerContext.load(args.checkpoint, config_files=args.config, overrides=overrides_from(args),
                                decoding=decoding_settings(args), device=args.device, threads=args.threads or None,
                                runtime=args.runtime, precision=args.precision)
    return with_port_file(create_app(server, names), args.port_file, port)


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)
    if bool(args.ssl_cert) != bool(args.ssl_key):
        parser.error("--ssl-cert and --ssl-key go together")

    def body() -> int:
        load_requested_plugins(args)
        if args.list:
            print_components(["app", "model"])
            return 0
        from hypersp.registry import APPS

        names = None
        if args.app is not None:
            names = APPS.names() if args.app == "all" else [a for a in args.app.split(",") if a]
            for n in names:
                APPS.get(n)  # unknown app names fail with the list of known apps
        if not args.checkpoint:
            if not names:
                parser.error("--checkpoint is required without --app")
            args.checkpoint = default_checkpoint(names)
        import torch

        if args.threads > 0:
            torch.set_num_threads(args.threads)
        from dataclasses import asdict

        require_extra("hypersp-serve", "serve", ("sanic", "websockets"))
        from hypersp.serve.security import self_signed_cert
        from hypersp.serve.server import ServerContext, create_app

        server = ServerContext.load(args.checkpoint, config_files=args.config, overrides=overrides_from(args),
                                    decoding=decoding_settings(args), device=args.device,
                                    threads=args.threads or None, runtime=args.runtime,
                                    precision=args.precision)
        rec = server.recognizer
        if args.print_config:
            from omegaconf import OmegaConf

            groups = {"serve": asdict(server.cfg), "streaming": asdict(server.streaming.cfg),
                      "vad": asdict(rec.vad), "decoding": asdict(rec.decoding)}
            print(OmegaConf.to_yaml(OmegaConf.create(groups)), end="")
            return 0
        live = server.streaming.describe()
        info = {"checkpoint": args.checkpoint, "sample_rate": rec.sample_rate, "vocab_size": rec.tokenizer.vocab_size,
                "decoding": rec.decoding.name, "streaming": live, "apps": APPS.names()}
        if rec.model is not None:
            info.update(task=rec.config.task.name, model=rec.config.model.name,
                        parameters=sum(p.numel() for p in rec.model.parameters()))
        if names is None:
            print(json.dumps(info, ensure_ascii=False, indent=2))
            return 0
        setup_logging()
        port = args.port or (APPS.config_class(names[0])().port if len(names) == 1 else 15000)
        ssl = None
        if args.ssl_cert:
            ssl = {"cert": args.ssl_cert, "key": args.ssl_key}
        elif not args.no_ssl:
            ssl = self_signed_cert(args.host, args.ssl_cert_dir)
        scheme = "https" if ssl else "http"
        logging.getLogger("hypersp.serve").info("model %s; live streams: %s", args.checkpoint, live)
        for n in names:
            path = "/" if len(names) == 1 else f"/{n}/"
            logging.getLogger("hypersp.serve").info("%s: %s://%s:%d%s (clients send %d Hz PCM16)", n, scheme,
                                                    args.host, port, path, APPS.config_class(n)().sample_rate)
        if args.workers > 1:  # each worker process builds its own model through the factory
            from functools import partial

            from sanic import Sanic
            from sanic.worker.loader import AppLoader

            del server  # the workers load their own
            _allow_slow_worker_start()
            loader = AppLoader(factory=partial(worker_app, args, names, port))
            app = loader.load()
            app.prepare(host=args.host, port=port, ssl=ssl, workers=args.workers, access_log=False, motd=False)
            Sanic.serve(primary=app, app_loader=loader)
            return 0
        app = with_port_file(create_app(server, names), args.port_file, port)
        app.run(host=args.host, port=port, ssl=ssl, single_process=True, access_log=False, motd=False)
        return 0

    return run("hypersp-serve", body)


# Seconds a worker process may take from its start to serving: model, LM and the spacing analyzer load there
# (20-40 s on 2 busy cores for two workers at once).
WORKER_START_LIMIT_S = 300


def _allow_slow_worker_start() -> None:
    """Sanic's manager waits 30 s for every worker to report ready, then kills its whole process group with
    SIGKILL (``WorkerManager.kill``: ``os.killpg``), which takes the shell job or test runner that started
    hypersp-serve with it. Our workers load a model before they are ready, so they get longer. Sanic counts the
    limit in 0.1 s polls and exposes it only as these class attributes."""
    from sanic.worker.manager import WorkerManager
    from sanic.worker.process import WorkerProcess

    WorkerManager.THRESHOLD = WorkerProcess.THRESHOLD = WORKER_START_LIMIT_S * 10


if __name__ == "__main__":
    sys.exit(main())
