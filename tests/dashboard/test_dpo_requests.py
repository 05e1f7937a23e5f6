"""Residents' requests register: record (BSN checked, never stored), clock, report, answer."""

from __future__ import annotations

from core.accounts.models import Role
from tests.dashboard.conftest import Env, add_user, login

VALID_BSN = "111222333"


def test_request_register_with_clock_report_and_answer(env: Env) -> None:
    add_user(env, "fg", Role.DPO)
    client = env.client()
    csrf = login(client, "fg")
    bad = client.post(
        "/dpo/requests",
        data={"csrf_token": csrf, "kind": "access", "requester": "A. Jansen", "bsn": "123"},
    )
    assert bad.status_code == 422
    assert 'data-testid="error-bsn"' in bad.text and 'value="A. Jansen"' in bad.text
    made = client.post(
        "/dpo/requests",
        data={"csrf_token": csrf, "kind": "access", "requester": "A. Jansen", "bsn": VALID_BSN},
    )
    assert made.status_code == 303
    page = client.get("/dpo/requests").text
    assert "AV-2026-0001" in page and VALID_BSN not in page
    assert "nog " in page  # time left on the one-month clock
    assert "AV-2026-0001" in client.get("/dpo/clocks").text

    wrong = client.post(
        "/dpo/access-report",
        data={"csrf_token": csrf, "request_id": "1", "bsn": "123456782", "format": "html"},
    )
    assert wrong.status_code == 422 and 'data-testid="error-bsn"' in wrong.text
    report = client.post(
        "/dpo/access-report",
        data={"csrf_token": csrf, "request_id": "1", "bsn": VALID_BSN, "format": "html"},
    )
    assert report.status_code == 200 and "report-count" in report.text
    assert "UTC" not in report.text
    assert "Overzicht gemaakt" in client.get("/dpo/requests").text

    no_answer = client.post("/dpo/requests/1/answer", data={"csrf_token": csrf, "answer": ""})
    assert no_answer.status_code == 422 and 'data-testid="error-answer"' in no_answer.text
    extended = client.post(
        "/dpo/requests/1/extend", data={"csrf_token": csrf, "reason": "Veel systemen"}
    )
    assert extended.status_code == 303
    answered = client.post(
        "/dpo/requests/1/answer", data={"csrf_token": csrf, "answer": "Overzicht per post"}
    )
    assert answered.status_code == 303
    register = client.get("/dpo/requests.csv").text
    assert "AV-2026-0001" in register and "Veel systemen" in register
    assert "Overzicht per post" in register and VALID_BSN not in register
    pdf = client.get("/dpo/requests.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
