"""The incident list's time range: presets and custom in the URL, a histogram per severity."""

from __future__ import annotations

from datetime import timedelta

from core.accounts.models import Role
from playbooks.service import create_incident
from tests.dashboard.conftest import Env, add_user, login

JSON = {"Accept": "application/json"}


def test_incident_list_narrows_to_a_range_and_draws_a_histogram(env: Env) -> None:
    add_user(env, "ana", Role.ANALYST)
    start = env.clock.now()
    for age, title, severity in (
        (timedelta(days=20), "Oud lek", "high"),
        (timedelta(days=3), "Phishing", "low"),
        (timedelta(minutes=5), "Brute force", "critical"),
    ):
        env.clock.set(start - age)
        with env.write() as db:
            create_incident(db=db, clock=env.clock, title=title, severity=severity, actor="a")
    env.clock.set(start)
    client = env.client()
    login(client, "ana")
    everything = client.get("/incidents").text  # open incidents never drop out by age
    assert all(t in everything for t in ("Oud lek", "Phishing", "Brute force"))
    hour = client.get("/incidents", params={"range": "1h", "show": "all"})
    assert hour.status_code == 200
    assert "Brute force" in hour.text and "Phishing" not in hour.text
    assert 'data-testid="histogram"' in hour.text and "<svg" in hour.text
    assert 'aria-current="true" class="current" data-range="1h"' in hour.text
    assert "show=all&amp;range=7d" in hour.text  # presets keep the filters
    table = hour.text.split('data-testid="histogram-table"')[1].split("</table>")[0]
    assert '<th scope="col">critical</th>' in table and "<td>1</td>" in table
    week = client.get("/api/incidents", params={"range": "7d"}, headers=JSON).json()
    assert sorted(i["title"] for i in week) == ["Brute force", "Phishing"]
    custom = client.get(
        "/api/incidents",
        params={"range": "custom", "from": "2026-11-01T00:00", "to": "2026-11-10T00:00"},
        headers=JSON,
    ).json()
    assert [i["title"] for i in custom] == ["Oud lek"]
    bad = client.get("/incidents", params={"range": "custom", "from": "gisteren"})
    assert bad.status_code == 400 and "from" in bad.text
