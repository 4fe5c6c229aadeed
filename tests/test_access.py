"""Sign-in claims and permissions (diagnostics/access.py), and the browser key's cookie (diagnostics/browser_key.py)."""

from __future__ import annotations

import asyncio

import pytest

from diagnostics import access, browser_key
from diagnostics.access import Person, Policy, Problem, check_sign_in, may_manage, may_open

TENANT = "aaaaaaaa-1111-4111-8111-00000000000a"
OTHER = "bbbbbbbb-2222-4222-8222-00000000000b"
DANA = "0d0d0d0d-0000-4000-8000-00000000da7a"
ADMIN = "0a0a0a0a-0000-4000-8000-0000000000ad"
NOW = 1_800_000_000.0
POLICY = Policy.from_environment({"DIAGNOSTICS_ALLOWED_TENANTS": f" {TENANT.upper()},{OTHER} ",
                                  "DIAGNOSTICS_ADMINS": ADMIN})


def claims(**changes: object) -> dict:
    base = {"is_logged_in": True, "iss": f"https://login.microsoftonline.com/{TENANT}/v2.0", "tid": TENANT,
            "oid": DANA, "name": "Dana Whitfield", "email": "dana@contoso.com", "exp": NOW + 3600}
    return {key: value for key, value in {**base, **changes}.items() if value is not None}


def test_a_person_of_an_allowed_tenant_gets_in() -> None:
    signed = check_sign_in(claims(), POLICY, NOW)
    assert signed.person == Person(DANA, TENANT, "Dana Whitfield") and signed.problem is None


@pytest.mark.parametrize("value", [None, {}, {"is_logged_in": False}])
def test_signed_out(value) -> None:
    assert check_sign_in(value, POLICY, NOW).problem is Problem.SIGNED_OUT


@pytest.mark.parametrize("exp", [NOW, NOW - 1, NOW - 86400])
def test_an_expired_token_is_expired(exp: float) -> None:
    assert check_sign_in(claims(exp=exp), POLICY, NOW).problem is Problem.EXPIRED


@pytest.mark.parametrize("changes", [
    {"exp": None}, {"exp": "2999-01-01"}, {"exp": True},  # no usable expiry
    {"tid": "cccccccc-3333-4333-8333-00000000000c",  # a tenant not allowed (its own issuer)
     "iss": "https://login.microsoftonline.com/cccccccc-3333-4333-8333-00000000000c/v2.0"},
    {"iss": f"https://login.microsoftonline.com/{OTHER}/v2.0"},  # issued by another tenant than it claims
    {"iss": "https://accounts.example/"},  # another provider
    {"iss": None},
    {"oid": None}, {"tid": None}, {"oid": "dana@contoso.com"},  # not a work account
])
def test_refused(changes: dict) -> None:
    signed = check_sign_in(claims(**changes), POLICY, NOW)
    assert signed.person is None and signed.problem is Problem.REFUSED and signed.reason


def test_the_email_claim_decides_nothing() -> None:
    foreign = claims(tid=OTHER, iss=f"https://login.microsoftonline.com/{OTHER}/v2.0", email="dana@contoso.com",
                     oid="0b0b0b0b-0000-4000-8000-00000000000b")
    person = check_sign_in(foreign, POLICY, NOW).person
    assert person.tid == OTHER and not may_open(person, TENANT)


def test_nobody_gets_in_when_no_tenant_is_allowed() -> None:
    assert check_sign_in(claims(), Policy.from_environment({}), NOW).problem is Problem.REFUSED


def test_the_issuer_can_be_configured_for_a_stand_in() -> None:
    policy = Policy.from_environment({"DIAGNOSTICS_ALLOWED_TENANTS": TENANT,
                                      "DIAGNOSTICS_ISSUER": "http://127.0.0.1:9/{tid}/v2.0"})
    assert check_sign_in(claims(iss=f"http://127.0.0.1:9/{TENANT}/v2.0"), policy, NOW).person is not None
    assert check_sign_in(claims(), policy, NOW).problem is Problem.REFUSED


def test_who_may_open_and_manage() -> None:
    dana = Person(DANA, TENANT, "Dana")
    sam = Person("05a05a05-0000-4000-8000-000000000005", TENANT, "Sam")
    bo = Person("0b0b0b0b-0000-4000-8000-00000000000b", OTHER, "Bo")
    admin = Person(ADMIN, TENANT, "Admin")
    assert may_open(dana, TENANT) and may_open(sam, TENANT) and not may_open(bo, TENANT)
    assert may_open(bo, "") and not may_open(None, TENANT) and not may_open(None, "")
    assert may_manage(dana, DANA, TENANT, POLICY) and not may_manage(sam, DANA, TENANT, POLICY)
    assert may_manage(admin, DANA, TENANT, POLICY) and not may_manage(None, DANA, TENANT, POLICY)
    assert not may_manage(dana, "", "", POLICY)  # a run made without sign-in: an admin's to delete
    assert may_manage(admin, "", "", POLICY)
    assert not may_manage(Person(DANA, OTHER, "Dana elsewhere"), DANA, TENANT, POLICY)
    assert access.ENTRA_ISSUER.format(tid=TENANT) == claims()["iss"]


