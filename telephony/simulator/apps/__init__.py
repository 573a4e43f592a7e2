"""The dialplan applications the simulated switch runs: one module per FreeSWITCH family.

:data:`APPLICATIONS` maps an application name to its handler ``async (call, arg) -> response``
(the ``Application-Response`` of its CHANNEL_EXECUTE_COMPLETE). An unknown application runs as
a no-op that completes with ``_none_``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from telephony.simulator.apps import bridge, callcenter, core, media, record, socket

if TYPE_CHECKING:
    from telephony.simulator.outbound import SimulatedCall

Application = Callable[["SimulatedCall", str], Awaitable[str]]

APPLICATIONS: dict[str, Application] = {
    **core.APPLICATIONS,
    **media.APPLICATIONS,
    **record.APPLICATIONS,
    **bridge.APPLICATIONS,
    **callcenter.APPLICATIONS,
    **socket.APPLICATIONS,
}
