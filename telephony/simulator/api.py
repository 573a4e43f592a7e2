"""The ``api`` commands the simulated switch understands (shared by outbound and inbound sides)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from telephony.simulator.channel import SimChannel

STATUS = (
    "UP 0 years, 0 days, 0 hours, 1 minute, 0 seconds, 0 milliseconds, 0 microseconds\n"
    "FreeSWITCH (Version 1.10.12-release simulated) is ready\n"
    "{total} session(s) since startup\n"
    "{active} session(s) - peak {active}, last 5min {active} \n"
    "0 session(s) per Sec out of max 30, peak 1, last 5min 1 \n"
    "1000 session(s) max\nmin idle cpu 0.00/99.00\nCurrent Stack Size/Max 240K/8192K\n"
)


def run_api(
    command: str,
    arg: str,
    channels: Mapping[str, SimChannel],
    *,
    kill: Callable[[SimChannel, str], None],
    total: int = 0,
    agents_available: int = 1,
) -> str:
    """The text FreeSWITCH would answer to ``api <command> <arg>``."""
    args = arg.split()
    if command == "status":
        return STATUS.format(total=total, active=len(channels))
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
        return "+OK\n"
    return f"-ERR {command} Command not found!\n"
