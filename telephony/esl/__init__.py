"""Sans-IO FreeSWITCH Event Socket (ESL) codec: no sockets, no asyncio, no clock.

Client side: :class:`Parser` turns received bytes into :class:`Message` objects; the command
dataclasses (:class:`Execute`, :class:`Api`, ...) ``encode()`` what we send. Server side (the
simulator): :class:`CommandParser` and the encoders of :mod:`telephony.esl.frames`.
"""

from telephony.esl.command_parser import CommandParser, parse_command
from telephony.esl.commands import (
    Api,
    Auth,
    BgApi,
    Command,
    Connect,
    Execute,
    Exit,
    Filter,
    FilterDelete,
    GetVar,
    Hangup,
    Linger,
    MyEvents,
    NixEvent,
    NoEvents,
    NoLinger,
    Resume,
    Subscribe,
    UnknownCommand,
)
from telephony.esl.errors import EslLocalError, EslRemoteError
from telephony.esl.message import Event, Message, split_array
from telephony.esl.parser import Parser
from telephony.esl.urlcodec import url_decode, url_encode

__all__ = [
    "Api",
    "Auth",
    "BgApi",
    "Command",
    "CommandParser",
    "Connect",
    "EslLocalError",
    "EslRemoteError",
    "Event",
    "Execute",
    "Exit",
    "Filter",
    "FilterDelete",
    "GetVar",
    "Hangup",
    "Linger",
    "Message",
    "MyEvents",
    "NixEvent",
    "NoEvents",
    "NoLinger",
    "Parser",
    "Resume",
    "Subscribe",
    "UnknownCommand",
    "parse_command",
    "split_array",
    "url_decode",
    "url_encode",
]
