"""The traffic of `bench/load.py`: closed-loop analysts, HTTP ingest and TCP syslog senders.

Analysts run on an asyncio loop in the bench process, the ingest senders on their own loop
in a child process, all over real HTTP and TCP; see bench/load.py for what is offered and how
it is counted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

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
    http_slot_waits: int = 0
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
    n: int,
    client: httpx.AsyncClient,
    deadline: float,
    think: float,
    alert_ids: list[str],
    tally: Tally,
) -> None:
    """One closed-loop client, logged in already: a page, wait for it, think, the next page."""
    rng = random.Random(1000 + n)
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
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


def due(started: float, rate: float, offered: int, now: float) -> int:
    """Items due by `now` when item n is due at `started + n / rate` (the first at once).

    So all `offered` items fall inside the run (the last one a 1/rate before its end); an
    item due at the very end would be one the run never offers.
    """
    if now < started:
        return 0
    return min(offered, int((now - started) * rate) + 1)


async def http_ingest(
    url: str, token: str, marker: str, rate: float, batch: int, window: tuple[float, float],
    tally: Tally,
) -> None:  # fmt: skip
    """Open loop: batches due by the clock are sent, each in its own request slot.

    Batch k is due at `started + k * batch / rate`; a batch waits for a free slot (no queue
    grows in the bench) and one not sent by the deadline is offered and not taken.
    """
    started, deadline = window
    slots = asyncio.Semaphore(MAX_INGEST_IN_FLIGHT)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    pending: set[asyncio.Task[None]] = set()
    limits = httpx.Limits(max_connections=MAX_INGEST_IN_FLIGHT)
    batches = int((deadline - started) * rate) // batch

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

        sent = 0
        while time.monotonic() < deadline and sent < batches:
            while sent < due(started, rate / batch, batches, time.monotonic()):
                if slots.locked():
                    tally.http_slot_waits += 1  # every slot busy: the platform is behind
                await slots.acquire()
                if time.monotonic() >= deadline:
                    slots.release()
                    break
                task = asyncio.create_task(post(sent * batch))
                pending.add(task)
                task.add_done_callback(pending.discard)
                sent += 1
                tally.http_sent += batch
            next_due = started + sent * batch / rate
            await asyncio.sleep(min(0.01, max(0.0, next_due - time.monotonic())))
        if pending:
            await asyncio.wait(pending)


async def syslog_sender(
    port: int, marker: str, rate: float, window: tuple[float, float], tally: Tally
) -> None:
    """TCP lines due by the clock, written then drained (back-pressure slows the offer).

    Line n is due at `started + n / rate`; lines due are written until the deadline. A line
    counts as sent once the socket drained it; the last write may drain after the deadline
    (as the last HTTP answers arrive after it), for at most the HTTP timeout. A broken
    connection is reopened, as syslog senders do; lines written into it that were not drained
    are not counted, and lines due meanwhile are never sent.
    """
    started, deadline = window
    offered = int((deadline - started) * rate)
    written = 0
    while time.monotonic() < deadline and written < offered:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            tally.syslog_disconnects += 1
            await asyncio.sleep(0.5)
            continue
        try:
            while time.monotonic() < deadline and written < offered:
                now = time.monotonic()
                upto = due(started, rate, offered, now)
                if upto > written:
                    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
                    writer.write(
                        "".join(
                            f"<134>1 {stamp} benchhost benchapp - - - {marker}s{n} bench line\n"
                            for n in range(written, upto)
                        ).encode()
                    )
                    written = upto
                    try:
                        await asyncio.wait_for(writer.drain(), timeout=max(0.01, deadline - now))
                    except TimeoutError:
                        break  # the run ended while the collector held the connection back
                    tally.syslog_sent = written
                next_due = started + written / rate
                await asyncio.sleep(min(0.02, max(0.0, next_due - time.monotonic())))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(writer.drain(), timeout=30)
                tally.syslog_sent = written
        except OSError:
            tally.syslog_disconnects += 1
            written = due(started, rate, offered, time.monotonic())  # missed: never sent
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _senders(args: argparse.Namespace, token: str, window: tuple[float, float]) -> Tally:
    tally = Tally()
    await asyncio.gather(
        http_ingest(
            args.ingest_url, token, args.marker, args.http_rate, args.http_batch, window, tally
        ),
        syslog_sender(args.syslog_port, args.marker, args.syslog_rate, window, tally),
    )
    return tally


def _sender_process(
    args: argparse.Namespace, token: str, window: tuple[float, float], out: Connection
) -> None:
    """The ingest senders' own process: analysts' page parsing must not delay the schedule."""
    out.send(asyncio.run(_senders(args, token, window)))
    out.close()


async def run_load(args: argparse.Namespace, base: str, token: str, ids: list[str]) -> Tally:
    """Analysts on this loop; HTTP and TCP ingest in a child process on the same schedule.

    One process ran all of it before: with 30 analysts parsing pages on a busy machine its
    loop fell behind the ingest schedule (58,300 of 60,000 HTTP events sent, every batch
    acknowledged). `time.monotonic` is the system's clock, so both processes share the window.
    """
    tally = Tally()
    # Set-up, before the clock: every analyst logs in through the form. Thirty argon2
    # verifications at once fill both cores for seconds (each uses four threads), and a shift
    # does not log in 30 times a minute; the pages under ingest are what is measured.
    clients = [
        httpx.AsyncClient(base_url=base, timeout=30, follow_redirects=False)
        for _ in range(args.clients)
    ]
    logged_in = await asyncio.gather(*(login(client, tally) for client in clients))
    tally.clients_not_logged_in = logged_in.count(False)
    started = time.monotonic() + 1.0  # the child is running by then
    window = (started, started + args.seconds)
    args.ingest_url = ingest_url(base, args.ingest_url)
    receive, send = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.get_context("spawn").Process(
        target=_sender_process, args=(args, token, window, send), daemon=True
    )
    child.start()
    send.close()
    await asyncio.sleep(max(0.0, started - time.monotonic()))
    try:
        await asyncio.gather(
            *(
                analyst(n, client, window[1], args.think, ids, tally)
                for n, (client, ok) in enumerate(zip(clients, logged_in, strict=True))
                if ok
            )
        )
    finally:
        for client in clients:
            await client.aclose()
    senders: Tally = await asyncio.to_thread(_receive, receive, child)
    for name in _SENDER_FIELDS:
        setattr(tally, name, getattr(senders, name))
    return tally


_SENDER_FIELDS = (
    "http_sent", "http_acked", "http_statuses", "http_failures", "http_slot_waits",
    "syslog_sent", "syslog_disconnects",
)  # fmt: skip


def _receive(receive: Connection, child: multiprocessing.process.BaseProcess) -> Tally:
    try:
        if not receive.poll(120):
            raise RuntimeError("the ingest senders did not report within 120 s after the run")
        tally: Tally = receive.recv()
        return tally
    finally:
        child.join(timeout=10)
