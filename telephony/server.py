"""The asyncio outbound-socket server: FreeSWITCH's ``socket <host:port> async full`` connects here.

One :class:`CallSession` per TCP connection: ``connect`` (CHANNEL_DATA), ``myevents``, the
subscriptions, ``linger``; then the :class:`CallHandler` runs. When it returns, the call is hung
up unless it was handed over (transfer), the session waits (bounded) for
CHANNEL_HANGUP_COMPLETE or the disconnect notice, sends ``exit`` and closes. A handler that is
done with the channel before it is done with the call (the IVR seals the recording and runs the
whole-call QA after the call's end is recorded) lets it go first (:meth:`CallSession.let_go`:
``exit`` at once, so FreeSWITCH does not keep a hung-up channel lingering behind that work);
the server then waits for the handler without counting the closed connection as a failure, and
a drain waits for that work too.

Every setup reply is checked: a session FreeSWITCH opened without ``async full`` (the connect
reply's ``Socket-Mode``/``Control``; e.g. an unquoted ``&socket(...)`` in an originate) is
refused with one log line and ``exit``, so the dialplan goes on (to the general queue for the
shipped inbound extension) instead of the call failing mid-disclosure; a refused ``myevents``,
``event`` or ``linger`` aborts the call.

A misbehaving call (malformed frame, unknown content type, dropped connection, a peer that stops
reading or answering, a crashing handler) ends only that call: it is logged with its UUID only
and recorded as ``call_aborted`` evidence through the :class:`EvidenceSink` port. A connection
that ends before the ``connect`` reply (a readiness probe, ``ivr doctor``) is not a call: it is
counted in :attr:`ServerStats.probes` and writes no evidence.

Several workers behind one FreeSWITCH: each worker process listens on the same port with
``SO_REUSEPORT`` (the kernel spreads new connections over them) or on its own port (the dialplan
tries one ``socket`` target after another: a target that refuses the connection lets the
dialplan go on). Stopping a worker drains it (:meth:`OutboundServer.drain`): it stops
accepting at once, so new calls go to the other workers, and lets every running call finish
within the drain time; only calls still running then are cut (counted, logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from ivr.errors import IvrError, ProtocolError
from ivr.evidence import EvidenceKind, EvidenceSink
from telephony.connection import EslConnection
from telephony.errors import CallEndedError, CommandFailedError, EslRemoteError
from telephony.esl import Command, Connect, Event, Exit, Linger, Message, MyEvents, Subscribe
from telephony.handler import CallHandler, DefaultHandler
from telephony.session import CallSession

log = logging.getLogger(__name__)

SUBSCRIBED_EVENTS = (
    "PLAYBACK_START",
    "PLAYBACK_STOP",
    "RECORD_START",
    "RECORD_STOP",
    "BACKGROUND_JOB",
)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Limits of each call session."""

    reply_timeout_s: float = 10.0
    write_timeout_s: float = 5.0
    max_call_s: float = 4 * 3600.0
    finish_timeout_s: float = 5.0
    event_format: str = "plain"
    subscribe: tuple[str, ...] = SUBSCRIBED_EVENTS


@dataclass
class ServerStats:
    """Counters of the calls this server handled."""

    active: int = 0
    completed: int = 0
    aborted: int = 0
    refused: int = 0
    probes: int = 0
    abort_reasons: dict[str, int] = field(default_factory=dict)


