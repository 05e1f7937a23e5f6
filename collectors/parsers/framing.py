"""RFC 6587 framing for syslog over TCP: octet counting (`LEN SP MSG`) or LF-terminated.

The framing is detected once per connection from its first byte (a digit means octet
counting; RFC 6587 §3.4.1 frames start with a non-zero digit, non-transparent ones with `<`).
Framers are incremental and bounded: `feed()` returns the frames completed so far and never
buffers more than `max_frame` bytes; a longer frame becomes an error frame holding its first
bytes (so the caller can dead-letter something) while the rest is skipped.
"""

from __future__ import annotations

from enum import Enum
from typing import NamedTuple

DEFAULT_MAX_FRAME = 64 * 1024
ERROR_SAMPLE = 256  # bytes of an oversized or broken frame kept for the dead-letter record
_MAX_LENGTH_DIGITS = 10


class Framing(Enum):
    OCTET_COUNTING = "octet-counting"
    NON_TRANSPARENT = "lf"


class Frame(NamedTuple):
    """One complete frame, or (when `error` is set) the start of one that was refused.

    A NamedTuple: one is built per record on the ingest hot path (a frozen dataclass costs
    several times as much), and it is the `(data, error)` pair the syslog server converts.
    """

    data: bytes
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class SyslogFramer:
    """Split one TCP connection's byte stream into syslog frames.

    After an unrecoverable octet-counting error (a length that is not a number) the stream
    cannot be resynchronised; `broken` turns true and the caller should close the connection.
    """

    def __init__(self, *, max_frame: int = DEFAULT_MAX_FRAME, framing: Framing | None = None):
        if max_frame < 1:
            raise ValueError("max_frame must be positive")
        self.max_frame = max_frame
        self.framing = framing
        self.broken = False
        self._buffer = bytearray()
        self._skip = 0  # octet counting: bytes of an oversized frame still to discard
        self._discarding = False  # LF framing: inside an oversized frame, waiting for LF

    def feed(self, data: bytes) -> list[Frame]:
        """Add received bytes; return every frame completed by them, in order."""
        if self.broken or not data:
            return []
        if self.framing is None:
            first = data.lstrip(b"\r\n")[:1]
            if not first:
                return []
            self.framing = (
                Framing.OCTET_COUNTING if first in b"123456789" else Framing.NON_TRANSPARENT
            )
        if self.framing is Framing.OCTET_COUNTING:
            return self._feed_counted(data)
        return self._feed_lines(data)

    def flush(self) -> list[Frame]:
        """End of stream: an unterminated LF frame is complete; a short counted one is not."""
        rest, self._buffer = bytes(self._buffer), bytearray()
        if self._discarding:
            self._discarding = False
            return []
        if self.framing is Framing.NON_TRANSPARENT:
            rest = rest.rstrip(b"\r")
            return [Frame(rest)] if rest else []
        if rest or self._skip:
            self._skip = 0
            return [Frame(rest[:ERROR_SAMPLE], "connection closed inside a counted frame")]
        return []

    def _feed_lines(self, data: bytes) -> list[Frame]:
        frames: list[Frame] = []
        start = 0
        while start < len(data):
            newline = data.find(b"\n", start)
            chunk = data[start:] if newline < 0 else data[start:newline]
            if self._discarding:
                if newline >= 0:
                    self._discarding = False
            else:
                room = self.max_frame - len(self._buffer)
                if len(chunk) > room:
                    sample = (bytes(self._buffer) + chunk)[:ERROR_SAMPLE]
                    frames.append(Frame(sample, f"frame longer than {self.max_frame} bytes"))
                    self._buffer.clear()
                    self._discarding = newline < 0
                elif newline >= 0:
                    self._buffer += chunk
                    line = bytes(self._buffer).rstrip(b"\r")
                    self._buffer.clear()
                    if line:
                        frames.append(Frame(line))
                else:
                    self._buffer += chunk
            if newline < 0:
                break
            start = newline + 1
        return frames

    def _feed_counted(self, data: bytes) -> list[Frame]:
        frames: list[Frame] = []
        view = memoryview(data)
        if self._skip:
            skipped = min(self._skip, len(view))
            self._skip -= skipped
            view = view[skipped:]
        self._buffer += view
        while self._buffer and not self.broken:
            # Tolerate stray LFs between frames (some senders add them).
            while self._buffer[:1] in (b"\n", b"\r"):
                del self._buffer[:1]
            if not self._buffer:
                break
            space = self._buffer.find(b" ", 0, _MAX_LENGTH_DIGITS + 1)
            if space < 0:
                if len(self._buffer) > _MAX_LENGTH_DIGITS or not bytes(self._buffer).isdigit():
                    frames.append(self._break("expected MSG-LEN (digits) and a space"))
                break
            length_text = bytes(self._buffer[:space])
            if not length_text.isdigit() or length_text.startswith(b"0"):
                frames.append(self._break("MSG-LEN is not a positive number"))
                break
            length = int(length_text)
            body_start = space + 1
            if length > self.max_frame:
                available = bytes(self._buffer[body_start : body_start + length])
                frames.append(
                    Frame(available[:ERROR_SAMPLE], f"frame longer than {self.max_frame} bytes")
                )
                self._skip = length - len(available)
                del self._buffer[: body_start + len(available)]
                continue
            if len(self._buffer) - body_start < length:
                break
            frames.append(Frame(bytes(self._buffer[body_start : body_start + length])))
            del self._buffer[: body_start + length]
        return frames

    def _break(self, reason: str) -> Frame:
        self.broken = True
        sample = bytes(self._buffer[:ERROR_SAMPLE])
        self._buffer.clear()
        return Frame(sample, reason)
