"""OIDC login against a small fake issuer on 127.0.0.1 (a test double of the municipal IdP):
PKCE S256 checked by the issuer, RS256 ID tokens, success, wrong state, bad signature, expired
token, unknown user, and auto-provisioning with the configured role."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from core.accounts import create_user
from core.accounts.models import Role
from core.clock import SystemClock
from core.config import load_settings
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.unit_of_work import unit_of_work
from dashboard.app import create_app

CLIENT_ID = "dijkwacht-test"


@dataclass
class FakeIssuer:
    """Issues RS256 ID tokens; `mode` makes the next token bad in one way."""

    url: str = ""
    key: Any = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    other_key: Any = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    mode: str = "good"
    subject: str = "jansen"
    authorizations: list[str | None] = field(default_factory=list)

    def authorize(self, location: str) -> tuple[str, str]:
        """What a user's browser would get back after logging in at the issuer: code, state."""
        query = {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}
        assert query["code_challenge_method"] == "S256" and query["client_id"] == CLIENT_ID
        code = f"code-{len(self.codes)}"
        self.codes[code] = query
        return code, query["state"]

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        request = self.codes.pop(form.get("code", ""), None)
        if request is None:
            return 400, {"error": "invalid_grant"}
        digest = hashlib.sha256(form["code_verifier"].encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != request["code_challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": "someone-else" if self.mode == "other-audience" else CLIENT_ID,
            "sub": "s-123",
            "preferred_username": self.subject,
            "name": "J. Jansen",
            "nonce": request["nonce"],
            "iat": now - 600 if self.mode == "expired" else now,
            "exp": now - 300 if self.mode == "expired" else now + 300,
        }
        signer = self.other_key if self.mode == "bad-signature" else self.key
        if self.mode == "hs256":  # algorithm confusion: a symmetric token must never pass
            token = jwt.encode(claims, "k" * 32, algorithm="HS256", headers={"kid": "k1"})
        else:
            token = jwt.encode(claims, signer, algorithm="RS256", headers={"kid": "k1"})
        return 200, {"id_token": token, "access_token": "a", "token_type": "Bearer"}

    def jwks(self) -> dict[str, Any]:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}


@pytest.fixture
def issuer() -> Iterator[FakeIssuer]:
    fake = FakeIssuer()

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/.well-known/openid-configuration":
                self._send(
                    200,
                    {
                        "issuer": fake.url,
                        "authorization_endpoint": fake.url + "/authorize",
                        "token_endpoint": fake.url + "/token",
                        "jwks_uri": fake.url + "/jwks",
                    },
                )
            elif self.path == "/jwks":
                self._send(200, fake.jwks())
            else:
                self._send(404, {})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            fake.authorizations.append(self.headers.get("Authorization"))
            self._send(*fake.token(form))

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


def _client(tmp_path: Path, issuer: FakeIssuer, **extra: Any) -> TestClient:
    settings = load_settings(
        environment="test",
        data_dir=tmp_path / "data",
        oidc_enabled=True,
        oidc_issuer=issuer.url,
        oidc_client_id=CLIENT_ID,
        **extra,
    )
    migrate(settings)
    engine = create_db_engine(settings)
    with unit_of_work(create_session_factory(engine)) as db:
        create_user(
            db=db,
            username="jansen",
            password="correct horse battery staple",
            role=Role.ANALYST,
            clock=SystemClock(),
        )
    engine.dispose()
    return TestClient(create_app(settings), base_url="http://127.0.0.1", follow_redirects=False)


def _start(client: TestClient, issuer: FakeIssuer) -> tuple[str, str]:
    assert 'href="/login/oidc"' in client.get("/login").text
    started = client.get("/login/oidc", params={"next": "/alerts"})
    assert started.status_code == 303
    location = started.headers["location"]
    assert location.startswith(issuer.url + "/authorize?")
    assert "state=" in location and "nonce=" in location and "code_challenge=" in location
    return issuer.authorize(location)


def test_login_succeeds_with_a_verified_token(tmp_path: Path, issuer: FakeIssuer) -> None:
    client = _client(tmp_path, issuer)
    code, state = _start(client, issuer)
    done = client.get("/login/oidc/callback", params={"code": code, "state": state})
    assert done.status_code == 303 and done.headers["location"] == "/alerts"
    me = client.get("/api/me").json()
    assert me["username"] == "jansen" and me["role"] == "analyst"
    assert issuer.authorizations == [None]  # a public client: PKCE alone, no secret sent


def test_confidential_client_authenticates_with_http_basic(
    tmp_path: Path, issuer: FakeIssuer
) -> None:
    client = _client(tmp_path, issuer, oidc_client_secret="s3cret")
    code, state = _start(client, issuer)
    done = client.get("/login/oidc/callback", params={"code": code, "state": state})
    assert done.status_code == 303
    basic = base64.b64encode(f"{CLIENT_ID}:s3cret".encode()).decode()
    assert issuer.authorizations == [f"Basic {basic}"]


def test_wrong_state_is_refused(tmp_path: Path, issuer: FakeIssuer) -> None:
    client = _client(tmp_path, issuer)
    code, _state = _start(client, issuer)
    done = client.get("/login/oidc/callback", params={"code": code, "state": "forged"})
    assert done.status_code == 400 and "state does not match" in done.text
    assert client.get("/api/me").status_code == 401


def test_callback_without_the_pending_cookie_is_refused(tmp_path: Path, issuer: FakeIssuer) -> None:
    client = _client(tmp_path, issuer)
    code, state = _start(client, issuer)
    client.cookies.delete("dijkwacht_oidc", path="/login/oidc")
    done = client.get("/login/oidc/callback", params={"code": code, "state": state})
    assert done.status_code == 400 and "no login in progress" in done.text


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("bad-signature", "signature does not verify"),
        ("expired", "ID token expired"),
        ("other-audience", "ID token refused: InvalidClaimError"),
        ("hs256", "ID token refused"),
    ],
)
def test_bad_tokens_are_refused(
    tmp_path: Path, issuer: FakeIssuer, mode: str, message: str
) -> None:
    client = _client(tmp_path, issuer)
    code, state = _start(client, issuer)
    issuer.mode = mode
    done = client.get("/login/oidc/callback", params={"code": code, "state": state})
    assert done.status_code == 400 and message in done.text
    assert client.get("/api/me").status_code == 401


def test_unknown_user_refused_unless_provisioning_is_on(tmp_path: Path, issuer: FakeIssuer) -> None:
    issuer.subject = "de-vries"
    client = _client(tmp_path / "a", issuer)
    code, state = _start(client, issuer)
    done = client.get("/login/oidc/callback", params={"code": code, "state": state})
    assert done.status_code == 400 and "no local account" in done.text
    provisioning = _client(tmp_path / "b", issuer, oidc_provision_role="crisis_team")
    code, state = _start(provisioning, issuer)
    done = provisioning.get("/login/oidc/callback", params={"code": code, "state": state})
    assert done.status_code == 303
    assert provisioning.get("/api/me").json()["role"] == "crisis_team"


def test_disabled_by_default(tmp_path: Path) -> None:
    settings = load_settings(environment="test", data_dir=tmp_path / "data")
    migrate(settings)
    client = TestClient(create_app(settings), base_url="http://127.0.0.1")
    assert client.get("/login/oidc").status_code == 404
    assert 'href="/login/oidc"' not in client.get("/login").text
