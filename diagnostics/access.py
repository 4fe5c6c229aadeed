"""Who may see and change what on a team server: the sign-in's claims checked, runs and links authorised.

Sign-in is Streamlit's own ``st.login`` (OpenID Connect through Authlib) with Microsoft Entra ID, turned on
by an ``[auth]`` section in ``.streamlit/secrets.toml``; without it nothing here is used. The pages hand
this module the ID token's claims (``st.user``) and get back a ``Person`` or the reason there is none.

- A person is their tenant (``tid``) and object id (``oid``): both are fixed for an account, where the
  e-mail claim is chosen by users and tenants and is never used to decide anything.
- Only the tenants in ``DIAGNOSTICS_ALLOWED_TENANTS`` get in (none listed: nobody), and only with a token
  issued for that tenant (``DIAGNOSTICS_ISSUER``, Entra's by default) that has not expired: Streamlit
  keeps the claims in a cookie for 30 days, an Entra ID token lasts about an hour.
- A run or link made by a signed-in person opens only for people of the same tenant; its creator, or an
  admin (``DIAGNOSTICS_ADMINS``, object ids), may delete or revoke it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

TENANTS_VAR = "DIAGNOSTICS_ALLOWED_TENANTS"
ADMINS_VAR = "DIAGNOSTICS_ADMINS"
ISSUER_VAR = "DIAGNOSTICS_ISSUER"
ENTRA_ISSUER = "https://login.microsoftonline.com/{tid}/v2.0"  # the v2.0 endpoint's issuer, per tenant
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class Person:
    """A signed-in person: ``oid`` and ``tid`` decide; ``name`` is only shown."""

    oid: str
    tid: str
    name: str


@dataclass(frozen=True)
class Policy:
    """Who gets in and who administers, from the environment."""

    tenants: frozenset[str]
    admins: frozenset[str]
    issuer: str = ENTRA_ISSUER  # ``{tid}`` stands for the tenant id

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Policy:
        environ = os.environ if environ is None else environ
        return cls(_ids(environ.get(TENANTS_VAR, "")), _ids(environ.get(ADMINS_VAR, "")),
                   environ.get(ISSUER_VAR) or ENTRA_ISSUER)


class Problem(Enum):
    SIGNED_OUT = "signed out"
    EXPIRED = "the sign-in has expired"
    REFUSED = "not allowed"  # another tenant, another issuer, or claims that do not add up


@dataclass(frozen=True)
class SignIn:
    person: Person | None
    problem: Problem | None = None
    reason: str = ""  # for the server's log only (never shown: it would tell an outsider what to change)


def check_sign_in(claims: Mapping[str, object] | None, policy: Policy, now: float) -> SignIn:
    """The person behind the claims Streamlit kept from the ID token, or why there is none.

    Authlib checked the token's signature, audience and issuer when it arrived; the claims live on in a
    cookie for 30 days, so expiry is checked here on every run, and the issuer and tenant against this
    server's own list.
    """
    if not claims or not claims.get("is_logged_in"):
        return SignIn(None, Problem.SIGNED_OUT)
    expires = claims.get("exp")
    if not isinstance(expires, int | float) or isinstance(expires, bool):
        return SignIn(None, Problem.REFUSED, "the ID token has no expiry")
    if expires <= now:
        return SignIn(None, Problem.EXPIRED)
    tid, oid = str(claims.get("tid") or "").lower(), str(claims.get("oid") or "").lower()
    if not _GUID.fullmatch(tid) or not _GUID.fullmatch(oid):
        return SignIn(None, Problem.REFUSED, "the ID token has no tid or oid (not a work or school account)")
    if tid not in policy.tenants:
        return SignIn(None, Problem.REFUSED, f"tenant {tid} is not in {TENANTS_VAR}")
    if claims.get("iss") != policy.issuer.format(tid=tid):
        return SignIn(None, Problem.REFUSED, f"the ID token was not issued by tenant {tid}")
    name = str(claims.get("name") or "").strip()[:120] or "a colleague"
    return SignIn(Person(oid, tid, name))


def may_open(person: Person | None, creator_tid: str) -> bool:
    """A run or link of a tenant opens for its people only; one made before sign-in was on (no tenant) for
    any signed-in person."""
    return person is not None and (not creator_tid or creator_tid == person.tid)


def may_manage(person: Person | None, creator_oid: str, creator_tid: str, policy: Policy) -> bool:
    """Deleting a run or revoking a link: its creator, or an admin."""
    if person is None:
        return False
    return person.oid in policy.admins or (bool(creator_oid) and (creator_oid, creator_tid) == (person.oid, person.tid))


def _ids(text: str) -> frozenset[str]:
    """Ids separated by commas or spaces, in lower case (Entra writes them so)."""
    return frozenset(part.lower() for part in re.split(r"[\s,;]+", text) if part)
