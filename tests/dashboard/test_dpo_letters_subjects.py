"""Letters to the breach's affected residents: pseudonyms from the incident, re-identification
with four eyes, the BSN verified against the pseudonym (never stored), then the letters."""

from __future__ import annotations

import re

from sqlalchemy import select

from core.accounts.models import Role
from core.audit import AuditEntry
from core.events import new_event
from core.privacy.service import Pseudonymiser
from core.store.base import NewAlert
from core.store.factory import open_alert_store, open_event_store
from dashboard.services.incidents import triage_alert
from playbooks.breach.models import LetterRecipient
from tests.dashboard.conftest import Env, add_user, login

BSN_A, BSN_B = "111222333", "123456782"
TEXTS = {
    f"{lang}_{key}": f"{key} ({lang}) tekst"
    for lang in ("nl", "en")
    for key in ("what_happened", "consequences", "measures", "advice")
}
PURPOSE = {"purpose": "Brieven controleren / review letters"}


def _incident_naming_two_residents(env: Env, a: str, b: str) -> int:
    """An alert grouped on resident A whose event names resident B, triaged into an incident."""
    events = open_event_store(env.settings)
    alerts = open_alert_store(env.settings, clock=env.clock)
    try:
        event = new_event(
            timestamp=env.clock.now(), dataset="app_audit.brp", original="{}",
            fields={"event.action": "view", "user.id": "E7", "dijkwacht.subject.pseudonym": b},
        )  # fmt: skip
        (event_id,) = events.add_batch([event])
        body = {"group_by": {"dijkwacht.subject.pseudonym": a}, "event_ids": [event_id],
                "dijkwacht.personal_data": True}  # fmt: skip
        alert = NewAlert(
            rule_id="many_residents_viewed", rule_title="Veel inwoners bekeken", level="high",
            created_at=env.clock.now(), body=body,
        )  # fmt: skip
        (alert_id,) = alerts.add_batch([alert])
        result = triage_alert(db=env.db, clock=env.clock, store=alerts, alert_id=alert_id)
        env.db.commit()
    finally:
        events.close()
        alerts.close()
    return int(result.incident_id)


