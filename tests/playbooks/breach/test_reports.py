"""AP notification and NIS2/Cbw reports: completeness, finalising, follow-ups, PDF and JSON."""

from __future__ import annotations

import io
import json

import pytest
from pypdf import PdfReader
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.clock import FrozenClock
from core.config import Settings
from core.errors import ValidationError
from playbooks.breach import ap_notification, export, nis2, register, reports
from playbooks.breach.states import State
from tests.playbooks.breach.support import complete_ap_draft, walk_to


def pdf_text(data: bytes) -> str:
    """All text of a PDF with runs of whitespace made single spaces (lines wrap anywhere)."""
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_finalising_lists_every_missing_field(
    db: Session, clock: FrozenClock, settings: Settings, dpo: User
) -> None:
    breach = walk_to(State.NOTIFICATION_DUE, db=db, clock=clock, settings=settings, dpo=dpo)
    draft = ap_notification.draft_notification(
        db=db, clock=clock, settings=settings, actor="ali", breach_id=breach.id
    )
    missing = ap_notification.missing(draft)
    # Prefilled from the register and settings: these are NOT missing.
    assert not any(m.startswith(("datalek.samenvatting", "contact.organisatie")) for m in missing)
    expected = [
        "contact.melder_naam (Naam melder)",
        "contact.melder_functie (Functie melder)",
        "contact.melder_telefoon (Telefoon melder)",
        "contact.melder_email (E-mail melder)",
        "contact.andere_organisatie (Andere organisatie betrokken (bijv. verwerker))",
        "gevolgen.schade (Mogelijke schade voor betrokkenen)",
    ]
    assert missing == expected
    with pytest.raises(ValidationError) as caught:
        ap_notification.finalise_notification(
            db=db, clock=clock, settings=settings, dpo=dpo, report_id=draft.id
        )
    assert caught.value.field == "report"
    for item in expected:
        assert item in str(caught.value)
    assert register.get_breach(db=db, breach_id=breach.id).state == State.NOTIFICATION_DUE
    # Conditional fields: "nee" to informing data subjects needs the reason why not.
    ap_notification.update_notification(
        db=db, clock=clock, actor="ali", report_id=draft.id,
        changes={"vervolg.betrokkenen_geinformeerd": "nee"},
    )  # fmt: skip
    assert any(m.startswith("vervolg.waarom_niet") for m in ap_notification.missing(draft))


def test_bad_answers_name_the_field(
    db: Session, clock: FrozenClock, settings: Settings, dpo: User
) -> None:
    breach = walk_to(State.NOTIFICATION_DUE, db=db, clock=clock, settings=settings, dpo=dpo)
    draft = ap_notification.draft_notification(
        db=db, clock=clock, settings=settings, actor="ali", breach_id=breach.id
    )
    for changes, field in (
        ({"betrokkenen.aantal_max": -1}, "betrokkenen.aantal_max"),
        ({"tijdlijn.duurt_voort": "ja"}, "tijdlijn.duurt_voort"),
        ({"melding.wet": "Wbni"}, "melding.wet"),
        ({"tijdlijn.begin": "2026-03-28T12:00"}, "tijdlijn.begin"),
        ({"nope.nope": 1}, "nope.nope"),
    ):
        with pytest.raises(ValidationError) as caught:
            ap_notification.update_notification(
                db=db, clock=clock, actor="ali", report_id=draft.id, changes=changes
            )
        assert caught.value.field == field


def test_notification_followup_reference_and_withdrawal(
    db: Session, clock: FrozenClock, settings: Settings, dpo: User, analyst: User
) -> None:
    breach = walk_to(State.NOTIFICATION_DUE, db=db, clock=clock, settings=settings, dpo=dpo)
    first = complete_ap_draft(db, clock, settings, breach)
    with pytest.raises(ValidationError, match="DPO"):
        ap_notification.finalise_notification(
            db=db, clock=clock, settings=settings, dpo=analyst, report_id=first.id
        )
    ap_notification.finalise_notification(
        db=db, clock=clock, settings=settings, dpo=dpo, report_id=first.id
    )
    assert register.get_breach(db=db, breach_id=breach.id).state == State.NOTIFIED
    reports.set_authority_reference(
        db=db, clock=clock, actor="fenna", report_id=first.id, reference="M-2026-123456"
    )
    follow = ap_notification.create_followup(
        db=db, clock=clock, actor="fenna", report_id=first.id, purpose="aanvulling"
    )
    assert follow.parent_id == first.id and follow.kind == "ap_followup"
    assert follow.content["melding"]["soort"] == "vervolgmelding"
    assert follow.content["melding"]["eerdere_melding"] == "M-2026-123456"
    # A follow-up of the follow-up still links to the first notification.
    ap_notification.finalise_notification(
        db=db, clock=clock, settings=settings, dpo=dpo, report_id=follow.id
    )
    second = ap_notification.create_followup(
        db=db, clock=clock, actor="fenna", report_id=follow.id, purpose="intrekking"
    )
    assert second.parent_id == first.id
    assert [r.id for r in ap_notification.followups(db=db, report_id=first.id)] == [
        follow.id,
        second.id,
    ]
    withdrawn = reports.withdraw(
        db=db, clock=clock, dpo=dpo, report_id=first.id, reason="Geen datalek na onderzoek"
    )
    assert withdrawn.status == "withdrawn"
    actions = [c.action for c in register.history(db=db, breach_id=breach.id)]
    assert "report_reference" in actions and "report_withdrawn" in actions


