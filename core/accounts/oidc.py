"""Optional OIDC login: authorization-code flow with PKCE (S256), state and nonce.

The protocol is Authlib's (`OAuth2Session`: the authorization URL with the S256 challenge, the
code redemption with the verifier and client authentication) and the ID token is checked with
joserfc, Authlib's JOSE library (signature by `kid` from the issuer's JWKS, a fixed list of
asymmetric algorithms, `iss`, `aud`, `exp`, `iat`, `sub` and `nonce`). What stays ours: the
discovery check that the document names our issuer, and the pending login (state, nonce,
verifier) in a short-lived HMAC-signed cookie, never in the URL. The identity maps to a LOCAL
account by one claim; an unknown user is refused unless `oidc_provision_role` allows creating
it (never as admin).
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.accounts import create_user
from core.accounts.models import User
from core.clock import Clock
from core.config import Settings

PENDING_TTL_SECONDS = 600
ALGORITHMS = ["RS256", "PS256", "ES256"]
LEEWAY_SECONDS = 60


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


def open_client(settings: Settings) -> OAuth2Session:
    """Authlib's OAuth 2 session for our client (Basic auth when a secret is set, else PKCE
    alone), with the configured timeout on every call; use it as a context manager."""
    secret = settings.oidc_client_secret
    return OAuth2Session(
        client_id=settings.oidc_client_id,
        client_secret=secret.get_secret_value() if secret is not None else None,
        scope=settings.oidc_scopes,
        token_endpoint_auth_method="client_secret_basic" if secret is not None else "none",
        code_challenge_method="S256",
        default_timeout=settings.oidc_timeout_seconds,
    )


def discover(*, settings: Settings, client: OAuth2Session) -> Provider:
    """Read `{issuer}/.well-known/openid-configuration`; its `issuer` must equal ours."""
    issuer = (settings.oidc_issuer or "").rstrip("/")
    try:
        response = client.get(f"{issuer}/.well-known/openid-configuration", withhold_token=True)
        response.raise_for_status()
        doc = response.json()
    except (requests.RequestException, ValueError) as exc:
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
    *,
    client: OAuth2Session,
    provider: Provider,
    redirect_uri: str,
    next_url: str,
    now: float,
) -> tuple[str, Pending]:
    """The issuer URL to send the browser to, and what the callback must find again."""
    pending = Pending(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        verifier=secrets.token_urlsafe(64),
        next_url=next_url,
        expires=now + PENDING_TTL_SECONDS,
    )
    url, _state = client.create_authorization_url(
        provider.authorization_endpoint,
        state=pending.state,
        code_verifier=pending.verifier,
        nonce=pending.nonce,
        redirect_uri=redirect_uri,
    )
    return url, pending


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
    client: OAuth2Session,
    pending: Pending,
    code: str,
    state: str,
    redirect_uri: str,
) -> dict[str, Any]:
    """Check state, redeem the code with the PKCE verifier, verify the ID token; its claims."""
    if not hmac.compare_digest(state.encode("utf-8"), pending.state.encode("utf-8")):
        raise OidcError("state does not match this login (possible cross-site request)")
    try:
        token = client.fetch_token(
            provider.token_endpoint,
            grant_type="authorization_code",
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=pending.verifier,
        )
        id_token = str(token["id_token"])
        keys = client.get(provider.jwks_uri, withhold_token=True)
        keys.raise_for_status()
        jwks = KeySet.import_key_set(keys.json())
    except (requests.RequestException, AuthlibBaseError, ValueError, KeyError, JoseError) as exc:
        raise OidcError(f"token exchange failed: {type(exc).__name__}") from exc
    return verify_id_token(
        id_token=id_token, jwks=jwks, provider=provider, settings=settings, nonce=pending.nonce
    )


def verify_id_token(
    *, id_token: str, jwks: KeySet, provider: Provider, settings: Settings, nonce: str
) -> dict[str, Any]:
    """Signature (by `kid` from the issuer's keys), iss, aud, exp, iat, sub and nonce."""
    claims_rules = jwt.JWTClaimsRegistry(
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": provider.issuer},
        aud={"essential": True, "value": settings.oidc_client_id or ""},
        exp={"essential": True},
        iat={"essential": True},
        sub={"essential": True},
        nonce={"essential": True},
    )
    try:
        token = jwt.decode(id_token, jwks, algorithms=ALGORITHMS)
        claims_rules.validate(token.claims)
    except BadSignatureError as exc:
        raise OidcError("ID token signature does not verify with the issuer's keys") from exc
    except ExpiredTokenError as exc:
        raise OidcError("ID token expired") from exc
    except (JoseError, ValueError) as exc:
        raise OidcError(f"ID token refused: {type(exc).__name__}") from exc
    claims: dict[str, Any] = dict(token.claims)
    if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
        raise OidcError("ID token nonce does not match this login (replay?)")
    return claims


def local_user(*, db: Session, clock: Clock, settings: Settings, claims: dict[str, Any]) -> User:
    """The active local account the claim names; created only when provisioning is on."""

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
