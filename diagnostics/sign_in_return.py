"""Back to the share link after signing in: Streamlit's sign-in always returns to the app's home page.

A signed-out visitor who opens ``/?run=TOKEN`` (or ``/compare?compare=TOKEN``) sees the sign-in page; the
identity provider then sends the browser to ``/oauth2callback``, which Streamlit answers with a redirect to
``/``, and the link would be lost. This ASGI middleware (in ``serve.py``) remembers the link's parameter in
a short-lived HttpOnly cookie when a page is requested with it and without Streamlit's sign-in cookie, and
answers the first signed-in request for ``/`` with a redirect to it. Only a token of the share-link shape
is kept, and the redirect is always to this app's own path, so it cannot send anyone elsewhere.
"""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlencode

from .browser_key import Receive, Scope, Send, is_html

COOKIE = "diagnostics_return"
MAX_AGE_SECONDS = 600
SIGN_IN_COOKIE = "_streamlit_user"  # Streamlit's (split into _streamlit_user-1, -2, … when large)
LINKS = {"/": "run", "/compare": "compare"}  # page -> the parameter that carries a share token
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")


def _cookies(scope: Scope) -> dict[str, str]:
    header = dict(scope.get("headers") or []).get(b"cookie", b"").decode("latin-1")
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # noqa: BLE001 - a malformed Cookie header carries nothing to return to
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def _cookie(value: str, max_age: int) -> tuple[bytes, bytes]:
    return b"set-cookie", f"{COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax".encode()


def _link(saved: str) -> str | None:
    """``/?run=TOKEN`` from the saved ``run.TOKEN``, or None when it is not one of ours."""
    path = next((page for page, param in LINKS.items() if saved.startswith(param + ".")), None)
    token = saved.split(".", 1)[1] if path else ""
    return f"{path}?{urlencode({LINKS[path]: token})}" if path and _TOKEN.fullmatch(token) else None


class ReturnAfterSignInMiddleware:
    def __init__(self, app) -> None:  # noqa: ANN001 - an ASGI app
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        cookies = _cookies(scope)
        signed_in = any(name.startswith(SIGN_IN_COOKIE) for name in cookies)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        param = LINKS.get(scope.get("path", ""))
        token = (query.get(param) or [""])[0] if param else ""
        target = _link(cookies.get(COOKIE, ""))
        if signed_in and target and scope.get("path") == "/" and not query:
            await send({"type": "http.response.start", "status": 302,
                        "headers": [(b"location", target.encode()), _cookie("", 0), (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        remember = not signed_in and _TOKEN.fullmatch(token or "") is not None

        async def send_remembering(message: dict) -> None:
            if remember and message["type"] == "http.response.start" and is_html(message):
                message["headers"] = [*message.get("headers", []), _cookie(f"{param}.{token}", MAX_AGE_SECONDS)]
            await send(message)

        await self.app(scope, receive, send_remembering)
