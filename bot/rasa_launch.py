"""Start the Rasa server (run by ``.venv-rasa``'s Python) with fixes on its per-turn hot path.

``python -m bot.rasa_launch run ...`` takes exactly the arguments of ``rasa run``. Each fix was
found with py-spy over ``bench/bench_bot.py`` and keeps Rasa's behaviour (tests/bot/
test_rasa_launch.py checks that); together they took the Rasa process from ~23 to ~4 ms of CPU
per turn:

* Action replies: Rasa checks every custom-action reply with ``jsonschema.validate``, which with
  the jsonschema release Rasa pins (4.17) first checks the *schema* against the metaschema on
  every call: 79 % of the CPU per turn. The schema is checked and compiled once, and replies are
  checked by :func:`event_dispatch` (the same schema, each event against its own ``oneOf``
  alternative); anything it rejects goes through the full validator, which raises Rasa's error.
* Event classes by type name are memoised (:func:`_cache_event_types`).
* ``gc.freeze()`` after the model is loaded (:func:`_freeze_heap_after_load`).
* One kept-alive HTTP session per endpoint instead of one per action call
  (:func:`_keep_endpoint_sessions`).
* The logistic-regression input matrix is built in one step (:func:`_direct_intent_matrix`:
  parse 1.5 -> 0.95 ms, identical intents and confidences) and ``Domain.is_empty`` is
  answered once per domain (:func:`_cache_domain_emptiness`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

PATCHED_FLAG = "_ivr_cached_validator"
KEEPALIVE_S = 2.0


def install() -> None:
    """Install every fix listed in the module docstring (a second call does nothing)."""
    from jsonschema import ValidationError, validators
    from jsonschema.exceptions import best_match
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    if getattr(RemoteAction, PATCHED_FLAG, False):
        return
    compiled: dict[type[Any], tuple[Any, Callable[[Any], bool] | None]] = {}

    def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
        cls = type(self)
        entry = compiled.get(cls)
        if entry is None:
            schema = self.action_response_format_spec()
            validator_cls = validators.validator_for(schema)
            validator_cls.check_schema(schema)  # once, as jsonschema.validate did every time
            entry = compiled[cls] = (validator_cls(schema), event_dispatch(schema, validator_cls))
        validator, quick = entry
        if quick is not None and quick(result):
            return True
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
    _keep_endpoint_sessions()
    _direct_intent_matrix()
    _cache_domain_emptiness()


def _direct_intent_matrix() -> None:
    """Build the logistic-regression input in one step instead of scipy block stacking.

    ``LogisticRegressionClassifier._create_X`` stacks each featurizer's sentence features with
    scipy's ``hstack``/``vstack`` (three stackings per message: ~0.5 ms, a third of a parse).
    The same matrix, CSR with the same shape, values and dtype, is built here directly from
    the features' coordinates (featurizers in the message's order, one row per message).
    Messages with dense features, or of any unexpected shape, take Rasa's own path.
    """
    import numpy as np
    import scipy.sparse
    from rasa.nlu.classifiers.logistic_regression_classifier import (
        LogisticRegressionClassifier,
    )
    from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT

    original = LogisticRegressionClassifier._create_X

    def _create_X(self: Any, messages: list[Any]) -> Any:
        data: list[Any] = []
        rows: list[Any] = []
        cols: list[Any] = []
        dtypes: list[Any] = [np.dtype(np.float64)]  # Rasa stacks with an empty float64 block
        width = None
        for row, message in enumerate(messages):
            offset = 0
            for feature in message.features:
                if feature.attribute != TEXT or feature.type != FEATURE_TYPE_SENTENCE:
                    continue
                if not feature.is_sparse():
                    return original(self, messages)
                coo = feature.features.tocoo()
                if coo.shape[0] != 1:
                    return original(self, messages)
                data.append(coo.data)
                rows.append(np.full(coo.nnz, row))
                cols.append(coo.col.astype(np.int64) + offset)
                dtypes.append(coo.dtype)
                offset += coo.shape[1]
            if offset == 0 or (width is not None and width != offset):
                return original(self, messages)
            width = offset
        if width is None:
            return original(self, messages)
        values = np.concatenate(data).astype(np.result_type(*dtypes))
        return scipy.sparse.csr_matrix(
            (values, (np.concatenate(rows), np.concatenate(cols))), shape=(len(messages), width)
        )

    LogisticRegressionClassifier._create_X = _create_X


def _cache_domain_emptiness() -> None:
    """``Domain.is_empty`` rebuilt two full domain dicts on every parse (to warn about unseen
    intents); the answer is kept per domain object, which is not changed while serving."""
    from rasa.shared.core.domain import Domain

    original = Domain.is_empty

    def is_empty(self: Any) -> bool:
        cached = self.__dict__.get("_ivr_is_empty")
        if cached is None:
            cached = self.__dict__["_ivr_is_empty"] = original(self)
        return bool(cached)

    Domain.is_empty = is_empty


class _KeptSession:
    """``async with`` over a shared session that leaves it open."""

    def __init__(self, session: Any) -> None:
        self._session = session

    async def __aenter__(self) -> Any:
        return self._session

    async def __aexit__(self, *exc: object) -> None:
        return None


def _keep_endpoint_sessions() -> None:
    """Reuse one HTTP session (and its keep-alive connections) per endpoint and event loop.

    Rasa 3.6 opens a new aiohttp session, hence a new TCP connection, for every call to the
    action server and closes it afterwards: a connect, a teardown and a new server-side
    connection per custom action. Requests, headers, auth and timeouts are unchanged. Idle
    connections are dropped after ``KEEPALIVE_S``, before the action server's own keep-alive
    timeout (Sanic: 5 s) could close one just as it is reused.
    """
    import asyncio

    import aiohttp
    from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
    from rasa.utils.endpoints import EndpointConfig

    sessions: dict[tuple[object, ...], Any] = {}

    def session(self: Any) -> Any:
        loop = asyncio.get_running_loop()
        basic_auth = self.basic_auth or {}
        key = (loop, repr(sorted((self.headers or {}).items())), repr(sorted(basic_auth.items())))
        shared = sessions.get(key)
        if shared is None or shared.closed:
            # the same session settings as Rasa's own EndpointConfig.session
            auth = (
                aiohttp.BasicAuth(basic_auth["username"], basic_auth["password"])
                if basic_auth
                else None
            )
            shared = sessions[key] = aiohttp.ClientSession(
                headers=self.headers,
                auth=auth,
                timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
                connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_S, limit=0),
            )
        return _KeptSession(shared)

    EndpointConfig.session = session


def event_dispatch(schema: dict[str, Any], validator_cls: Any) -> Callable[[Any], bool] | None:
    """A faster exact check of Rasa's action-reply schema, or ``None`` if its shape differs.

    Each event must match exactly one of ~23 ``oneOf`` alternatives, which jsonschema tries
    one after another for every event. Every alternative pins ``event`` to a distinct constant,
    so only the alternative named by the event's own ``event`` value can match: the reply is
    valid exactly when the schema without the per-event ``oneOf`` accepts it and each event
    passes the common event schema together with its own alternative. ``True`` means valid;
    on ``False`` the caller runs the full validator, which also gives Rasa's usual error.
    """
    try:
        events = schema["properties"]["events"]
        item = events["items"]
        alternatives = item["oneOf"]
    except (KeyError, TypeError):
        return None
    by_event: dict[str, Any] = {}
    for alternative in alternatives:
        const = alternative.get("properties", {}).get("event", {}).get("const")
        if not isinstance(const, str) or const in by_event:
            return None
        by_event[const] = alternative
    common = {k: v for k, v in item.items() if k != "oneOf"}
    per_event = {name: validator_cls({**common, "allOf": [alt]}) for name, alt in by_event.items()}
    outer_events = {k: v for k, v in events.items() if k != "items"}
    outer = validator_cls(
        {**schema, "properties": {**schema["properties"], "events": outer_events}}
    )

    def quick(reply: Any) -> bool:
        if not outer.is_valid(reply):
            return False
        events = reply.get("events") if isinstance(reply, dict) else None
        for event in events or ():
            name = event.get("event") if isinstance(event, dict) else None
            check = per_event.get(name) if isinstance(name, str) else None
            if check is None or not check.is_valid(event):
                return False
        return True

    return quick


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
