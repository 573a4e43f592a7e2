"""``/api/v1/auth``: browser sign-in (cookie + CSRF), OAuth2 password flow (JWT + refresh),
sign-out, and who am I; ``/api/v1/meta``: what the front end needs before sign-in."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request, Response
from pydantic import BaseModel, Field

from console.api.deps import CSRF_COOKIE, SESSION_COOKIE, context, current_principal
from console.api.problems import PROBLEM_RESPONSES, ApiProblem
from console.identity import Principal
from console.permissions import TABLE, Permission, Role
from ivr import __version__

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class Me(BaseModel):
    user_id: str
    username: str
    role: Role
    via: str
    permissions: list[Permission]


class SignedIn(BaseModel):
    user: Me
    csrf_token: str = Field(description="send it as X-CSRF-Token on every unsafe request")


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (the OAuth2 token type)
    expires_in: int
    refresh_token: str


class Meta(BaseModel):
    version: str
    institution: str
    timezone: str
    languages: list[str]
    default_language: str


class RoleRights(BaseModel):
    role: Role
    permissions: list[Permission]


def _me(p: Principal) -> Me:
    return Me(
        user_id=p.user_id,
        username=p.username,
        role=p.role,
        via=p.via,
        permissions=sorted(TABLE[p.role]),
    )


@router.get("/meta", tags=["auth"])
def meta(request: Request) -> Meta:
    """Public: version, institution, time zone and languages (for the sign-in page)."""
    s = context(request).settings
    return Meta(
        version=__version__,
        institution=s.institution_name,
        timezone=s.institution_timezone,
        languages=["zh-CN", "en"],
        default_language="zh-CN",
    )


@router.post("/auth/login", tags=["auth"])
def login(body: Credentials, request: Request, response: Response) -> SignedIn:
    """Browser sign-in: sets an HttpOnly SameSite session cookie and returns the CSRF token."""
    ctx = context(request)
    user = ctx.auth.authenticate(body.username, body.password)
    session = ctx.auth.open_browser_session(user)
    secure = ctx.settings.console_cookie_secure
    max_age = int((session.expires_at - ctx.auth.clock()).total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        session.secret,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )
    assert session.csrf is not None
    response.set_cookie(
        CSRF_COOKIE, session.csrf, max_age=max_age, samesite="strict", secure=secure, path="/"
    )
    principal = Principal(user.id, user.username, user.role, "session", session.id)
    return SignedIn(user=_me(principal), csrf_token=session.csrf)


@router.post("/auth/logout", tags=["auth"], status_code=204)
def logout(
    request: Request, response: Response, principal: Principal = Depends(current_principal)
) -> None:
    """End the browser session (the token of an API client simply expires)."""
    if principal.session_id:
        context(request).auth.close_session(principal.session_id)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


@router.post("/auth/token", tags=["auth"])
def token(
    request: Request,
    grant_type: Annotated[Literal["password", "refresh_token"], Form()],
    username: Annotated[str | None, Form(max_length=64)] = None,
    password: Annotated[str | None, Form(max_length=256)] = None,
    refresh_token: Annotated[str | None, Form(max_length=512)] = None,
) -> TokenResponse:
    """OAuth2 token endpoint: ``password`` grant (username, password) or ``refresh_token``."""
    auth = context(request).auth
    if grant_type == "password":
        if not username or not password:
            raise ApiProblem(
                422,
                "invalid_input",
                "username and password are required",
                code="auth.credentials_required",
            )
        pair = auth.issue_tokens(auth.authenticate(username, password))
    else:
        if not refresh_token:
            raise ApiProblem(
                422, "invalid_input", "refresh_token is required", code="auth.refresh_required"
            )
        pair = auth.refresh(refresh_token)
    return TokenResponse(
        access_token=pair.access_token, expires_in=pair.expires_in, refresh_token=pair.refresh_token
    )


@router.get("/auth/me", tags=["auth"])
def me(principal: Principal = Depends(current_principal)) -> Me:
    """Who is signed in, and what their role may do."""
    return _me(principal)


@router.get("/roles", tags=["auth"])
def roles(_: Principal = Depends(current_principal)) -> list[RoleRights]:
    """The permission table, role by role."""
    return [RoleRights(role=r, permissions=sorted(TABLE[r])) for r in Role]
