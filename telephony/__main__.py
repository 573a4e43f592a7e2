"""``python -m telephony serve --host H --port P``: the outbound ESL server until SIGINT/SIGTERM.

``--workers N`` (``IVR_ESL_WORKERS``) runs N worker processes on the same port with
``SO_REUSEPORT`` (the kernel spreads FreeSWITCH's connections over them) and relays SIGTERM and
SIGINT to them. Stopping drains: a worker stops accepting at once and gives its running calls
``IVR_ESL_DRAIN_S`` (1800 s) to end before it cuts them.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal
import subprocess
import sys

from ivr.evidence import EvidenceSink
from telephony.evidence import LogEvidenceSink
from telephony.handler import CallHandler, DefaultHandler
from telephony.server import OutboundServer, ServerConfig

log = logging.getLogger("telephony")


def load_handler(spec: str | None) -> CallHandler:
    """``module:attribute`` naming a CallHandler (or a zero-argument factory of one)."""
    if not spec:
        log.warning(
            "no --handler: every call gets the default handler (a tone, then hang-up); "
            "run with --handler flows.app:FlowCallHandler for the IVR"
        )
        return DefaultHandler()
    module_name, _, attr = spec.partition(":")
    target = getattr(importlib.import_module(module_name), attr or "handler")
    if isinstance(target, type):
        handler: CallHandler = target()
        return handler
    return target  # type: ignore[no-any-return]


async def serve(
    host: str,
    port: int,
    handler: CallHandler,
    config: ServerConfig,
    *,
    reuse_port: bool = False,
    drain_s: float = 5.0,
) -> None:
    """Serve until a termination signal; then close gracefully.

    Aborted calls are recorded through the handler's ``evidence`` sink when it has one (the flow
    handler's hash-chained log), else only logged.
    """
    evidence: EvidenceSink = getattr(handler, "evidence", None) or LogEvidenceSink()
    server = OutboundServer(handler, evidence, config)
    bound = await server.start(host, port, reuse_port=reuse_port)
    print(f"ESL outbound server listening on {bound[0]}:{bound[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.serve_until(stop, drain_s)
    closer = getattr(handler, "aclose", None)
    if closer is not None:
        await closer()
    log.info("ESL outbound server stopped")


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m telephony``."""
    from ivr.settings import get_settings

    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m telephony")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="run the outbound ESL server")
    run.add_argument("--host", default=settings.esl_host)
    run.add_argument("--port", type=int, default=settings.esl_port)
    run.add_argument("--handler", default=None, help="module:attr of a CallHandler")
    run.add_argument("--log-level", default="INFO")
    run.add_argument("--workers", type=int, default=settings.esl_workers)
    run.add_argument("--reuse-port", action="store_true", help="share the port (SO_REUSEPORT)")
    run.add_argument("--drain-s", type=float, default=settings.esl_drain_s)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    config = ServerConfig(
        reply_timeout_s=settings.esl_reply_timeout_s,
        max_call_s=settings.esl_max_call_s,
    )
    if args.workers > 1:
        raise SystemExit(run_workers(args.workers, argv if argv is not None else sys.argv[1:]))
    asyncio.run(
        serve(
            args.host,
            args.port,
            load_handler(args.handler),
            config,
            reuse_port=args.reuse_port,
            drain_s=args.drain_s,
        )
    )


def run_workers(n: int, argv: list[str]) -> int:
    """Start ``n`` single-worker processes sharing the port; relay stop signals; wait for all
    (each drains). Returns the first non-zero exit code, else 0."""
    base: list[str] = []
    skip = False
    for arg in argv:
        if skip or arg.startswith("--workers="):
            skip = False
            continue
        skip = arg == "--workers"
        if not skip:
            base.append(arg)
    command = [sys.executable, "-m", "telephony", *base, "--workers", "1", "--reuse-port"]
    children = [subprocess.Popen(command) for _ in range(n)]

    def relay(signum: int, _frame: object) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    previous = {sig: signal.signal(sig, relay) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        codes = [child.wait() for child in children]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return next((c for c in codes if c), 0)


if __name__ == "__main__":
    main()
