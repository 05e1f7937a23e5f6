"""Reading a feed from where it lives: a local file or folder, or an HTTP(S) URL.

No network beyond what the operator configured: only `http://` and `https://` URLs the
settings or the importing admin name are fetched, with a timeout and a size cap. A folder of a
non-MISP-feed format is read file by file (`*.json`, or `*.csv` for CSV), in name order.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from intel.csv_feed import read_csv
from intel.misp import read_export, read_feed
from intel.schemas import FORMATS, Parsed
from intel.stix import read_bundle
from intel.warninglists import read_warninglist

MAX_BYTES = 200 * 1024 * 1024

READERS: dict[str, Callable[[bytes, str], Parsed]] = {
    "misp": read_export,
    "stix": read_bundle,
    "csv": read_csv,
    "warninglist": read_warninglist,
}


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def fetch_url(url: str, *, timeout: float) -> bytes:
    """GET one URL; OSError (with the reason) on any failure, never a partial body."""
    request = urllib.request.Request(url, headers={"User-Agent": "dijkwacht-intel"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body: bytes = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise OSError(f"HTTP {exc.code} {exc.reason} from {url}") from None
    except (urllib.error.URLError, TimeoutError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else "timed out"
        raise OSError(f"{reason} ({url})") from None
    if len(body) > MAX_BYTES:
        raise OSError(f"larger than {MAX_BYTES} bytes ({url})")
    return body


def read_location(location: str, fmt: str, *, timeout: float = 30) -> Parsed:
    """Parse a feed; an unreadable location is one issue, never an exception."""
    if fmt not in FORMATS:
        parsed = Parsed()
        parsed.reject(location, "format", f"unknown {fmt!r}; known: {', '.join(FORMATS)}")
        return parsed
    if fmt == "misp-feed":
        return read_feed(_fetcher(location, timeout), location)
    if not is_url(location) and Path(location).is_dir():
        merged = Parsed()
        pattern = "*.csv" if fmt == "csv" else "*.json"
        for path in sorted(Path(location).glob(pattern)):
            _merge(merged, _read_one(str(path), fmt, timeout))
        return merged
    return _read_one(location, fmt, timeout)


def _read_one(location: str, fmt: str, timeout: float) -> Parsed:
    try:
        if is_url(location):
            data = fetch_url(location, timeout=timeout)
        else:
            path = Path(location)
            if path.stat().st_size > MAX_BYTES:
                raise OSError(f"larger than {MAX_BYTES} bytes")
            data = path.read_bytes()
    except OSError as exc:
        parsed = Parsed()
        parsed.reject(location, "(document)", f"cannot read: {exc}")
        return parsed
    return READERS[fmt](data, location)


def _fetcher(location: str, timeout: float) -> Callable[[str], bytes]:
    base = location.rstrip("/")
    if is_url(location):
        return lambda name: fetch_url(f"{base}/{name}", timeout=timeout)
    return lambda name: (Path(base) / name).read_bytes()


def _merge(into: Parsed, part: Parsed) -> None:
    into.records += part.records
    into.warninglists += part.warninglists
    into.issues += part.issues
    into.rejected += part.rejected
    into.skipped += part.skipped
