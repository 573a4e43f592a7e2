"""Every message code the server can send has its zh-CN and en entry in the console's catalogue
(``console/web/src/messages.json``), with the same parameters in both; the API sends the codes.

The codes are collected from the code that raises them: every string constant in the app
packages shaped like a message code, every problem kind (``problem.<kind>``), every status
title (``status.<n>``), every translated pydantic type (``value.*``), every flow and designer
issue (``issue.*``), every gate reason (``gate.*``).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

import yaml
from campaign_examples import LIST_CSV, campaign_body
from console_support import PASSWORD
from fastapi.testclient import TestClient

from campaigns.model import Disposition
from compliance.decision import Reason
from console.api.problems import ERROR_STATUS, TITLES
from console.permissions import Permission, Role
from flows.validate import ISSUE_CODES
from ivr.evidence import EvidenceKind
from ivr.messages import VALUE_CODES
from ivr.settings import REPO_ROOT

CATALOGUE = REPO_ROOT / "console" / "web" / "src" / "messages.json"
APP_PACKAGES = (
    "ivr",
    "console",
    "campaigns",
    "compliance",
    "records",
    "flows",
    "agents",
    "qa",
    "shell",
)
FAMILIES = (
    "agents|auth|call|campaign|compliance|consent|console|designer|dnc|flows|gate|issue|list"
    "|problem|qa|records|rules|status|users|value|webhooks"
)
CODE = re.compile(rf"^(?:{FAMILIES})\.[a-z0-9_]+$")
FILE_NAME = re.compile(r"\.(?:csv|xlsx|yaml|yml|json|py|wav)$")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
DESIGNER_ISSUES = {"name", "rules", "version"}  # besides the flow validator's


def catalogue() -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    return data


def sources() -> Iterator[tuple[Path, ast.AST]]:
    for package in APP_PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            yield path, ast.parse(path.read_text(encoding="utf-8"))


def problem_kinds(tree: ast.AST) -> Iterator[str]:
    """The kind (second argument) of every ``ApiProblem(...)`` / ``problem_response(...)``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and len(node.args) >= 2:
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            kind = node.args[1]
            if name in {"ApiProblem", "problem_response"} and isinstance(kind, ast.Constant):
                yield str(kind.value)


def server_codes() -> set[str]:
    codes: set[str] = set()
    kinds = {kind for _, kind in ERROR_STATUS.values()}
    for _, tree in sources():
        kinds.update(problem_kinds(tree))
        for node in ast.walk(tree):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and CODE.match(text) and not FILE_NAME.search(text):
                codes.add(text)
    codes -= {p.value for p in Permission}  # permission names: a parameter, not a message
    codes |= {f"problem.{kind}" for kind in kinds}
    codes |= {f"status.{status}" for status in TITLES}
    codes |= set(VALUE_CODES)
    codes |= {f"issue.{code}" for code in ISSUE_CODES | DESIGNER_ISSUES}
    codes |= {f"gate.{reason.value}" for reason in Reason}
    return codes


def test_every_server_message_code_has_a_zh_cn_and_an_en_entry() -> None:
    table = catalogue()
    codes = server_codes()
    assert len(codes) > 150  # the scan found the raisers
    for lang in ("zh-CN", "en"):
        missing = sorted(codes - set(table[lang]))
        assert not missing, f"{lang} lacks {missing}"
        empty = sorted(k for k, v in table[lang].items() if not v.strip())
        assert not empty, f"{lang}: empty {empty}"


def test_every_problem_a_route_raises_names_its_own_code() -> None:
    """A route's ``ApiProblem`` without ``code=`` would reach the Chinese console as its kind's
    generic words ('输入无效'), the reason left in the English detail only."""
    unnamed = []
    for path, tree in sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or getattr(node.func, "id", "") != "ApiProblem":
                continue
            if not any(k.arg == "code" for k in node.keywords):
                unnamed.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}")
    assert not unnamed, unnamed


def test_both_languages_have_the_same_codes_and_parameters() -> None:
    table = catalogue()
    zh, en = table["zh-CN"], table["en"]
    assert set(zh) == set(en)
    for code in zh:
        assert set(PLACEHOLDER.findall(zh[code])) == set(PLACEHOLDER.findall(en[code])), code
    # a Chinese entry is Chinese (a code left in English would reach the Chinese console)
    latin_only = sorted(c for c, text in zh.items() if not re.search(r"[\u4e00-\u9fff]", text))
    assert not latin_only, latin_only


def test_problems_and_field_errors_carry_their_codes(client: TestClient) -> None:
    missing = client.post("/api/v1/auth/token", data={"grant_type": "password"})
    assert missing.status_code == 422
    assert missing.json()["code"] == "auth.credentials_required"
    answer = client.get("/api/v1/flows")
    assert answer.status_code == 401 and answer.json()["code"] == "auth.not_signed_in"
    nowhere = client.get("/api/v1/no-such-route")
    assert nowhere.json()["code"] == "status.404"
    assert set(server_codes()) >= {"auth.credentials_required", "auth.not_signed_in"}


