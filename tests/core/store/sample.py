"""Sample events and alerts shared by the store tests: factories and one small filled data set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from core.events import new_event
from core.store.base import NewAlert

T0 = datetime(2024, 9, 1, 8, 0, tzinfo=UTC)


def make(
    minute: int,
    *,
    dataset: str = "system.auth",
    host: str = "web-01",
    user: str = "jan",
    ip: str = "10.0.0.5",
    text: str = "login ok",
    outcome: str = "success",
) -> dict[str, Any]:
    return new_event(
        timestamp=T0 + timedelta(minutes=minute),
        dataset=dataset,
        original=f"{text} user={user} src={ip}",
        fields={
            "host.name": host,
            "user.name": user,
            "source.ip": ip,
            "event.outcome": outcome,
            "process.pid": 1000 + minute,
        },
    )


def sample_events() -> list[dict[str, Any]]:
    """Five events over two datasets, hosts and users; `process.pid` - 1000 is the minute."""
    return [
        make(0, host="web-01", user="jan", ip="10.0.0.5", text="login ok"),
        make(1, host="web-02", user="anouk", ip="10.0.0.6", text="login failed password"),
        make(2, host="db-01", user="jan", ip="10.0.0.5", text="sudo session opened"),
        make(
            3,
            dataset="apache.access",
            host="web-01",
            user="sem",
            ip="192.168.1.9",
            text="GET /burgerzaken/afspraak 200",
            outcome="failure",
        ),
        make(
            4,
            dataset="apache.access",
            host="web-02",
            user="jan",
            ip="10.0.0.5",
            text="POST /login 403 failed",
        ),
    ]


def alert(minute: int, **changes: Any) -> NewAlert:
    values: dict[str, Any] = {
        "rule_id": "r-brute",
        "rule_title": "Brute force",
        "level": "high",
        "created_at": T0 + timedelta(minutes=minute),
        "host_name": "web-01",
        "user_name": "jan",
        "body": {"events": [f"e{minute}"], "tags": ["attack.t1110"], "n": minute},
    }
    values.update(changes)
    return NewAlert(**values)


def pids(found: list[Any]) -> list[int]:
    return [e.event["process"]["pid"] - 1000 for e in found]
