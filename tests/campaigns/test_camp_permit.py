"""Invariant 1 by type: only the gate makes a dial permit, and the one originate takes it.

The permit comes from ``ComplianceService.check_and_permit`` (check-and-count, idempotent per
attempt id); ``originate_permitted`` spends it once, within its lifetime, and dials the number
the gate checked with the leg variables the outbound flow reads, as the simulated switch's own
originate log shows.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from camp_support import SH_NOON, CalleeApp, cust, fresh_numbers, switchboard, until

from campaigns.originate import OutboundRoute, originate_permitted
from compliance.decision import Decision, GateRequest, Reason
from compliance.permit import PERMIT_TTL_S, DialPermit, PermitError
from ivr.errors import LocalProtocolError

ROUTE = OutboundRoute("sofia/gateway/carrier/{national}", "outbound_marketing", "95588")


def test_nobody_but_the_gate_makes_a_permit_inv1() -> None:
    d = Decision(allowed=True, reasons=(), rules_version="x", purpose="service",
                 attempt_id="a", counted=True)  # fmt: skip
    with pytest.raises(PermitError):
        DialPermit(d, cust("13900000000"), SH_NOON, mint=object())


async def test_gate_permit_is_idempotent_per_attempt_and_sees_dnc_inv1(env) -> None:
    (number,) = fresh_numbers(1)
    attempt = str(uuid.uuid4())
    request = GateRequest(cust(number).e164, "marketing", attempt, campaign="c")
    first = await env.svc.check_and_permit(request)
    assert first.permit is not None and first.permit.number == cust(number)
    again = await env.svc.check_and_permit(request)
    assert again.permit is not None
    assert again.decision.count_today == first.decision.count_today  # not counted twice
    other = await env.svc.check_and_permit(
        GateRequest(cust(number).e164, "marketing", str(uuid.uuid4()))
    )
    assert other.decision.count_today == first.decision.count_today + 1
    await env.svc.add_dnc(cust(number), source="test", reason="r", actor="t")
    denied = await env.svc.check_and_permit(
        GateRequest(cust(number).e164, "marketing", str(uuid.uuid4()))
    )
    assert denied.permit is None and Reason.DNC in denied.decision.reasons


async def test_originate_takes_the_permit_once_and_dials_the_gated_number(
    sqlite_env, tmp_path
) -> None:
    env = sqlite_env
    (number,) = fresh_numbers(1)
    app = CalleeApp(env)
    board = await switchboard(app, tmp_path)
    try:
        attempt = str(uuid.uuid4())
        answer = await env.svc.check_and_permit(
            GateRequest(cust(number).e164, "marketing", attempt, campaign="spring")
        )
        permit = answer.permit
        assert permit is not None
        result = await originate_permitted(board.client, permit, ROUTE, now=env.clock())
        assert result.ok and result.uuid == attempt
        with pytest.raises(PermitError, match="already used"):
            await originate_permitted(board.client, permit, ROUTE, now=env.clock())
        await until(lambda: len(app.calls) == 1)
        (rec,) = board.switch.originate_log  # the switch's own record
        assert rec.destination == number
        assert rec.variables["ivr_customer_number"] == cust(number).e164
        assert rec.variables["ivr_attempt_id"] == attempt == rec.variables["origination_uuid"]
        assert rec.variables["ivr_campaign"] == "spring"
        assert rec.variables["ivr_purpose"] == "marketing"
        assert rec.variables["ivr_flow"] == "outbound_marketing"
        assert rec.variables["ignore_early_media"] == "true"
        assert rec.variables["originate_timeout"] == "30"
        assert rec.variables["origination_caller_id_number"] == "95588"
        assert app.calls[0].attempt_id == attempt  # the flow side knows its campaign

        late = await env.svc.check_and_permit(
            GateRequest(cust(number).e164, "marketing", str(uuid.uuid4()))
        )
        assert late.permit is not None
        with pytest.raises(PermitError, match="expired"):
            await originate_permitted(
                board.client,
                late.permit,
                ROUTE,
                now=env.clock() + timedelta(seconds=PERMIT_TTL_S + 1),
            )
        assert len(board.switch.originate_log) == 1
    finally:
        await board.close()


async def test_extra_leg_variables_never_override_the_permits(sqlite_env, tmp_path) -> None:
    env = sqlite_env
    (number,) = fresh_numbers(1)
    app = CalleeApp(env)
    board = await switchboard(app, tmp_path)
    try:
        answer = await env.svc.check_and_permit(
            GateRequest(cust(number).e164, "service", str(uuid.uuid4()), campaign="callbacks")
        )
        assert answer.permit is not None
        with pytest.raises(LocalProtocolError, match="ivr_customer_number"):
            await originate_permitted(
                board.client,
                answer.permit,
                ROUTE,
                now=env.clock(),
                extra_variables={"ivr_customer_number": "+8613900000001"},
            )
        assert board.switch.originate_log == [] and not answer.permit.spent
        result = await originate_permitted(
            board.client,
            answer.permit,
            ROUTE,
            now=env.clock(),
            extra_variables={"ivr_callback_ticket": "t-1"},
        )
        assert result.ok
        (rec,) = board.switch.originate_log
        assert rec.variables["ivr_callback_ticket"] == "t-1" and rec.destination == number
    finally:
        await board.close()
