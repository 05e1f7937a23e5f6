"""Runtime state files shared by the `up` supervisor, the collector and the health page.

`run/supervisor.json` holds the supervisor's children (state, pid, restarts, last exit code);
`run/collector.json` holds the collector's own state (running, paused with the reasons,
stopped). Both are small JSON documents replaced atomically, so readers never see half of one.
A full disk cannot stop the collector from saying it is paused because of that full disk: when
the atomic replace fails with ENOSPC, the document is written over the existing file in place
(padded to `STATUS_FILE_BYTES`, so it needs no new blocks).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path
from typing import Any

import orjson

from core.config import Settings
from core.errors import ConfigError

# Status files are kept at this size (JSON padded with spaces) so an in-place rewrite fits.
STATUS_FILE_BYTES = 4096


def supervisor_status_path(settings: Settings) -> Path:
    return settings.resolved_data_dir / "run" / "supervisor.json"


# prometheus_client reads this variable when it is imported: set, every metric of the process
# lives in a memory-mapped file in that folder (its multiprocess mode).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def http_metrics_dir(settings: Settings) -> Path:
    """Where the web workers of one `dijkwacht up` share their HTTP metrics (prometheus_client's
    multiprocess mode: one memory-mapped file per worker, summed at scrape time)."""
    return settings.resolved_data_dir / "run" / "http-metrics"


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


# -- the data directory: usable, private ---------------------------------------------------------

# Processes of the platform create files readable by their owner only (databases hold password
# hashes, personal data and the audit log); set at every entry point (CLI, Celery).
PRIVATE_UMASK = 0o077
DATA_DIR_MODE = 0o700
FILE_MODE = 0o600
# A start-up write of this size must succeed: less free space than this is "disk full".
PROBE_BYTES = 64 * 1024


class DataDirError(ConfigError):
    """`data_dir` cannot be used; the message names the setting, the path and the reason."""


def private_umask() -> None:
    """Files and directories the process creates from now on are private to its user."""
    os.umask(PRIVATE_UMASK)


def prepare_data_dir(settings: Settings) -> Path:
    """Create `data_dir` (0700), prove it takes writes, and make what it holds private.

    Raise `DataDirError` naming `data_dir`, the path and the reason (not a directory, read-only,
    not writable, disk full) rather than letting the first database open fail with a traceback.
    Existing files are tightened to 0600 and directories to 0700 (installs from before file
    modes were enforced).
    """
    path = settings.resolved_data_dir
    try:
        path.mkdir(parents=True, exist_ok=True, mode=DATA_DIR_MODE)
    except FileExistsError:
        raise DataDirError(f"data_dir={path}: exists and is not a directory") from None
    except OSError as exc:
        raise DataDirError(f"data_dir={path}: cannot create it ({_reason(exc)})") from None
    if not path.is_dir():
        raise DataDirError(f"data_dir={path}: exists and is not a directory")
    probe = path / f".write-probe-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        try:
            os.write(fd, b"\0" * PROBE_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise DataDirError(f"data_dir={path}: cannot write to it ({_reason(exc)})") from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    try:
        tighten_modes(path)
    except OSError as exc:
        raise DataDirError(f"data_dir={path}: cannot restrict its modes ({_reason(exc)})") from None
    return path


def tighten_modes(path: Path) -> None:
    """0700 for `path` and the directories below it, 0600 for its files (symlinks untouched)."""
    os.chmod(path, DATA_DIR_MODE)
    for root, dirs, files in os.walk(path):
        for name in dirs:
            _chmod_if(Path(root) / name, DATA_DIR_MODE)
        for name in files:
            _chmod_if(Path(root) / name, FILE_MODE)


def _chmod_if(path: Path, mode: int) -> None:
    try:
        st = path.lstat()
    except FileNotFoundError:  # removed while we walked (a WAL checkpoint, a temp file)
        return
    if stat.S_ISLNK(st.st_mode) or stat.S_IMODE(st.st_mode) == mode:
        return
    with contextlib.suppress(FileNotFoundError):
        os.chmod(path, mode)


def _reason(exc: OSError) -> str:
    names = {
        errno.EROFS: "read-only file system",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.ENOSPC: "disk full",
        errno.EDQUOT: "disk quota exceeded",
        errno.ENOTDIR: "a parent is not a directory",
    }
    code = errno.errorcode.get(exc.errno or 0, "error")
    return f"{names.get(exc.errno or 0, exc.strerror or str(exc))}, {code}"
