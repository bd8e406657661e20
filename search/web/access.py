"""Who is asking: sign-in, sign-out and sessions for the search page and the JSON API.

When the Elasticsearch behind the archive has security on (it always has, the development node
included), every page and API call needs a signed-in journalist:

    a page without a session       303 to /login?next=<the page>
    the JSON API without one       401 {"error": "..."}
    POST /login                    form fields username, password (and next)
    POST /logout                   ends the session

Sign-in flow: the archive asks Elasticsearch itself whether the user name and password are
right (`_security/_authenticate` with them) and forgets the password. The session keeps who it
is; every search then runs *as* that user: the archive's service user sends
`es-security-runas-user: <name>`, so Elasticsearch's roles decide what each journalist reads.
run_as works on the free (basic) licence and needs no `.security` index, so it works alike on
the development node (file realm) and in production (native realm); an API key granted at
sign-in would need that index, which the development node cannot create (search/file_realm.py).

Public without a session: /login, /static/, /health, and a saved search's secret feed address
(/feeds/<token>.atom: feed readers cannot sign in).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from urllib.parse import quote, urlsplit

from elasticsearch import ApiError, AuthenticationException, Elasticsearch
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from archive.config import Settings
from search.audit import AuditLog
from search.client import make_client
from search.roles import ADMIN_ROLE, READER_ROLE
from search.sessions import COOKIE, Session, SessionStore, SignInThrottle

logger = logging.getLogger(__name__)

RUN_AS = "es-security-runas-user"
PUBLIC_PREFIXES = ("/login", "/static/", "/health", "/feeds/")
MAX_FIELD = 1024  # a user name or password longer than this is not tried


class SignInRefused(Exception):
    """Wrong name or password (401), or a user without an archive role (403)."""

    def __init__(self, status: int, message: str, reason: str):
        super().__init__(message)
        self.status = status
        self.reason = reason


@dataclass
class Access:
    """The web app's view of security: whether sign-in is needed, the sessions, the throttle."""

    settings: Settings
    service: Elasticsearch
    sessions: SessionStore
    throttle: SignInThrottle
    audit: AuditLog
    _security_on: bool | None = None

    @classmethod
    def create(cls, settings: Settings, service: Elasticsearch) -> "Access":
        return cls(
            settings=settings,
            service=service,
            sessions=SessionStore(settings.web.session_idle_hours * 3600),
            throttle=SignInThrottle(),
            audit=AuditLog(service, settings.elasticsearch.audit_alias),
        )

    def sign_in_required(self) -> bool:
        """True when Elasticsearch has security on; asked until it answers. Elasticsearch down or
        refusing the archive's own credentials raises (the page then says so: 503, one line)."""
        if self._security_on is None:
            try:
                self.service.security.authenticate()
                self._security_on = True
            except ApiError as exc:
                if "security" not in str(exc).lower() or "not enabled" not in str(exc).lower():
                    raise
                self._security_on = False
        return self._security_on

    def client_for(self, session: Session | None) -> Elasticsearch:
        """The client a request searches with: as the signed-in user, or the archive's own."""
        if session is None:
            return self.service
        return self.service.options(headers={RUN_AS: session.username})

    def check_password(self, username: str, password: str) -> Session:
        """Elasticsearch says whether the credentials are right and what roles the user has."""
        if not username or not password or len(username) > MAX_FIELD or len(password) > MAX_FIELD:
            raise SignInRefused(401, "wrong user name or password", "bad-credentials")
        es = replace(self.settings.elasticsearch, username=username, password=password, api_key=None)
        client = make_client(es, max_retries=0)
        try:
            me = client.security.authenticate()
        except AuthenticationException:
            raise SignInRefused(401, "wrong user name or password", "bad-credentials") from None
        finally:
            client.close()
        roles = set(me.get("roles") or [])
        role = "admin" if ADMIN_ROLE in roles else "reader" if READER_ROLE in roles else None
        if role is None:
            raise SignInRefused(
                403, f"{username} has no archive role: an admin can give it with `archive users add {username} --role reader`",
                "no-archive-role",
            )
        email, full_name = me.get("email"), me.get("full_name")
        if not email:  # the development node's file realm keeps no e-mail: the archive's note of it
            from search.users import local_details

            local = local_details(self.settings.elasticsearch, me["username"])
            email, full_name = (local.email, full_name or local.full_name) if local else (None, full_name)
        return Session(username=me["username"], role=role, email=email, full_name=full_name)


