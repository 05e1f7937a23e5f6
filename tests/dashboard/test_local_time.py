"""One clock: times are stored in UTC and shown in the municipality's zone, to the second."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from dashboard.app import age, create_templates, local_time

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def test_winter_and_summer_time() -> None:
    assert local_time(datetime(2026, 3, 28, 11, 0, 7, 123456, tzinfo=UTC), zone=AMSTERDAM) == (
        "28-03-2026 12:00:07"
    )
    # 72 hours later the clocks have moved forward: 13:00 local, summer time.
    assert local_time("2026-03-31T11:00:00+00:00", zone=AMSTERDAM) == "31-03-2026 13:00:00"


def test_deadlines_carry_the_utc_offset() -> None:
    winter = local_time("2026-01-05T08:00:00Z", zone=AMSTERDAM, offset=True)
    summer = local_time("2026-07-05T08:00:00Z", zone=AMSTERDAM, offset=True)
    assert winter == "05-01-2026 09:00:00 +01:00"
    assert summer == "05-07-2026 10:00:00 +02:00"


def test_values_that_are_not_times_pass_through() -> None:
    assert local_time(None, zone=AMSTERDAM) == ""
    assert local_time("not a time", zone=AMSTERDAM) == "not a time"
    assert local_time("2026-03-31T11:00:00", zone=AMSTERDAM) == "2026-03-31T11:00:00"  # naive


def test_templates_use_the_configured_zone() -> None:
    templates = create_templates("Europe/Amsterdam")
    rendered = templates.env.from_string("{{ t | local }}").render(t="2026-10-25T01:30:00Z")
    assert rendered == "25-10-2026 02:30:00"


def test_age_reads_as_a_duration() -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert age(now - timedelta(seconds=40), now) == "40 s"
    assert age(now - timedelta(hours=2, minutes=5), now) == "2 h 5 m"
    assert age(now - timedelta(days=3, hours=4), now) == "3 d 4 h"
    assert age(now + timedelta(hours=1), now) == "-1 h 0 m"
    assert age(None, now) == ""


@given(moment=st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30)))
def test_hand_formatting_agrees_with_strftime(moment: datetime) -> None:
    """The filter formats by hand for speed; it must say what strftime says, DST included."""
    aware = moment.replace(tzinfo=UTC)
    expected = aware.astimezone(AMSTERDAM).strftime("%d-%m-%Y %H:%M:%S")
    assert local_time(aware, zone=AMSTERDAM) == expected
