from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.clock import FrozenClock, SystemClock, utc_iso


def test_frozen_clock_moves_only_when_told() -> None:
    clock = FrozenClock(datetime(2026, 3, 29, 0, 30, tzinfo=UTC))
    assert clock.now() == clock.now()
    clock.advance(timedelta(hours=2))
    assert clock.now() == datetime(2026, 3, 29, 2, 30, tzinfo=UTC)


def test_frozen_clock_normalises_to_utc_and_refuses_naive() -> None:
    amsterdam_summer = timezone(timedelta(hours=2))
    clock = FrozenClock(datetime(2026, 7, 1, 12, 0, tzinfo=amsterdam_summer))
    assert clock.now().utcoffset() == timedelta(0)
    assert clock.now().hour == 10
    with pytest.raises(ValueError):
        FrozenClock(datetime(2026, 1, 1))


def test_system_clock_is_aware_utc() -> None:
    assert SystemClock().now().tzinfo is UTC


def test_utc_iso_format() -> None:
    moment = datetime(2026, 10, 25, 1, 2, 3, 456789, tzinfo=timezone(timedelta(hours=2)))
    assert utc_iso(moment) == "2026-10-24T23:02:03.456Z"
