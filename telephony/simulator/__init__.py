"""A FreeSWITCH simulator speaking the real ESL wire protocol (tests, ``ivr call``, the demo).

:class:`SimulatedCall` runs one channel: through the shipped dialplan (:class:`Dialplan`) or
straight into ``socket 127.0.0.1:8084 async full``, connecting to the outbound server the way
FreeSWITCH's ``socket`` app does, and plays a :class:`CallerScript`; :class:`InboundSwitch`
accepts inbound ESL connections (auth, events, api, bgapi, originate) like ``mod_event_socket``
on port 8021; :class:`CallCenter` is the switch's mod_callcenter (agents, tiers, queues,
members, ``callcenter_config``); :func:`probe` connects and closes like a readiness check.
"""

from telephony.simulator.callcenter import CallCenter, fast_clock
from telephony.simulator.dialplan import Dialplan, DialplanError
from telephony.simulator.inbound import InboundSwitch
from telephony.simulator.outbound import CallResult, SimulatedCall, probe
from telephony.simulator.script import CallerScript, Fault, Turn

__all__ = [
    "CallCenter",
    "CallResult",
    "CallerScript",
    "Dialplan",
    "DialplanError",
    "Fault",
    "InboundSwitch",
    "SimulatedCall",
    "Turn",
    "fast_clock",
    "probe",
]
