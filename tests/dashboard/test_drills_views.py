"""Drill pages: calendar, live exercise view for players and controller, report, public summary."""

from __future__ import annotations

from sqlalchemy import Engine

from core.accounts.models import Role
from core.store.relational import create_session_factory
from core.store.unit_of_work import unit_of_work
from drills import control as drill_control
from drills import service
from tests.dashboard.conftest import Env, add_user, login

BANNER = "OEFENING / EXERCISE"
PHONE_SCRIPT = "Speel de teamleider"


def _tick(env: Env) -> None:
    """What the `drills.tick` task does: units of work of its own."""
    engine = env.db.get_bind()
    assert isinstance(engine, Engine)
    factory = create_session_factory(engine)
    service.tick(
        units=lambda: unit_of_work(factory),
        clock=env.clock,
        settings=env.settings,
        alerts=None,
        sink=None,
    )


def test_a_tabletop_exercise_through_the_dashboard(env: Env) -> None:
    add_user(env, "oefenleider", Role.EXERCISE_CONTROLLER)
    add_user(env, "fg", Role.DPO)
    exercise_id = drill_control.create_exercise(
        db=env.db,
        clock=env.clock,
        loaded=service.get_scenario("insider-datalek"),
        mode="tabletop",
        controller="oefenleider",
        participants=[{"role": "fg", "name": "FG", "email": "fg@gemeente.test"}],
        actor="test",
    ).id
    env.db.commit()  # the test is the boundary of its setup
    leader, player = env.client(), env.client()
    lead_csrf, play_csrf = login(leader, "oefenleider"), login(player, "fg")
    page = leader.get("/drills")
    assert page.status_code == 200 and BANNER in page.text and exercise_id in page.text

    def control(action: str) -> None:
        response = leader.post(
            f"/drills/{exercise_id}/control", data={"action": action, "csrf_token": lead_csrf}
        )
        assert response.status_code == 303, response.text

    control("start")
    _tick(env)  # beat: I1 (minute 0) is released
    view = player.get(f"/drills/{exercise_id}", params={"rol": "fg"})
    assert view.status_code == 200 and BANNER in view.text
    assert "Veel opvragingen van persoonslijsten" not in view.text  # I1 is for IT and CISO
    control("advance")  # to minute 30: the team leader phones the DPO
    _tick(env)
    view = player.get(f"/drills/{exercise_id}", params={"rol": "fg"})
    assert "Teamleider belt de FG" in view.text
    assert PHONE_SCRIPT not in view.text and 'data-testid="controller"' not in view.text
    assert PHONE_SCRIPT in leader.get(f"/drills/{exercise_id}").text
    # Players record decisions; hot-wash notes are the controller's.
    entry = {"kind": "decision", "text": "Beoordeling datalek gestart", "role": "fg"}
    assert (
        player.post(
            f"/drills/{exercise_id}/entries", data={**entry, "csrf_token": play_csrf}
        ).status_code
        == 303
    )
    assert "Beoordeling datalek gestart" in leader.get(f"/drills/{exercise_id}").text
    hotwash = {"kind": "hotwash", "text": "x", "role": "fg", "csrf_token": play_csrf}
    assert player.post(f"/drills/{exercise_id}/entries", data=hotwash).status_code == 422
    # No role chosen ("all roles"): the form comes back with the role asked for, text kept.
    lost = {"kind": "decision", "text": "Aangifte doen bij de politie", "csrf_token": play_csrf}
    answer = player.post(f"/drills/{exercise_id}/entries", data=lost)
    assert answer.status_code == 422
    assert "kies voor welke rol u dit vastlegt" in answer.text
    assert "Aangifte doen bij de politie</textarea>" in answer.text
    forbidden = player.post(
        f"/drills/{exercise_id}/control", data={"action": "stop", "csrf_token": play_csrf}
    )
    assert forbidden.status_code == 403
    # The controller marks a manual expectation with a note.
    marked = leader.post(
        f"/drills/{exercise_id}/expectations/E5",
        data={"met": "true", "note": "AP-besluit op tijd", "csrf_token": lead_csrf},
    )
    assert marked.status_code == 303
    rows = {
        row.expectation_id: row for row in service.expectations(db=env.db, exercise_id=exercise_id)
    }
    env.db.expire_all()
    assert rows["E5"].status == "met" and rows["E5"].marked_by == "oefenleider"
    # Report, PDF and the public summary (only once published).
    control("stop")
    built = leader.post(f"/drills/{exercise_id}/report", data={"csrf_token": lead_csrf})
    assert built.status_code == 303
    report = player.get(f"/drills/{exercise_id}/report")
    assert report.status_code == 200 and BANNER in report.text
    # The report carries its own stylesheet, which must pass the CSP (by hash).
    assert "<style>" in report.text
    assert "style-src 'self' 'sha256-" in report.headers["content-security-policy"]
    assert player.get(f"/drills/{exercise_id}/report.pdf").content.startswith(b"%PDF")
    # Both full versions from the page: Dutch and English, HTML and PDF.
    links = leader.get(f"/drills/{exercise_id}").text.split('data-testid="report-links"')[1]
    assert f"/drills/{exercise_id}/report?lang=en" in links.split("</p>")[0]
    english = player.get(f"/drills/{exercise_id}/report", params={"lang": "en"})
    assert english.status_code == 200 and "After-action report" in english.text
    assert "Evaluatieverslag" not in english.text and "Evaluatieverslag" in report.text
    pdf_en = player.get(f"/drills/{exercise_id}/report.pdf", params={"lang": "en"})
    assert (
        pdf_en.content.startswith(b"%PDF")
        and "exercise.pdf" in pdf_en.headers["content-disposition"]
    )
    assert player.get(f"/drills/{exercise_id}/report", params={"lang": "de"}).status_code == 422
    public = env.client()
    assert public.get(f"/oefeningen/{exercise_id}").status_code == 404
    published = leader.post(f"/drills/{exercise_id}/publish", data={"csrf_token": lead_csrf})
    assert published.status_code == 303
    summary = public.get(f"/oefeningen/{exercise_id}")
    assert summary.status_code == 200 and BANNER in summary.text
    summary_en = public.get(f"/oefeningen/{exercise_id}", params={"lang": "en"})
    assert summary_en.status_code == 200 and "public summary" in summary_en.text
    assert PHONE_SCRIPT not in summary.text and "fg@gemeente.test" not in summary.text
    listing = public.get("/oefeningen")
    assert listing.status_code == 200 and f"/oefeningen/{exercise_id}" in listing.text


