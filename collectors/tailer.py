"""Follow log files across rotation and spool their lines exactly once.

A file is identified by (device, inode), not by name: logrotate's rename rotation gives the
path a new inode (we finish the old file through the handle still open, then start the new one
at 0) and copytruncate keeps the inode but shrinks the file (we start again at 0). The offset
after the last complete line is saved as checkpoint `file:<path>` = `"dev:ino:offset"` in the
same spool transaction as the events read up to it, so after a crash (even SIGKILL) we resume
exactly there: no line skipped, none spooled twice. If the path was rotated while we were down,
the old file is found again by its inode next to the path and read to its end first.

Limits: a line without a newline yet waits (it may still be being written); a line longer than
`max_line` bytes is dead-lettered with its first bytes and skipped without being held in
memory. Copytruncate cannot be lossless for any tailer: lines written between our last read and
the truncation are only in the copy.

Pause: when a spool write fails on a recoverable fault (full disk, read-only or locked spool),
`run_tailers` with a `Pauser` drops what it read but did not commit, waits with back-off and
then starts every tailer again from its committed checkpoint: the files keep the lines, so the
tailers stop advancing while paused and resume exactly where the spool says they were.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from collectors.parsers import HeaderRow, ParseError, Parser, get_parser, zone_options
from collectors.spool import Spool, open_spool
from core.errors import ConfigError
from core.events import Event
from core.privacy.service import Pseudonymiser
from core.store.base import DeadLetter

if TYPE_CHECKING:
    from collectors.health import Pauser
    from collectors.hooks import EnrichFn
    from collectors.spool import Spool
    from core.config import Settings

MAX_LINE_BYTES = 1024 * 1024
MAX_DEAD_RAW = 64 * 1024  # bytes of an oversized line kept with its dead letter
CHUNK = 64 * 1024
BATCH_LINES = 1000


@dataclass(frozen=True, slots=True)
class Position:
    """Where the next unread line starts; `skipping`: inside an oversized line."""

    dev: int
    ino: int
    offset: int
    skipping: bool = False

    def encode(self) -> str:
        return f"{self.dev}:{self.ino}:{self.offset}" + (":skip" if self.skipping else "")

    @classmethod
    def decode(cls, value: Any) -> Position | None:
        if not isinstance(value, str):
            return None
        parts = value.split(":")
        if len(parts) not in (3, 4) or not all(part.isdigit() for part in parts[:3]):
            return None
        return cls(int(parts[0]), int(parts[1]), int(parts[2]), len(parts) == 4)


class FileTailer:
    """Tails one path; call `poll()` repeatedly (it never blocks on the file)."""

    def __init__(
        self,
        *,
        path: Path,
        parser: Parser,
        spool: Spool,
        max_line: int = MAX_LINE_BYTES,
        batch_lines: int = BATCH_LINES,
        enrich: EnrichFn | None = None,
    ) -> None:
        self.path = Path(path)
        self.enrich = enrich
        self.parser = parser
        self.spool = spool
        self.max_line = max_line
        self.batch_lines = batch_lines
        self.source = f"file:{self.path}"
        self.key = f"file:{self.path}"
        self._handle: BinaryIO | None = None
        self._pos: Position | None = None
        self._committed: Position | None = None
        self._events: list[Event] = []
        self._dead: list[DeadLetter] = []

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    # -- the loop step -------------------------------------------------------------------------

    def poll(self) -> int:
        """Read and spool every complete line available now; return how many lines were read."""
        if self.spool.is_full():
            return 0  # back-pressure: the file keeps the data, we read it later
        if self._handle is None and not self._open():
            return 0
        count = self._drain()
        rotated = self._rotation()
        if rotated is not None:
            # Renamed away: the old file is complete once the writer reopens the path.
            count += self._drain(final=True)
            self._switch(rotated)
            count += self._drain()
        return count

    def _open(self) -> bool:
        """Open the path and find where to start from the checkpoint (see the module doc)."""
        saved = Position.decode(self.spool.checkpoint(self.key))
        if saved is not None:
            old = self._find_by_inode(saved)
            if old is not None and not self._same_as_path(saved):
                # Rotated while we were down: finish the old file first.
                self._handle, self._pos, self._committed = old, saved, saved
                return True
            if old is not None:
                old.close()
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return False
        stat = os.fstat(handle.fileno())
        if saved is not None and (saved.dev, saved.ino) == (stat.st_dev, stat.st_ino):
            start = saved if saved.offset <= stat.st_size else Position(saved.dev, saved.ino, 0)
        else:
            start = Position(stat.st_dev, stat.st_ino, 0)
        self._handle, self._pos = handle, start
        self._committed = saved
        return True

    def _same_as_path(self, pos: Position) -> bool:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return False
        return (stat.st_dev, stat.st_ino) == (pos.dev, pos.ino)

    def _find_by_inode(self, pos: Position) -> BinaryIO | None:
        """The file with this (dev, inode) among the path and its rotated siblings."""
        candidates = [self.path]
        try:
            candidates += sorted(
                entry
                for entry in self.path.parent.iterdir()
                if entry.name.startswith(self.path.name) and entry != self.path
            )
        except FileNotFoundError:
            return None
        for candidate in candidates:
            try:
                stat = candidate.stat()
            except OSError:
                continue
            if (stat.st_dev, stat.st_ino) == (pos.dev, pos.ino):
                try:
                    return candidate.open("rb")
                except OSError:
                    return None
        return None

    def _rotation(self) -> Position | None:
        """The new file's start if the path now names another inode or the file shrank."""
        assert self._handle is not None and self._pos is not None
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return None  # between rename and create; the old handle stays until a new file shows
        if (stat.st_dev, stat.st_ino) != (self._pos.dev, self._pos.ino):
            return Position(stat.st_dev, stat.st_ino, 0)
        if stat.st_size < self._pos.offset:  # copytruncate
            self._pos = Position(self._pos.dev, self._pos.ino, 0)
            self._commit()
        return None

    def _switch(self, start: Position) -> None:
        self.close()
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return
        stat = os.fstat(handle.fileno())
        self._handle = handle
        self._pos = Position(stat.st_dev, stat.st_ino, 0)
        self._commit()

    # -- reading -------------------------------------------------------------------------------

    def _drain(self, *, final: bool = False) -> int:
        """Read complete lines from the current position; `final`: the file will not grow."""
        assert self._handle is not None and self._pos is not None
        handle = self._handle
        handle.seek(self._pos.offset)
        buffer = b""
        count = 0
        while True:
            chunk = handle.read(CHUNK)
            if not chunk:
                break
            buffer += chunk
            start = 0
            while True:
                newline = buffer.find(b"\n", start)
                if newline < 0:
                    break
                line = buffer[start : newline + 1]
                start = newline + 1
                pos = self._pos
                # Moving past a newline ends any oversized line being skipped.
                self._pos = Position(pos.dev, pos.ino, pos.offset + len(line))
                if not pos.skipping:
                    count += self._line(line, pos.offset)
            buffer = buffer[start:]
            if len(buffer) > self.max_line or (self._pos.skipping and buffer):
                self._oversized(buffer)
                buffer = b""
            if len(self._events) + len(self._dead) >= self.batch_lines:
                self._commit()
        if final and buffer:  # the last line of a rotated file never gets its newline
            offset = self._pos.offset
            self._pos = Position(self._pos.dev, self._pos.ino, offset + len(buffer))
            count += self._line(buffer, offset)
        self._commit()
        return count

    def _oversized(self, buffer: bytes) -> None:
        """Dead-letter the start of a runaway line once, then skip the rest of it."""
        pos = self._pos
        assert pos is not None
        if not pos.skipping:
            self._dead.append(
                DeadLetter(
                    source=self.source,
                    reason=(
                        f"{self.path}: byte offset {pos.offset}: line longer than "
                        f"{self.max_line} bytes; first {MAX_DEAD_RAW} bytes kept"
                    ),
                    raw=buffer[:MAX_DEAD_RAW],
                    offset=pos.offset,
                    raw_length=len(buffer),
                )
            )
        self._pos = Position(pos.dev, pos.ino, pos.offset + len(buffer), skipping=True)

    def _line(self, line: bytes, offset: int) -> int:
        if not line.strip():
            return 0
        try:
            event = self.parser.parse(line, received_at=datetime.now(UTC), source=self.source)
        except HeaderRow:
            return 0
        except ParseError as exc:
            redact = getattr(self.parser, "redact", None)
            raw = redact(line) if callable(redact) else line
            self._dead.append(
                DeadLetter(
                    source=self.source,
                    reason=f"{self.path}: byte offset {offset}: {exc}",
                    raw=raw,
                    offset=offset,
                )
            )
            return 1
        self._events.append(self.enrich(event) if self.enrich is not None else event)
        return 1

    def _commit(self) -> None:
        """Spool what was read with the position after it, in one transaction."""
        assert self._pos is not None
        if not self._events and not self._dead and self._pos == self._committed:
            return  # nothing new: no fsync per idle poll
        self.spool.append(
            self._events,
            source=self.source,
            dead=self._dead,
            checkpoint=(self.key, self._pos.encode()),
        )
        self._events, self._dead = [], []
        self._committed = self._pos


