"""mod_event_socket's ``socket <host:port> [async] [full]``: hand the channel to the app.

It connects (FreeSWITCH: ``Socket Error!`` and the dialplan goes on when it cannot), then in
``async`` mode parks the channel and runs the applications the app queues with ``sendmsg``, one
after the other, until the app transfers the call, the connection closes or the call hangs up;
without ``async`` the link runs each application before replying. The channel then unparks and
the application completes (``CHANNEL_UNPARK``, ``CHANNEL_EXECUTE_COMPLETE socket``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from telephony.simulator.fsstrings import separate_string
from telephony.simulator.link import EslLink

if TYPE_CHECKING:
    from telephony.simulator.apps import Application
    from telephony.simulator.outbound import SimulatedCall


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.split("|", 1)[0].rpartition(":")
    return (host or text, int(port) if port.isdigit() else 8084)


async def socket(call: SimulatedCall, arg: str) -> str:
    argv = separate_string(arg)
    if not argv:
        return "_none_"
    flags = {word.lower() for word in argv[1:]}
    host, port = call.socket_target or _address(argv[0])
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        return "_none_"
    link = EslLink(
        call,
        reader,
        writer,
        asynchronous="async" in flags,
        full="full" in flags,
        faults=not call.links,
    )
    call.links.append(link)
    call.result.connections += 1
    call.spawn(link.run())
    hungup = call.clock.hungup
    if link.asynchronous:
        while not (link.closed.is_set() or hungup.is_set() or call.transfer_to is not None):
            command = await call.next_app(link)
            if command is not None:
                await call.execute(command.app, command.arg or "", command.event_uuid)
    else:
        waits = [asyncio.ensure_future(link.closed.wait()), asyncio.ensure_future(hungup.wait())]
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for waiting in waits:
            waiting.cancel()
    call.emit("CHANNEL_UNPARK")
    return "_none_"


APPLICATIONS: dict[str, Application] = {"socket": socket}