def test_the_controller_plans_from_the_library_and_players_get_their_role(env: Env) -> None:
    add_user(env, "oefenleider", Role.EXERCISE_CONTROLLER)
    add_user(env, "crisisteam", Role.CRISIS_TEAM)
    env.db.commit()
    leader, player = env.client(), env.client()
    lead_csrf, play_csrf = login(leader, "oefenleider"), login(player, "crisisteam")
    assert player.get("/drills/plan").status_code == 403
    library = leader.get("/drills/plan")
    assert library.status_code == 200 and "/drills/plan?scenario=brand-datacentrum" in library.text
    form_page = leader.get("/drills/plan", params={"scenario": "ransomware-fileservers"})
    # Roles listed and explained; the criteria shown before they are frozen.
    assert "leidt het beleidsteam" in form_page.text
    assert "Versleuteling wordt binnen 15 minuten gedetecteerd." in form_page.text
    bad = {
        "csrf_token": lead_csrf,
        "scenario": "ransomware-fileservers",
        "mode": "technical",
        "date": "2026-13-40",
        "time": "09:00",
        "repeat": "none",
        "time_scale": "1",
        "name_ciso": "crisisteam",
        "email_ciso": "geen-adres",
    }
    refused = leader.post("/drills/plan", data=bad)
    assert refused.status_code == 422
    assert "date: datum als JJJJ-MM-DD" in refused.text
    assert "email_ciso: geen geldig e-mailadres: &#39;geen-adres&#39;" in refused.text
    assert 'value="crisisteam"' in refused.text  # what was typed stays
    good = {**bad, "start_now": "1", "email_ciso": "oefening@gemeente.test"}
    started = leader.post("/drills/plan", data=good)
    assert started.status_code == 303
    exercise_id = started.headers["location"].rsplit("/", 1)[1]
    env.db.expire_all()
    exercise = service.get_exercise(db=env.db, exercise_id=exercise_id)
    assert exercise.status == "running" and exercise.criteria_sha256
    # The crisis-team member plays CISO: the page knows it from the plan.
    view = player.get(f"/drills/{exercise_id}")
    assert 'data-testid="own-role"' in view.text and "<strong>ciso</strong>" in view.text
    assert f'data-source="/drills/{exercise_id}/injects?rol=ciso"' in view.text
    assert '<option value="ciso" selected>' in view.text
    live = player.get(f"/drills/{exercise_id}/injects", params={"rol": "ciso"})
    assert live.status_code == 200 and "geen berichten" in live.text
    entry = {"kind": "decision", "text": "Geen losgeld", "role": "ciso", "inject": "I3"}
    done = player.post(f"/drills/{exercise_id}/entries", data={**entry, "csrf_token": play_csrf})
    assert done.status_code == 303
    assert "[I3] Geen losgeld" in leader.get(f"/drills/{exercise_id}").text
    # The controller skips I3 and sends an ad-hoc message to the CISO.
    skip = {"inject": "I3", "csrf_token": lead_csrf}
    assert leader.post(f"/drills/{exercise_id}/skip", data=skip).status_code == 303
    again = leader.post(f"/drills/{exercise_id}/skip", data=skip)
    assert again.status_code == 400 and "open: I1, I2, I4, I5, I6" in again.text
    adhoc = {
        "title": "Bel de leverancier",
        "text": "De back-upleverancier belt terug.",
        "csrf_token": lead_csrf,
    }
    refused = leader.post(f"/drills/{exercise_id}/adhoc", data=adhoc)
    assert refused.status_code == 422 and "to: choose one or more of" in refused.text
    assert "De back-upleverancier belt terug.</textarea>" in refused.text
    sent = leader.post(f"/drills/{exercise_id}/adhoc", data={**adhoc, "to": ["ciso"]})
    assert sent.status_code == 303
    live = player.get(f"/drills/{exercise_id}/injects", params={"rol": "ciso"}).text
    assert "AH1" in live and "Bel de leverancier" in live
    assert (
        "De back-upleverancier"
        not in player.get(f"/drills/{exercise_id}/injects", params={"rol": "fg"}).text
    )
    # Stopped at once: the expectations whose window is still open are not evaluated.
    stop = {"action": "stop", "csrf_token": lead_csrf}
    assert leader.post(f"/drills/{exercise_id}/control", data=stop).status_code == 303
    env.db.commit()  # end this session's read snapshot
    env.db.expire_all()
    statuses = {e.status for e in service.expectations(db=env.db, exercise_id=exercise_id)}
    assert statuses == {"unscored"}
    planned = {**bad, "date": "2027-03-01", "repeat": "quarter", "email_ciso": "o@gemeente.test"}
    assert leader.post("/drills/plan", data=planned).status_code == 303
    calendar = leader.get("/drills").text
    assert "elke 91.0 dagen" in calendar and "Ransomware op de fileservers" in calendar
    # Annual cycle: ransomware was just exercised, the data-centre fire never was.
    cycle = calendar.split('data-testid="annual-cycle"')[1].split("</table>")[0]
    fire = cycle.split("brand-datacentrum")[1].split("</tr>")[0]
    ransomware = cycle.split("ransomware-fileservers")[1].split("</tr>")[0]
    assert "nooit" in fire and "langer dan 12 maanden geleden" in fire
    assert "binnen 12 maanden" in ransomware
    # Before the start the plan can be moved (a bad date keeps what was typed) or cancelled.
    env.db.commit()
    (schedule,) = service.list_schedules(db=env.db)
    move = {"date": "2027-02-30", "time": "10:00", "csrf_token": lead_csrf}
    refused = leader.post(f"/drills/schedules/{schedule.id}/move", data=move)
    assert refused.status_code == 422 and "date: datum als JJJJ-MM-DD" in refused.text
    assert 'value="2027-02-30"' in refused.text
    moved = leader.post(
        f"/drills/schedules/{schedule.id}/move", data={**move, "date": "2027-04-01"}
    )
    assert moved.status_code == 303
    cancel = {"csrf_token": lead_csrf}
    assert leader.post(f"/drills/schedules/{schedule.id}/cancel", data=cancel).status_code == 303
    env.db.commit()
    env.db.expire_all()
    (schedule,) = service.list_schedules(db=env.db)
    assert not schedule.active and schedule.next_run_at is None
    # Lessons with an owner and due date; a missing owner keeps the lesson text.
    lesson = {
        "lesson": "Servicedesk wist niet wie te bellen",
        "action": "Belboom maken",
        "owner": "",
        "due_on": "2027-01-15",
        "csrf_token": lead_csrf,
    }
    refused = leader.post(f"/drills/{exercise_id}/lessons", data=lesson)
    assert refused.status_code == 422 and "owner:" in refused.text
    assert "Servicedesk wist niet wie te bellen</textarea>" in refused.text
    added = leader.post(f"/drills/{exercise_id}/lessons", data={**lesson, "owner": "CISO"})
    assert added.status_code == 303
    page = leader.get(f"/drills/{exercise_id}").text
    assert "Belboom maken" in page and "15-01-2027" in page
    assert "Belboom maken" in leader.get("/drills").text  # open follow-up actions


