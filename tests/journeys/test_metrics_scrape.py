"""The operators' scraper reads /metrics from a running platform, as Prometheus would.

The scraper uses an API token with the `read:metrics` scope that the admin issued on the command
line (the counts include open breach deadlines, so anonymous callers are refused); after the analyst
used the alert queue, the latency histogram names the route template and the demo's alerts are
counted.
"""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.journeys.conftest import Journey


def test_operator_scrapes_platform_metrics(journey: Journey) -> None:
    analyst = journey.login("analyst")
    analyst.goto("/alerts")
    analyst.get_by_test_id("alert-table").wait_for()

    url = f"{journey.platform.base_url}/metrics"
    assert httpx.get(url, timeout=30).status_code in (303, 401)  # anonymous: refused
    token = (
        journey.platform.cli(
            "tokens",
            "create",
            "--user",
            "beheerder",
            "--scope",
            "read:metrics",
            "--name",
            "prometheus",
        )
        .splitlines()[0]
        .strip()
    )
    response = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    for name in (
        "dijkwacht_collector_received",
        "dijkwacht_spool_pending",
        "dijkwacht_detection_events",
        "dijkwacht_detection_rule_matches",
        "dijkwacht_detection_rule_load_problems",
        "dijkwacht_alerts",
        "dijkwacht_incidents",
        "dijkwacht_breach_deadlines_due_24h",
        "dijkwacht_http_request_duration_seconds",
    ):
        assert name in families, f"{name} missing from /metrics"
    assert families["dijkwacht_platform_metrics_up"].samples[0].value == 1
    alerts = sum(s.value for s in families["dijkwacht_alerts"].samples)
    assert alerts > 0, "the demo day's alerts are not counted"
    routes = {
        s.labels.get("route") for s in families["dijkwacht_http_request_duration_seconds"].samples
    }
    assert "/alerts" in routes

    page = journey.login("admin")
    page.goto("/metrics")
    page.get_by_text("dijkwacht_alerts").first.wait_for()
    journey.shot(
        page, "operator opens /metrics: Prometheus text with platform counts", full_page=False
    )
