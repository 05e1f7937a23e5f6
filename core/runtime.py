"""Runtime state files shared by the `up` supervisor, the collector and the health page.

`run/supervisor.json` holds the supervisor's children (state, pid, restarts, last exit code);
`run/collector.json` holds the collector's own state (running, paused with the reasons,
stopped). Both are small JSON documents replaced atomically, so readers never see half of one.
A full disk cannot stop the collector from saying it is paused because of that full disk: when
the atomic replace fails with ENOSPC, the document is written over the existing file in place
(padded to `STATUS_FILE_BYTES`, so it needs no new blocks).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import orjson

from core.config import Settings

# Status files are kept at this size (JSON padded with spaces) so an in-place rewrite fits.
STATUS_FILE_BYTES = 4096


def supervisor_status_path(settings: Settings) -> Path:
    return settings.resolved_data_dir / "run" / "supervisor.json"


def collector_status_path(settings: Settings) -> Path:
    return settings.resolved_data_dir / "run" / "collector.json"


def write_status_file(path: Path, status: dict[str, Any]) -> None:
    """Replace `path` atomically; on a full disk overwrite it in place (see the docstring)."""
    body = orjson.dumps(status)
    if len(body) < STATUS_FILE_BYTES:
        body = body.ljust(STATUS_FILE_BYTES, b" ")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_bytes(body)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT) or len(body) > STATUS_FILE_BYTES:
            raise
        fd = os.open(path, os.O_WRONLY)
        try:
            os.pwrite(fd, body, 0)
        finally:
            os.close(fd)


def read_status_file(path: Path) -> dict[str, Any] | None:
    """The document, or None when it is missing or being rewritten in place (read again)."""
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def write_supervisor_status(settings: Settings, status: dict[str, Any]) -> None:
    write_status_file(supervisor_status_path(settings), status)


def read_supervisor_status(settings: Settings) -> dict[str, Any] | None:
    return read_status_file(supervisor_status_path(settings))


def write_collector_status(settings: Settings, status: dict[str, Any]) -> None:
    write_status_file(collector_status_path(settings), status)


def read_collector_status(settings: Settings) -> dict[str, Any] | None:
    return read_status_file(collector_status_path(settings))