def test_follow_up_actions_wait_on_their_owners_home_until_done(env: Env) -> None:
    add_user(env, "oefenleider", Role.EXERCISE_CONTROLLER)
    add_user(env, "ciso", Role.CRISIS_TEAM, display_name="C. Iso")
    add_user(env, "fg", Role.DPO)
    exercise_id = drill_control.create_exercise(
        db=env.db,
        clock=env.clock,
        loaded=service.get_scenario("insider-datalek"),
        mode="tabletop",
        controller="oefenleider",
        participants=[{"role": "fg", "name": "fg", "email": "fg@gemeente.test"}],
        actor="test",
    ).id
    env.db.commit()
    leader = env.client()
    lead_csrf = login(leader, "oefenleider")
    lesson = {"lesson": "Niemand wist wie te bellen", "action": "Belboom maken",
              "owner": "c. iso", "due_on": "2027-01-15", "csrf_token": lead_csrf}  # fmt: skip
    assert leader.post(f"/drills/{exercise_id}/lessons", data=lesson).status_code == 303
    other = {**lesson, "action": "Draaiboek FG bijwerken", "owner": "fg"}
    assert leader.post(f"/drills/{exercise_id}/lessons", data=other).status_code == 303
    owner, dpo = env.client(), env.client()
    owner_csrf, dpo_csrf = login(owner, "ciso"), login(dpo, "fg")
    home = owner.get("/").text
    block = home.split('data-testid="home-followups"')[1].split("</section>")[0]
    assert "Belboom maken" in block and "15-01-2027" in block
    assert f'href="/drills/{exercise_id}#lessons"' in block
    assert "Draaiboek FG bijwerken" not in block  # someone else's
    assert "Draaiboek FG bijwerken" in dpo.get("/").text
    env.db.commit()
    (mine,) = [a for a in service.lessons_of(db=env.db, exercise_id=exercise_id)
               if a.owner == "c. iso"]  # fmt: skip
    (theirs,) = [a for a in service.lessons_of(db=env.db, exercise_id=exercise_id)
                 if a.owner == "fg"]  # fmt: skip
    # Only the owner completes it: the DPO cannot close the CISO's action.
    refused = dpo.post(f"/drills/actions/{mine.id}/done", data={"csrf_token": dpo_csrf})
    assert refused.status_code == 409
    done = owner.post(f"/drills/actions/{mine.id}/done", data={"csrf_token": owner_csrf})
    assert done.status_code == 303 and done.headers["location"] == "/"
    assert 'data-testid="home-followups"' not in owner.get("/").text
    # The controller may close any action, from the exercise page.
    closed = leader.post(
        f"/drills/actions/{theirs.id}/done", data={"csrf_token": lead_csrf, "back": "exercise"}
    )
    assert closed.headers["location"] == f"/drills/{exercise_id}#lessons"
    assert "Draaiboek FG bijwerken" not in dpo.get("/").text
    from core.audit import entries

    env.db.commit()  # end this session's read snapshot
    done_entries = [e for e in entries(db=env.db) if e.action == "drill.action_done"]
    assert [e.actor for e in done_entries] == ["ciso", "oefenleider"]


