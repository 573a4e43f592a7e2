"""The Rasa launcher's hot-path fixes keep Rasa's behaviour: bad action replies still rejected."""

from __future__ import annotations

import textwrap

from helpers.rasa_env import run_in_rasa_env

from shell import rasa_model

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
    # the event-dispatch fast path agrees with the full validator on random replies
    import random
    from jsonschema import validators
    schema = RemoteAction.action_response_format_spec()
    full = validators.validator_for(schema)(schema)
    quick = rasa_launch.event_dispatch(schema, validators.validator_for(schema))
    alternatives = schema["properties"]["events"]["items"]["oneOf"]
    names = [a["properties"]["event"]["const"] for a in alternatives]
    fields = sorted({f for a in alternatives for f in a["properties"]} | {"timestamp", "metadata"})
    pool = ["x", "", 3, 2.5, None, True, [], ["a"], {}, {"name": "greet"}, [{"text": "t"}]]
    rng = random.Random(7)

    def random_event():
        if rng.random() < 0.05:
            return rng.choice(pool)
        event = {"event": rng.choice(names + ["no_such_event", 5, ["user"]])}
        if rng.random() < 0.05:
            del event["event"]
        for _ in range(rng.randint(0, 3)):
            event[rng.choice(fields)] = rng.choice(pool)
        return event

    disagreements, valid_seen = 0, 0
    for _ in range(4000):
        reply = {"events": [random_event() for _ in range(rng.randint(0, 3))]}
        if rng.random() < 0.2:
            reply["responses"] = rng.choice([[], [{"text": "a"}], ["bad"], {}, None])
        if rng.random() < 0.03:
            reply = rng.choice([{"events": {}}, {"events": None}, [], "x"])
        truth = next(iter(full.iter_errors(reply)), None) is None
        valid_seen += truth
        disagreements += quick(reply) != truth
    import asyncio
    from rasa.utils.endpoints import EndpointConfig

    async def sessions():
        endpoint = EndpointConfig("http://127.0.0.1:9/webhook", headers={"X-A": "1"})
        async with endpoint.session() as first:
            pass
        async with endpoint.copy().session() as second:
            pass
        other = EndpointConfig("http://127.0.0.1:9/webhook", headers={"X-A": "2"})
        async with other.session() as third:
            pass
        kept = first is second and not first.closed and third is not first
        same_headers = dict(third.headers) == {"X-A": "2"}
        return kept and same_headers

    print(json.dumps({
        "sessions_kept": asyncio.run(sessions()),
        "dispatch_disagreements": disagreements,
        "dispatch_valid_seen": valid_seen,
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
    result = run_in_rasa_env(CHECK)
    assert result["good"] is True
    assert all(message is not None for message in result["rejected"]), result["rejected"]
    assert all("Failed to validate Action server response" in m for m in result["rejected"])
    assert result["event_types"] > 15 and result["event_lookup_same"]
    assert result["unknown_default"] and result["load_patched"]
    assert result["sessions_kept"]
    assert result["dispatch_disagreements"] == 0
    assert 400 < result["dispatch_valid_seen"] < 3600  # both outcomes well represented


PARSE_CHECK = textwrap.dedent(
    """
    import asyncio, json, sys
    from rasa.core.agent import Agent
    from rasa.shared.nlu.training_data.loading import load_data
    from bot import rasa_launch

    texts = [m.get("text") for m in load_data("nlu/test/test.yml").intent_examples]
    texts += ["嗯", "喂喂喂 你好 请问 是 张先生 吗 我 这边 是", "12345 abc"]
    agent = Agent.load(sys.argv[1])

    async def parse_all():
        out = []
        for text in texts:
            parsed = await agent.parse_message(text)
            out.append([parsed["intent"], parsed["intent_ranking"], parsed["entities"]])
        return out

    before = asyncio.run(parse_all())
    rasa_launch.install()
    after = asyncio.run(parse_all())
    print(json.dumps({"n": len(texts), "same": before == after,
                      "diff": [t for t, b, a in zip(texts, before, after) if b != a][:5]}))
    """
)


def test_launcher_parses_exactly_like_rasa() -> None:
    result = run_in_rasa_env(PARSE_CHECK, str(rasa_model.ensure_model().path))
    assert result["n"] > 170
    assert result["same"], result["diff"]  # every intent, confidence and ranking identical
