"""``python -m telephony serve --host H --port P``: the outbound ESL server until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import signal

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


async def serve(host: str, port: int, handler: CallHandler, config: ServerConfig) -> None:
    """Serve until a termination signal; then close gracefully.

    Aborted calls are recorded through the handler's ``evidence`` sink when it has one (the flow
    handler's hash-chained log), else only logged.
    """
    evidence: EvidenceSink = getattr(handler, "evidence", None) or LogEvidenceSink()
    server = OutboundServer(handler, evidence, config)
    bound = await server.start(host, port)
    print(f"ESL outbound server listening on {bound[0]}:{bound[1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.serve_until(stop)
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
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    config = ServerConfig(
        reply_timeout_s=settings.esl_reply_timeout_s,
        max_call_s=settings.esl_max_call_s,
    )
    asyncio.run(serve(args.host, args.port, load_handler(args.handler), config))


if __name__ == "__main__":
    main()
