"""The ``api`` commands the simulated switch understands (shared by outbound and inbound sides)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from telephony.simulator.callcenter import CallCenter
from telephony.simulator.callcenter_api import callcenter_config
from telephony.simulator.channel import SimChannel

STATUS = (
    "UP 0 years, 0 days, 0 hours, 1 minute, 0 seconds, 0 milliseconds, 0 microseconds\n"
    "FreeSWITCH (Version 1.10.12-release simulated) is ready\n"
    "{total} session(s) since startup\n"
    "{active} session(s) - peak {active}, last 5min {active} \n"
    "0 session(s) per Sec out of max 30, peak 1, last 5min 1 \n"
    "1000 session(s) max\nmin idle cpu 0.00/99.00\nCurrent Stack Size/Max 240K/8192K\n"
)

FORK_SYNTAX = (
    "<uuid> [start | stop | send_text | pause | resume | graceful-shutdown ] [wss-url | path] "
    "[mono | mixed | stereo] [8000 | 16000 | 24000 | 32000 | 64000] [metadata]"
)
FORK_COMMANDS = ("uuid_audio_fork", "uuid_audio_stream")


class ChannelMedia(Protocol):
    """The media side of a simulated channel that runs applications (the outbound call)."""

    def break_playback(self, flush: bool) -> None:
        """``uuid_break``: stop the current playback; ``flush`` (``all``) also drops the
        applications queued behind it."""
        ...

    def start_fork(self, url: str, sample_rate: int, metadata: str | None) -> bool:
        """Start streaming the caller's audio to ``url``; False if a fork already runs."""
        ...

    def stop_fork(self) -> bool:
        """Stop the fork; False if none runs."""
        ...


def run_api(
    command: str,
    arg: str,
    channels: Mapping[str, SimChannel],
    *,
    kill: Callable[[SimChannel, str], None],
    total: int = 0,
    agents_available: int = 1,
    media: Mapping[str, ChannelMedia] | None = None,
    callcenter: CallCenter | None = None,
) -> str:
    """The text FreeSWITCH would answer to ``api <command> <arg>``.

    ``media`` gives the channels that have media (playback, audio fork); without it
    ``uuid_break`` only answers and ``uuid_audio_fork`` fails, as on a channel with no media.
    With a ``callcenter`` (the switch's mod_callcenter) ``callcenter_config`` runs against it
    and its agent legs are channels too (``uuid_audio_fork <agent leg uuid>`` forks what the
    agent says); without one only ``queue count agents`` answers, with ``agents_available``.
    """
    args = arg.split()
    if callcenter is not None and callcenter.legs:  # mod_callcenter's agent legs are channels
        channels = {**channels, **{u: leg.channel for u, leg in callcenter.legs.items()}}
        media = {**(media or {}), **callcenter.legs}
    if command in FORK_COMMANDS:
        return _audio_fork(arg, channels, media or {})
    if command == "status":
        return STATUS.format(total=total, active=len(channels))
    if command == "uuid_broadcast":
        # mod_commands answers "+OK Message Sent" whether or not the channel exists
        if len(args) < 2:
            return "-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n"
        if callcenter is not None:
            callcenter.broadcast(args[0], args[1])
        return "+OK Message Sent\n"
    if command == "callcenter_config" and callcenter is not None:
        return callcenter_config(callcenter, arg)
    if command == "callcenter_config" and args[:3] == ["queue", "count", "agents"]:
        return f"{agents_available}\n"
    if command == "show" and args[:2] == ["calls", "count"]:
        return f"\n{len(channels)} total.\n"
    if command in ("uuid_getvar", "uuid_setvar", "uuid_kill", "uuid_exists", "uuid_break"):
        if not args:
            return "-USAGE: <uuid> <var>\n"
        channel = channels.get(args[0])
        if command == "uuid_exists":
            return "true" if channel else "false"
        if channel is None:
            return "-ERR No such channel!\n"
        if command == "uuid_getvar":
            return channel.variables.get(args[1], "_undef_") if len(args) > 1 else "-USAGE\n"
        if command == "uuid_setvar":
            if len(args) < 2:
                return "-USAGE: <uuid> <var> [value]\n"
            channel.variables[args[1]] = " ".join(args[2:])
            return "+OK\n"
        if command == "uuid_kill":
            kill(channel, args[1] if len(args) > 1 else "NORMAL_CLEARING")
        if command == "uuid_break" and media is not None and args[0] in media:
            media[args[0]].break_playback(flush=len(args) > 1 and args[1].lower() == "all")
        return "+OK\n"
    return f"-ERR {command} Command not found!\n"


def _audio_fork(
    arg: str, channels: Mapping[str, SimChannel], media: Mapping[str, ChannelMedia]
) -> str:
    """``uuid_audio_fork`` (mod_audio_fork) and ``uuid_audio_stream`` (mod_audio_stream):
    ``<uuid> start <ws-url> mono <8k|16k|rate> [<metadata>]`` or ``<uuid> stop``. The last
    argument keeps its spaces, as ``switch_separate_string`` leaves the rest in it."""
    parts = arg.split(None, 5)
    if len(parts) < 2 or (parts[1] == "start" and len(parts) < 4):
        return f"-USAGE: {FORK_SYNTAX}\n"
    target = media.get(parts[0]) if parts[0] in channels else None
    ok = False
    if target is not None and parts[1].lower() == "stop":
        ok = target.stop_fork()
    elif target is not None and parts[1].lower() == "start":
        url, mix = parts[2], parts[3]
        rate_text = parts[4] if len(parts) > 4 else "8k"
        rate = {"8k": 8000, "16k": 16000}.get(rate_text)
        if rate is None and rate_text.isdigit():
            rate = int(rate_text)
        # the simulator streams the caller only (mono) at the telephone rates
        if mix == "mono" and rate in (8000, 16000) and url.startswith(("ws://", "wss://")):
            ok = target.start_fork(url, rate, parts[5] if len(parts) > 5 else None)
    return "+OK Success\n" if ok else "-ERR Operation Failed\n"
