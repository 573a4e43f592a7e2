"""Ways the simulated switch breaks the protocol or the connection (:class:`Fault`)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from telephony.simulator.script import Fault

if TYPE_CHECKING:
    from telephony.simulator.link import EslLink


async def inject_fault(link: EslLink, fault: Fault, stall_s: float) -> None:
    """Misbehave on ``link``, then close it once the app gave up (bounded by ``stall_s``)."""
    writer = link.writer
    if fault is Fault.MALFORMED_FRAME:
        link.write(b"Content-Type command/reply\nthis is not a header\n\n")
    elif fault is Fault.UNKNOWN_CONTENT_TYPE:
        link.write(b"Content-Type: text/x-bogus\nContent-Length: 2\n\nhi")
    elif fault is Fault.BAD_JSON_EVENT:
        link.write(b"Content-Length: 9\nContent-Type: text/event-json\n\n{not json")
    elif fault is Fault.GARBAGE:
        link.write(bytes(range(256)) * 4 + b"\n\n")
    elif fault is Fault.TRUNCATED_FRAME:
        link.write(b"Content-Type: api/response\nContent-Length: 500\n\npartial")
        link.close()
        return
    elif fault is Fault.DROP_CONNECTION:
        writer.transport.abort()
        link.close()
        return
    elif fault is Fault.STOP_READING:
        transport = writer.transport
        if isinstance(transport, asyncio.ReadTransport):
            transport.pause_reading()
        await asyncio.sleep(stall_s)
        link.close()
        return
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    # keep the connection open until the server gives up on it (it should close it)
    with contextlib.suppress(TimeoutError, ConnectionError, OSError):
        async with asyncio.timeout(stall_s):
            while await link.reader.read(65536):
                pass
            link.call.result.closed_by_server = True
    link.close()
