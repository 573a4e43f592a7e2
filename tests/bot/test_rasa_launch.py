"""The Rasa launcher's hot-path fixes keep Rasa's behaviour: bad action replies still rejected."""

from __future__ import annotations

import json
import subprocess
import textwrap

from ivr.rasa_model import RASA_VENV, REPO_ROOT, rasa_env

CHECK = textwrap.dedent(
    """
    import json
    from jsonschema import ValidationError
    from rasa.core.actions.action import RemoteAction
    from rasa.core.run import load_agent_on_start as before
    from rasa.shared.core.events import Event
    from rasa.shared.utils.common import all_subclasses

    from bot import rasa_launch

    rasa_launch.install()
    rasa_launch.install()  # idempotent
    action = RemoteAction("action_x", None)
    good = {"events": [{"event": "slot", "name": "stage", "value": "pitch"}],
            "responses": [{"text": "hi"}]}
    bad = [
        {"events": [{"event": "slot", "timestamp": "not a number"}]},
        {"events": "not a list"},
        {"events": [{"no_event_key": 1}]},
        {"responses": ["not an object"]},
    ]
    rejected = []
    for reply in bad:
        try:
            action._validate_action_result(reply)
            rejected.append(None)
        except ValidationError as exc:
            rejected.append(exc.message)
    types = {}
    for cls in all_subclasses(Event):  # Rasa's own rule: the first subclass with the name wins
        types.setdefault(cls.type_name, cls)
    same = all(Event.resolve_by_type(name) is cls for name, cls in types.items())
    print(json.dumps({
        "good": action._validate_action_result(good),
        "rejected": rejected,
        "event_types": len(types),
        "event_lookup_same": same,
        "unknown_default": Event.resolve_by_type("no-such-event", default=Event) is Event,
        "load_patched": __import__("rasa.core.run").core.run.load_agent_on_start is not before,
    }))
    """
)


def test_launcher_keeps_action_reply_validation_and_event_lookup() -> None:
    out = subprocess.run(
        [str(RASA_VENV / "bin" / "python"), "-c", CHECK],
        cwd=REPO_ROOT,
        env=rasa_env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["good"] is True
    assert all(message is not None for message in result["rejected"]), result["rejected"]
    assert all("Failed to validate Action server response" in m for m in result["rejected"])
    assert result["event_types"] > 15 and result["event_lookup_same"]
    assert result["unknown_default"] and result["load_patched"]
