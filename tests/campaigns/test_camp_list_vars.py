"""List variables reach the outbound flow's prompts: a list column used as ``{placeholder}`` is
spoken with that row's value on that row's call, end to end on the simulated switch (real
dialler, gate, orchestrator, prompt cache and TTS). The values are sealed at rest in
``campaign_contacts`` and never in log text (``tests/log_scan.py`` checks the run's logs)."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from camp_support import cust, fresh_numbers, until

from campaigns.app import build_dialler
from campaigns.contact_vars import ContactVariables, open_variables
from campaigns.demo import DaytimeClock
from campaigns.importer import ListImporter
from campaigns.listfile import ListFileError
from campaigns.model import CampaignState, DailyWindow
from campaigns.pacing import LocalPacer
from campaigns.service import CampaignDesk
from campaigns.spec import CampaignSpec
from campaigns.tables import attempts, contacts
from flows.adapters import SidecarListener
from flows.app import build_deps
from flows.interpreter import render
from flows.orchestrator import CallOrchestrator
from ivr.db import make_engine
from ivr.settings import REPO_ROOT, Settings
from records.sealed_number import NumberSealer
from telephony.esl import Execute
from telephony.inbound import InboundClient
from telephony.server import OutboundServer, ServerConfig
from telephony.simulator import CallerScript, Dialplan, InboundSwitch

pytestmark = pytest.mark.slow

BILL_FLOW = """\
flow: outbound_bill
description: 账单提醒 — the list says the card and the amount
direction: outbound
purpose: service
start: disclosure
nodes:
  disclosure:
    type: disclosure
    next: notice
  notice:
    type: play
    prompt: bill_notice
    next: goodbye
  goodbye:
    type: hangup
prompts:
  bill_notice:
    text: "您尾号{card_tail}的信用卡本期应还{amount}元，请按时还款。"
"""
SH_MORNING = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 Asia/Shanghai


def played(result) -> list[str]:
    return [
        c.arg.rsplit("/", 1)[-1]
        for c in result.commands
        if isinstance(c, Execute) and c.app in ("playback", "play_and_get_digits") and c.arg
    ]


async def test_a_list_column_is_spoken_with_that_rows_value_on_that_call(tmp_path: Path):
    flows_dir = tmp_path / "flows"
    shutil.copytree(REPO_ROOT / "ivr_flows", flows_dir)
    (flows_dir / "outbound_bill.yaml").write_text(BILL_FLOW, encoding="utf-8")
    data = tmp_path / "data"
    settings = Settings(
        data_dir=data, database_url=f"sqlite:///{data / 'vars.db'}", redis_url=None,
        env="development", flows_dir=flows_dir, prompt_cache_dir=tmp_path / "prompts",
        institution_name="测试银行", bot_id="AI-7", gate_timeout_ms=2000,
    )  # fmt: skip
    clock = DaytimeClock(SH_MORNING)
    built = await build_deps(settings, listener=SidecarListener(None), warm=False, clock=clock)
    engine = make_engine(settings.sqlalchemy_url)
    server = OutboundServer(
        CallOrchestrator(built.deps), built.deps.evidence, ServerConfig(reply_timeout_s=10)
    )
    host, port = await server.start("127.0.0.1", 0)
    switch = InboundSwitch(
        socket_target=(host, port),
        dialplan=Dialplan.shipped({"recordings_dir": str(data / "fs")}),
        script=CallerScript(),
    )
    shost, sport = await switch.start()
    esl = InboundClient(shost, sport, "ClueCon")
    dialler = build_dialler(
        settings, engine=engine, gate=built.compliance, esl=esl, pacer=LocalPacer(), clock=clock
    )
    values = (("4321", "1288.50"), ("8765", "96.00"))
    rows = dict(zip(fresh_numbers(2), values, strict=True))
    try:
        await esl.connect()
        sealer = NumberSealer.from_settings(settings)
        desk = CampaignDesk(
            engine, ListImporter(engine, sealer), lambda: built.deps.registry,
            lambda: built.compliance.rules_at(clock()), ZoneInfo("Asia/Shanghai"),
        )  # fmt: skip
        camp = desk.create(
            CampaignSpec(
                name="bills", flow_id="outbound_bill", purpose="service", caller_ids=("95588",),
                windows=(DailyWindow(8 * 60, 21 * 60),), max_attempts=1,
            ),
            actor="test", now=clock(),
        )  # fmt: skip
        path = tmp_path / "list.csv"
        path.write_text("number,amount\n" + "".join(f"{n},1\n" for n in rows), encoding="utf-8")
        with pytest.raises(ListFileError, match="card_tail"):  # the prompts need it
            desk.import_list(camp.id, path, now=clock())
        path.write_text(
            "number,card_tail,amount\n" + "".join(f"{n},{t},{a}\n" for n, (t, a) in rows.items()),
            encoding="utf-8",
        )
        result = desk.import_list(camp.id, path, now=clock())
        assert result.accepted == 2 and not result.errors
        desk.act(camp.id, "start", now=clock())
        repo = desk.repo
        task = asyncio.create_task(dialler.run())
        try:
            await until(lambda: repo.get(camp.id).state is CampaignState.FINISHED, 90)
        finally:
            dialler.stop()
            await task
        assert len(switch.results) == 2
        with engine.connect() as conn:
            stored = conn.execute(
                sa.select(attempts.c.id, contacts.c.id.label("contact"), contacts.c.number_bi,
                          contacts.c.variables)
                .join(contacts, contacts.c.id == attempts.c.contact_id)
                .where(attempts.c.campaign_id == camp.id)
            ).all()  # fmt: skip
        cache = built.deps.prompts.cache  # type: ignore[attr-defined]
        template = built.deps.registry.get("outbound_bill").flow.prompts["bill_notice"].text or ""
        by_uuid = {r.uuid: r for r in switch.results}
        for number, (tail, amount) in rows.items():
            row = next(r for r in stored if r.number_bi == sealer.blind_index(cust(number)))
            # sealed at rest: neither value in the clear, opened only with the contact's id
            assert row.variables.startswith("sm4:")
            assert tail not in row.variables and amount not in row.variables
            assert open_variables(sealer, row.contact, row.variables) == {
                "card_tail": tail, "amount": amount,
            }  # fmt: skip
            assert await ContactVariables(engine, sealer).for_attempt(row.id) == {
                "card_tail": tail, "amount": amount,
            }  # fmt: skip
            spoken = render(template, {"card_tail": tail, "amount": amount})
            call = by_uuid[row.id]  # the leg's uuid is the attempt id
            assert cache.path_for(spoken).name in played(call)
            other = next(v for n, v in rows.items() if n != number)
            wrong = render(template, {"card_tail": other[0], "amount": other[1]})
            assert cache.path_for(wrong).name not in played(call)  # not the other row's
    finally:
        await esl.close()
        await switch.close()
        await server.close(grace_s=2.0)
        await built.aclose()
        engine.dispose()
