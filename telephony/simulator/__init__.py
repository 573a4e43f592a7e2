"""A FreeSWITCH simulator speaking the real ESL wire protocol (tests, ``ivr call``, the demo).

:class:`SimulatedCall` connects to the outbound server the way FreeSWITCH's ``socket`` app does
and plays a :class:`CallerScript`; :class:`InboundSwitch` accepts inbound ESL connections
(auth, events, api, bgapi, originate) like ``mod_event_socket`` on port 8021.
"""

from telephony.simulator.inbound import InboundSwitch
from telephony.simulator.outbound import CallResult, SimulatedCall
from telephony.simulator.script import CallerScript, Fault, Turn

__all__ = ["CallResult", "CallerScript", "Fault", "InboundSwitch", "SimulatedCall", "Turn"]
