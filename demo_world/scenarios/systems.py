"""Misuse seen by the systems: network (S24, S32), mail (S25), Windows (S26-S28), web (S29-S31)."""

from __future__ import annotations

from datetime import datetime

from demo_world import formats as fmt
from demo_world.population import MAIL_DOMAIN, city_ip
from demo_world.scenarios.context import Ctx

FILE_SERVER = f"fs01.{MAIL_DOMAIN}"


def large_transfer(ctx: Ctx) -> None:
    ctx.write(
        fmt.flow,
        ctx.start,
        src="10.20.1.14",
        dst=city_ip(ctx.rng, "Singapore"),
        dport=443,
        sent=3_400_000_000,
        received=2_000_000,
        seconds=1900,
    )


def mail_forward(ctx: Ctx) -> None:
    employee = ctx.worker("consulent-wmo")
    ctx.write(
        fmt.mail_rule,
        ctx.start,
        user=f"{employee.employee_id.lower()}@{MAIL_DOMAIN}",
        ip=city_ip(ctx.rng, "Lagos"),
        rule=".",
        forward_to=["archief.backup2026@gmail.com"],
    )


def _sysmon(ctx: Ctx, moment: datetime, image: str, original: str, command: str) -> None:
    fields = fmt.sysmon_process(
        host=FILE_SERVER,
        image=image,
        original=original,
        command=command,
        parent=r"C:\Windows\System32\cmd.exe",
        user="GEMEENTE\\adm-beheer",
    )
    record_id = 900_000 + len(ctx.records)
    ctx.write(fmt.windows, moment, dataset="windows.sysmon", record_id=record_id, fields=fields)


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
    for number, moment in enumerate(ctx.spread(300, 90)):
        fields = fmt.sysmon_file_created(
            host=FILE_SERVER,
            image=r"C:\Users\Public\svc.exe",
            target=f"D:\\Shares\\Burgerzaken\\besluit-{number}.docx.lockbit",
        )
        ctx.write(
            fmt.windows, moment, dataset="windows.sysmon", record_id=950_000 + number, fields=fields
        )


def _web(ctx: Ctx, targets: list[str]) -> None:
    ip = city_ip(ctx.rng, "Frankfurt")
    for moment, target in zip(ctx.spread(len(targets), 60), targets, strict=True):
        ctx.write(
            fmt.nginx,
            moment,
            ip=ip,
            method="GET",
            target=target,
            status=500,
            size=312,
            agent="sqlmap/1.8",
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
    for moment in ctx.spread(120, 240):
        label = "".join(ctx.rng.choice(alphabet) for _ in range(52))
        ctx.write(
            fmt.dns_query,
            moment,
            src="10.20.1.17",
            resolver="10.10.0.53",
            name=f"{label}.t.cdn-sync-update.top",
            qtype="TXT",
        )
