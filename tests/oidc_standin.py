"""A small OpenID Connect provider on 127.0.0.1 standing in for Microsoft Entra ID in tests.

Each tenant has Entra's shape of addresses: ``/{tid}/v2.0/.well-known/openid-configuration``, an issuer of
``{base}/{tid}/v2.0``, and ID tokens (RS256) carrying ``tid``, ``oid``, ``name`` and ``email``. The
authorisation page lists the tenant's people as buttons ("Sign in as Dana"); the code flow checks the client
secret, the redirect URI and PKCE (S256) as Entra does. A person's ``lifetime`` (seconds) sets their ID
token's expiry, to test a sign-in that expires.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "5b1d8a6e-0c3f-4c1a-9e55-0f6c0d3a7e21"
CLIENT_SECRET = "standin-client-secret-" + "x" * 20


@dataclass(frozen=True)
class Account:
    name: str
    tid: str
    oid: str
    email: str
    lifetime: int = 3600  # seconds the ID token is valid


class Provider:
    def __init__(self, accounts: list[Account]) -> None:
        self.accounts = accounts
        self.key = RSAKey.generate_key(2048, parameters={"kid": "standin-1", "use": "sig", "alg": "RS256"})
        self.codes: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.base = ""

    def metadata_url(self, tid: str) -> str:
        return f"{self.base}/{tid}/v2.0/.well-known/openid-configuration"

    def issuer(self, tid: str) -> str:
        return f"{self.base}/{tid}/v2.0"

    def metadata(self, tid: str) -> dict:
        return {"issuer": self.issuer(tid), "authorization_endpoint": f"{self.base}/{tid}/oauth2/v2.0/authorize",
                "token_endpoint": f"{self.base}/{tid}/oauth2/v2.0/token", "jwks_uri": f"{self.base}/keys",
                "response_types_supported": ["code"], "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"], "code_challenge_methods_supported": ["S256"],
                "scopes_supported": ["openid", "profile", "email"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"]}

    def id_token(self, account: Account, nonce: str | None) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer(account.tid), "aud": CLIENT_ID, "sub": hashlib.sha256(account.oid.encode())
                  .hexdigest()[:43], "iat": now, "nbf": now, "exp": now + account.lifetime, "tid": account.tid,
                  "oid": account.oid, "name": account.name, "email": account.email,
                  "preferred_username": account.email, "ver": "2.0"}
        if nonce:
            claims["nonce"] = nonce
        return jwt.encode({"alg": "RS256", "kid": "standin-1", "typ": "JWT"}, claims, self.key)


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data: dict) -> None:
            self._send(status, json.dumps(data).encode(), "application/json")

        def do_GET(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            parts = url.path.strip("/").split("/")
            query = {name: values[0] for name, values in parse_qs(url.query).items()}
            if url.path == "/keys":
                return self._json(200, {"keys": [provider.key.as_dict(private=False)]})
            if url.path.endswith("/.well-known/openid-configuration"):
                return self._json(200, provider.metadata(parts[0]))
            if url.path.endswith("/oauth2/v2.0/authorize"):
                return self._authorize(parts[0], query)
            if url.path.endswith("/oauth2/v2.0/pick"):
                return self._pick(parts[0], query)
            return self._send(404, b"not found", "text/plain")

        def _authorize(self, tid: str, query: dict) -> None:
            if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
                return self._send(400, b"bad request", "text/plain")
            buttons = "".join(
                f'<form method="get" action="/{tid}/oauth2/v2.0/pick">'
                + "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                          for k, v in {**query, "account": account.oid}.items())
                + f'<button type="submit">Sign in as {html.escape(account.name)}</button></form>'
                for account in provider.accounts if account.tid == tid)
            self._send(200, f"<html><body><h1>Stand-in sign-in</h1>{buttons}</body></html>".encode(),
                       "text/html; charset=utf-8")

        def _pick(self, tid: str, query: dict) -> None:
            account = next((a for a in provider.accounts if a.oid == query.get("account") and a.tid == tid), None)
            if account is None:
                return self._send(400, b"unknown account", "text/plain")
            code = secrets.token_urlsafe(24)
            with provider.lock:
                provider.codes[code] = {"account": account, "redirect_uri": query["redirect_uri"],
                                        "nonce": query.get("nonce"), "challenge": query.get("code_challenge"),
                                        "tid": tid}
            target = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query.get("state", "")})
            self._send(302, b"", "text/plain", {"Location": target})

        def do_POST(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            if not url.path.endswith("/oauth2/v2.0/token"):
                return self._send(404, b"not found", "text/plain")
            length = int(self.headers.get("Content-Length") or 0)
            form = {name: values[0] for name, values in parse_qs(self.rfile.read(length).decode()).items()}
            client_id, client_secret = form.get("client_id"), form.get("client_secret")
            authorization = self.headers.get("Authorization", "")
            if authorization.startswith("Basic "):
                client_id, _, client_secret = base64.b64decode(authorization[6:]).decode().partition(":")
            if (client_id, client_secret) != (CLIENT_ID, CLIENT_SECRET):
                return self._json(401, {"error": "invalid_client"})
            with provider.lock:
                grant = provider.codes.pop(form.get("code", ""), None)
            verifier = form.get("code_verifier", "")
            challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if (grant is None or grant["redirect_uri"] != form.get("redirect_uri")
                    or (grant["challenge"] and grant["challenge"] != challenge)):
                return self._json(400, {"error": "invalid_grant"})
            account = grant["account"]
            self._json(200, {"token_type": "Bearer", "expires_in": account.lifetime, "scope": "openid profile email",
                             "access_token": secrets.token_urlsafe(32),
                             "id_token": provider.id_token(account, grant["nonce"])})

    return Handler


@contextlib.contextmanager
def oidc_provider(accounts: list[Account]) -> Iterator[Provider]:
    """The stand-in on a free loopback port until the block ends."""
    provider = Provider(accounts)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    provider.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