def test_ap_pdf_and_json_hold_the_key_facts(
    db: Session, clock: FrozenClock, settings: Settings, dpo: User
) -> None:
    breach = walk_to(State.NOTIFICATION_DUE, db=db, clock=clock, settings=settings, dpo=dpo)
    draft = ap_notification.draft_notification(
        db=db, clock=clock, settings=settings, actor="ali", breach_id=breach.id
    )
    text = pdf_text(export.report_pdf(db=db, clock=clock, settings=settings, report_id=draft.id))
    for fact in (
        "Melding datalek aan de Autoriteit Persoonsgegevens",
        breach.reference,
        "Gemeente Dijkstad",
        "Wmo-dossiers",
        "gezondheid",
        "31-03-2026 13:00 CEST",  # the deadline in local summer time
        "Nog niet compleet",
        "Naam melder",
    ):
        assert fact in text, fact
    assert "OEFENING" not in text
    english = pdf_text(
        export.report_pdf(db=db, clock=clock, settings=settings, report_id=draft.id, lang="en")
    )
    assert "Data breach notification to the AP" in english and "Reporter name" in english
    data = json.loads(
        json.dumps(export.report_json(db=db, clock=clock, settings=settings, report_id=draft.id))
    )
    assert data["real"] is True and "exercise" not in data
    assert data["content"]["persoonsgegevens"]["bijzondere"] == ["gezondheid"]
    assert "contact.melder_naam (Naam melder)" in data["missing"]


def test_nis2_reports_carry_over_and_finalise(
    db: Session, clock: FrozenClock, settings: Settings, dpo: User
) -> None:
    breach = walk_to(State.ASSESSING, db=db, clock=clock, settings=settings, dpo=dpo)
    early = nis2.draft_report(
        db=db, clock=clock, settings=settings, actor="ali", breach_id=breach.id,
        kind="nis2_early_warning",
    )  # fmt: skip
    assert nis2.missing(early) == [
        "incident.kwaadwillig_vermoed (Vermoeden van onrechtmatig of kwaadwillig handelen)"
    ]
    nis2.update_report(
        db=db, clock=clock, actor="ali", report_id=early.id,
        changes={"incident.kwaadwillig_vermoed": True},
    )  # fmt: skip
    nis2.finalise_report(db=db, clock=clock, settings=settings, dpo=dpo, report_id=early.id)
    notification = nis2.draft_report(
        db=db, clock=clock, settings=settings, actor="ali", breach_id=breach.id,
        kind="nis2_notification",
    )  # fmt: skip
    assert notification.content["incident"]["kwaadwillig_vermoed"] is True
    missing = nis2.missing(notification)
    assert [m.split(" ")[0] for m in missing] == [
        "beoordeling.ernst",
        "beoordeling.impact",
        "beoordeling.indicatoren",
        "beoordeling.update",
    ]
    with pytest.raises(ValidationError, match=r"beoordeling\.indicatoren"):
        nis2.finalise_report(
            db=db, clock=clock, settings=settings, dpo=dpo, report_id=notification.id
        )
    final = nis2.draft_report(
        db=db, clock=clock, settings=settings, actor="ali", breach_id=breach.id,
        kind="nis2_final",
    )  # fmt: skip
    text = pdf_text(export.report_pdf(db=db, clock=clock, settings=settings, report_id=final.id))
    assert "Cbw/NIS2 eindrapport" in text and "Soort dreiging of grondoorzaak" in text


def test_nis2_is_refused_when_the_regime_does_not_apply(
    db: Session, clock: FrozenClock, settings: Settings
) -> None:
    off = settings.model_copy(update={"nis2_applies": False})
    breach = register.open_breach(db=db, clock=clock, settings=off, actor="ali", title="Lek")
    with pytest.raises(ValidationError, match="nis2_applies"):
        nis2.draft_report(
            db=db, clock=clock, settings=off, actor="ali", breach_id=breach.id,
            kind="nis2_early_warning",
        )  # fmt: skip
