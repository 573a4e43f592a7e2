"""Queue position and expected wait announced to waiting callers (issue 18, item 1): the floor
reads each queue's members from mod_callcenter, orders them as the dispatcher does and plays
each their place with ``uuid_broadcast``."""

from __future__ import annotations

from agents_support import GENERAL, SENIOR, Floor, eventually

from agents.announcer import announce_once, announcements, expected_wait_s, parse_members
from agents.switch import EslCallCenter


class NumberedPrompts:
    """Announcement files by position and minutes (as the prompt cache names its renders)."""

    async def file_for(self, position: int, minutes: int) -> str:
        return f"/var/lib/ivr/prompts/queue_{position}_{minutes}min.wav"


def test_expected_wait_counts_rounds_of_the_free_agents() -> None:
    assert expected_wait_s(1, 2, 180) == 180
    assert expected_wait_s(3, 2, 180) == 360
    assert expected_wait_s(2, 0, 180) == 360  # nobody free: one at a time


def test_members_table_is_parsed_and_ordered_by_score() -> None:
    text = (
        "queue|system|uuid|session_uuid|cid_number|cid_name|system_epoch|joined_epoch|"
        "rejoined_epoch|bridge_epoch|abandoned_epoch|base_score|skill_score|serving_agent|"
        "serving_system|state\n"
        "general@default|single_box|m1|early|x|x|100|100|0|0|0|0|0|||Waiting\n"
        "general@default|single_box|m2|vip|x|x|150|150|0|0|0|1000|0|||Waiting\n"
        "general@default|single_box|m3|talking|x|x|90|90|0|0|0|0|0|a|single_box|Answered\n"
        "+OK\n"
    )
    members = parse_members(text)
    assert [m.session_uuid for m in members] == ["early", "vip", "talking"]
    order = announcements(members, now=200, agents_available=1, handle_s=120)
    assert [(a.session_uuid, a.position, a.minutes) for a in order] == [
        ("vip", 1, 2),
        ("early", 2, 4),
    ]
    assert parse_members("+OK\n") == []


async def test_waiting_callers_hear_their_place(floor: Floor) -> None:
    for agent in (SENIOR, GENERAL):
        await floor.esl.api("callcenter_config", f"agent set status {agent} 'On Break'")
    floor.caller("first-caller", "general")
    await eventually(lambda: len(floor.center.waiting("general@default")) == 1)
    floor.caller("priority-caller", "general", priority=True)
    await eventually(lambda: len(floor.center.waiting("general@default")) == 2)
    played = await announce_once(
        EslCallCenter(floor.esl), NumberedPrompts(), floor.center.now(), 120
    )
    assert [(p.session_uuid, p.position) for p in played] == [
        ("priority-caller", 1),
        ("first-caller", 2),
    ]
    heard = {m.session_uuid: m.broadcasts for m in floor.center.members}
    assert heard["priority-caller"] == ["playback::/var/lib/ivr/prompts/queue_1_2min.wav"]
    assert heard["first-caller"] == ["playback::/var/lib/ivr/prompts/queue_2_4min.wav"]
