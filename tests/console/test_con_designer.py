"""The flow designer's API: live checks with the offending path, drafts with optimistic
concurrency, publish (now or four-eyes), approve, roll back, the prompt table, simulation."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from console_support import add_user, bearer, promo_flow
from fastapi.testclient import TestClient

from console.audit import AuditKind
from console.context import ConsoleContext
from console.permissions import Role
from flows.model import DisclosureNode, MenuNode
from flows.registry import FlowRegistry

PROBLEM = "application/problem+json"


@pytest.fixture
def people(ctx: ConsoleContext, client: TestClient) -> dict[str, dict[str, str]]:
    for name, role in (
        ("dora", Role.DESIGNER),
        ("dave", Role.DESIGNER),
        ("olga", Role.COMPLIANCE_OFFICER),
        ("omar", Role.COMPLIANCE_OFFICER),
    ):
        add_user(ctx, name, role)
    return {name: bearer(client, name) for name in ("dora", "dave", "olga", "omar")}


def notice_timeout_s(ctx: ConsoleContext) -> float:
    """The published outbound notice menu's timeout."""
    notice = FlowRegistry(ctx.settings.flows_dir).get("outbound_notice").flow.nodes["notice"]
    assert isinstance(notice, MenuNode)
    return notice.timeout_s


def save(
    client: TestClient,
    who: dict[str, str],
    flow: dict[str, Any],
    base: int,
    name: str = "wealth_promo",
):
    return client.put(
        f"/api/v1/flows/{name}/draft",
        json={"flow": flow, "layout": {"disclosure": {"x": 0, "y": 0}}, "base_revision": base},
        headers=who,
    )


def test_shipped_flows_are_listed_as_their_first_version(client: TestClient, people) -> None:
    page = client.get("/api/v1/flows", headers=people["dora"]).json()
    names = {f["name"]: f for f in page["items"]}
    assert {"inbound_service", "outbound_marketing", "outbound_notice"} <= set(names)
    assert names["outbound_marketing"]["version"] == 1


def test_the_check_marks_the_path_that_reaches_marketing_before_consent(
    client: TestClient, people
) -> None:
    answer = client.post(
        "/api/v1/flows/check", json={"flow": promo_flow(pitch_first=True)}, headers=people["dora"]
    ).json()
    assert not answer["ok"]
    issue = next(i for i in answer["issues"] if i["code"] == "marketing_without_consent")
    assert issue["node"] == "pitch"
    assert [s["node"] for s in issue["path"]] == ["disclosure", "pitch"]
    assert issue["path"][0]["edge"] == "next"
    fixed = client.post(
        "/api/v1/flows/check", json={"flow": promo_flow(pitch_first=False)}, headers=people["dora"]
    ).json()
    assert fixed == {"ok": True, "issues": []}


def test_a_flow_not_starting_with_the_disclosure_shows_its_path(client: TestClient, people) -> None:
    flow = promo_flow(pitch_first=False)
    flow["start"] = "consent"
    answer = client.post("/api/v1/flows/check", json={"flow": flow}, headers=people["dora"]).json()
    before = [i for i in answer["issues"] if i["code"] == "content_before_disclosure"]
    assert {i["node"] for i in before} >= {"consent"}
    assert before[0]["path"][0]["node"] == "consent"


