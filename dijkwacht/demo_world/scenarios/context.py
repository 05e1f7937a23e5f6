"""Seeded misuse: each scenario writes raw records at a known time and names the rule that must
catch it. The manifest (``generate.py``) lists every seeded record by file and line.

Scenarios pick their actors from the population with the seeded generator, so the same seed
gives the same misuse at the same moments.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from dijkwacht.demo_world import formats as fmt
from dijkwacht.demo_world.formats import Record
from dijkwacht.demo_world.population import (
    MAIL_DOMAIN,
    SYSTEM_OF,
    TOR_RANGE,
    Employee,
    Population,
    Resident,
    city_ip,
    keyed,
)

BOT_AGENT = "python-requests/2.32.3"


def rule_id(name: str) -> str:
    """The id of a shipped rule by its file stem (ids are uuid5 of the name, fixed forever)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"dijkwacht:rule:{name}"))


@dataclass
class Ctx:
    """What a scenario needs: randomness, the people, when, and where records go."""

    rng: random.Random
    pop: Population
    start: datetime
    scenario: str
    records: list[Record]

    def add(self, moment: datetime, file: str, text: str) -> None:
        self.records.append(Record(moment, file, text, self.scenario))

    def resident(self) -> Resident:
        return self.pop.residents[self.rng.randrange(len(self.pop.residents))]

    def worker(self, role: str = "medewerker-burgerzaken") -> Employee:
        return self.rng.choice(self.pop.workers(role))

    def audit(self, moment: datetime, employee: Employee, **fields: object) -> None:
        record_type = str(fields.pop("record_type", "persoonslijst"))
        self.add(
            moment,
            fmt.APP_AUDIT,
            fmt.app_audit(
                moment,
                system=SYSTEM_OF[record_type],
                actor=employee.employee_id,
                actor_role=employee.role,
                department=employee.department,
                record_type=record_type,
                result="success",
                **fields,
            ),
        )


def _seconds(ctx: Ctx, n: int, spread: float) -> list[datetime]:
    return [ctx.start + timedelta(seconds=spread * i / n) for i in range(n)]


def credential_stuffing(ctx: Ctx) -> None:
    ip = city_ip(ctx.rng, "Frankfurt")
    for moment in _seconds(ctx, 40, 480):
        victim = ctx.resident()
        ctx.add(
            moment,
            fmt.PORTAL_AUTH,
            fmt.portal_auth(
                moment,
                account=victim.account,
                ip=ip,
                agent=BOT_AGENT,
                session=f"s-{ctx.rng.getrandbits(48):012x}",
                outcome="failure",
                method="password",
            ),
        )


def account_many_sources(ctx: Ctx) -> None:
    victim = ctx.resident()
    for moment in _seconds(ctx, 12, 360):
        ip = city_ip(ctx.rng, ctx.rng.choice(("Lagos", "Sao Paulo", "Singapore")))
        ctx.add(
            moment,
            fmt.PORTAL_AUTH,
            fmt.portal_auth(
                moment,
                account=victim.account,
                ip=ip,
                agent=BOT_AGENT,
                session=f"s-{ctx.rng.getrandbits(48):012x}",
                outcome="failure",
                method="password",
            ),
        )


def impossible_travel(ctx: Ctx) -> None:
    victim = ctx.resident()
    first, second = ctx.start, ctx.start + timedelta(minutes=40)
    for moment, ip in ((first, victim.home_ip), (second, city_ip(ctx.rng, "Sao Paulo"))):
        ctx.add(
            moment,
            fmt.PORTAL_AUTH,
            fmt.portal_auth(
                moment,
                account=victim.account,
                ip=ip,
                agent=victim.agent,
                session=f"s-{ctx.rng.getrandbits(48):012x}",
                outcome="success",
            ),
        )


def anonymising_login(ctx: Ctx) -> None:
    victim = ctx.resident()
    ctx.add(
        ctx.start,
        fmt.PORTAL_AUTH,
        fmt.portal_auth(
            ctx.start,
            account=victim.account,
            ip=f"{TOR_RANGE}.{ctx.rng.randint(2, 250)}",
            agent=fmt_agent(),
            session=f"s-{ctx.rng.getrandbits(48):012x}",
            outcome="success",
        ),
    )


def fmt_agent() -> str:
    return "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0"