class OutboundServer:
    """Accepts FreeSWITCH outbound-socket connections and runs one handler per call."""

    def __init__(
        self,
        handler: CallHandler | None,
        evidence: EvidenceSink | None,
        config: ServerConfig | None = None,
    ) -> None:
        """``evidence`` records aborted calls (``None``: they are only logged, for benches)."""
        self.handler: CallHandler = handler or DefaultHandler()
        self.evidence = evidence
        self.config = config or ServerConfig()
        self.stats = ServerStats()
        self._server: asyncio.Server | None = None
        self._calls: set[asyncio.Task[None]] = set()

    async def start(
        self, host: str = "127.0.0.1", port: int = 8084, *, reuse_port: bool = False
    ) -> tuple[str, int]:
        """Listen; return the bound address (``port=0`` picks a free port). With
        ``reuse_port`` other workers may listen on the same port (``SO_REUSEPORT``)."""
        self._server = await asyncio.start_server(
            self._accept, host, port, limit=1 << 20, backlog=2048, reuse_port=reuse_port or None
        )
        sock = self._server.sockets[0].getsockname()
        log.info("ESL outbound server listening on %s:%s", sock[0], sock[1])
        return str(sock[0]), int(sock[1])

    async def serve_until(self, stop: asyncio.Event, drain_s: float = 5.0) -> None:
        """Serve until ``stop`` is set, then drain (calls get ``drain_s`` to finish)."""
        await stop.wait()
        await self.drain(drain_s)

    @property
    def accepting(self) -> bool:
        return self._server is not None and self._server.is_serving()

    async def wait_idle(self) -> None:
        """Wait until no call is running (tests and benchmarks)."""
        while self._calls:
            await asyncio.wait(set(self._calls))

    async def close(self, grace_s: float = 5.0) -> None:
        """Stop accepting; give running calls ``grace_s`` seconds, then cancel them."""
        await self.drain(grace_s)

    async def drain(self, grace_s: float) -> int:
        """Stop accepting now; wait up to ``grace_s`` for the running calls to end, then cut
        the rest. Returns how many were cut (0 = no call was cut)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        running = set(self._calls)
        if running:
            log.info(
                "ESL server draining: %d call(s) running, %.0f s to finish", len(running), grace_s
            )
            _, pending = await asyncio.wait(running, timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            if pending:
                log.warning("ESL server drain time over: %d call(s) cut", len(pending))
            return len(pending)
        return 0

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._run_call(reader, writer))
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    async def _run_call(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        cfg = self.config
        holder: list[CallSession] = []

        def on_event(event: Event) -> None:
            if holder:
                holder[0].on_event(event)

        def on_message(message: Message) -> None:
            if holder:
                holder[0].on_message(message)

        conn = EslConnection(
            reader,
            writer,
            on_event=on_event,
            on_message=on_message,
            reply_timeout=cfg.reply_timeout_s,
            write_timeout=cfg.write_timeout_s,
        )
        conn.start()
        self.stats.active += 1
        call_id: str | None = None
        try:
            try:
                reply = await conn.send(Connect())
            except ProtocolError as exc:
                self._not_a_call(exc)
                return
            if reply.event is None or reply.event.name != "CHANNEL_DATA":
                raise EslRemoteError("connect reply is not CHANNEL_DATA")
            session = CallSession(conn, reply.event)
            holder.append(session)
            call_id = session.uuid
            conn.label = call_id
            if not session.socket_mode.usable:
                await self._refuse(session, conn)
                return
            await _checked(conn, MyEvents(cfg.event_format))
            await _checked(conn, Subscribe(cfg.event_format, cfg.subscribe))
            await _checked(conn, Linger())
            log.info("call %s connected", call_id)
            await self._run_handler(session, conn)
            await self._finish(session, conn)
            self.stats.completed += 1
            log.info("call %s finished (%s)", call_id, session.hangup_cause)
        except asyncio.CancelledError:
            await self._abort(conn, call_id, "server_shutdown", None)
            raise
        except CommandFailedError as exc:
            await self._abort(conn, call_id, "command_refused", exc)
        except ProtocolError as exc:
            await self._abort(conn, call_id, _reason(exc), exc)
        except CallEndedError:
            await self._abort(conn, call_id, "dropped_before_session", None)
        except Exception as exc:  # a handler bug must not take other calls down
            log.exception("call %s: handler failed", call_id)
            await self._abort(conn, call_id, "handler_error", exc)
        finally:
            self.stats.active -= 1
            await conn.aclose()

    def _not_a_call(self, exc: BaseException) -> None:
        """The peer left (or broke the protocol) before ``connect`` was answered."""
        self.stats.probes += 1
        log.debug("ESL connection without a call (%s)", type(exc).__name__)

    async def _refuse(self, session: CallSession, conn: EslConnection) -> None:
        """A session not in ``async full`` mode: one log line, ``exit``, the dialplan goes on."""
        mode = session.socket_mode
        self.stats.refused += 1
        log.error(
            "call %s refused: the socket application runs in %s/%s mode; the dialplan or the "
            "originate must run 'socket <host:port> async full' (quote an '&socket(...)' "
            "application in originate)",
            session.uuid,
            mode.mode or "unknown",
            mode.control or "unknown",
        )
        await self._record(session.uuid, "socket_mode_refused", None)
        with contextlib.suppress(ProtocolError):
            await conn.send(Exit(), timeout_s=self.config.finish_timeout_s)

    async def _run_handler(self, session: CallSession, conn: EslConnection) -> None:
        task = asyncio.create_task(self.handler(session))
        waitables: set[asyncio.Future[Any]] = {task, conn.closed}
        deadline = asyncio.get_running_loop().time() + self.config.max_call_s
        try:
            done, _ = await asyncio.wait(
                waitables, timeout=self.config.max_call_s, return_when="FIRST_COMPLETED"
            )
            if task not in done and session.let_go_sent:
                # the handler let the channel go (``exit``): its after-call work runs on
                remaining = max(0.0, deadline - asyncio.get_running_loop().time())
                done, _ = await asyncio.wait({task}, timeout=remaining)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if task not in done:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, IvrError):
                await task
            if session.let_go_sent:
                log.warning("call %s: after-call work exceeded the maximum duration", session.uuid)
                return
            failure = conn.closed.result() if conn.closed.done() else None
            if failure is not None:
                raise failure
            if not session.is_hung_up:
                if conn.closed.done():
                    raise EslRemoteError("connection closed before the call ended")
                log.warning("call %s exceeded the maximum duration", session.uuid)
            return
        try:
            task.result()
        except CallEndedError:
            pass
        except ProtocolError:
            if not session.let_go_sent:
                raise
            log.warning("call %s: after-call work failed after the channel was let go",
                        session.uuid)  # fmt: skip
        failure = conn.closed.result() if conn.closed.done() else None
        if failure is not None and not session.let_go_sent:
            raise failure

    async def _finish(self, session: CallSession, conn: EslConnection) -> None:
        if not session.is_hung_up and not session.released and conn.is_open:
            with contextlib.suppress(CallEndedError):
                await session.hangup("NORMAL_CLEARING")
        if not session.released:
            await session.wait_finished(self.config.finish_timeout_s)
        if conn.is_open:
            with contextlib.suppress(ProtocolError):
                await conn.send(Exit(), timeout_s=self.config.finish_timeout_s)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(conn.closed), self.config.finish_timeout_s)

    async def _abort(
        self, conn: EslConnection, call_id: str | None, reason: str, exc: BaseException | None
    ) -> None:
        self.stats.aborted += 1
        self.stats.abort_reasons[reason] = self.stats.abort_reasons.get(reason, 0) + 1
        log.warning("call %s aborted: %s", call_id or "(before connect)", reason)
        conn.fail(exc if exc is not None else EslRemoteError(reason))
        await self._record(call_id, reason, exc)

    async def _record(self, call_id: str | None, reason: str, exc: BaseException | None) -> None:
        """``call_aborted`` evidence of a real call (one with a channel uuid)."""
        if self.evidence is None or not call_id:
            return
        payload: dict[str, object] = {"reason": reason}
        if exc is not None:
            payload["error"] = type(exc).__name__
        try:
            await self.evidence.append(EvidenceKind.CALL_ABORTED, call_id=call_id, payload=payload)
        except Exception:
            log.exception("call %s: could not record call_aborted evidence", call_id)


async def _checked(conn: EslConnection, command: Command) -> Message:
    """Send a setup command; a ``-ERR`` reply raises :class:`CommandFailedError`."""
    reply = await conn.send(command)
    if not reply.ok:
        raise CommandFailedError(f"{type(command).__name__} refused: {reply.text[:80]}")
    return reply


def _reason(exc: BaseException) -> str:
    from telephony.errors import ConnectionDroppedError, PeerTimeoutError

    if isinstance(exc, ConnectionDroppedError):
        return "connection_dropped"
    if isinstance(exc, PeerTimeoutError):
        return "peer_timeout"
    return "protocol_error"
