"""``/api/v1/users``: list, add and change console users (admins); every change is evidence."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from console.api.deps import context, require
from console.api.pagination import Page, PageParams, page_params
from console.api.problems import PROBLEM_RESPONSES
from console.auth.users import UnknownUserError, User
from console.identity import Principal
from console.permissions import Permission, Role

router = APIRouter(prefix="/api/v1/users", tags=["users"], responses=PROBLEM_RESPONSES)

USERNAME = r"^[A-Za-z0-9._-]{1,64}$"


class UserOut(BaseModel):
    id: str
    username: str
    display_name: str
    role: Role
    os_user: str | None
    disabled: bool
    locked_until: datetime | None
    created_at: datetime
    updated_at: datetime


class NewUser(BaseModel):
    username: str = Field(pattern=USERNAME)
    role: Role
    password: str = Field(min_length=1, max_length=256)
    display_name: str | None = Field(default=None, max_length=128)
    os_user: str | None = Field(default=None, pattern=USERNAME)


class UserPatch(BaseModel):
    role: Role | None = None
    disabled: bool | None = None
    password: str | None = Field(default=None, min_length=1, max_length=256)
    unlock: bool = False


def _out(user: User) -> UserOut:
    return UserOut.model_validate(user.public())


@router.get("")
def list_users(
    request: Request,
    page: PageParams = Depends(page_params),
    _: Principal = require(Permission.USERS_READ),
) -> Page[UserOut]:
    users, total = context(request).auth.users.page(page.limit, page.offset)
    return Page(items=[_out(u) for u in users], total=total, limit=page.limit, offset=page.offset)


@router.post("", status_code=201)
def add_user(
    body: NewUser, request: Request, actor: Principal = require(Permission.USERS_MANAGE)
) -> UserOut:
    user = context(request).auth.add_user(
        actor,
        body.username,
        body.role,
        body.password,
        display_name=body.display_name,
        os_user=body.os_user,
    )
    return _out(user)


@router.patch("/{username}")
def change_user(
    username: str,
    body: UserPatch,
    request: Request,
    actor: Principal = require(Permission.USERS_MANAGE),
) -> UserOut:
    auth = context(request).auth
    user = auth.users.by_username(username)
    if user is None:
        raise UnknownUserError(f"no user named {username!r}", params={"user": username})
    if body.password is not None:
        user = auth.set_password(actor, username, body.password)
    if body.role is not None and body.role != user.role:
        user = auth.set_role(actor, username, body.role)
    if body.disabled is not None and body.disabled != user.disabled:
        user = auth.set_disabled(actor, username, body.disabled)
    if body.unlock:
        user = auth.unlock(actor, username)
    return _out(user)