def session_new_client(ctx: Ctx) -> None:
    victim, session = ctx.resident(), f"s-{ctx.rng.getrandbits(48):012x}"
    ctx.add(
        ctx.start,
        fmt.PORTAL_AUTH,
        fmt.portal_auth(
            ctx.start,
            account=victim.account,
            ip=victim.home_ip,
            agent=victim.agent,
            session=session,
            outcome="success",
        ),
    )
    later = ctx.start + timedelta(minutes=20)
    ctx.add(
        later,
        fmt.PORTAL_FORMS,
        fmt.portal_form(
            later,
            account=victim.account,
            ip=city_ip(ctx.rng, "Lagos"),
            agent=BOT_AGENT,
            session=session,
            action="case_lookup",
            case_ref="Z-2026-01017",
        ),
    )


def form_flood(ctx: Ctx) -> None:
    victim, ip = ctx.resident(), city_ip(ctx.rng, "Frankfurt")
    session = f"s-{ctx.rng.getrandbits(48):012x}"
    for moment in _seconds(ctx, 60, 240):
        ctx.add(
            moment,
            fmt.PORTAL_FORMS,
            fmt.portal_form(
                moment,
                account=victim.account,
                ip=ip,
                agent=BOT_AGENT,
                session=session,
                action="form_submit",
                form="melding",
                fill_seconds=12,
            ),
        )


def form_too_fast(ctx: Ctx) -> None:
    victim, ip = ctx.resident(), city_ip(ctx.rng, "Amsterdam")
    session = f"s-{ctx.rng.getrandbits(48):012x}"
    for moment in _seconds(ctx, 3, 1800):
        ctx.add(
            moment,
            fmt.PORTAL_FORMS,
            fmt.portal_form(
                moment,
                account=victim.account,
                ip=ip,
                agent=BOT_AGENT,
                session=session,
                action="form_submit",
                form="parkeervergunning",
                fill_seconds=1,
            ),
        )


def _applications(ctx: Ctx, *, bank: str | None, phone: str | None, same_ip: bool) -> None:
    ip = city_ip(ctx.rng, "Zwolle")
    for moment in _seconds(ctx, 6, 3 * 3600 if not same_ip else 2400):
        applicant = ctx.resident()
        ctx.add(
            moment,
            fmt.PORTAL_FORMS,
            fmt.portal_form(
                moment,
                account=applicant.account,
                ip=ip if same_ip else applicant.home_ip,
                agent=applicant.agent,
                session=f"s-{ctx.rng.getrandbits(48):012x}",
                action="form_submit",
                form="subsidie-energie" if not same_ip else "bijzondere-bijstand",
                fill_seconds=ctx.rng.randint(200, 600),
                bank_hash=bank or applicant.bank,
                phone_hash=phone or applicant.phone,
            ),
        )


def shared_bank(ctx: Ctx) -> None:
    _applications(ctx, bank=keyed("iban", "NL00MULE0123456789"), phone=None, same_ip=False)


def shared_phone(ctx: Ctx) -> None:
    _applications(ctx, bank=None, phone=keyed("phone", "0612345678"), same_ip=False)


def changed_identities(ctx: Ctx) -> None:
    _applications(ctx, bank=None, phone=None, same_ip=True)


def enumeration(ctx: Ctx) -> None:
    victim, ip = ctx.resident(), city_ip(ctx.rng, "Singapore")
    session = f"s-{ctx.rng.getrandbits(48):012x}"
    for number, moment in enumerate(_seconds(ctx, 80, 400)):
        ref = f"Z-2026-{2000 + number:05d}"
        ctx.add(
            moment,
            fmt.PORTAL_FORMS,
            fmt.portal_form(
                moment,
                account=victim.account,
                ip=ip,
                agent=BOT_AGENT,
                session=session,
                action="case_lookup",
                outcome="failure",
                case_ref=ref,
                status=403,
            ),
        )


def many_residents(ctx: Ctx) -> None:
    employee = ctx.worker()
    for moment in _seconds(ctx, 60, 900):
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
    for moment in _seconds(ctx, 25, 1500):
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


