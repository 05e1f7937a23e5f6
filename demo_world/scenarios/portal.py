"""Misuse of the residents' portal: logins (S01-S05) and forms (S06-S11)."""

from __future__ import annotations

from datetime import datetime, timedelta

from demo_world import formats as fmt
from demo_world.population import TOR_RANGE, city_ip, keyed
from demo_world.scenarios.context import BOT_AGENT, Ctx

TOR_AGENT = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0"


def _bot_password_failure(ctx: Ctx, moment: datetime, account: str, ip: str) -> None:
    client = ctx.client(account, ip, BOT_AGENT)
    ctx.write(fmt.portal_auth, moment, client, outcome="failure", method="password")


def credential_stuffing(ctx: Ctx) -> None:
    ip = city_ip(ctx.rng, "Frankfurt")
    for moment in ctx.spread(40, 480):
        _bot_password_failure(ctx, moment, ctx.resident().account, ip)


def account_many_sources(ctx: Ctx) -> None:
    victim = ctx.resident()
    for moment in ctx.spread(12, 360):
        ip = city_ip(ctx.rng, ctx.rng.choice(("Lagos", "Sao Paulo", "Singapore")))
        _bot_password_failure(ctx, moment, victim.account, ip)


def impossible_travel(ctx: Ctx) -> None:
    victim = ctx.resident()
    first, second = ctx.start, ctx.start + timedelta(minutes=40)
    for moment, ip in ((first, victim.home_ip), (second, city_ip(ctx.rng, "Sao Paulo"))):
        client = ctx.client(victim.account, ip, victim.agent)
        ctx.write(fmt.portal_auth, moment, client, outcome="success")


def anonymising_login(ctx: Ctx) -> None:
    victim = ctx.resident()
    client = ctx.client(victim.account, f"{TOR_RANGE}.{ctx.rng.randint(2, 250)}", TOR_AGENT)
    ctx.write(fmt.portal_auth, ctx.start, client, outcome="success")


def session_new_client(ctx: Ctx) -> None:
    victim = ctx.resident()
    home = ctx.client(victim.account, victim.home_ip, victim.agent)
    ctx.write(fmt.portal_auth, ctx.start, home, outcome="success")
    hijacker = ctx.client(victim.account, city_ip(ctx.rng, "Lagos"), BOT_AGENT, home.session)
    later = ctx.start + timedelta(minutes=20)
    ctx.write(fmt.portal_form, later, hijacker, action="case_lookup", case_ref="Z-2026-01017")


def _bot_forms(ctx: Ctx, city: str, count: int, seconds: float, form: str, fill: int) -> None:
    victim, ip = ctx.resident(), city_ip(ctx.rng, city)
    client = ctx.client(victim.account, ip, BOT_AGENT)
    for moment in ctx.spread(count, seconds):
        ctx.write(
            fmt.portal_form, moment, client, action="form_submit", form=form, fill_seconds=fill
        )


def form_flood(ctx: Ctx) -> None:
    _bot_forms(ctx, "Frankfurt", 60, 240, "melding", 12)


def form_too_fast(ctx: Ctx) -> None:
    _bot_forms(ctx, "Amsterdam", 3, 1800, "parkeervergunning", 1)


def _applications(ctx: Ctx, *, bank: str | None, phone: str | None, same_ip: bool) -> None:
    ip = city_ip(ctx.rng, "Zwolle")
    for moment in ctx.spread(6, 3 * 3600 if not same_ip else 2400):
        applicant = ctx.resident()
        client = ctx.client(
            applicant.account, ip if same_ip else applicant.home_ip, applicant.agent
        )
        ctx.write(
            fmt.portal_form,
            moment,
            client,
            action="form_submit",
            form="subsidie-energie" if not same_ip else "bijzondere-bijstand",
            fill_seconds=ctx.rng.randint(200, 600),
            bank_hash=bank or applicant.bank,
            phone_hash=phone or applicant.phone,
        )


def shared_bank(ctx: Ctx) -> None:
    _applications(ctx, bank=keyed("iban", "NL00MULE0123456789"), phone=None, same_ip=False)


def shared_phone(ctx: Ctx) -> None:
    _applications(ctx, bank=None, phone=keyed("phone", "0612345678"), same_ip=False)


def changed_identities(ctx: Ctx) -> None:
    _applications(ctx, bank=None, phone=None, same_ip=True)


def enumeration(ctx: Ctx) -> None:
    victim, ip = ctx.resident(), city_ip(ctx.rng, "Singapore")
    client = ctx.client(victim.account, ip, BOT_AGENT)
    for number, moment in enumerate(ctx.spread(80, 400)):
        ctx.write(
            fmt.portal_form,
            moment,
            client,
            action="case_lookup",
            outcome="failure",
            case_ref=f"Z-2026-{2000 + number:05d}",
            status=403,
        )
