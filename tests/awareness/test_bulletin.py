"""The bulletin follows the alert mix of the last 30 days and carries no personal data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from awareness.loader import Library
from awareness.service import bulletin_ranking, monthly_bulletin
from core.config import Settings
from core.store.base import AlertStore, NewAlert
from core.store.factory import open_alert_store

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
PERSONAL = ("jan.jansen", "WS-BURGERZAKEN-07", "10.20.1.44", "Jan Jansen")


def _seed(
    store: AlertStore, tag: str, count: int, *, days_ago: int = 3, exercise: bool = False
) -> None:
    store.add_batch(
        [
            NewAlert(
                rule_id=f"rule-{tag}",
                rule_title=f"Rule for {tag} seen on {PERSONAL[1]}",
                level="high",
                created_at=NOW - timedelta(days=days_ago, minutes=index),
                host_name=PERSONAL[1],
                user_name=PERSONAL[0],
                exercise_id="drill-1" if exercise else None,
                body={"tags": [tag], "source.ip": PERSONAL[2], "user.full_name": PERSONAL[3]},
            )
            for index in range(count)
        ]
    )


def _order(library: Library, store: AlertStore) -> list[str]:
    return [item.topic_id for item in bulletin_ranking(library=library, alert_store=store, now=NOW)]


def test_ranking_follows_the_alert_mix(library: Library, settings: Settings) -> None:
    store = open_alert_store(settings)
    try:
        quiet = _order(library, store)
        assert quiet == [t.id for t in library.topics]  # no signal: authored order
        _seed(store, "attack.t1110.004", 5)  # credential stuffing
        _seed(store, "attack.t1566.001", 2)  # phishing attachments
        first = _order(library, store)
        assert first[:2] == ["passphrases", "two-step-login"]
        assert first[-1] == "help"  # the noodknop always closes the bulletin
        _seed(store, "attack.t1566.002", 20)  # a phishing wave
        second = _order(library, store)
        assert second[0] == "phishing"
        assert second != first
        _seed(store, "attack.t1486", 50, days_ago=45)  # outside the 30 days: ignored
        _seed(store, "attack.t1486", 50, exercise=True)  # a drill: ignored
        assert _order(library, store) == second
    finally:
        store.close()


def test_bulletin_has_no_personal_or_incident_detail(library: Library, settings: Settings) -> None:
    store = open_alert_store(settings)
    try:
        _seed(store, "attack.t1486", 4)
        _seed(store, "attack.t1566", 1)
        html = monthly_bulletin(
            library=library, alert_store=store, now=NOW, lang="nl", audience="business"
        ).content.decode("utf-8")
    finally:
        store.close()
    for value in (*PERSONAL, "rule-attack", "Rule for", "t1486", "t1566"):
        assert value not in html
    assert html.index("Gijzelsoftware") < html.index("Phishing")
    assert "Veel gezien" in html