def test_a_refused_campaign_and_a_bad_list_row_name_their_codes(
    client: TestClient, role_headers
) -> None:
    boss = role_headers[Role.CAMPAIGN_MANAGER]
    night = client.post(
        "/api/v1/campaigns", json=campaign_body(windows=["23:00-23:30"]), headers=boss
    ).json()
    assert night["code"] == "campaign.windows_outside_rules"
    (error,) = night["errors"]
    assert error["code"] == "campaign.windows_outside_rules" and error["params"] == {
        "purpose": "service"
    }
    small = client.post(
        "/api/v1/campaigns", json=campaign_body(max_attempts=0), headers=boss
    ).json()
    (field,) = small["errors"]  # pydantic's own: a value.* code with its context
    assert field["code"] == "value.greater_than_equal" and field["params"] == {"ge": 1}
    camp = client.post("/api/v1/campaigns", json=campaign_body(), headers=boss).json()
    done = client.post(
        f"/api/v1/campaigns/{camp['id']}/import",
        files={"file": ("list.csv", LIST_CSV.encode(), "text/csv")},
        headers=boss,
    ).json()
    assert [(e["column"], e["code"]) for e in done["errors"]] == [("number", "list.number_invalid")]
    table = catalogue()
    for lang in ("zh-CN", "en"):
        assert {"campaign.windows_outside_rules", "list.number_invalid"} <= set(table[lang])


def test_every_flow_schema_field_and_node_type_has_a_label_in_both_languages() -> None:
    """The designer's property forms come from the flow JSON Schema (English titles); the page
    names each field and node type itself (``field_*``, ``nodedesc_*``, ``nodetype_*`` in
    i18n.ts) and each issue code (``issuename_*``; the identifier stays visible, small)."""
    schema = json.loads((REPO_ROOT / "ivr_flows" / "flow.schema.json").read_text())
    fields: set[str] = set()
    types: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            fields.update(node.get("properties", {}))
            const = node.get("properties", {}).get("type", {}).get("const")
            if isinstance(const, str):
                types.add(const)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    assert len(types) >= 13
    text = (REPO_ROOT / "console" / "web" / "src" / "i18n.ts").read_text(encoding="utf-8")
    keys = [f"field_{f}" for f in fields] + [f"nodedesc_{t}" for t in types]
    keys += [f"nodetype_{t}" for t in types]  # the palette's and the graph's node names
    keys += [f"issuename_{c}" for c in ISSUE_CODES | DESIGNER_ISSUES]  # the issue list's titles
    for key in keys:
        assert len(re.findall(rf"^\s+{key}: ", text, re.M)) == 2, key  # zh and en


def test_every_identifier_the_pages_name_has_a_label_in_both_languages() -> None:
    """The API sends evidence kinds (a simulated call's), intents (a screen pop's and a
    ticket's why), dispositions (recordings, campaigns) as identifiers; the pages name each
    (``ev_*``, ``intent_*``, ``disp_*`` in i18n.ts), so none reaches the Chinese page as is."""
    domain = yaml.safe_load((REPO_ROOT / "domain.yml").read_text(encoding="utf-8"))
    keys = [f"ev_{k.value}" for k in EvidenceKind]
    keys += [f"intent_{i}" for i in domain["intents"]]
    keys += [f"disp_{d.value}" for d in Disposition]
    text = (REPO_ROOT / "console" / "web" / "src" / "i18n.ts").read_text(encoding="utf-8")
    for key in keys:
        assert len(re.findall(rf"^\s+{key}: ", text, re.M)) == 2, key  # zh and en


def test_refusals_of_the_designer_desk_floor_and_users_name_their_own_codes(
    client: TestClient, role_headers: dict[Role, dict[str, str]]
) -> None:
    """No generic 'conflict' / 'not found' left where the server knows what happened: each
    answer carries its own code and parameters, catalogued in both languages."""
    table = catalogue()
    agent, supervisor = role_headers[Role.AGENT], role_headers[Role.SUPERVISOR]
    admin, officer = role_headers[Role.ADMIN], role_headers[Role.COMPLIANCE_OFFICER]
    answers = {
        "agents.user_without_desk": client.get("/api/v1/agents/me", headers=agent),
        "agents.no_work_ticket": client.get("/api/v1/work-tickets/nope", headers=supervisor),
        "agents.callback_taken": client.post("/api/v1/callbacks/nope/claim", headers=agent),
        "designer.no_change": client.get("/api/v1/changes/nope", headers=officer),
        "users.exists_named": client.post(
            "/api/v1/users",
            json={"username": "admin", "role": "agent", "password": PASSWORD},
            headers=admin,
        ),
    }
    for code, answer in answers.items():
        assert answer.status_code in (404, 409), (code, answer.text)
        body = answer.json()
        assert body["code"] == code, (code, body)
        assert code in table["zh-CN"] and code in table["en"]
        assert set(PLACEHOLDER.findall(table["en"][code])) <= set(body["params"]), body


def test_the_catalogue_names_each_code_once_per_language() -> None:
    """A code written twice in one language silently keeps only its last wording."""
    repeated: list[str] = []

    def keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
        names = [k for k, _ in pairs]
        repeated.extend(sorted({k for k in names if names.count(k) > 1}))
        return dict(pairs)

    json.loads(CATALOGUE.read_text(encoding="utf-8"), object_pairs_hook=keys)
    assert not repeated
