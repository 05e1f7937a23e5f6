"""Optional OIDC login: authorization-code flow with PKCE (S256), state and nonce.

The browser is sent to the issuer with a fresh `state`, `nonce` and PKCE challenge; the three
secrets travel back to us in a short-lived HMAC-signed cookie (never in the URL). At the
callback we check `state` in constant time, redeem the code with the PKCE verifier over httpx,
and accept the ID token only when its signature verifies against the issuer's JWKS and `iss`,
`aud`, `exp`, `iat` and `nonce` are right. The identity maps to a LOCAL account by one claim;
an unknown user is refused unless `oidc_provision_role` allows creating it (never as admin).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.clock import Clock
from core.config import Settings

PENDING_TTL_SECONDS = 600
ALGORITHMS = ["RS256", "PS256", "ES256"]


class OidcError(Exception):
    """The login cannot complete; the message is safe to show (no tokens in it)."""


@dataclass(frozen=True)
class Provider:
    """What the discovery document says we need."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


@dataclass(frozen=True)
class Pending:
    """One login in progress: kept in the signed cookie between redirect and callback."""

    state: str
    nonce: str
    verifier: str
    next_url: str
    expires: float


def discover(*, settings: Settings, client: httpx.Client) -> Provider:
    """Read `{issuer}/.well-known/openid-configuration`; its `issuer` must equal ours."""
    issuer = (settings.oidc_issuer or "").rstrip("/")
    try:
        response = client.get(f"{issuer}/.well-known/openid-configuration")
        response.raise_for_status()
        doc = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OidcError(f"issuer discovery failed: {type(exc).__name__}") from exc
    if str(doc.get("issuer", "")).rstrip("/") != issuer:
        raise OidcError("issuer discovery: the document names another issuer")
    try:
        return Provider(
            issuer=str(doc["issuer"]),
            authorization_endpoint=str(doc["authorization_endpoint"]),
            token_endpoint=str(doc["token_endpoint"]),
            jwks_uri=str(doc["jwks_uri"]),
        )
    except KeyError as exc:
        raise OidcError(f"issuer discovery: {exc.args[0]} missing") from exc


def begin(
    *, settings: Settings, provider: Provider, redirect_uri: str, next_url: str, now: float
) -> tuple[str, Pending]:
    """The issuer URL to send the browser to, and what the callback must find again."""
    pending = Pending(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        verifier=secrets.token_urlsafe(64),
        next_url=next_url,
        expires=now + PENDING_TTL_SECONDS,
    )
    challenge = _b64(hashlib.sha256(pending.verifier.encode("ascii")).digest())
    query = urlencode(
        {
            "response_type": "code",
            "client_id": settings.oidc_client_id,
            "redirect_uri": redirect_uri,
            "scope": settings.oidc_scopes,
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    separator = "&" if "?" in provider.authorization_endpoint else "?"
    return f"{provider.authorization_endpoint}{separator}{query}", pending


def seal(pending: Pending, *, key: str) -> str:
    """Cookie value: the pending login, HMAC-SHA256 signed with the platform's secret key."""
    body = _b64(json.dumps(pending.__dict__, separators=(",", ":")).encode("utf-8"))
    return f"{body}.{_mac(body, key)}"


def unseal(value: str | None, *, key: str, now: float) -> Pending:
    """The pending login from the cookie; OidcError when missing, forged or too old."""
    if not value or "." not in value:
        raise OidcError("no login in progress (start again)")
    body, mac = value.rsplit(".", 1)
    if not hmac.compare_digest(mac, _mac(body, key)):
        raise OidcError("login state was tampered with")
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    pending = Pending(**data)
    if pending.expires < now:
        raise OidcError("the login took too long (start again)")
    return pending


def finish(
    *,
    settings: Settings,
    provider: Provider,
    client: httpx.Client,
    pending: Pending,
    code: str,
    state: str,
    redirect_uri: str,
) -> dict[str, Any]:
    """Check state, redeem the code with the PKCE verifier, verify the ID token; its claims."""
    if not hmac.compare_digest(state.encode("utf-8"), pending.state.encode("utf-8")):
        raise OidcError("state does not match this login (possible cross-site request)")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": settings.oidc_client_id or "",
        "code_verifier": pending.verifier,
    }
    secret = settings.oidc_client_secret
    try:
        if secret is not None:  # confidential client: HTTP Basic (client_secret_basic)
            basic = (settings.oidc_client_id or "", secret.get_secret_value())
            response = client.post(provider.token_endpoint, data=form, auth=basic)
        else:  # public client: PKCE alone
            response = client.post(provider.token_endpoint, data=form)
        response.raise_for_status()
        id_token = str(response.json()["id_token"])
        keys = client.get(provider.jwks_uri)
        keys.raise_for_status()
        jwks = jwt.PyJWKSet.from_dict(keys.json())
    except (httpx.HTTPError, ValueError, KeyError, jwt.PyJWTError) as exc:
        raise OidcError(f"token exchange failed: {type(exc).__name__}") from exc
    return verify_id_token(
        id_token=id_token, jwks=jwks, provider=provider, settings=settings, nonce=pending.nonce
    )


def verify_id_token(
    *, id_token: str, jwks: jwt.PyJWKSet, provider: Provider, settings: Settings, nonce: str
) -> dict[str, Any]:
    """Signature (by `kid` from the issuer's keys), iss, aud, exp, iat and nonce."""
    try:
        kid = jwt.get_unverified_header(id_token).get("kid")
        candidates = [k for k in jwks.keys if kid is None or k.key_id == kid]
        if not candidates:
            raise OidcError("ID token signed with a key the issuer does not publish")
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key=candidates[0],
            algorithms=ALGORITHMS,
            audience=settings.oidc_client_id,
            issuer=provider.issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise OidcError("ID token expired") from exc
    except jwt.PyJWTError as exc:
        raise OidcError(f"ID token refused: {type(exc).__name__}") from exc
    if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
        raise OidcError("ID token nonce does not match this login (replay?)")
    return claims


def local_user(*, db: Session, clock: Clock, settings: Settings, claims: dict[str, Any]) -> User:
    """The active local account the claim names; created only when provisioning is on."""
    from core.accounts import create_user

    value = claims.get(settings.oidc_username_claim)
    if not isinstance(value, str) or not value.strip():
        raise OidcError(f"the ID token has no {settings.oidc_username_claim!r} claim")
    username = value.strip().lower()
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        if settings.oidc_provision_role is None:
            raise OidcError(f"no local account {username!r}; ask an admin to create it")
        user = create_user(
            db=db,
            username=username,
            # Unusable locally: nobody knows it; the account logs in through OIDC only.
            password=secrets.token_urlsafe(48),
            role=settings.oidc_provision_role,
            display_name=str(claims.get("name") or username)[:200],
            clock=clock,
            actor="oidc",
        )
    if not user.active:
        raise OidcError(f"account {username!r} is disabled")
    return user


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _mac(body: str, key: str) -> str:
    digest = hmac.new(key.encode("utf-8"), b"oidc-pending:" + body.encode("ascii"), "sha256")
    return _b64(digest.digest())