def large_transfer(ctx: Ctx) -> None:
    ctx.add(
        ctx.start,
        fmt.NETWORK,
        fmt.flow(
            ctx.start,
            src="10.20.1.14",
            dst=city_ip(ctx.rng, "Singapore"),
            dport=443,
            sent=3_400_000_000,
            received=2_000_000,
            seconds=1900,
        ),
    )


def mail_forward(ctx: Ctx) -> None:
    employee = ctx.worker("consulent-wmo")
    ctx.add(
        ctx.start,
        fmt.MAIL,
        fmt.mail_rule(
            ctx.start,
            user=f"{employee.employee_id.lower()}@{MAIL_DOMAIN}",
            ip=city_ip(ctx.rng, "Lagos"),
            rule=".",
            forward_to=["archief.backup2026@gmail.com"],
        ),
    )


def _sysmon(ctx: Ctx, moment: datetime, image: str, original: str, command: str) -> None:
    ctx.add(
        moment,
        fmt.WINDOWS,
        fmt.windows(
            moment,
            dataset="windows.sysmon",
            record_id=900_000 + len(ctx.records),
            fields={
                "EventID": 1,
                "Channel": "Microsoft-Windows-Sysmon/Operational",
                "Computer": f"fs01.{MAIL_DOMAIN}",
                "Image": image,
                "OriginalFileName": original,
                "CommandLine": command,
                "ParentImage": r"C:\Windows\System32\cmd.exe",
                "User": "GEMEENTE\\adm-beheer",
                "Provider_Name": "Microsoft-Windows-Sysmon",
            },
        ),
    )


def shadow_copies(ctx: Ctx) -> None:
    _sysmon(
        ctx,
        ctx.start,
        r"C:\Windows\System32\vssadmin.exe",
        "VSSADMIN.EXE",
        "vssadmin.exe delete shadows /all /quiet",
    )


def backup_deleted(ctx: Ctx) -> None:
    _sysmon(
        ctx,
        ctx.start,
        r"C:\Windows\System32\wbadmin.exe",
        "WBADMIN.EXE",
        "wbadmin delete backup -keepVersions:3 -quiet",
    )


def mass_writes(ctx: Ctx) -> None:
    for number, moment in enumerate(_seconds(ctx, 300, 90)):
        ctx.add(
            moment,
            fmt.WINDOWS,
            fmt.windows(
                moment,
                dataset="windows.sysmon",
                record_id=950_000 + number,
                fields={
                    "EventID": 11,
                    "Channel": "Microsoft-Windows-Sysmon/Operational",
                    "Computer": f"fs01.{MAIL_DOMAIN}",
                    "Image": r"C:\Users\Public\svc.exe",
                    "TargetFilename": f"D:\\Shares\\Burgerzaken\\besluit-{number}.docx.lockbit",
                    "Provider_Name": "Microsoft-Windows-Sysmon",
                },
            ),
        )


def _web(ctx: Ctx, targets: list[str]) -> None:
    ip = city_ip(ctx.rng, "Frankfurt")
    for moment, target in zip(_seconds(ctx, len(targets), 60), targets, strict=True):
        ctx.add(
            moment,
            fmt.NGINX,
            fmt.nginx(
                moment, ip=ip, method="GET", target=target, status=500, size=312, agent="sqlmap/1.8"
            ),
        )


def sql_injection(ctx: Ctx) -> None:
    _web(
        ctx,
        [
            "/mijn-zaken?id=1%27%20OR%20%271%27=%271",
            "/zoeken?q=1%20UNION%20SELECT%20username,password%20FROM%20users--",
        ],
    )


def path_traversal(ctx: Ctx) -> None:
    _web(ctx, ["/static/../../../../etc/passwd", "/download?file=..%2f..%2f..%2fetc%2fshadow"])


def xss(ctx: Ctx) -> None:
    _web(
        ctx,
        [
            "/zoeken?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E",
            "/contact?naam=<img src=x onerror=alert(1)>",
        ],
    )


def dns_tunnel(ctx: Ctx) -> None:
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    for moment in _seconds(ctx, 120, 240):
        label = "".join(ctx.rng.choice(alphabet) for _ in range(52))
        ctx.add(
            moment,
            fmt.NETWORK,
            fmt.dns_query(
                moment,
                src="10.20.1.17",
                resolver="10.10.0.53",
                name=f"{label}.t.cdn-sync-update.top",
                qtype="TXT",
            ),
        )
