"""A small, reproducible demo dataset so a new user sees activity within a minute of `up --demo`.

The events imitate a quiet day at the municipality: residents on the portal, SSH logins on a
server, and employees looking up records in the population register (BRP). Resident identifiers
are already pseudonyms, as the collectors would store them. Every event is tagged `demo`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta

from core.clock import utc_iso
from core.events import Event, new_event

PORTAL_PATHS = ["/", "/inloggen", "/aanvragen/parkeervergunning", "/mijn-zaken", "/afval/kalender"]
PORTAL_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
]
EMPLOYEES = [("m.dijkstra", "burgerzaken"), ("j.bakker", "vergunningen"), ("s.mulder", "wmo")]
# Documentation address ranges (RFC 5737): realistic-looking, never anyone's real address.
TEST_NETS = ["192.0.2", "198.51.100", "203.0.113"]
SERVERS = ["web01.gemeente.local", "app02.gemeente.local"]


def demo_events(*, now: datetime, count: int = 600, seed: int = 42) -> Iterator[Event]:
    """Yield `count` events spread over the 24 hours before `now`, the same for the same seed."""
    rng = random.Random(seed)
    start = now - timedelta(hours=24)
    moments = sorted(start + timedelta(seconds=rng.uniform(0, 86_400)) for _ in range(count))
    makers = (_portal_request, _ssh_login, _brp_lookup)
    for moment in moments:
        maker = rng.choices(makers, weights=(6, 1, 3))[0]
        event = maker(rng, moment)
        event["tags"] = ["demo"]
        yield event


def _portal_request(rng: random.Random, moment: datetime) -> Event:
    ip = f"{rng.choice(TEST_NETS)}.{rng.randint(1, 254)}"
    path = rng.choice(PORTAL_PATHS)
    status = rng.choices([200, 302, 404, 500], weights=(85, 8, 6, 1))[0]
    size = rng.randint(300, 40_000)
    agent = rng.choice(PORTAL_AGENTS)
    stamp = moment.strftime("%d/%b/%Y:%H:%M:%S +0000")
    original = f'{ip} - - [{stamp}] "GET {path} HTTP/1.1" {status} {size} "-" "{agent}"'
    return new_event(
        timestamp=moment,
        dataset="nginx.access",
        original=original,
        fields={
            "event.category": ["web"],
            "event.outcome": "success" if status < 400 else "failure",
            "source.ip": ip,
            "http.request.method": "GET",
            "http.response.status_code": status,
            "http.response.body.bytes": size,
            "url.path": path,
            "user_agent.original": agent,
            "host.name": "portal.gemeente.local",
        },
    )


def _ssh_login(rng: random.Random, moment: datetime) -> Event:
    ok = rng.random() < 0.8
    user = rng.choice(["beheer", "deploy", "root"])
    ip = f"192.0.2.{rng.randint(1, 254)}"
    host = rng.choice(SERVERS)
    pid = rng.randint(1000, 60000)
    verb = "Accepted publickey" if ok else "Failed password"
    stamp = moment.strftime("%b %d %H:%M:%S").replace(" 0", "  ", 1)
    original = (
        f"{stamp} {host.split('.')[0]} sshd[{pid}]: {verb} for {user} from {ip} port 52113 ssh2"
    )
    return new_event(
        timestamp=moment,
        dataset="system.auth",
        original=original,
        fields={
            "event.category": ["authentication"],
            "event.action": "ssh_login",
            "event.outcome": "success" if ok else "failure",
            "user.name": user,
            "source.ip": ip,
            "process.name": "sshd",
            "process.pid": pid,
            "host.name": host,
        },
    )


def _brp_lookup(rng: random.Random, moment: datetime) -> Event:
    actor, department = rng.choice(EMPLOYEES)
    pseudonym = f"rp_{rng.getrandbits(64):016x}"
    case = f"Z-2026-{rng.randint(1000, 9999)}"
    original = (
        f'{{"time": "{utc_iso(moment)}", "system": "brp", "actor": "{actor}", "action": "view", '
        f'"subject": "{pseudonym}", "record_type": "persoonslijst", "case_ref": "{case}"}}'
    )
    return new_event(
        timestamp=moment,
        dataset="app_audit.brp",
        original=original,
        fields={
            "event.category": ["database"],
            "event.action": "view",
            "event.outcome": "success",
            "user.id": actor,
            "user.name": actor,
            "dijkwacht.department": department,
            "dijkwacht.subject.pseudonym": pseudonym,
            "dijkwacht.subject.record_type": "persoonslijst",
            "dijkwacht.case.reference": case,
        },
    )
