"""Sign-in: argon2 hashes, browser sessions with CSRF, OAuth2 tokens with refresh, lockout,
and bad input (wrong password, expired or forged tokens, CSRF without token, huge bodies)."""

from __future__ import annotations

import jwt
import sqlalchemy as sa
from console_support import PASSWORD, add_user, bearer
from fastapi.testclient import TestClient
from helpers.clock import FakeClock

from console.audit import AuditKind
from console.context import ConsoleContext
from console.permissions import Role
from console.tables import auth_users

PROBLEM = "application/problem+json"


def kinds(ctx: ConsoleContext) -> list[str]:
    return [e.kind for e in ctx.evidence.entries()]


def test_passwords_are_stored_as_argon2id_hashes_only(ctx: ConsoleContext) -> None:
    add_user(ctx, "alice", Role.DESIGNER)
    with ctx.engine.connect() as conn:
        stored = conn.execute(sa.select(auth_users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_browser_sign_in_sets_httponly_samesite_cookie_and_needs_csrf(
    ctx: ConsoleContext, client: TestClient
) -> None:
    add_user(ctx, "alice", Role.ADMIN)
    answer = client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert answer.status_code == 200
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith("ivr_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    csrf = answer.json()["csrf_token"]
    assert client.get("/api/v1/auth/me").json()["username"] == "alice"

    new_user = {"username": "bob", "role": "agent", "password": PASSWORD}
    refused = client.post("/api/v1/users", json=new_user)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json()["type"].endswith("#csrf")
    assert ctx.auth.users.by_username("bob") is None  # nothing half-saved
    wrong = client.post("/api/v1/users", json=new_user, headers={"X-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    ok = client.post("/api/v1/users", json=new_user, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201
    assert AuditKind.ACCESS_DENIED in kinds(ctx)

    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401


def test_wrong_password_is_refused_with_a_problem_and_is_evidence(
    ctx: ConsoleContext, client: TestClient
) -> None:
    add_user(ctx, "alice", Role.ADMIN)
    for body in (
        {"username": "alice", "password": "wrong password!"},
        {"username": "nobody", "password": PASSWORD},
    ):
        answer = client.post("/api/v1/auth/login", json=body)
        assert answer.status_code == 401
        assert answer.headers["content-type"] == PROBLEM
        # the same answer whether the user exists or not
        assert answer.json()["detail"].startswith("sign-in failed")
    failures = [e for e in ctx.evidence.entries() if e.kind == AuditKind.SIGN_IN_FAILED]
    assert [e.payload["reason"] for e in failures] == ["wrong_password", "unknown_user"]
    assert all(PASSWORD not in str(e.payload) for e in failures)


def test_lockout_after_repeated_failures_then_expires(
    ctx: ConsoleContext, client: TestClient, clock: FakeClock
) -> None:
    add_user(ctx, "alice", Role.ADMIN)
    for _ in range(ctx.settings.console_lockout_failures):
        client.post("/api/v1/auth/login", json={"username": "alice", "password": "bad password"})
    locked = client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert locked.status_code == 401  # even the right password
    assert AuditKind.ACCOUNT_LOCKED in kinds(ctx)
    clock.advance(minutes=ctx.settings.console_lockout_minutes)
    ok = client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert ok.status_code == 200


def test_access_token_expires(ctx: ConsoleContext, client: TestClient, clock: FakeClock) -> None:
    add_user(ctx, "alice", Role.ADMIN)
    headers = bearer(client, "alice")
    assert client.get("/api/v1/users", headers=headers).status_code == 200
    clock.advance(minutes=ctx.settings.console_access_token_minutes, seconds=1)
    expired = client.get("/api/v1/users", headers=headers)
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]


def test_forged_tokens_are_refused(ctx: ConsoleContext, client: TestClient) -> None:
    add_user(ctx, "alice", Role.DESIGNER)
    user = ctx.auth.users.by_username("alice")
    assert user is not None
    claims = {"iss": "ivr-console", "sub": user.id, "role": "admin", "ver": 1, "typ": "access"}
    claims |= {"exp": int(ctx.auth.clock().timestamp()) + 600}
    other_key = jwt.encode(claims, b"k" * 32, algorithm="HS256")
    unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]  # alg none
    real = bearer(client, "alice")["Authorization"][7:]
    head, _body, sig = real.split(".")
    tampered = f"{head}.{jwt.utils.base64url_encode(b'{}').decode()}.{sig}"
    for token in (other_key, unsigned, tampered, "garbage", ""):
        answer = client.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401, token
        assert answer.headers["content-type"] == PROBLEM


def test_the_role_comes_from_the_database_not_the_token(
    ctx: ConsoleContext, client: TestClient
) -> None:
    add_user(ctx, "alice", Role.ADMIN)
    headers = bearer(client, "alice")
    ctx.auth.set_role(None, "alice", Role.AGENT)  # bumps the token version
    assert client.get("/api/v1/users", headers=headers).status_code == 401
    assert client.get("/api/v1/users", headers=bearer(client, "alice")).status_code == 403


def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_family(
    ctx: ConsoleContext, client: TestClient
) -> None:
    add_user(ctx, "alice", Role.ADMIN)
    first = client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": "alice", "password": PASSWORD},
    ).json()
    second = client.post(
        "/api/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    assert second.status_code == 200
    nxt = second.json()["refresh_token"]
    replay = client.post(
        "/api/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
    )
    assert replay.status_code == 401
    after = client.post(
        "/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": nxt}
    )
    assert after.status_code == 401  # the whole family is revoked


def test_disabling_a_user_ends_their_access(ctx: ConsoleContext, client: TestClient) -> None:
    add_user(ctx, "admin1", Role.ADMIN)
    add_user(ctx, "bob", Role.SUPERVISOR)
    admin, bob = bearer(client, "admin1"), bearer(client, "bob")
    assert client.get("/api/v1/auth/me", headers=bob).status_code == 200
    changed = client.patch("/api/v1/users/bob", json={"disabled": True}, headers=admin)
    assert changed.status_code == 200 and changed.json()["disabled"] is True
    assert client.get("/api/v1/auth/me", headers=bob).status_code == 401
    answer = client.post("/api/v1/auth/login", json={"username": "bob", "password": PASSWORD})
    assert answer.status_code == 401
    change = [e for e in ctx.evidence.entries() if e.kind == AuditKind.USER_CHANGED][-1]
    assert change.payload["actor"] == "admin1" and change.payload["change"] == "disabled"


def test_weak_passwords_and_duplicates_are_clear_errors(
    ctx: ConsoleContext, client: TestClient
) -> None:
    add_user(ctx, "admin1", Role.ADMIN)
    admin = bearer(client, "admin1")
    weak = client.post(
        "/api/v1/users", json={"username": "x", "role": "agent", "password": "short"}, headers=admin
    )
    assert weak.status_code == 422 and "at least" in weak.json()["detail"]
    dup = client.post(
        "/api/v1/users",
        json={"username": "admin1", "role": "agent", "password": PASSWORD},
        headers=admin,
    )
    assert dup.status_code == 409


def test_huge_bodies_are_refused_before_parsing(ctx: ConsoleContext, client: TestClient) -> None:
    limit = ctx.settings.console_max_body_bytes
    declared = client.post(
        "/api/v1/auth/login",
        content=b"x" * (limit + 1),
        headers={"content-type": "application/json"},
    )
    assert declared.status_code == 413
    assert declared.headers["content-type"] == PROBLEM

    def chunks():  # no Content-Length: streamed
        for _ in range(limit // 65536 + 2):
            yield b"x" * 65536

    streamed = client.post(
        "/api/v1/auth/login", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