# --------------------------------------------------------------------------- the browser key's cookie

def serve(path: str, content_type: bytes, cookie: str | None = None, headers: list | None = None,
          scheme: str = "http", method: str = "GET") -> list[tuple[bytes, bytes]]:
    """The response headers of one request through the middleware in front of a stub app."""
    sent: list[dict] = []

    async def app(scope, receive, send) -> None:  # noqa: ANN001
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", content_type)]})
        await send({"type": "http.response.body", "body": b"x"})

    async def send(message) -> None:  # noqa: ANN001
        sent.append(message)

    request = [*(headers or []), *([(b"cookie", cookie.encode())] if cookie else [])]
    scope = {"type": "http", "method": method, "path": path, "scheme": scheme, "headers": request}
    asyncio.run(browser_key.BrowserKeyMiddleware(app)(scope, None, send))
    return sent[0]["headers"]


def set_cookies(headers: list[tuple[bytes, bytes]]) -> list[str]:
    return [value.decode() for name, value in headers if name == b"set-cookie"]


def test_a_page_without_a_key_gets_a_new_httponly_one() -> None:
    (cookie,) = set_cookies(serve("/", b"text/html; charset=utf-8"))
    key = cookie.split(";")[0].split("=", 1)[1]
    assert browser_key.valid_key(key) and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert f"Max-Age={400 * 24 * 3600}" in cookie and "Secure" not in cookie
    (other,) = set_cookies(serve("/", b"text/html"))
    assert other.split(";")[0] != cookie.split(";")[0]  # random: every browser its own


def test_a_valid_key_is_renewed_and_a_malformed_one_replaced() -> None:
    key = "k" * 43
    (renewed,) = set_cookies(serve("/runs", b"text/html", cookie=f"other=1; diagnostics_browser={key}"))
    assert renewed.startswith(f"diagnostics_browser={key};")
    (replaced,) = set_cookies(serve("/", b"text/html", cookie="diagnostics_browser=short; =;;bad"))
    assert not replaced.startswith("diagnostics_browser=short;")


def test_only_html_pages_get_the_cookie_and_https_makes_it_secure() -> None:
    assert set_cookies(serve("/static/app.js", b"application/javascript")) == []
    assert set_cookies(serve("/", b"text/html", method="POST")) == []
    assert "Secure" in set_cookies(serve("/", b"text/html", scheme="https"))[0]
    assert "Secure" in set_cookies(serve("/", b"text/html", headers=[(b"x-forwarded-proto", b"https")]))[0]


# --------------------------------------------------------------------------- back to the link after sign-in

def through_return(path: str, query: str = "", cookie: str = "") -> tuple[int, list[tuple[bytes, bytes]]]:
    """Status and headers of one GET through ReturnAfterSignInMiddleware in front of a stub HTML app."""
    from diagnostics.sign_in_return import ReturnAfterSignInMiddleware

    sent: list[dict] = []

    async def app(scope, receive, send) -> None:  # noqa: ANN001
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": b"page"})

    async def send(message) -> None:  # noqa: ANN001
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "query_string": query.encode(),
             "headers": [(b"cookie", cookie.encode())] if cookie else []}
    asyncio.run(ReturnAfterSignInMiddleware(app)(scope, None, send))
    return sent[0]["status"], sent[0]["headers"]


def test_a_signed_out_visitor_of_a_link_is_brought_back_to_it_once_signed_in() -> None:
    token = "T" * 43
    _, headers = through_return("/", f"run={token}")
    (remembered,) = set_cookies(headers)
    assert remembered.startswith(f"diagnostics_return=run.{token};") and "HttpOnly" in remembered
    status, headers = through_return("/", "", f"_streamlit_user=signed; diagnostics_return=run.{token}")
    assert status == 302 and dict(headers)[b"location"] == f"/?run={token}".encode()
    assert "Max-Age=0" in set_cookies(headers)[0]  # used once
    status, headers = through_return("/", "", f"_streamlit_user=signed; diagnostics_return=compare.{token}")
    assert dict(headers)[b"location"] == f"/compare?compare={token}".encode()


@pytest.mark.parametrize(("path", "query", "cookie"), [
    ("/", "run=short", ""),  # not a token
    ("/", "run=" + "T" * 43, "_streamlit_user=signed"),  # already signed in: nothing to remember
    ("/upload", "run=" + "T" * 43, ""),  # not a page that opens links
    ("/", "", "diagnostics_return=run." + "T" * 43),  # not signed in yet: no redirect
    ("/", "", "_streamlit_user=x; diagnostics_return=run.https://evil.example/"),  # never elsewhere
    ("/", "", "_streamlit_user=x; diagnostics_return=next.//evil.example"),
])
def test_nothing_is_remembered_or_redirected_otherwise(path: str, query: str, cookie: str) -> None:
    status, headers = through_return(path, query, cookie)
    assert status == 200 and set_cookies(headers) == []
