"""Message codes of validation errors (pure, stdlib only).

Every message a person may read from the server carries a stable code and parameters beside its
English text (``ivr.errors.IvrError.code``/``params``); the console's front end translates the
code from its catalogue (``console/web/src/messages.json``, zh-CN and en), API clients keep the
text. A pydantic validation error (an API body, a flow file's schema) becomes ``value.<type>``
for the types below, ``value.invalid`` otherwise, with the error's context as parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ivr.errors import Param

# pydantic-core error types the catalogue translates (the common ones of our models)
VALUE_TYPES = frozenset(
    {
        "missing",
        "extra_forbidden",
        "string_type",
        "string_too_short",
        "string_too_long",
        "string_pattern_mismatch",
        "int_type",
        "int_parsing",
        "int_from_float",
        "float_type",
        "float_parsing",
        "bool_type",
        "bool_parsing",
        "greater_than",
        "greater_than_equal",
        "less_than",
        "less_than_equal",
        "too_short",
        "too_long",
        "list_type",
        "dict_type",
        "literal_error",
        "enum",
        "date_type",
        "date_parsing",
        "date_from_datetime_parsing",
        "datetime_type",
        "datetime_parsing",
        "datetime_from_date_parsing",
        "json_invalid",
        "model_type",
        "model_attributes_type",
        "union_tag_invalid",
        "union_tag_not_found",
        "value_error",
        "assertion_error",
        "finite_number",
    }
)
VALUE_CODES = frozenset({f"value.{t}" for t in VALUE_TYPES} | {"value.invalid"})


def value_code(error_type: str) -> str:
    """The message code of a pydantic error type."""
    return f"value.{error_type}" if error_type in VALUE_TYPES else "value.invalid"


def _param(value: Any) -> Param:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(str(v) for v in value)
    return str(value)


def value_params(error: Mapping[str, Any]) -> dict[str, Param]:
    """A pydantic error's context as message parameters (``error`` of a validator: its text)."""
    ctx = error.get("ctx") or {}
    return {str(k): _param(v) for k, v in ctx.items()}


def value_error(error: Mapping[str, Any]) -> dict[str, Param]:
    """A pydantic error as the parameters of a message that embeds it: ``error_code`` (a
    ``value.*`` code, translated in place) plus the error's context."""
    return {"error_code": value_code(str(error.get("type", ""))), **value_params(error)}
