"""Helpers for collector tests over real sockets on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def rfc5424(seq: int, *, app: str = "app") -> bytes:
    return f"<34>1 2025-01-31T09:15:00Z web-01 {app} 42 ID47 - seq={seq}".encode()


def octet_frame(message: bytes) -> bytes:
    return str(len(message)).encode() + b" " + message


def wait_for(check: Callable[[], Any], *, timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
