"""Start the Rasa server (run by ``.venv-rasa``'s Python) with one fix on its hot path.

``python -m bot.rasa_launch run ...`` takes exactly the arguments of ``rasa run``.

Rasa 3.6 checks every custom-action reply with ``jsonschema.validate(reply, schema)``. With the
jsonschema release Rasa 3.6 pins (4.17), ``validate`` first checks the *schema* against the JSON
Schema metaschema on every call; Rasa's event schema is large, so that check was 79 % of the Rasa
process's CPU per turn (py-spy over ``bench/bench_bot.py``), about 18 ms a turn on these cores.
The schema is a constant: :func:`install` checks it once, compiles its validator once and then
validates every reply against it exactly as before: ``best_match`` of the same errors, the same
message, the same exception. Event-class lookups by type name are memoised as well (see
:func:`_cache_event_types`). Nothing else in Rasa changes.
"""

from __future__ import annotations

import sys
from typing import Any

PATCHED_FLAG = "_ivr_cached_validator"


def install() -> None:
    """Replace ``RemoteAction._validate_action_result`` by the cached-validator version."""
    from jsonschema import ValidationError, validators
    from jsonschema.exceptions import best_match
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    if getattr(RemoteAction, PATCHED_FLAG, False):
        return
    compiled: dict[type[Any], Any] = {}

    def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
        cls = type(self)
        validator = compiled.get(cls)
        if validator is None:
            schema = self.action_response_format_spec()
            validator_cls = validators.validator_for(schema)
            validator_cls.check_schema(schema)  # once, as jsonschema.validate did every time
            validator = compiled[cls] = validator_cls(schema)
        error = best_match(validator.iter_errors(result))
        if error is None:
            return True
        if isinstance(error, ValidationError):
            error.message += (
                ". Failed to validate Action server response from API, "
                "make sure your response from the Action endpoint is valid. "
                "For more information about the format visit "
                f"{DOCS_BASE_URL}/custom-actions"
            )
        raise error

    RemoteAction._validate_action_result = _validate_action_result
    setattr(RemoteAction, PATCHED_FLAG, True)
    _cache_event_types()
    _freeze_heap_after_load()


def _freeze_heap_after_load() -> None:
    """``gc.freeze()`` once the model is loaded: the loaded model and TensorFlow are millions of
    long-lived objects that every full collection would walk again, a ~0.3 s stall of every
    conversation in flight (measured at concurrency 8). Frozen objects are never collected
    (they live as long as the server anyway); new objects are collected as usual."""
    import gc

    from rasa.core import run as rasa_run

    original = rasa_run.load_agent_on_start

    async def load_agent_on_start(*args: Any, **kwargs: Any) -> Any:
        loaded = await original(*args, **kwargs)
        gc.collect()
        gc.freeze()
        return loaded

    rasa_run.load_agent_on_start = load_agent_on_start


def _cache_event_types() -> None:
    """Memoise ``Event.resolve_by_type``: Rasa walks every ``Event`` subclass for each event it
    deserialises (twice per turn, whole tracker), 10 % of the CPU per turn. Found classes are
    cached by type name; anything not found still goes through Rasa's own lookup."""
    from rasa.shared.core.events import Event

    original = Event.resolve_by_type
    found: dict[tuple[str, Any], Any] = {}

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        key = (type_name, default)
        cls = found.get(key)
        if cls is None:
            cls = original(type_name, default)
            if cls is not None:
                found[key] = cls
        return cls

    Event.resolve_by_type = staticmethod(resolve_by_type)


def main() -> None:
    install()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *sys.argv[1:]]
    rasa_main()


if __name__ == "__main__":
    main()
