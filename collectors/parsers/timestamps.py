"""Timestamp readers shared by the syslog-style parsers.

BSD syslog ("Mmm dd hh:mm:ss") carries no year and no zone. The zone is configured per parser;
the year is inferred from the reception time: the latest year that does not put the record more
than `future_tolerance` after reception. That handles the New Year rollover both ways (a
"Dec 31" line read on 1 January is last year; a "Jan 1" line from a sender whose clock runs a
little ahead, read on 31 December, is next year) and keeps old files in their own year.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

from collectors.parsers.base import ParseError

MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}

DEFAULT_FUTURE_TOLERANCE = timedelta(days=1)

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?(Z|[+-][0-9]{2}:[0-9]{2})"
)
# Looser ISO form some 3164 senders (rsyslog's RFC3339 template, journald exports) write.
_ISO_LOOSE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:[.,]([0-9]{1,9}))?"
    r"(Z|z|[+-][0-9]{2}:?[0-9]{2})?"
)


def _fraction(digits: str | None) -> int:
    """Microseconds from a fraction of any length (longer fractions are truncated)."""
    if not digits:
        return 0
    return int(digits[:6].ljust(6, "0"))


def _offset(text: str, field: str) -> timezone:
    if text in ("Z", "z"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise ParseError(f"time zone offset {text} out of range", field=field)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_rfc3339(text: str, *, field: str = "timestamp") -> datetime:
    """Strict RFC 5424 TIMESTAMP: RFC 3339 with at most 6 fraction digits and an offset."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ParseError("not an RFC 3339 timestamp", field=field)
    year, month, day, hour, minute, second, frac, offset = match.groups()
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            _fraction(frac),
            tzinfo=_offset(offset, field),
        )
    except ValueError as exc:
        raise ParseError(f"impossible date or time ({exc})", field=field) from None


def parse_iso_loose(text: str, *, default_tz: tzinfo, field: str = "timestamp") -> datetime:
    """ISO 8601 date-time as found inside BSD syslog lines; no offset means `default_tz`."""
    match = _ISO_LOOSE.fullmatch(text)
    if match is None:
        raise ParseError("not an ISO 8601 timestamp", field=field)
    year, month, day, hour, minute, second, frac, offset = match.groups()
    zone = _offset(offset, field) if offset else default_tz
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            _fraction(frac),
            tzinfo=zone,
        )
    except ValueError as exc:
        raise ParseError(f"impossible date or time ({exc})", field=field) from None


def bsd_timestamp(
    *,
    month_name: str,
    day: int,
    clock: str,
    fraction: str | None,
    year: int | None,
    tz: tzinfo,
    reference: datetime,
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE,
    field: str = "timestamp",
) -> datetime:
    """A BSD "Mmm dd hh:mm:ss" time in `tz`, the year taken from `year` or inferred."""
    month = MONTHS.get(month_name.lower())
    if month is None:
        raise ParseError(f"unknown month {month_name[:3]!r}", field=field)
    hour, minute, second = int(clock[0:2]), int(clock[3:5]), int(clock[6:8])
    micro = _fraction(fraction)
    if year is not None:
        candidates = [year]
    else:
        ref_year = reference.astimezone(tz).year
        candidates = [ref_year + 1, ref_year, ref_year - 1]
    latest_allowed = reference + future_tolerance
    last_error = "no valid year"
    for candidate in candidates:
        try:
            moment = datetime(candidate, month, day, hour, minute, second, micro, tzinfo=tz)
        except ValueError as exc:
            last_error = str(exc)
            continue
        if year is not None or moment <= latest_allowed:
            return moment
    raise ParseError(f"impossible date or time ({last_error})", field=field)
