"""One clock (issue 18): no page or PDF shows a time in another zone or with microseconds.

Every page without path parameters is rendered for every role (a new page is covered by
default), plus the detail pages of an alert, an incident and an exercise, on data whose stored
times carry microseconds; the PDFs people receive (police package, resident access report,
breach register and report, drill report) are rendered and their text read back. Stored times
stay UTC; what a person reads is Europe/Amsterdam, so a visible text may not hold an ISO time,
a time with a fraction of a second, or a time marked UTC/GMT/Z/+00:00.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from core.accounts.models import Role
from drills import control
from playbooks.service import (
    export_police_package,
)
from tests.dashboard.conftest import Env, add_user, login
from tests.dashboard.pages import a_world, page_paths, visible_text

# Local time is dd-mm-yyyy hh:mm:ss (+01:00 where the offset matters); these are what must not be.
PATTERNS = {
    "ISO time": re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}"),
    "microseconds": re.compile(r"\d{2}:\d{2}:\d{2}[.,]\d{1,6}\b"),
    "another zone": re.compile(r"\d{2}:\d{2}(:\d{2})?\s*(UTC|GMT|Z\b|\+00:?00)"),
}


def _problems(where: str, text: str) -> list[str]:
    return [
        f"{where}: {name} {match.group(0)!r}"
        for name, pattern in PATTERNS.items()
        for match in pattern.finditer(text)
    ]


def _pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF"), data[:200]
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.mark.parametrize("role", list(Role))
def test_no_page_shows_a_time_in_another_zone_or_with_microseconds(env: Env, role: Role) -> None:
    alert_id, incident_id = a_world(env)
    add_user(env, "someone", role)
    client = env.client()
    login(client, "someone")
    checked, problems = 0, []
    for path in [*page_paths(env), f"/alerts/{alert_id}", f"/incidents/{incident_id}"]:
        response = client.get(path, params={"purpose": "controle klok"})
        if response.status_code != 200 or "text/html" not in response.headers["content-type"]:
            continue  # not this role's page
        checked += 1
        problems += _problems(f"{role.value} {path}", visible_text(response.text))
    assert checked >= 3, f"{role.value}: only {checked} pages rendered"
    assert problems == []


def test_the_police_package_pdf_shows_local_times(env: Env) -> None:
    _, incident_id = a_world(env)
    with env.write() as db:
        package = export_police_package(
            db=db, clock=env.clock, settings=env.settings, incident_id=incident_id, actor="ana"
        )
    with zipfile.ZipFile(io.BytesIO(package.zip)) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".pdf")]
        text = _pdf_text(archive.read(name))
        custody = archive.read("CHAIN_OF_CUSTODY.txt").decode()
    assert re.search(r"\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2} \+01:00", text), text[:500]
    assert _problems("police PDF", text) == []
    assert "ana" in custody


def test_the_access_report_pdf_shows_local_times(env: Env) -> None:
    from tests.dashboard.test_privacy import BSN_A, _alert_naming, _pseudonymiser

    alert_id = _alert_naming(env, _pseudonymiser(env).pseudonym(BSN_A))
    add_user(env, "ana", Role.ANALYST)
    add_user(env, "fg", Role.DPO)
    analyst = env.client()
    login(analyst, "ana")
    analyst.get(f"/api/alerts/{alert_id}", params={"purpose": "onderzoek incident 42"})
    dpo = env.client()
    csrf = login(dpo, "fg")
    for lang in ("nl", "en"):
        pdf = dpo.post(
            "/api/access-report/pdf",
            params={"lang": lang},
            json={"bsn": BSN_A, "include_names": False},
            headers={"X-CSRF-Token": csrf},
        )
        text = _pdf_text(pdf.content)
        # table cells wrap (the report has a partner column since LDV): compare words
        assert "onderzoek incident 42" in " ".join(text.split())
        assert _problems(f"access report PDF ({lang})", text) == []


def test_the_breach_register_and_report_pdfs_show_local_times(env: Env) -> None:
    from playbooks.breach import export, register

    with env.write() as db:
        register.open_from_incident(
            db=db,
            clock=env.clock,
            settings=env.settings,
            actor="fg",
            incident_id="INC-42",
            summary="Ransomware op fileserver",
            aware_at=env.clock.now().replace(microsecond=654321) - timedelta(hours=2),
        )
    text = _pdf_text(export.register_pdf(db=env.db, clock=env.clock, settings=env.settings))
    assert "Ransomware op fileserver" in " ".join(text.split())
    assert _problems("breach register PDF", text) == []


def test_the_breach_report_pdf_shows_local_times(env: Env) -> None:
    from core.accounts.models import User
    from playbooks.breach import ap_notification, export
    from playbooks.breach.states import State
    from tests.playbooks.breach.support import walk_to

    add_user(env, "fenna", Role.DPO)
    dpo = env.db.scalars(select(User).where(User.username == "fenna")).one()
    breach = walk_to(
        State.NOTIFICATION_DUE, db=env.db, clock=env.clock, settings=env.settings, dpo=dpo
    )
    draft = ap_notification.draft_notification(
        db=env.db, clock=env.clock, settings=env.settings, actor="fenna", breach_id=breach.id
    )
    env.db.commit()  # the test is the boundary of its setup
    for lang in ("nl", "en"):
        text = _pdf_text(
            export.report_pdf(
                db=env.db, clock=env.clock, settings=env.settings, report_id=draft.id, lang=lang
            )
        )
        assert breach.reference in text
        assert _problems(f"breach report PDF ({lang})", text) == []


def test_the_drill_report_pdf_shows_local_times(env: Env) -> None:
    from drills import service

    add_user(env, "oefenleider", Role.EXERCISE_CONTROLLER)
    exercise_id = control.create_exercise(
        db=env.db,
        clock=env.clock,
        loaded=service.get_scenario("insider-datalek"),
        mode="tabletop",
        controller="oefenleider",
        participants=[{"role": "fg", "name": "FG", "email": "fg@gemeente.test"}],
        actor="test",
    ).id
    env.db.commit()  # the test is the boundary of its setup
    leader = env.client()
    csrf = login(leader, "oefenleider")
    started = leader.post(
        f"/drills/{exercise_id}/control", data={"action": "start", "csrf_token": csrf}
    )
    assert started.status_code == 303
    stopped = leader.post(
        f"/drills/{exercise_id}/control", data={"action": "stop", "csrf_token": csrf}
    )
    assert stopped.status_code == 303
    built = leader.post(f"/drills/{exercise_id}/report", data={"csrf_token": csrf})
    assert built.status_code in (200, 303), built.text
    page = leader.get(f"/drills/{exercise_id}")
    assert _problems("drill page", visible_text(page.text)) == []
    text = _pdf_text(leader.get(f"/drills/{exercise_id}/report.pdf").content)
    assert exercise_id in text or "OEFENING" in text
    assert _problems("drill report PDF", text) == []