def test_letters_go_to_the_affected_residents_after_re_identification(env: Env) -> None:
    from playbooks.breach import service as breach

    p = Pseudonymiser(env.settings.secret("pseudonym_key").encode("utf-8"))
    a, b = p.pseudonym(BSN_A), p.pseudonym(BSN_B)
    incident_id = _incident_naming_two_residents(env, a, b)
    opened = breach.open_for_incident(
        db=env.db, clock=env.clock, settings=env.settings, actor="fg", incident_id=incident_id
    )
    env.db.commit()
    for name, role in (("fg", Role.DPO), ("fg2", Role.DPO), ("im", Role.INCIDENT_MANAGER)):
        add_user(env, name, role)
    dpo, dpo2, manager = env.client(), env.client(), env.client()
    csrf, csrf2, csrf_im = login(dpo, "fg"), login(dpo2, "fg2"), login(manager, "im")
    bid = opened.id
    answers = {"csrf_token": csrf, "dpc_base": "4", "dpc_adjustment": "0",
               "ease_of_identification": "maximum", "loss_of_confidentiality": "2",
               "nature_sensitivity_volume": "BRP", "severity_of_consequences": "Ernstig",
               "number_of_individuals": "2"}  # fmt: skip
    assert dpo.post(f"/dpo/breaches/{bid}/assessment", data=answers).status_code == 303
    decision = {"csrf_token": csrf, "decision": "notify_ap_and_subjects", "reason": "Hoog risico"}
    assert dpo.post(f"/dpo/breaches/{bid}/decision", data=decision).status_code == 303

    # The breach page offers the affected residents (pseudonyms) from alert and event.
    page = dpo.get(f"/dpo/breaches/{bid}").text
    offered = page.split('data-testid="affected-subjects"')[1].split("</div>")[0]
    assert a in offered and b in offered and BSN_A not in page
    none_chosen = dpo.post(
        f"/dpo/breaches/{bid}/letters", data={"csrf_token": csrf, "source": "subjects", **TEXTS}
    )
    assert none_chosen.status_code == 422 and "choose at least one" in none_chosen.text
    created = dpo.post(
        f"/dpo/breaches/{bid}/letters",
        data={"csrf_token": csrf, "source": "subjects", f"subject_{a}": "1",
              f"subject_{b}": "1", **TEXTS},
    )  # fmt: skip
    assert created.status_code == 303, created.text[:2000]
    letters_url = created.headers["location"].split("#")[0]
    batch_id = int(letters_url.split("/dpo/letters/")[1].split("?")[0])
    page = dpo.get(letters_url).text
    assert page.count('data-testid="waiting-row"') == 2 and "pending" in page
    assert "/approve" not in page  # nobody identified yet: nothing to approve
    rows = env.db.scalars(select(LetterRecipient).where(LetterRecipient.batch_id == batch_id)).all()
    first, second = sorted(rows, key=lambda r: r.identifier)
    assert {first.pseudonym, second.pseudonym} == {a, b} and not first.name

    identify = f"/dpo/letters/{batch_id}/recipients/{{}}/identify"
    resident = {"csrf_token": csrf, **PURPOSE, "name": "A. Jansen", "address": "Dijkweg 1",
                "postcode": "9711 AA", "city": "Groningen", "language": "nl"}  # fmt: skip
    early = dpo.post(identify.format(first.id), data={**resident, "bsn": _bsn(first, a)})
    assert early.status_code == 422 and "must approve it first" in early.text
    assert 'value="A. Jansen"' in early.text  # what was typed stays

    # Four eyes: a second DPO and an incident manager approve each re-identification.
    reid_page = dpo2.get("/reidentification").text
    request_ids = sorted(set(re.findall(r"/reidentification/(\d+)/approve", reid_page)))
    assert len(request_ids) == 2
    for request_id in request_ids:
        for client, token in ((dpo2, csrf2), (manager, csrf_im)):
            approved = client.post(
                f"/reidentification/{request_id}/approve", data={"csrf_token": token}
            )
            assert approved.status_code == 303

    wrong = dpo.post(identify.format(first.id), data={**resident, "bsn": "999999990"})
    assert wrong.status_code == 422 and "not the resident behind the pseudonym" in wrong.text
    assert "999999990" not in wrong.text  # the BSN is never echoed back
    matched = dpo.post(identify.format(first.id), data={**resident, "bsn": _bsn(first, a)})
    assert matched.status_code == 303, matched.text[:2000]
    other = {**resident, "name": "B. Smith", "address": "", "email": "b@example.org",
             "language": "en", "bsn": _bsn(second, a)}  # fmt: skip
    assert dpo.post(identify.format(second.id), data=other).status_code == 303

    page = dpo.get(letters_url).text
    assert 'data-testid="waiting-row"' not in page
    assert "A. Jansen" in page and "B. Smith" in page and "/approve" in page
    refused = dpo.post(f"/dpo/letters/{batch_id}/approve", data={"csrf_token": csrf})
    assert refused.status_code == 400 and "four eyes" in refused.text
    approved = dpo2.post(f"/dpo/letters/{batch_id}/approve", data={"csrf_token": csrf2})
    assert approved.status_code == 303
    # The BSN is stored nowhere: not with the recipients, not in the audit log.
    env.db.commit()  # end this session's read snapshot
    stored = " ".join(
        repr(vars(r)) for r in env.db.scalars(select(LetterRecipient)).all()
    ) + " ".join(repr(e.details) for e in env.db.scalars(select(AuditEntry)).all())
    assert BSN_A not in stored and BSN_B not in stored
    verified = [
        e for e in env.db.scalars(select(AuditEntry)).all()
        if e.action == "reidentification.verified"
    ]  # fmt: skip
    assert [e.details["match"] for e in verified] == [False, True, True]


def _bsn(recipient: LetterRecipient, a: str) -> str:
    return BSN_A if recipient.pseudonym == a else BSN_B
