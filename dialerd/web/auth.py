"""One sign-in for every console page: password, session cookie, CSRF token, role.

Passwords are argon2 hashes in ``console.passwords_file`` (``dialerd operators passwd``);
sessions live in the store (``store.console_sessions``, only a hash of the token), so a
daemon restart signs nobody out. The cookie is HttpOnly, SameSite=Strict, Secure behind
TLS. Every state-changing request carries the session's CSRF token (a header from the
page's script, a hidden field in forms); the role is checked by one dependency that every
route declares, so no route can forget it.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from dataclasses import dataclass
from typing import Literal

import structlog
from fastapi import Request

from dialerd.config import ConfigError, Settings
from dialerd.config.console_passwords import check_login, read_passwords
from dialerd.store import console_sessions
from dialerd.web.context import ConsoleContext, console

log = structlog.get_logger("dialerd.console")

COOKIE = "dialerd_session"
SIGNIN_COOKIE = "dialerd_signin"  # the sign-in form's own CSRF token (double submit)
Role = Literal["operator", "supervisor"]
# argon2 costs ~0.1 s of CPU and 64 MiB per check: two at a time, off the event loop
_HASHING = asyncio.Semaphore(2)


class NotSignedIn(Exception):
    """No valid session: pages go to the sign-in form, script calls get 401."""


class Forbidden(Exception):
    """Signed in, but this is not for this role (or not this operator's call)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


@dataclass(frozen=True)
class Person:
    user: str
    role: Role
    csrf: str
    language: str | None


def role_of(settings: Settings, name: str) -> tuple[Role, str | None] | None:
    """Who may sign in: the YAML's operators and the console's supervisors."""
    for operator in settings.operators:
        if operator.name == name:
            return "operator", operator.language
    for supervisor in settings.console.supervisors:
        if supervisor.name == name:
            return "supervisor", supervisor.language
    return None


async def person(request: Request) -> Person:
    """The signed-in person of this request, or NotSignedIn."""
    ctx = console(request)
    token = request.cookies.get(COOKIE)
    if not token:
        raise NotSignedIn()
    found = await console_sessions.lookup(ctx.reader.conn, token, ctx.clock())
    if found is None:
        raise NotSignedIn()
    who = role_of(ctx.settings(), found.user)
    if who is None or who[0] != found.role:  # removed from the YAML since: signed out
        raise NotSignedIn()
    return Person(found.user, who[0], found.csrf, who[1])


def require(role: Role) -> object:
    """The dependency every route declares: signed in with this role."""

    async def check(request: Request) -> Person:
        who = await person(request)
        if who.role != role:
            raise Forbidden(f"this page is for the {role} role")
        return who

    return check


def check_csrf(request: Request, who: Person, presented: str | None) -> None:
    given = presented or request.headers.get("x-csrf-token") or ""
    if not hmac.compare_digest(given.encode(), who.csrf.encode()):
        log.warning("console_csrf_refused", user=who.user, path=request.url.path)
        raise Forbidden("the form is out of date: reload the page")


@dataclass(frozen=True)
class SignInResult:
    token: str | None
    role: Role | None = None
    retry_after_s: float = 0.0


async def sign_in(ctx: ConsoleContext, name: str, password: str, address: str) -> SignInResult:
    """Check the password (rate-limited per name and per address); a session on success."""
    now = ctx.clock()
    settings = ctx.settings()
    who = role_of(settings, name)
    # only names of real people reach the log and the audit: a password typed into the name
    # field by mistake must not be kept
    shown = name if who is not None else "(unknown name)"
    verdict = ctx.limiter.check(name, address, now)
    if not verdict.allowed:
        log.warning("console_signin_limited", user=shown, address=address)
        await console_sessions.record_login(ctx.db, shown, address, False, now)
        return SignInResult(None, retry_after_s=verdict.retry_after_s)
    try:
        passwords = read_passwords(ctx.passwords)
    except ConfigError as exc:  # file, line and name only: no hash, no password
        log.error("console_passwords_unreadable", problems=exc.problems)
        passwords = {}
    async with _HASHING:
        ok = await asyncio.to_thread(check_login, passwords, name, password)
    ok = ok and who is not None
    await console_sessions.record_login(ctx.db, shown, address, ok, now)
    if not ok or who is None:
        ctx.limiter.failed(name, address, now)
        log.warning("console_signin_failed", user=shown, address=address)
        return SignInResult(None)
    ctx.limiter.succeeded(name, address, now)
    session = await console_sessions.create(
        ctx.db, name, who[0], now, settings.console.session_hours * 3600
    )
    log.info("console_signin", user=name, role=who[0], address=address)
    return SignInResult(session.token, who[0])


def new_signin_token() -> str:
    return secrets.token_urlsafe(24)