def test_draft_publish_four_eyes_approve_and_the_registry_picks_it_up(
    ctx: ConsoleContext, client: TestClient, people
) -> None:
    draft = save(client, people["dora"], promo_flow(pitch_first=True), 0)
    assert draft.status_code == 200
    assert any(i["code"] == "marketing_without_consent" for i in draft.json()["issues"])
    refused = client.post(
        "/api/v1/flows/wealth_promo/publish", json={"base_revision": 1}, headers=people["dora"]
    )
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM
    assert any(e["code"] == "marketing_without_consent" for e in refused.json()["errors"])

    fixed = save(client, people["dora"], promo_flow(pitch_first=False), 1)
    assert fixed.json()["issues"] == [] and fixed.json()["revision"] == 2
    pending = client.post(
        "/api/v1/flows/wealth_promo/publish", json={"base_revision": 2}, headers=people["dora"]
    )
    assert pending.status_code == 202
    change = pending.json()["change"]
    assert {"consent:consent", "disclosure:disclosure", "marketing:pitch"} <= set(change["touches"])
    assert not (ctx.settings.flows_dir / "wealth_promo.yaml").exists()  # not live yet

    # a designer cannot approve; an officer who is the author cannot either (four eyes)
    denied = client.post(f"/api/v1/changes/{change['id']}/approve", json={}, headers=people["dave"])
    assert denied.status_code == 403
    detail = client.get(f"/api/v1/changes/{change['id']}", headers=people["olga"]).json()
    assert "+  pitch:" in detail["diff"] or "pitch" in detail["diff"]
    approved = client.post(
        f"/api/v1/changes/{change['id']}/approve", json={"note": "checked"}, headers=people["olga"]
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["version"] == 1 and approved.json()["approved_by"] == "olga"

    registry = FlowRegistry(ctx.settings.flows_dir)
    disclosure = registry.get("wealth_promo").flow.nodes["disclosure"]
    assert isinstance(disclosure, DisclosureNode) and disclosure.next == "consent"
    kinds = [(e.kind, e.payload) for e in ctx.evidence.entries()]
    approvals = [p for k, p in kinds if k == AuditKind.CHANGE_APPROVED]
    assert approvals[-1]["actor"] == "olga" and approvals[-1]["author"] == "dora"
    assert any(k == AuditKind.CHANGE_SUBMITTED and p["actor"] == "dora" for k, p in kinds)
    doc = client.get("/api/v1/flows/wealth_promo", headers=people["dora"]).json()
    assert doc["draft"] is None and doc["published"]["version"] == 1


def test_the_author_cannot_approve_their_own_change(client: TestClient, people) -> None:
    save(client, people["olga"], promo_flow(pitch_first=False), 0)
    change = client.post(
        "/api/v1/flows/wealth_promo/publish", json={"base_revision": 1}, headers=people["olga"]
    ).json()["change"]
    own = client.post(f"/api/v1/changes/{change['id']}/approve", json={}, headers=people["olga"])
    assert own.status_code == 403 and own.json()["type"].endswith("#four_eyes")
    other = client.post(f"/api/v1/changes/{change['id']}/approve", json={}, headers=people["omar"])
    assert other.status_code == 200


def test_a_change_not_touching_regulated_nodes_publishes_at_once_and_rolls_back(
    ctx: ConsoleContext, client: TestClient, people
) -> None:
    doc = client.get("/api/v1/flows/outbound_notice", headers=people["dora"]).json()
    flow = copy.deepcopy(doc["published"]["document"])
    flow["nodes"]["notice"]["timeout_s"] = 6
    assert save(client, people["dora"], flow, 0, "outbound_notice").status_code == 200
    diff = client.get("/api/v1/flows/outbound_notice/diff", headers=people["dora"]).json()["diff"]
    assert "timeout_s: 6" in diff
    done = client.post(
        "/api/v1/flows/outbound_notice/publish", json={"base_revision": 1}, headers=people["dora"]
    )
    assert done.status_code == 201 and done.json()["version"]["version"] == 2
    assert notice_timeout_s(ctx) == 6
    back = client.post(
        "/api/v1/flows/outbound_notice/rollback", json={"version": 1}, headers=people["dora"]
    )
    assert back.status_code == 201 and back.json()["version"]["source"] == "rollback"
    assert notice_timeout_s(ctx) == 4
    assert AuditKind.ROLLED_BACK in [e.kind for e in ctx.evidence.entries()]


def test_two_designers_saving_the_same_flow_the_second_gets_a_conflict(
    ctx: ConsoleContext, client: TestClient, people
) -> None:
    first = promo_flow(pitch_first=False)
    assert save(client, people["dora"], first, 0).status_code == 200
    mine = promo_flow(pitch_first=False)
    mine["description"] = "dora's edit"
    theirs = promo_flow(pitch_first=False)
    theirs["description"] = "dave's edit"
    assert save(client, people["dora"], mine, 1).status_code == 200
    conflict = save(client, people["dave"], theirs, 1)  # dave loaded revision 1 too
    assert conflict.status_code == 409 and conflict.headers["content-type"] == PROBLEM
    body = conflict.json()
    assert "dora" in body["detail"] and body["current"]["revision"] == 2
    assert body["code"] == "designer.saved_meanwhile_by"  # the console says it specifically
    assert body["params"] == {"doc": "flow", "name": "wealth_promo", "user": "dora", "revision": 2}
    assert "dora's edit" in body["current"]["content"]  # he sees what is there
    stored = ctx.designer.store.draft("flow", "wealth_promo")
    assert stored is not None and "dora's edit" in stored.content  # nothing lost


def test_schema_breaking_json_and_dangling_edges_are_refused_and_nothing_is_saved(
    ctx: ConsoleContext, client: TestClient, people
) -> None:
    broken = promo_flow(pitch_first=False)
    broken["nodes"]["pitch"]["type"] = "sing"  # type: ignore[index]
    answer = save(client, people["dora"], broken, 0)
    assert answer.status_code == 422 and answer.json()["type"].endswith("#invalid_document")
    assert answer.json()["errors"][0]["code"] == "schema"
    dangling = promo_flow(pitch_first=False)
    dangling["nodes"]["pitch"]["next"] = "nowhere"  # type: ignore[index]
    answer = save(client, people["dora"], dangling, 0)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["code"] == "unknown_target"
    assert answer.json()["errors"][0]["node"] == "pitch"
    not_a_flow = client.put(
        "/api/v1/flows/wealth_promo/draft",
        json={"flow": [], "base_revision": 0},
        headers=people["dora"],
    )
    assert not_a_flow.status_code == 422
    assert ctx.designer.store.draft("flow", "wealth_promo") is None


def test_only_a_compliance_officer_edits_the_disclosure_wording(
    ctx: ConsoleContext, client: TestClient, people
) -> None:
    table = client.get("/api/v1/prompts", headers=people["dora"]).json()
    assert "disclosure" in table["regulated"]
    prompts = table["published"]["document"]["prompts"]
    edited = copy.deepcopy(prompts)
    edited["disclosure"]["text"] = "您好，这里是{institution}，工号{bot_id}，本次通话将被录音。"
    refused = client.put(
        "/api/v1/prompts/draft",
        json={"prompts": edited, "base_revision": 0},
        headers=people["dora"],
    )
    assert refused.status_code == 403
    assert ctx.designer.store.draft("prompts", "prompts") is None
    ordinary = copy.deepcopy(prompts)
    ordinary["goodbye"]["text"] = "感谢来电，再见。"
    assert (
        client.put(
            "/api/v1/prompts/draft",
            json={"prompts": ordinary, "base_revision": 0},
            headers=people["dora"],
        ).status_code
        == 200
    )
    both = copy.deepcopy(ordinary)
    both["disclosure"] = edited["disclosure"]
    saved = client.put(
        "/api/v1/prompts/draft",
        json={"prompts": both, "base_revision": 1},
        headers=people["olga"],
    )
    assert saved.status_code == 200
    change = client.post(
        "/api/v1/prompts/publish", json={"base_revision": 2}, headers=people["olga"]
    ).json()["change"]
    assert change["touches"] == ["regulated:disclosure"]
    approved = client.post(
        f"/api/v1/changes/{change['id']}/approve", json={}, headers=people["omar"]
    )
    assert approved.status_code == 200
    text = (ctx.settings.flows_dir / "prompts.yaml").read_text(encoding="utf-8")
    assert "本次通话将被录音" in text and "感谢来电" in text


def test_simulate_a_draft_through_the_real_orchestrator(
    ctx: ConsoleContext, client: TestClient, people
) -> None:
    save(client, people["dora"], promo_flow(pitch_first=False), 0)
    answer = client.post(
        "/api/v1/flows/wealth_promo/simulate",
        json={"source": "draft", "turns": [{"kind": "dtmf", "value": "1"}]},
        headers=people["dora"],
    )
    assert answer.status_code == 200, answer.text
    sim = answer.json()
    spoken = [line["detail"].split(" ")[0] for line in sim["transcript"] if line["who"] == "ivr"]
    assert spoken[:2] == ["disclosure", "consent_question"]
    assert "pitch" in spoken and "consent_granted" in sim["evidence"]
    # the engine's events name their message codes: the console shows them in Chinese
    coded = {(line["code"], tuple(sorted(line["params"].items()))) for line in sim["transcript"]}
    assert ("call.dtmf", (("digits", "1"),)) in coded
    assert ("call.consent_granted", (("purpose", "marketing"),)) in coded
    opening = next(line for line in sim["transcript"] if line["who"] == "ivr")
    assert opening["detail_code"] == "call.prompt_no_barge_in"
    assert opening["params"] == {"prompt": "disclosure", "kind": "disclosure"}
    with_audio = next(i for i, line in enumerate(sim["transcript"]) if line["audio"])
    wav = client.get(
        f"/api/v1/simulations/{sim['simulation_id']}/audio/{with_audio}", headers=people["dora"]
    )
    assert wav.status_code == 200 and wav.content[:4] == b"RIFF"
    # the sandbox: nothing of the simulated call reaches the console's evidence
    assert "consent_granted" not in [e.kind for e in ctx.evidence.entries()]
