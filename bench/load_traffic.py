"""The traffic of `bench/load.py`: closed-loop analysts, HTTP ingest and TCP syslog senders.

All of it runs on one asyncio loop in the bench process, over real HTTP and TCP; see
bench/load.py for what is offered and how it is counted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from bench.dashboard import _CSRF, PASSWORD

USERNAME = "analist1"
INGEST_SOURCE = "bench-load"
MAX_INGEST_IN_FLIGHT = 16
# The page mix: (kind, weight). Weights are a guess at a triage shift: mostly the queue.
MIX = (
    ("queue", 25),
    ("grouped_queue", 10),
    ("api_alerts", 20),
    ("alert_detail", 20),
    ("incidents", 10),
    ("event_search", 15),
)


@dataclass
class Tally:
    """Everything counted during the run (one event loop: no locks needed)."""

    pages: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k, _ in MIX})
    page_statuses: Counter[int] = field(default_factory=Counter)
    page_failures: int = 0
    login_statuses: Counter[int] = field(default_factory=Counter)
    clients_not_logged_in: int = 0
    http_sent: int = 0
    http_acked: int = 0
    http_statuses: Counter[int] = field(default_factory=Counter)
    http_failures: int = 0
    syslog_sent: int = 0
    syslog_disconnects: int = 0


def page_path(kind: str, rng: random.Random, alert_ids: list[str]) -> str:
    return {
        "queue": "/alerts",
        "grouped_queue": "/alerts?group=rule",
        "api_alerts": f"/api/alerts?page={rng.randint(1, 5)}",
        "alert_detail": f"/alerts/{rng.choice(alert_ids)}",
        "incidents": "/incidents",
        "event_search": f"/events?q={rng.choice(('bench', 'load', 'failed', 'login'))}",
    }[kind]


async def login(client: httpx.AsyncClient, tally: Tally, attempts: int = 10) -> bool:
    """Log in through the form; an error answer is counted and retried, as a person would."""
    for _ in range(attempts):
        try:
            page = await client.get("/login")
            token = _CSRF.search(page.text)
            if page.status_code == 200 and token is not None:
                form = {"username": USERNAME, "password": PASSWORD, "csrf_token": token.group(1)}
                answer = await client.post("/login", data=form)
                if answer.status_code == 303:
                    return True
                page = answer
            tally.login_statuses[page.status_code] += 1
        except httpx.HTTPError:
            tally.page_failures += 1
        await asyncio.sleep(1)
    return False


async def analyst(
    n: int, base: str, deadline: float, think: float, alert_ids: list[str], tally: Tally
) -> None:
    """One closed-loop client: a page, wait for it, think, the next page."""
    rng = random.Random(1000 + n)
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    async with httpx.AsyncClient(base_url=base, timeout=30, follow_redirects=False) as client:
        if not await login(client, tally):
            tally.clients_not_logged_in += 1
            return
        await asyncio.sleep(rng.uniform(0, think))  # do not all start in the same instant
        while time.monotonic() < deadline:
            kind = rng.choices(kinds, weights)[0]
            began = time.perf_counter()
            try:
                answer = await client.get(page_path(kind, rng, alert_ids))
                tally.page_statuses[answer.status_code] += 1
            except httpx.HTTPError:
                tally.page_failures += 1
            tally.pages[kind].append((time.perf_counter() - began) * 1000)
            await asyncio.sleep(think)


def ingest_url(base: str, override: str | None) -> str:
    """Where HTTP ingest is posted: `--ingest-url` (bench/load.py: the collector), else the API."""
    return override or f"{base}/api/ingest/{INGEST_SOURCE}"


async def http_ingest(
    url: str, token: str, marker: str, rate: float, batch: int, deadline: float, tally: Tally
) -> None:
    """Open loop: batches due by the clock are sent, each in its own request slot."""
    slots = asyncio.Semaphore(MAX_INGEST_IN_FLIGHT)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    pending: set[asyncio.Task[None]] = set()
    limits = httpx.Limits(max_connections=MAX_INGEST_IN_FLIGHT)

    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def post(first: int) -> None:
            lines = [
                json.dumps(
                    {
                        "@timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "message": f"{marker}h{first + i} bench load event",
                        "event": {"kind": "event", "dataset": "bench.load"},
                    }
                )
                for i in range(batch)
            ]
            try:
                answer = await client.post(url, content="\n".join(lines), headers=headers)
            except httpx.HTTPError:
                tally.http_failures += 1
            else:
                tally.http_statuses[answer.status_code] += 1
                if answer.status_code == 200:
                    tally.http_acked += int(answer.json().get("accepted", 0))
            finally:
                slots.release()

        started = time.monotonic()
        sent = 0
        while time.monotonic() < deadline:
            due = int((time.monotonic() - started) * rate)
            while sent + batch <= due and time.monotonic() < deadline:
                await slots.acquire()
                task = asyncio.create_task(post(sent))
                pending.add(task)
                task.add_done_callback(pending.discard)
                sent += batch
                tally.http_sent += batch
            await asyncio.sleep(0.01)
        if pending:
            await asyncio.wait(pending)


async def syslog_sender(port: int, marker: str, rate: float, deadline: float, tally: Tally) -> None:
    """TCP lines due by the clock, written then drained (back-pressure slows the offer).

    A broken connection is reopened, as syslog senders do; lines written into it that were
    not drained are not counted as sent.
    """
    started = time.monotonic()
    sent = 0
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            tally.syslog_disconnects += 1
            await asyncio.sleep(0.5)
            continue
        try:
            while time.monotonic() < deadline:
                due = int((time.monotonic() - started) * rate)
                if due > sent:
                    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
                    writer.write(
                        "".join(
                            f"<134>1 {stamp} benchhost benchapp - - - {marker}s{n} bench line\n"
                            for n in range(sent, due)
                        ).encode()
                    )
                    remaining = max(0.1, deadline - time.monotonic())
                    await asyncio.wait_for(writer.drain(), timeout=remaining)
                    tally.syslog_sent += due - sent
                    sent = due
                await asyncio.sleep(0.02)
        except TimeoutError:
            pass  # the run ended while the collector was holding the connection back
        except OSError:
            tally.syslog_disconnects += 1
            sent = int((time.monotonic() - started) * rate)  # what was missed is never sent
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def run_load(args: argparse.Namespace, base: str, token: str, ids: list[str]) -> Tally:
    tally = Tally()
    deadline = time.monotonic() + args.seconds
    marker = args.marker
    await asyncio.gather(
        *(
            analyst(n, base, deadline, args.think, ids, tally)
            for n in range(args.clients)
        ),
        http_ingest(
            ingest_url(base, args.ingest_url), token, marker, args.http_rate, args.http_batch,
            deadline, tally,
        ),
        syslog_sender(args.syslog_port, marker, args.syslog_rate, deadline, tally),
    )  # fmt: skip
    return tally
