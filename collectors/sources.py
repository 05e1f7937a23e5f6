"""Thread-run collector sources (file tailers, live capture) under a restarting supervisor.

A source is a blocking function that runs until a shared ``threading.Event`` is set. A crash
must not silently end collection: the supervisor logs it with its traceback, counts it and
starts the source again after a back-off that doubles up to ``MAX_BACKOFF_SECONDS`` (a source
that then runs for ``STABLE_SECONDS`` starts again from the shortest back-off). Stopping is
cooperative: the stop event also interrupts a back-off wait.

A recoverable fault (full disk, read-only or locked spool) is not a crash: with an
`IngestHealth`, the tailers and live capture pause on it (`collectors.health.Pauser`) and retry
themselves, so no restart, traceback or crash count is spent on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from collectors.health import Pauser, data_dir_setting
from collectors.packets import capture_live
from collectors.spool import open_spool
from collectors.tailer import run_tailers
from core.store.faults import describe_fault

if TYPE_CHECKING:
    from collectors.health import IngestHealth
    from collectors.hooks import EnrichFn
    from core.config import Settings
    from core.events import Event

log = logging.getLogger(__name__)

SourceFn = Callable[[threading.Event], None]
MIN_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 60.0
STABLE_SECONDS = 60.0
JOIN_SECONDS = 10.0


@dataclass
class SupervisedSource:
    """One named source in its own thread; ``crashes`` counts restarts after a failure."""

    name: str
    run: SourceFn
    stop: threading.Event
    min_backoff: float = MIN_BACKOFF_SECONDS
    max_backoff: float = MAX_BACKOFF_SECONDS
    crashes: int = 0
    last_error: str | None = None
    thread: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> None:
        """Start the supervising thread (daemon: a stuck source cannot block exit forever)."""
        self.thread = threading.Thread(target=self._loop, name=f"source-{self.name}", daemon=True)
        self.thread.start()

    def join(self, timeout: float = JOIN_SECONDS) -> bool:
        """Wait for the source to return after ``stop`` is set; False if it did not in time."""
        if self.thread is None:
            return True
        self.thread.join(timeout)
        if self.thread.is_alive():
            log.error("source %s did not stop within %.0f s", self.name, timeout)
            return False
        return True

    def _loop(self) -> None:
        backoff = self.min_backoff
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                self.run(self.stop)
            except Exception as exc:  # boundary: report, count and restart the source
                self.crashes += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                if time.monotonic() - started >= STABLE_SECONDS:
                    backoff = self.min_backoff
                cause = describe_fault(exc)
                if cause is not None:  # a fault, not a bug: one line, no traceback
                    log.warning(
                        "source %s paused: %s; restarting in %.1f s", self.name, cause, backoff
                    )
                else:
                    log.exception(
                        "source %s crashed (%d so far); restarting in %.1f s",
                        self.name,
                        self.crashes,
                        backoff,
                    )
                self.stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            if not self.stop.is_set():
                # A source returns only when told to stop; anything else is a fault too.
                self.crashes += 1
                self.last_error = "returned before stop"
                log.error("source %s returned unexpectedly; restarting", self.name)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)


def tail_source(
    *, settings: Settings, enrich: EnrichFn | None, health: IngestHealth | None = None
) -> SourceFn:
    """The file tailers as one source (one thread, one spool connection)."""

    def run(stop: threading.Event) -> None:
        pauser = None
        if health is not None:
            pauser = Pauser(
                health=health, component="tail", setting=data_dir_setting(settings),
                blocks_input=False,
            )  # fmt: skip
        run_tailers(settings=settings, stop=stop, enrich=enrich, pauser=pauser)

    return run


def capture_source(
    *,
    settings: Settings,
    iface: str,
    enrich: EnrichFn | None,
    health: IngestHealth | None = None,
) -> SourceFn:
    """Live capture on ``iface``; events are enriched and spooled about once a second.

    On a recoverable spool fault the sink waits and retries (packets that arrive meanwhile
    queue in, and may overflow, the kernel's capture buffer: live traffic cannot be held back).
    """

    def run(stop: threading.Event) -> None:
        spool = open_spool(settings)
        source = f"iface:{iface}"
        pauser = None
        if health is not None:
            pauser = Pauser(
                health=health, component=f"capture-{iface}", setting=data_dir_setting(settings),
                blocks_input=False,
            )  # fmt: skip

        def sink(events: Sequence[Event]) -> None:
            batch = [enrich(e) for e in events] if enrich is not None else list(events)
            while True:
                try:
                    spool.append(batch, source=source)
                except Exception as exc:
                    delay = pauser.fault(exc) if pauser is not None else None
                    if delay is None or stop.is_set():
                        raise
                    stop.wait(delay)
                    continue
                if pauser is not None:
                    pauser.ok()
                return

        try:
            capture_live(iface=iface, sink=sink, stop=stop)
        finally:
            spool.close()

    return run


def start_sources(
    *,
    settings: Settings,
    stop: threading.Event,
    enrich: EnrichFn | None,
    health: IngestHealth | None = None,
) -> list[SupervisedSource]:
    """Start the tailers (when files are configured) and one capture per interface."""
    sources: list[SupervisedSource] = []
    if settings.tail_files:
        run = tail_source(settings=settings, enrich=enrich, health=health)
        sources.append(SupervisedSource("tail", run, stop))
    for iface in settings.capture_interfaces:
        run = capture_source(settings=settings, iface=iface, enrich=enrich, health=health)
        sources.append(SupervisedSource(f"capture-{iface}", run, stop))
    for source in sources:
        source.start()
    return sources