def test_the_controller_changes_a_plan_before_it_starts(env: Env) -> None:
    from core.audit import entries

    add_user(env, "oefenleider", Role.EXERCISE_CONTROLLER)
    env.db.commit()
    leader = env.client()
    csrf = login(leader, "oefenleider")
    plan = {"csrf_token": csrf, "scenario": "ransomware-fileservers", "mode": "tabletop",
            "date": "2027-03-01", "time": "09:30", "repeat": "none", "time_scale": "1",
            "name_ciso": "crisisteam", "email_ciso": "ciso@gemeente.test"}  # fmt: skip
    assert leader.post("/drills/plan", data=plan).status_code == 303
    env.db.commit()
    (schedule,) = service.list_schedules(db=env.db)
    calendar = leader.get("/drills").text
    assert f'href="/drills/schedules/{schedule.id}/edit"' in calendar
    page = leader.get(f"/drills/schedules/{schedule.id}/edit")
    assert page.status_code == 200 and "Plan wijzigen" in page.text
    assert 'value="2027-03-01"' in page.text and 'value="09:30"' in page.text
    assert 'value="crisisteam"' in page.text and 'name="start_now"' not in page.text
    # A bad e-mail and a past date: errors next to the fields, what was typed kept, no change.
    change = {**plan, "mode": "technical", "date": "2020-01-01", "name_it": "analist",
              "email_it": "geen adres"}  # fmt: skip
    del change["scenario"]
    refused = leader.post(f"/drills/schedules/{schedule.id}/edit", data=change)
    assert refused.status_code == 422
    assert "email_it: geen geldig e-mailadres" in refused.text
    assert "date: dit moment is al voorbij" in refused.text
    assert 'value="analist"' in refused.text and 'value="technical" checked' in refused.text
    env.db.expire_all()
    assert service.list_schedules(db=env.db)[0].mode == "tabletop"
    change.update(date="2027-03-02", email_it="it@gemeente.test", repeat="quarter")
    saved = leader.post(f"/drills/schedules/{schedule.id}/edit", data=change)
    assert saved.status_code == 303, saved.text[:3000]
    env.db.commit()
    env.db.expire_all()
    (schedule,) = service.list_schedules(db=env.db)
    assert schedule.mode == "technical" and schedule.every_seconds == 91 * 86400
    assert {p["role"]: p["name"] for p in schedule.participants} == {
        "ciso": "crisisteam",
        "it": "analist",
    }
    assert schedule.invited_for is None  # the new participant is invited for the new moment
    (edited,) = [e for e in entries(db=env.db) if e.action == "drill.schedule_edited"]
    assert edited.actor == "oefenleider"
    assert set(edited.details["changed"]) == {"mode", "next_run_at", "every_seconds",
                                              "participants"}  # fmt: skip
    # Once cancelled (or started) there is nothing to change.
    leader.post(f"/drills/schedules/{schedule.id}/cancel", data={"csrf_token": csrf})
    assert leader.get(f"/drills/schedules/{schedule.id}/edit").status_code == 404
