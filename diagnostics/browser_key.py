"""A long-lived random key per browser, in an HttpOnly cookie: the runs kept from a browser without sign-in.

A Streamlit script cannot set a cookie: it runs over a websocket after the page has loaded, and
``st.context.cookies`` only reads the cookies that came with it. A cookie written by JavaScript (a
component) could not be HttpOnly, so any script on the page could read it. So the server sets it:
``serve.py`` runs the app as ``st.App`` (Streamlit's Starlette server) with this ASGI middleware, which
adds the cookie to the app's HTML page when the browser does not send a valid one, and renews it for
another 400 days (Chrome's limit) on every page load. The pages read it with ``st.context.cookies``.

The key is a secret like a share token: 256 random bits, never shown, logged or stored (the store keeps
its SHA-256). It lists runs; it is not a link, and a share token is never used as one.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any

COOKIE = "diagnostics_browser"
MAX_AGE_SECONDS = 400 * 24 * 3600
_KEY_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def valid_key(value: object) -> str | None:
    """The key when it has the shape this module gives keys, else None."""
    return value if isinstance(value, str) and _KEY_SHAPE.fullmatch(value) else None


def key_in(cookie_header: str) -> str | None:
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(cookie_header)
    except Exception:  # noqa: BLE001 - a malformed Cookie header is a browser without a key
        return None
    morsel = cookies.get(COOKIE)
    return valid_key(morsel.value) if morsel is not None else None


def set_cookie_header(key: str, secure: bool, path: str = "/") -> bytes:
    attributes = f"{COOKIE}={key}; Path={path}; Max-Age={MAX_AGE_SECONDS}; HttpOnly; SameSite=Lax"
    return (attributes + ("; Secure" if secure else "")).encode()


class BrowserKeyMiddleware:
    """Adds ``Set-Cookie: diagnostics_browser=…; HttpOnly`` to every HTML page the app serves."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], path: str = "/") -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        key = key_in(headers.get(b"cookie", b"").decode("latin-1")) or secrets.token_urlsafe(32)
        # behind a TLS proxy the app sees http; the proxy says what the browser used
        secure = scope.get("scheme") == "https" or headers.get(b"x-forwarded-proto", b"") == b"https"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and is_html(message):
                message["headers"] = [*message.get("headers", []),
                                      (b"set-cookie", set_cookie_header(key, secure, self.path))]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def is_html(start: Message) -> bool:
    return any(name.lower() == b"content-type" and value.startswith(b"text/html")
               for name, value in start.get("headers", []))
