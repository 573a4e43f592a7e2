"""Every capability the CLI has, the API has (issue #15): each ``ivr`` command, listed from
Typer's own click group, is mapped to the ``/api/v1`` route(s) that do the same, or stands in
the exemption table with the reason it is a process or a local tool rather than a capability.
A new command without either fails here; so does a mapping to a route that does not exist."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer.main
from fastapi.testclient import TestClient
from test_con_role_matrix import PUBLIC, route_permissions

from shell.cli import app as ivr_app

Route = tuple[str, str]

API: dict[str, list[Route]] = {
    "call": [("POST", "/api/v1/flows/{name}/simulate")],
    "campaign create": [("POST", "/api/v1/campaigns")],
    "campaign export": [("GET", "/api/v1/campaigns/{ref}/export")],
    "campaign import": [("POST", "/api/v1/campaigns/{ref}/import")],
    "campaign list": [("GET", "/api/v1/campaigns")],
    "campaign pause": [("POST", "/api/v1/campaigns/{ref}/{action}")],
    "campaign resume": [("POST", "/api/v1/campaigns/{ref}/{action}")],
    "campaign start": [("POST", "/api/v1/campaigns/{ref}/{action}")],
    "campaign stop": [("POST", "/api/v1/campaigns/{ref}/{action}")],
    "campaign status": [("GET", "/api/v1/campaigns/{ref}")],
    "consent grant": [("POST", "/api/v1/consents")],
    "consent list": [("POST", "/api/v1/consents/search")],
    "consent revoke": [("POST", "/api/v1/consents/revoke")],
    "dnc add": [("POST", "/api/v1/dnc")],
    "dnc check": [("POST", "/api/v1/dnc/check")],
    "dnc remove": [("POST", "/api/v1/dnc/remove")],
    "evidence checkpoint": [("POST", "/api/v1/evidence/checkpoint")],
    "evidence verify": [("GET", "/api/v1/evidence/verify")],
    "flows schema": [("GET", "/api/v1/flow-schema")],
    "flows validate": [("POST", "/api/v1/flows/check")],
    "gate check": [("POST", "/api/v1/gate/check")],
    "qa batch": [("POST", "/api/v1/qa/batch"), ("GET", "/api/v1/qa/batch/{job_id}")],
    "qa call": [("GET", "/api/v1/qa/calls/{call_id}")],
    "qa check": [("POST", "/api/v1/qa/check")],
    "qa report": [("GET", "/api/v1/qa/report")],
    "qa rules": [("GET", "/api/v1/qa/rules"), ("POST", "/api/v1/qa/rules/check")],
    "recordings fetch": [("GET", "/api/v1/recordings/{recording_id}/audio")],
    "recordings purge": [("POST", "/api/v1/recordings/purge")],
    "recordings rewrap": [("POST", "/api/v1/recordings/rewrap")],
    "recordings search": [("POST", "/api/v1/recordings/search")],
    "rules reload": [("POST", "/api/v1/rules/reload")],
    "rules show": [("GET", "/api/v1/rules")],
    "rules validate": [("POST", "/api/v1/rules/check")],
    "users add": [("POST", "/api/v1/users")],
    "users disable": [("PATCH", "/api/v1/users/{username}")],
    "users enable": [("PATCH", "/api/v1/users/{username}")],
    "users list": [("GET", "/api/v1/users")],
    "users passwd": [("PATCH", "/api/v1/users/{username}")],
    "users role": [("PATCH", "/api/v1/users/{username}")],
    "users token": [("POST", "/api/v1/auth/token")],
    "users unlock": [("PATCH", "/api/v1/users/{username}")],
}

EXEMPT: dict[str, str] = {
    # processes: they start or supervise servers, they are not something a user asks for
    "run": "starts Rasa, the action server, the ESL server and the console",
    "campaign run": "the dialler process that `make run` starts",
    "jobs run": "the scheduled-jobs worker process",
    # installation and operations of the host the CLI runs on
    "doctor": "checks this host's dependencies and says how to fix them",
    "train": "trains the Rasa model on this host's files",
    "users init": "creates the first admin before anyone can sign in to the API",
    # local tools on local files or ports, for operators and developers
    "campaign demo": "a throwaway sandbox campaign against the simulator (a demonstration)",
    "esl call": "drives a simulated caller against a local outbound ESL port",
    "esl parse": "parses an ESL capture file",
    "speech say": "the TTS engine on this host, to a local file (the designer's simulation "
    "plays prompts through the API)",
    "speech transcribe": "the ASR engine on a local audio file",
    "speech vad": "the VAD on a local audio file",
    "speech warm": "loads this host's speech models before a run",
}


def _commands(cmd: Any, prefix: tuple[str, ...] = ()) -> Iterator[str]:
    subs = getattr(cmd, "commands", None)  # a group (Typer's click group or a sub-Typer)
    if subs is None:
        yield " ".join(prefix)
        return
    for name, sub in subs.items():
        yield from _commands(sub, (*prefix, name))


def test_every_cli_command_has_an_api_route_or_a_stated_exemption() -> None:
    commands = set(_commands(typer.main.get_command(ivr_app)))
    assert {"qa rules", "dnc add", "run"} <= commands  # the walk reaches nested groups
    unaccounted = sorted(commands - API.keys() - EXEMPT.keys())
    assert unaccounted == [], f"CLI commands without an API route or exemption: {unaccounted}"
    assert not API.keys() & EXEMPT.keys()
    stale = sorted((API.keys() | EXEMPT.keys()) - commands)
    assert stale == [], f"mapped commands the CLI no longer has: {stale}"


def test_every_mapped_route_exists_and_is_in_the_role_matrix(client: TestClient) -> None:
    permissions = route_permissions(client)
    for command, mapped in API.items():
        for route in mapped:
            assert route in permissions, f"{command}: no route {route}"
            assert permissions[route] is not None or route in PUBLIC, f"{command}: {route}"
