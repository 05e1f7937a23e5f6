"""Kill -9 trials against `dijkwacht collect` for HTTP, RELP and plain TCP ingest.

One transport per run, one data directory per transport. A sender thread streams numbered
events the way a well-behaved client of that transport does; the collector is SIGKILLed at a
random moment while events are acknowledged, restarted on the same ports, and so on `trials`
times. Then the sender finishes (HTTP retries its open batch with the same `Idempotency-Key`;
RELP resends every unanswered frame after reconnecting, as rsyslog's omrelp does), the spool is
drained into the event store, and the store is compared with what the sender saw acknowledged:

- `lost`: acknowledged events not in the store (must be 0 for HTTP and RELP);
- `duplicates`: events stored more than once;
- TCP has no acknowledgement: `lost_per_kill` counts lines whose `sendall` had returned before
  the kill but that never reached the store (the kernel-buffer risk of plain TCP).

Used by `tests/collectors/test_crash.py` (a few trials) and `bench/crash.py` (the full run).
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from collectors.relp import RelpFramer, frame
from collectors.spool import Spool
from core.config import load_settings
from core.store.base import EventQuery
from core.store.sqlite_events import SqliteEventStore
from tests.processes import free_port
from tests.tokens import make_ingest_token

REPO = Path(__file__).resolve().parents[2]
HTTP_BATCH = 50
RELP_WINDOW = 128  # omrelp's default window
TCP_CHUNK = 100
SEQ_RE = re.compile(r"^(http|relp|tcp)-(\d+)-(\d+)$")


@dataclass(frozen=True, slots=True)
class Ports:
    syslog: int
    http: int
    relp: int


class Collector:
    """`dijkwacht collect --no-detection` as a child process on fixed ports."""

    def __init__(self, data_dir: Path, ports: Ports) -> None:
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "DIJKWACHT_DATA_DIR": str(data_dir),
            "DIJKWACHT_ENVIRONMENT": "test",
            "DIJKWACHT_SYSLOG_PORT": str(ports.syslog),
            "DIJKWACHT_INGEST_HTTP_PORT": str(ports.http),
            "DIJKWACHT_RELP_PORT": str(ports.relp),
            "DIJKWACHT_INGEST_BATCH_SIZE": "500",
            "DIJKWACHT_LOG_LEVEL": "ERROR",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        process = subprocess.Popen(
            [sys.executable, "-m", "dijkwacht", "collect", "--no-detection"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=REPO,
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith(b"collect: ready"):
            process.kill()
            raise RuntimeError(f"collector did not start: {line!r}")
        self.process = process

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(30)


class Sender(threading.Thread):
    """Streams numbered events; `acked` holds every sequence number acknowledged."""

    kind = ""

    def __init__(self, ports: Ports) -> None:
        super().__init__(daemon=True)
        self.ports = ports
        self.acked: set[int] = set()
        self.finish = threading.Event()
        self.sent_events = 0
        self.retries = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.send()
        except BaseException as exc:
            self.error = exc

    def send(self) -> None:
        raise NotImplementedError

    def progress(self) -> int:
        return len(self.acked)

    def killed(self) -> None:
        """Called after each kill (TCP closes its books on the broken connection)."""


class HttpSender(Sender):
    """Batches with an `Idempotency-Key` each; a batch without a 200 is resent with its key."""

    kind = "http"

    def __init__(self, ports: Ports, token: str) -> None:
        super().__init__(ports)
        self.url = f"http://127.0.0.1:{ports.http}/api/ingest/crash"
        self.token = token
        self.replayed = 0

    def send(self) -> None:
        batch = 0
        with httpx.Client(timeout=5.0) as client:
            while not self.finish.is_set():
                seqs = range(batch * HTTP_BATCH, (batch + 1) * HTTP_BATCH)
                body = b"\n".join(orjson.dumps(_ecs(f"http-0-{n}")) for n in seqs)
                headers = {"Authorization": f"Bearer {self.token}", "Idempotency-Key": f"b{batch}"}
                while True:
                    try:
                        response = client.post(self.url, content=body, headers=headers)
                    except httpx.HTTPError:
                        response = None
                    if response is not None and response.status_code == 200:
                        break
                    self.retries += 1
                    time.sleep(0.05)
                self.replayed += response.headers.get("Idempotent-Replayed") == "true"
                self.acked.update(seqs)
                self.sent_events += HTTP_BATCH
                batch += 1


class RelpSender(Sender):
    """An omrelp-like client: a window of unanswered frames, resent after a reconnect."""

    kind = "relp"

    def send(self) -> None:
        unacked: dict[int, int] = {}  # txnr -> seq, in send order
        next_seq = 0
        while True:
            try:
                sock, framer, txnr = self._connect()
                # Resend what was never answered, in order, under the new session's numbers.
                resend = list(unacked.values())
                unacked.clear()
                for seq in resend:
                    txnr += 1
                    unacked[txnr] = seq
                sock.sendall(
                    b"".join(frame(t, "syslog", _line("relp", s)) for t, s in unacked.items())
                )
                self.retries += len(resend)
                while True:
                    if self.finish.is_set() and not unacked:
                        sock.sendall(frame(txnr + 1, "close"))
                        sock.close()
                        return
                    room = 0 if self.finish.is_set() else RELP_WINDOW - len(unacked)
                    if room > 0:
                        out = []
                        for _ in range(room):
                            txnr += 1
                            unacked[txnr] = next_seq
                            out.append(frame(txnr, "syslog", _line("relp", next_seq)))
                            next_seq += 1
                        sock.sendall(b"".join(out))
                        self.sent_events += room
                    data = sock.recv(65536)
                    if not data:
                        raise ConnectionError("closed")
                    for reply in framer.feed(data):
                        if reply.command == "serverclose":
                            raise ConnectionError("serverclose")
                        if reply.command == "rsp" and reply.data.startswith(b"200"):
                            answered = unacked.pop(reply.txnr, None)
                            if answered is not None:
                                self.acked.add(answered)
            except OSError:
                time.sleep(0.05)

    def _connect(self) -> tuple[socket.socket, RelpFramer, int]:
        sock = socket.create_connection(("127.0.0.1", self.ports.relp), timeout=5)
        sock.sendall(frame(1, "open", b"relp_version=0\nrelp_software=crash\ncommands=syslog"))
        framer = RelpFramer(max_data=1 << 20)
        replies: list[Any] = []
        while not replies:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("closed during open")
            replies = framer.feed(data)
        if not replies[0].data.startswith(b"200"):
            raise ConnectionError("open refused")
        return sock, framer, 1


class TcpSender(Sender):
    """Plain TCP: `accepted[session]` lines had left `sendall` before the connection broke."""

    kind = "tcp"

    def __init__(self, ports: Ports) -> None:
        super().__init__(ports)
        self.session = 0
        self.accepted: Counter[int] = Counter()
        self._lock = threading.Lock()

    def send(self) -> None:
        while not self.finish.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.ports.syslog), timeout=5) as sock:
                    seq = 0
                    while not self.finish.is_set():
                        session = self.session
                        chunk = b"".join(
                            _line("tcp", n, session) + b"\n" for n in range(seq, seq + TCP_CHUNK)
                        )
                        sock.sendall(chunk)
                        with self._lock:
                            if session != self.session:
                                break  # a kill happened during sendall: not counted
                            self.accepted[session] += TCP_CHUNK
                        seq += TCP_CHUNK
            except OSError:
                time.sleep(0.05)

    def progress(self) -> int:
        return sum(self.accepted.values())

    def killed(self) -> None:
        with self._lock:
            self.session += 1


def _ecs(message: str) -> dict[str, Any]:
    stamp = datetime.now(UTC).isoformat()
    return {"@timestamp": stamp, "event": {"kind": "event", "dataset": "crash"}, "message": message}


def _line(kind: str, seq: int, session: int = 0) -> bytes:
    return f"<34>1 2025-01-31T09:15:00Z host app - - - {kind}-{session}-{seq}".encode()


def create_ingest_token(data_dir: Path) -> str:
    return make_ingest_token(load_settings(environment="test", data_dir=data_dir), "crash")


def _wait(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _stored(data_dir: Path) -> Counter[tuple[str, int, int]]:
    seen: Counter[tuple[str, int, int]] = Counter()
    with SqliteEventStore(data_dir / "events.sqlite") as store:
        total = store.count(EventQuery())
        offset = 0
        while offset < total:
            page = store.search(EventQuery(limit=10_000, offset=offset, order="asc"))
            for item in page:
                match = SEQ_RE.match(str(item.event.get("message", "")))
                if match:
                    seen[(match.group(1), int(match.group(2)), int(match.group(3)))] += 1
            offset += len(page)
    return seen


@dataclass(slots=True)
class TrialResult:
    kind: str
    kills: int
    acknowledged: int = 0
    lost: int = 0
    duplicates: int = 0
    retried: int = 0
    replayed: int = 0  # HTTP batches whose successful reply was the stored first one
    lost_per_kill: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "kills": self.kills,
            "acknowledged": self.acknowledged,
            "lost": self.lost,
            "duplicates": self.duplicates,
            "retried": self.retried,
            "replayed": self.replayed,
            "lost_per_kill": self.lost_per_kill,
            "seconds": round(self.seconds, 1),
        }


def run_trials(kind: str, *, kills: int, data_dir: Path, seed: int = 16) -> TrialResult:
    """`kills` SIGKILLs of the collector during `kind` ingest; see the module docstring."""
    started = time.monotonic()
    rng = random.Random(seed)
    ports = Ports(free_port(), free_port(), free_port())
    data_dir.mkdir(parents=True, exist_ok=True)
    sender: Sender
    if kind == "http":
        sender = HttpSender(ports, create_ingest_token(data_dir))
    elif kind == "relp":
        sender = RelpSender(ports)
    else:
        sender = TcpSender(ports)
    collector = Collector(data_dir, ports)
    collector.start()
    sender.start()
    for _ in range(kills):
        before = sender.progress()
        _wait(lambda: sender.progress() > before, 60, f"{kind} progress")  # noqa: B023
        time.sleep(rng.uniform(0.05, 0.6))  # a random point while events are acknowledged
        collector.kill()
        sender.killed()
        collector.start()
    sender.finish.set()
    sender.join(120)
    assert not sender.is_alive(), f"{kind} sender did not finish"
    if sender.error is not None:
        raise sender.error

    def drained() -> bool:
        with Spool(data_dir / "spool.sqlite") as spool:
            return spool.pending() == 0

    _wait(drained, 120, "spool drained")
    assert collector.terminate() == 0
    stored = _stored(data_dir)
    result = TrialResult(kind=kind, kills=kills, retried=sender.retries)
    if isinstance(sender, HttpSender):
        result.replayed = sender.replayed
    if isinstance(sender, TcpSender):
        for session in range(kills):
            got = sum(1 for key in stored if key[0] == "tcp" and key[1] == session)
            result.lost_per_kill.append(max(0, sender.accepted[session] - got))
        result.acknowledged = 0  # plain TCP acknowledges nothing
        result.lost = sum(result.lost_per_kill)
    else:
        mine = {key[2]: count for key, count in stored.items() if key[0] == kind}
        result.acknowledged = len(sender.acked)
        result.lost = sum(1 for seq in sender.acked if seq not in mine)
    result.duplicates = sum(count - 1 for count in stored.values() if count > 1)
    result.seconds = time.monotonic() - started
    return result
