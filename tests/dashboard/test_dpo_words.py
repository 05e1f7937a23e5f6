"""Human words on the DPO pages: history as sentences in Amsterdam time, clocks with time left."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.config import Settings
from dashboard.services.dpo_words import sentence, time_left
from playbooks.breach.models import BreachChange

AT = datetime(2026, 3, 17, 13, 2, tzinfo=UTC)  # 14:02 in Amsterdam (CET)


def test_history_is_a_sentence_with_labels_and_local_time() -> None:
    change = BreachChange(
        breach_id=1, at=AT, actor="J. de Vries", action="updated", field="subjects_min",
        before=120, after=140, note="",
    )  # fmt: skip
    line = sentence(change, Settings())
    assert line.startswith("17-03-2026 14:02 — J. de Vries")
    assert "changed Number of people affected, at least: 120 → 140" in line
    assert "subjects_min" not in line
    dutch = {"changed": "wijzigde", "Number of people affected, at least": "Minimaal getroffen"}
    line = sentence(change, Settings(), lambda text: dutch.get(text, text))
    assert "J. de Vries wijzigde Minimaal getroffen: 120 → 140" in line


def test_clock_tones_ok_amber_and_red() -> None:
    now = AT
    assert time_left(now + timedelta(hours=30), now).tone == "ok"
    amber = time_left(now + timedelta(hours=11, minutes=5), now)
    assert amber.tone == "amber" and "11 h 05 min left" in amber.text
    red = time_left(now - timedelta(hours=2), now)
    assert red.tone == "red" and "overdue by 2 h 00 min" in red.text
