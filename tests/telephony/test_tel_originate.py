"""Originate strings as FreeSWITCH parses them (issue 13 item 5): the client's builder, the
simulator's mod_commands parser, and outbound legs that reach the app with their variables.

The client builds ``{vars}endpoint target`` with :mod:`telephony.esl.dialstring`; the simulator
parses it with FreeSWITCH's own rules (:mod:`telephony.simulator.originate`). Before the fix the
client sent ``&transfer(ivr_outbound XML ivr)`` / ``&socket(127.0.0.1:8084 async full)``
unquoted, and ``{k=v}`` values unescaped; the old simulator accepted both.
"""

from __future__ import annotations

import wave
from pathlib import Path

import pytest
from helpers.wait import eventually
from hypothesis import given
from hypothesis import strategies as st

from telephony.esl import EslLocalError
from telephony.esl.dialstring import (
    Application,
    Extension,
    channel_variables,
    originate_arg,
)
from telephony.inbound import InboundClient
from telephony.session import CallSession
from telephony.simulator import CallerScript, Dialplan, InboundSwitch
from telephony.simulator.fsstrings import parse_brackets, separate_string
from telephony.simulator.originate import parse_originate

VALUES = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="{}"),
    min_size=1,
    max_size=40,
)
NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True)


@given(st.dictionaries(NAMES, VALUES, max_size=6))
def test_every_variable_value_survives_freeswitch_parsing(values: dict[str, str]) -> None:
    arg = originate_arg(
        "sofia/gateway/carrier/13800000001", Extension("ivr_outbound", "XML", "ivr"), values
    )
    request = parse_originate(arg)
    assert request.variables == values
    assert request.endpoint == "sofia/gateway/carrier/13800000001"
    assert request.extension == ("ivr_outbound", "XML", "ivr")


def test_quoted_application_keeps_its_spaces() -> None:
    arg = originate_arg("sofia/gw/1", Application("socket", "127.0.0.1:8084 async full"))
    assert parse_originate(arg).application == ("socket", "127.0.0.1:8084 async full")


def test_unquoted_applications_break_the_way_freeswitch_breaks_them() -> None:
    transfer = parse_originate("{a=b}sofia/gw/1 &transfer(ivr_outbound XML ivr)")
    assert transfer.application == ("transfer", "ivr_outbound")  # lands in "default"
    socket = parse_originate("sofia/gw/1 &socket(127.0.0.1:8084 async full)")
    assert socket.application == ("socket", "127.0.0.1:8084")  # static, single-channel


def test_freeswitch_string_rules() -> None:
    assert separate_string("a  'b c'  d\\ e f\\sg") == ["a", "b c", "d\\ e", "f g"]
    assert separate_string("x=1=2", "=", 2) == ["x", "1=2"]
    assert parse_brackets("{a=1,b='x,y',c=p\\,q}rest") == (
        {"a": "1", "b": "x,y", "c": "p,q"},
        "rest",
    )
    with pytest.raises(ValueError, match="USAGE"):
        parse_originate("only-one-argument")


@pytest.mark.parametrize("value", ["", "a{b", "x}", "line\nbreak"])
def test_values_freeswitch_cannot_carry_are_refused(value: str) -> None:
    with pytest.raises(EslLocalError):
        channel_variables({"ivr_x": value})
    with pytest.raises(EslLocalError):
        channel_variables({"bad name": "1"})


async def _serve_outbound(start_server, tmp_path: Path, seen: list[CallSession]):
    async def handler(session: CallSession) -> None:
        seen.append(session)
        await session.answer()
        await session.play("tone_stream://%(200,0,440)")
        await session.hangup()

    server = await start_server(handler)
    dialplan = Dialplan.shipped({"recordings_dir": str(tmp_path)})
    sim = InboundSwitch(
        socket_target=(server.host, server.port),
        script=CallerScript(),
        time_scale=0.001,
        dialplan=dialplan,
    )
    host, port = await sim.start()
    client = InboundClient(host, port, "ClueCon")
    await client.connect()
    return server, sim, client


async def test_outbound_leg_reaches_the_app_with_its_variables_inv6(start_server, tmp_path) -> None:
    seen: list[CallSession] = []
    server, sim, client = await _serve_outbound(start_server, tmp_path, seen)
    variables = {
        "ivr_customer_number": "13800000001",
        "ivr_flow": "outbound_marketing",
        "ivr_campaign": "spring sale, 2026",
        "ivr_attempt_id": "att-1",
        "originate_timeout": "30",
        "ignore_early_media": "true",
        "origination_caller_id_number": "95588",
        "origination_caller_id_name": "招商银行 信用卡中心",
    }
    try:
        result = await client.originate(
            "sofia/gateway/carrier/13800000001",
            Extension("ivr_outbound", "XML", "ivr"),
            variables=variables,
        )
        assert result.ok
        await eventually(lambda: server.server.stats.completed == 1 and not sim.channels)
    finally:
        await client.close()
        await sim.close()
    (session,) = seen
    assert session.uuid == result.uuid
    for name, value in variables.items():
        assert session.variable(name) == value
    # the transfer to ivr_outbound replaces the destination number: never the customer's number
    assert session.destination_number == "ivr_outbound"
    assert session.socket_mode.usable
    (recording,) = sim.results[0].recordings
    assert recording == Path(session.recording_path or "")
    assert recording.is_relative_to(tmp_path / "ivr")
    with wave.open(str(recording)) as wav:
        assert wav.getnchannels() == 2 and wav.getframerate() == 8000


async def test_unquoted_transfer_never_reaches_the_app(start_server, tmp_path) -> None:
    """What the old client sent: FreeSWITCH runs transfer(ivr_outbound) in "default"."""
    seen: list[CallSession] = []
    _, sim, client = await _serve_outbound(start_server, tmp_path, seen)
    try:
        text = await client.bgapi(
            "originate",
            "{ivr_customer_number=13800000001}sofia/gateway/carrier/13800000001 "
            "&transfer(ivr_outbound XML ivr)",
        )
        assert text.startswith("+OK")
        await eventually(lambda: not sim.channels)
    finally:
        await client.close()
        await sim.close()
    assert seen == [] and sim.results[0].hangup_cause == "NO_ROUTE_DESTINATION"
