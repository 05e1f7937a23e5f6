"""Pause instead of crash: the collector's shared fault state and the back-off that ends it.

A full disk, a read-only file system or a database another process keeps locked are faults
that pass by themselves (or once an operator frees space); a collector that exits on them loses
whatever the kernel buffered and, under `dijkwacht up`, takes a restart loop with it. So every
component that writes (the spool writer, the consumer, the tailers, live capture) turns such an
error into a *pause*: the data stays where it is (socket buffer, file, spool), one message names
the cause and the setting to look at, the write is retried with a doubling delay capped at
`MAX_RETRY_SECONDS`, and one message says when it resumed.

`IngestHealth` is the one object a collector process shares between those components and its
inputs: TCP readers, tailers and HTTP ingest read `paused`, `reason` and `retry_after_s` to
apply back-pressure (stop reading, answer 503 with `Retry-After`). It is thread-safe; readers
on the event loop may see a value one write late, which only delays back-pressure by a tick.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.runtime import write_collector_status
from core.store.faults import describe_fault

if TYPE_CHECKING:
    from core.config import Settings

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0
# The status file is rewritten at least this often, so readers can tell a dead collector.
REFRESH_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Fault:
    """Why one component is paused; `blocks_input`: inputs must stop while it lasts."""

    component: str
    cause: str
    setting: str
    since: float  # time.time() of the first failure
    retry_after_s: float
    blocks_input: bool

    def message(self) -> str:
        return f"{self.setting}: {self.cause}"


class IngestHealth:
    """The pause state of one collector process (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}
        self._blocking = False  # read per UDP datagram: a plain attribute, no lock
        self.version = 0  # bumped on every change, so a publisher writes only what changed

    def pause(self, fault: Fault) -> None:
        with self._lock:
            self._faults[fault.component] = fault
            self._changed()

    def resume(self, component: str) -> None:
        with self._lock:
            if self._faults.pop(component, None) is not None:
                self._changed()

    def _changed(self) -> None:
        self._blocking = any(fault.blocks_input for fault in self._faults.values())
        self.version += 1

    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults.values())

    @property
    def paused(self) -> bool:
        """True while input must be refused (TCP stops reading, HTTP answers 503)."""
        return self._blocking

    @property
    def degraded(self) -> bool:
        """True while any component is paused, even one the spool still buffers for."""
        return bool(self.faults())

    @property
    def reason(self) -> str | None:
        """The cause to show a sender or an operator; blocking faults first."""
        faults = sorted(self.faults(), key=lambda f: not f.blocks_input)
        return "; ".join(f"{f.component}: {f.message()}" for f in faults) or None

    @property
    def retry_after_s(self) -> int:
        """Whole seconds for `Retry-After`: the longest current back-off, at least 1."""
        delays = [f.retry_after_s for f in self.faults()]
        return max(1, math.ceil(max(delays, default=FIRST_RETRY_SECONDS)))

    def snapshot(self) -> dict[str, Any]:
        """The state for the status file the supervisor and `/readyz` read."""
        faults = self.faults()
        return {
            "state": "paused" if faults else "running",
            "paused": {
                f.component: {
                    "reason": f.message(),
                    "since": f.since,
                    "retry_after_s": f.retry_after_s,
                    "blocks_input": f.blocks_input,
                }
                for f in faults
            },
        }


class Pauser:
    """Turns one component's recoverable faults into a logged pause with capped back-off.

    `fault(exc)` returns the seconds to wait before retrying, or None when `exc` is a bug that
    must propagate. It logs once when the pause starts (and again only if the cause changes);
    `ok()` logs once when the component works again.
    """

    def __init__(
        self,
        *,
        health: IngestHealth,
        component: str,
        setting: str,
        blocks_input: bool,
        first: float = FIRST_RETRY_SECONDS,
        cap: float = MAX_RETRY_SECONDS,
    ) -> None:
        self.health = health
        self.component = component
        self.setting = setting
        self.blocks_input = blocks_input
        self._first = first
        self._cap = cap
        self._delay = first
        self._since: float | None = None
        self._cause: str | None = None
        self.pauses = 0

    @property
    def paused(self) -> bool:
        return self._since is not None

    def fault(self, exc: BaseException) -> float | None:
        cause = describe_fault(exc)
        if cause is None:
            return None
        delay = self._delay
        self._delay = min(self._delay * 2, self._cap)
        action = "pausing ingest" if self.blocks_input else "events wait in the spool"
        if self._since is None or cause != self._cause:
            if self._since is None:
                self._since = time.time()
                self.pauses += 1
            log.warning(
                "%s paused: %s: %s; %s, retrying in %g s",
                self.component,
                self.setting,
                cause,
                action,
                delay,
            )
        else:
            log.debug("%s still paused (%s); retrying in %g s", self.component, cause, delay)
        self._cause = cause
        self.health.pause(
            Fault(
                component=self.component,
                cause=cause,
                setting=self.setting,
                since=self._since,
                retry_after_s=delay,
                blocks_input=self.blocks_input,
            )
        )
        return delay

    def ok(self) -> None:
        if self._since is None:
            return
        log.warning(
            "%s resumed after %.0f s (%s)", self.component, time.time() - self._since, self._cause
        )
        self._since = None
        self._cause = None
        self._delay = self._first
        self.health.resume(self.component)


class StatusPublisher:
    """Writes the collector's state to `run/collector.json` for the supervisor and `/readyz`.

    Publishing is best effort: a status file that cannot be written (the very disk fault being
    reported) must not stop collection; it is tried again on the next change or tick.
    """

    def __init__(self, settings: Settings, health: IngestHealth) -> None:
        self._settings = settings
        self._health = health
        self._published: tuple[str, int, int] | None = None

    def publish(self, state: str | None = None) -> None:
        """Write `state` (default: running or paused, from the health) if anything changed, or
        if `REFRESH_SECONDS` passed since the last write."""
        key = (state or "", self._health.version, int(time.monotonic() // REFRESH_SECONDS))
        if key == self._published:
            return
        doc = {"pid": os.getpid(), "updated_at": time.time(), **self._health.snapshot()}
        if state is not None:
            doc["state"] = state
        try:
            write_collector_status(self._settings, doc)
        except OSError as exc:
            log.debug("collector status not written (%s); trying again later", exc)
            return
        self._published = key


def data_dir_setting(settings: Settings) -> str:
    """How a pause names the setting behind the spool: `data_dir=/path`."""
    return f"data_dir={settings.resolved_data_dir}"


def store_setting(settings: Settings) -> str:
    """How a consumer pause names the setting behind the event store."""
    if settings.event_store == "elasticsearch":
        return "elasticsearch_url (event_store=elasticsearch)"  # the URL may hold credentials
    return data_dir_setting(settings)
