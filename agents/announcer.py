"""Queue position and expected wait, announced to waiting callers at an interval.

mod_callcenter's own ``announce-sound`` plays one fixed file; the position and the wait differ
per caller, so the floor announces them itself: every ``interval_s`` it lists each queue's
members (``callcenter_config queue list members``, parsed by :func:`parse_members`), orders the
waiting ones as the dispatcher does (score = ``cc_base_score`` + seconds waited: complaints
first), estimates the wait (:func:`expected_wait_s`: rounds of the free agents times the mean
handling time) and plays each caller their announcement with ``uuid_broadcast <uuid>
playback::<file> aleg`` (the music on hold resumes after it). The audio comes from an
:class:`AnnouncementAudio` (the prompt cache in production); no customer data is in it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from agents.ports import CallCenterControl

QUEUES = ("senior@default", "general@default")


@dataclass(frozen=True, slots=True)
class QueueMember:
    session_uuid: str
    joined_epoch: int
    base_score: int
    state: str


@dataclass(frozen=True, slots=True)
class Announcement:
    session_uuid: str
    position: int
    expected_wait_s: int

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.expected_wait_s / 60))


class AnnouncementAudio(Protocol):
    """A playable file saying "you are number N, about M minutes"."""

    async def file_for(self, position: int, minutes: int) -> str: ...


def parse_members(text: str) -> list[QueueMember]:
    """The rows of ``callcenter_config queue list members <queue>`` (pure; ``+OK`` alone = none)."""
    lines = [line for line in text.splitlines() if line and line != "+OK"]
    if not lines:
        return []
    header = lines[0].split("|")
    members = []
    for line in lines[1:]:
        row = dict(zip(header, line.split("|"), strict=False))
        if not row.get("session_uuid"):
            continue
        members.append(
            QueueMember(
                row["session_uuid"],
                int(row.get("joined_epoch") or 0),
                int(row.get("base_score") or 0),
                row.get("state", ""),
            )
        )
    return members


def expected_wait_s(position: int, agents_available: int, handle_s: float) -> int:
    """Seconds until the caller at ``position`` is likely answered (pure)."""
    rounds = math.ceil(position / max(agents_available, 1))
    return int(rounds * handle_s)


def announcements(
    members: Sequence[QueueMember], now: float, agents_available: int, handle_s: float
) -> list[Announcement]:
    """Each waiting member's place and expected wait, in the dispatcher's order (pure)."""
    waiting = [m for m in members if m.state == "Waiting"]
    ordered = sorted(
        waiting, key=lambda m: (-(m.base_score + now - m.joined_epoch), m.joined_epoch)
    )
    return [
        Announcement(m.session_uuid, i + 1, expected_wait_s(i + 1, agents_available, handle_s))
        for i, m in enumerate(ordered)
    ]


async def announce_once(
    control: CallCenterControl,
    audio: AnnouncementAudio,
    now: float,
    handle_s: float,
    queues: Sequence[str] = QUEUES,
) -> list[Announcement]:
    """One round over every queue; the announcements played."""
    played: list[Announcement] = []
    for queue in queues:
        members = parse_members(await control.callcenter_config(f"queue list members {queue}"))
        if not members:
            continue
        free = await control.callcenter_config(f"queue count agents {queue} Available")
        agents = int(free.strip()) if free.strip().isdigit() else 0
        for item in announcements(members, now, agents, handle_s):
            path = await audio.file_for(item.position, item.minutes)
            await control.api("uuid_broadcast", f"{item.session_uuid} playback::{path} aleg")
            played.append(item)
    return played


async def announce_forever(
    control: CallCenterControl,
    audio: AnnouncementAudio,
    clock: Clock,
    handle_s: float,
    interval_s: float,
) -> None:
    """The supervised loop: announce, then wait ``interval_s``."""
    while True:
        await announce_once(control, audio, clock(), handle_s)
        await asyncio.sleep(interval_s)


class Clock(Protocol):
    def __call__(self) -> float: ...
