"""Every route × every role (and anonymous) gets the status the matrix expects."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount

from core.accounts.models import Role
from dashboard.security import RequireRole, public
from tests.dashboard.authz_matrix import (
    ANONYMOUS,
    EXPECTED,
    FRAMEWORK_PATHS,
    ROLES,
    SAMPLE_PATH_VALUES,
    SELF_AUTHENTICATED,
)
from tests.dashboard.conftest import Env, add_user, csrf_of, login, role_user


def app_routes(app: object) -> Iterator[tuple[str, str, object]]:
    """(method, path, route) for every route, HEAD left out; mounts as ("MOUNT", path)."""
    for route in iter_route_contexts(app.routes):  # type: ignore[attr-defined]
        if isinstance(route.original_route, Mount):
            yield "MOUNT", route.path, route
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            yield method, route.path, route


def _declared(dependant: Dependant) -> bool:
    for dep in dependant.dependencies:
        if isinstance(dep.call, RequireRole) or dep.call is public or _declared(dep):
            return True
    return False


def _url(path: str) -> str:
    for name, value in SAMPLE_PATH_VALUES.items():
        path = path.replace("{" + name + "}", value)
    return path


def test_every_route_has_a_matrix_entry(env: Env) -> None:
    found = {(method, path) for method, path, _ in app_routes(env.app)}
    missing = sorted(found - EXPECTED.keys())
    assert not missing, f"add these routes to tests/dashboard/authz_matrix.py: {missing}"
    stale = sorted(EXPECTED.keys() - found)
    assert not stale, f"routes in the matrix that no longer exist: {stale}"


def test_every_route_declares_its_access(env: Env) -> None:
    undeclared = []
    for method, path, route in app_routes(env.app):
        if method == "MOUNT" or path in FRAMEWORK_PATHS or (method, path) in SELF_AUTHENTICATED:
            continue
        if not _declared(route.dependant):  # type: ignore[attr-defined]
            undeclared.append((method, path))
    assert not undeclared, f"declare RequireRole(...) or PUBLIC on: {undeclared}"


def _clients(env: Env) -> dict[str, tuple[TestClient, str]]:
    anonymous = env.client()
    clients = {ANONYMOUS: (anonymous, csrf_of(anonymous.get("/login").text))}
    for role in ROLES:
        add_user(env, role_user(role), role)
        client = env.client()
        clients[role.value] = (client, login(client, role_user(role)))
    return clients


def test_authorization_matrix(env: Env) -> None:
    clients = _clients(env)
    routes = sorted(
        {(m, p) for m, p, _ in app_routes(env.app)}, key=lambda mp: mp == ("POST", "/logout")
    )
    mismatches = []
    for method, path in routes:
        expected = EXPECTED[(method, path)]
        for who, (client, csrf) in clients.items():
            url = _url(path)
            if method == "MOUNT":
                response = client.get(url + "/dijkwacht.css")
            else:
                response = client.request(method, url, headers={"X-CSRF-Token": csrf})
            if response.status_code != expected[who]:
                mismatches.append(
                    f"{method} {path} as {who}: got {response.status_code}, "
                    f"expected {expected[who]}"
                )
    assert not mismatches, "\n".join(mismatches)


def test_matrix_covers_every_role() -> None:
    for key, table in EXPECTED.items():
        assert set(table) == {ANONYMOUS, *(r.value for r in Role)}, key