# -- configuration and running -----------------------------------------------------------------


def build_tailers(
    *,
    settings: Settings,
    spool: Spool,
    files: Sequence[Any] | None = None,
    enrich: EnrichFn | None = None,
) -> list[FileTailer]:
    """One tailer per `settings.tail_files` entry (path + format), parsers built with settings."""

    entries = settings.tail_files if files is None else files
    tailers = []
    for index, entry in enumerate(entries):
        options: dict[str, Any] = zone_options(settings)
        if entry.format.startswith("app-audit-") or entry.format == "ldv":
            options["pseudonymiser"] = Pseudonymiser(
                settings.secret("pseudonym_key").encode("utf-8")
            )
        try:
            parser = get_parser(entry.format, **options)
        except ConfigError as exc:
            raise ConfigError(f"tail_files[{index}].format: {exc}") from None
        tailers.append(FileTailer(path=Path(entry.path), parser=parser, spool=spool, enrich=enrich))
    return tailers


def run_tailers(
    *,
    settings: Settings,
    stop: threading.Event,
    poll_interval: float | None = None,
    files: Sequence[Any] | None = None,
    enrich: EnrichFn | None = None,
    pauser: Pauser | None = None,
) -> None:
    """Tail every configured file until `stop` is set (one thread; its own spool connection).

    `enrich` runs on each parsed line before it is spooled (see `collectors.hooks`). With a
    `pauser`, recoverable spool faults pause the tailers (see the module docstring).
    """

    interval = settings.tail_poll_interval if poll_interval is None else poll_interval
    spool = open_spool(settings)
    try:
        tailers = build_tailers(settings=settings, spool=spool, files=files, enrich=enrich)
    except BaseException:
        spool.close()
        raise
    try:
        while not stop.is_set():
            try:
                busy = sum(tailer.poll() for tailer in tailers)
            except Exception as exc:
                delay = pauser.fault(exc) if pauser is not None else None
                if delay is None:
                    raise
                for tailer in tailers:
                    tailer.close()
                stop.wait(delay)
                # Fresh tailers start from the committed checkpoints: nothing skipped or repeated.
                tailers = build_tailers(settings=settings, spool=spool, files=files, enrich=enrich)
                continue
            if pauser is not None:
                pauser.ok()
            if not busy:
                stop.wait(interval)
    finally:
        for tailer in tailers:
            tailer.close()
        spool.close()


def _main(argv: Sequence[str] | None = None) -> None:
    """`python -m collectors.tailer SPOOL PATH:FORMAT...`: tail without settings (tests)."""

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("spool", type=Path)
    parser.add_argument("files", nargs="+", help="PATH:FORMAT")
    parser.add_argument("--interval", type=float, default=0.05)
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    spool = Spool(args.spool)
    tailers = []
    for item in args.files:
        path, _, fmt = item.rpartition(":")
        tailers.append(FileTailer(path=Path(path), parser=get_parser(fmt), spool=spool))
    while not stop.is_set():
        if not sum(tailer.poll() for tailer in tailers):
            time.sleep(args.interval)
    spool.close()


if __name__ == "__main__":
    _main()
