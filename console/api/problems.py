"""Errors as RFC 9457 ``application/problem+json``: one model, one handler per error family.

Every problem carries a message ``code`` and its ``params`` beside the English ``detail``
(``ivr.errors``): an error that names its code keeps it, any other is ``problem.<kind>``; each
entry of ``errors`` has a code too (a field's ``value.*``, a document's ``issue.*``, a
campaign's ``campaign.*``). The console's front end translates them from its catalogue
(``console/web/src/messages.json``): the language is the browser's choice, switched without a
round trip, and API clients keep the same stable codes and English text, so the server stays
language-free (no Accept-Language negotiation, no second copy of the catalogue).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import yaml
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from compliance.service import InvalidRequestError
from console.api.deps import CsrfError
from console.auth.service import SignInError
from console.auth.users import UnknownUserError, UserError, UserExistsError
from console.designer.documents import ConflictError, NotFoundError
from console.designer.service import FourEyesError, InvalidDocumentError
from console.identity import NotAuthenticatedError, PermissionDeniedError
from ivr.errors import IvrError, NotAuthorizedError, Param
from ivr.messages import value_code, value_params
from records.recording import RecordingNotFoundError
from records.retention import RetentionError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class Problem(BaseModel):
    """What went wrong: ``type`` names the kind, ``detail`` says it for a person."""

    type: str = Field(examples=["about:blank#conflict"])
    title: str
    status: int
    detail: str = ""
    code: str = Field(
        default="problem.error",
        description="stable message code of ``detail`` (translated by clients)",
        examples=["campaign.windows_outside_rules"],
    )
    params: dict[str, Any] = Field(default_factory=dict, description="the code's parameters")
    errors: list[dict[str, Any]] | None = None
    current: dict[str, Any] | None = None


class ApiProblem(Exception):
    """Raise from a route to answer with a problem."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        current: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        code: str | None = None,
        params: Mapping[str, Param] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.code = code or f"problem.{kind}"
        self.params = dict(params or {})
        self.errors = errors
        self.current = current
        self.headers = headers


TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    422: "Invalid input",
    423: "Locked",
    429: "Too many requests",
    503: "Service unavailable",
}

# Documented on every API route, so clients (and schemathesis) know the shapes.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": TITLES[code], "content": {PROBLEM_JSON: {}}}
    for code in (400, 401, 403, 404, 409, 413, 422)
}


def problem_response(
    status: int,
    kind: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    current: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    code: str | None = None,
    params: Mapping[str, Param] | None = None,
) -> JSONResponse:
    body = Problem(
        type=f"about:blank#{kind}",
        title=TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        code=code or f"problem.{kind}",
        params=dict(params or {}),
        errors=errors,
        current=current,
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def _clean_errors(errors: Any) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        out.append(
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "msg": str(err.get("msg", "")),
                "type": str(err.get("type", "")),
                "code": value_code(str(err.get("type", ""))),
                "params": value_params(err),
            }
        )
    return out


def install(app: FastAPI) -> None:
    """Register the handlers that turn errors into problems."""

    @app.exception_handler(ApiProblem)
    async def _api(_: Request, exc: ApiProblem) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.kind,
            exc.detail,
            errors=exc.errors,
            current=exc.current,
            headers=exc.headers,
            code=exc.code,
            params=exc.params,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(
            422, "invalid_input", "the request is not valid", errors=_clean_errors(exc.errors())
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            exc.status_code, "http", str(exc.detail), code=f"status.{exc.status_code}"
        )

    @app.exception_handler(InvalidDocumentError)
    async def _invalid_doc(_: Request, exc: InvalidDocumentError) -> JSONResponse:
        return problem_response(
            422, "invalid_document", str(exc), errors=exc.issues, code=exc.code, params=exc.params
        )

    @app.exception_handler(ConflictError)
    async def _conflict(_: Request, exc: ConflictError) -> JSONResponse:
        return problem_response(
            409, "conflict", str(exc), current=exc.current, code=exc.code, params=exc.params
        )

    @app.exception_handler(yaml.YAMLError)
    async def _yaml(request: Request, exc: yaml.YAMLError) -> JSONResponse:
        # The validators read YAML through ivr.yaml_lines (every error with its line); a PyYAML
        # error reaching here is a document some other path could not read: the client's
        # input, never a server fault. The route is logged (never the document).
        log.warning("unreadable YAML document at %s: %s", request.url.path, type(exc).__name__)
        return problem_response(
            422,
            "invalid_document",
            "a YAML document could not be read",
            code="designer.unreadable_yaml",
        )

    for error, (status, kind) in ERROR_STATUS.items():
        app.add_exception_handler(error, _handler(status, kind))


# Our errors, most specific first: (HTTP status, problem kind).
ERROR_STATUS: dict[type[Exception], tuple[int, str]] = {
    NotAuthenticatedError: (401, "not_authenticated"),
    SignInError: (401, "sign_in_failed"),
    CsrfError: (403, "csrf"),
    PermissionDeniedError: (403, "forbidden"),
    FourEyesError: (403, "four_eyes"),
    UnknownUserError: (404, "not_found"),
    NotFoundError: (404, "not_found"),
    RecordingNotFoundError: (404, "not_found"),
    NotAuthorizedError: (403, "forbidden"),
    RetentionError: (409, "retention"),
    UserExistsError: (409, "conflict"),
    UserError: (422, "invalid_input"),
    InvalidRequestError: (422, "invalid_input"),
    IvrError: (422, "refused"),
}


def _handler(status: int, kind: str) -> Any:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None

    async def handle(_: Request, exc: Exception) -> JSONResponse:
        detail = str(exc) if kind != "refused" else f"{type(exc).__name__}: {exc}"
        code = exc.code if isinstance(exc, IvrError) else None
        params = exc.params if isinstance(exc, IvrError) else None
        return problem_response(status, kind, detail, headers=headers, code=code, params=params)

    return handle
