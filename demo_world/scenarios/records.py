"""Misuse of the municipal applications, seen in their audit records (S12-S23)."""

from __future__ import annotations

from demo_world.scenarios.context import Ctx


def many_residents(ctx: Ctx) -> None:
    employee = ctx.worker()
    for moment in ctx.spread(60, 900):
        ctx.audit(
            moment,
            employee,
            action="view",
            subject=ctx.resident().bsn,
            purpose="controle",
            channel="intern",
            record_count=1,
        )


def no_open_case(ctx: Ctx) -> None:
    employee = ctx.worker("consulent-wmo")
    ctx.audit(
        ctx.start,
        employee,
        action="view",
        subject=ctx.resident().bsn,
        record_type="persoonslijst",
        purpose="nieuwsgierig",
        channel="intern",
    )


def colleague_viewed(ctx: Ctx) -> None:
    employee = ctx.worker()
    colleague = next(e for e in ctx.pop.workers("medewerker-vergunningen", "consulent-wmo"))
    ctx.audit(ctx.start, employee, action="view", subject=colleague.bsn, channel="intern")


def relative_address(ctx: Ctx) -> None:
    pairs = [
        (employee, resident)
        for employee in ctx.pop.workers("medewerker-burgerzaken")
        for resident in ctx.pop.residents
        if resident.address == employee.address and resident.bsn != employee.bsn
    ]
    employee, housemate = pairs[ctx.rng.randrange(len(pairs))]
    ctx.audit(ctx.start, employee, action="view", subject=housemate.bsn, channel="intern")


def relative_surname(ctx: Ctx) -> None:
    employee = ctx.worker()
    namesake = next(
        r
        for r in ctx.pop.residents
        if r.surname == employee.surname and r.address != employee.address
    )
    ctx.audit(ctx.start, employee, action="view", subject=namesake.bsn, channel="intern")


def protected_viewed(ctx: Ctx) -> None:
    employee = ctx.worker()
    ctx.audit(ctx.start, employee, action="view", subject=ctx.pop.protected[0], channel="intern")


def bulk_export(ctx: Ctx) -> None:
    employee = ctx.worker("consulent-wmo")
    ctx.audit(
        ctx.start,
        employee,
        action="export",
        record_type="zorgdossier",
        purpose="rapportage",
        channel="intern",
        record_count=2500,
    )


def repeated_print(ctx: Ctx) -> None:
    employee = ctx.worker()
    for moment in ctx.spread(25, 1500):
        case_ref, bsn = ctx.rng.choice(employee.cases)
        ctx.audit(
            moment,
            employee,
            action="print",
            subject=bsn,
            case_ref=case_ref,
            purpose="behandeling zaak",
            channel="intern",
            record_count=1,
        )


def outside_hours(ctx: Ctx) -> None:
    employee = ctx.worker()
    case_ref, bsn = employee.cases[0]
    ctx.audit(
        ctx.start,
        employee,
        action="view",
        subject=bsn,
        case_ref=case_ref,
        purpose="behandeling zaak",
        channel="intern",
    )


def _special_account(ctx: Ctx, state: str) -> None:
    account = next(e for e in ctx.pop.employees if e.state == state)
    ctx.audit(ctx.start, account, action="view", subject=ctx.resident().bsn, channel="balie")


def deactivated_account(ctx: Ctx) -> None:
    _special_account(ctx, "deactivated")


def shared_account(ctx: Ctx) -> None:
    _special_account(ctx, "shared")


def record_type(ctx: Ctx) -> None:
    employee = ctx.worker("medewerker-vergunningen")
    case_ref, bsn = employee.cases[0]
    ctx.audit(
        ctx.start,
        employee,
        action="view",
        subject=bsn,
        case_ref=case_ref,
        record_type="reisdocument",
        purpose="behandeling zaak",
        channel="intern",
    )