def access(request: Request) -> Access:
    return request.app.state.access


def current_user(request: Request) -> Session | None:
    return getattr(request.state, "user", None)


def es_for(request: Request) -> Elasticsearch:
    """The Elasticsearch client for this request's reads (as the signed-in user)."""
    return getattr(request.state, "es", None) or request.app.state.client


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def wants_page(request: Request) -> bool:
    """A browser page (HTML) rather than the JSON API, by path as the error pages decide."""
    path = request.url.path
    if path.endswith((".json", ".csv", ".ndjson", ".atom")):
        return False
    return path == "/" or path.startswith(("/article/", "/alerts", "/login", "/logout"))


def safe_next(target: str | None) -> str:
    """Only a path on this server: never an open redirect to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def _is_public(path: str) -> bool:
    return path.startswith(PUBLIC_PREFIXES)


class SignInMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next):
        state = access(request)
        required = await run_in_threadpool(state.sign_in_required)
        session, expired = state.sessions.get(request.cookies.get(COOKIE)) if required else (None, False)
        request.state.user = session
        request.state.es = state.client_for(session)
        if required and session is None and not _is_public(request.url.path):
            if wants_page(request):
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                suffix = "&expired=1" if expired else ""
                return RedirectResponse(f"/login?next={quote(target, safe='')}{suffix}", status_code=303)
            message = "your session expired: sign in again" if expired else "sign in first"
            return JSONResponse({"error": f"{message} (POST /login with username and password)"}, status_code=401)
        return await call_next(request)


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    settings = access(request).settings
    secure = request.url.scheme == "https" or settings.alerts.public_url.startswith("https://")
    response.set_cookie(COOKIE, token, httponly=True, samesite="lax", secure=secure, path="/")


def _json_wanted(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


async def login_page(request: Request) -> Response:
    from search.web.pages import render

    if current_user(request) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return render(request, "login.html", {
        "next": safe_next(request.query_params.get("next")),
        "expired": request.query_params.get("expired") == "1",
        "signed_out": request.query_params.get("signed_out") == "1",
    })


async def login(request: Request) -> Response:
    from search.web.pages import render

    state = access(request)
    form = await request.form()
    username = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    target = safe_next(str(form.get("next") or ""))
    address = client_address(request)
    wait = state.throttle.delay(username, address)
    if wait:
        await asyncio.sleep(wait)  # slowed, never locked out
    try:
        session = await run_in_threadpool(state.check_password, username, password)
    except SignInRefused as refused:
        state.throttle.failed(username, address)
        await run_in_threadpool(state.audit.record, "sign-in", username[:MAX_FIELD] or None, outcome="failure",
                                address=address, reason=refused.reason)
        if _json_wanted(request):
            return JSONResponse({"error": str(refused)}, status_code=refused.status)
        return render(request, "login.html", {"next": target, "error": str(refused), "username": username},
                      status=refused.status)
    state.throttle.succeeded(username, address)
    token = state.sessions.create(session)
    await run_in_threadpool(state.audit.record, "sign-in", session.username, outcome="success", address=address)
    if _json_wanted(request):
        response: Response = JSONResponse({"user": session.username, "role": session.role})
    else:
        response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, token)
    return response


async def logout(request: Request) -> Response:
    state = access(request)
    ended = state.sessions.end(request.cookies.get(COOKIE))
    if ended is not None:
        await run_in_threadpool(state.audit.record, "sign-out", ended.username, address=client_address(request))
    response = RedirectResponse("/login?signed_out=1", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
