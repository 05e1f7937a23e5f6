"""A normal day at the municipality: what every rule must stay quiet on.

Residents log in with DigiD (some from their phone in another city, some on holiday abroad days
after their last login), look up their cases and submit forms; anonymous visitors browse the
site; employees work their own case portfolio in office hours (a few stay late, a few answer a
walk-in question at the counter without a case yet: real sources of false alarms); Windows
workstations start programs, the file server stores documents, backups run at night; admins log
in to Linux servers while the internet knocks on SSH; DNS and flows leave the network.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from demo_world import formats as fmt
from demo_world.formats import Client, Record
from demo_world.population import (
    MAIL_DOMAIN,
    ROLES,
    SYSTEM_OF,
    Employee,
    Population,
    Resident,
    city_ip,
)
from demo_world.writer import Writer, session_id

FORMS = ("parkeervergunning", "subsidie-energie", "bijzondere-bijstand", "melding", "verhuizing")
PAGES = ("/", "/afval/kalender", "/nieuws", "/contact", "/paspoort-aanvragen", "/openingstijden")
ASSETS = ("/static/site.css", "/static/app.js", "/static/logo.svg")
COMMON_DOMAINS = (
    "www.google.com",
    "outlook.office365.com",
    "login.microsoftonline.com",
    "teams.microsoft.com",
    "www.digid.nl",
    "www.overheid.nl",
    "zaaksysteem.gemeente.example",
    "update.microsoft.com",
)
PROGRAMS = (
    (r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE", "OUTLOOK.EXE"),
    (r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE", "WinWord.exe"),
    (r"C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE", "Excel.exe"),
    (r"C:\Program Files\Google\Chrome\Application\chrome.exe", "chrome.exe"),
    (r"C:\Windows\System32\notepad.exe", "NOTEPAD.EXE"),
)
SCAN_USERS = ("admin", "oracle", "test", "pi")
RESOLVER = "10.10.0.53"
NAS = "10.10.0.50"
FILE_SERVER = f"fs01.{MAIL_DOMAIN}"
SUDO = (
    "  beheer : TTY=pts/0 ; PWD=/home/beheer ; USER=root ; COMMAND=/usr/bin/systemctl restart nginx"
)


class Day(Writer):
    """Generates one day's normal records into ``records``."""

    def __init__(
        self, rng: random.Random, population: Population, day: date, zone: ZoneInfo
    ) -> None:
        self.rng, self.pop, self.day, self.zone = rng, population, day, zone
        self.records: list[Record] = []
        self.scenario = None
        self.record_id = 0

    def at(self, hour: float) -> datetime:
        base = datetime.combine(self.day, time(0), self.zone)
        return base + timedelta(seconds=int(hour * 3600))

    def run(self, last_login: dict[str, datetime]) -> list[Record]:
        self.residents(last_login)
        self.visitors()
        if self.day.isoweekday() <= 5:
            self.office()
        self.windows_servers()
        self.linux()
        self.network()
        return self.records

    # Residents and the portal --------------------------------------------------------------
    def residents(self, last_login: dict[str, datetime]) -> None:
        rng = self.rng
        rate = 0.06 if self.day.isoweekday() <= 5 else 0.03
        for resident in self.pop.residents:
            if rng.random() >= rate:
                continue
            moment = self.at(rng.choice((8, 10, 12, 14, 16, 19, 20, 21)) + rng.random() * 2)
            ip = resident.home_ip
            previous = last_login.get(resident.account)
            roll = rng.random()
            if roll < 0.04 and previous is not None and moment - previous > timedelta(days=1):
                ip = city_ip(rng, "Madrid")  # on holiday, days after the last login at home
            elif roll < 0.10:
                ip = city_ip(rng, rng.choice(("Amsterdam", "Utrecht", "Zwolle")))  # on the go
            self.portal_visit(resident, moment, ip)
            last_login[resident.account] = moment

    def portal_visit(self, resident: Resident, moment: datetime, ip: str) -> None:
        rng, agent = self.rng, resident.agent
        client = Client(resident.account, ip, agent, session_id(rng))
        self.web(moment - timedelta(seconds=20), ip, "GET", "/inloggen", 200, agent)
        if rng.random() < 0.06:  # a typo or cancelled DigiD login first
            typo = Client(resident.account, ip, agent, session_id(rng))
            self.write(fmt.portal_auth, moment - timedelta(seconds=15), typo, outcome="failure")
        self.write(fmt.portal_auth, moment, client, outcome="success")
        step = moment
        for _ in range(rng.randint(0, 3)):
            step += timedelta(seconds=rng.randint(20, 400))
            if rng.random() < 0.5:
                case = f"Z-2026-{rng.randint(1001, 1900):05d}"
                self.web(step, ip, "GET", f"/mijn-zaken/{case}", 200, agent)
                self.write(fmt.portal_form, step, client, action="case_lookup", case_ref=case)
            else:
                form = rng.choice(FORMS)
                fill = rng.randint(45, 900)
                step += timedelta(seconds=fill)
                self.web(step, ip, "POST", f"/aanvragen/{form}", 302, agent)
                self.write(
                    fmt.portal_form,
                    step,
                    client,
                    action="form_submit",
                    form=form,
                    fill_seconds=fill,
                    bank_hash=resident.bank if form != "melding" else None,
                    phone_hash=resident.phone,
                )
        logout = step + timedelta(seconds=30)
        self.write(fmt.portal_auth, logout, client, outcome="success", action="logout")

    def web(
        self, moment: datetime, ip: str, method: str, target: str, status: int, agent: str
    ) -> None:
        size = self.rng.randint(400, 60_000)
        self.write(
            fmt.nginx,
            moment,
            ip=ip,
            method=method,
            target=target,
            status=status,
            size=size,
            agent=agent,
        )

    def visitors(self) -> None:
        rng = self.rng
        for _ in range(len(self.pop.residents) // 3):
            moment = self.at(6 + rng.random() * 17)
            ip, agent = city_ip(rng, rng.choice(("Zwolle", "Zwolle", "Amsterdam"))), "Mozilla/5.0"
            page = rng.choice(PAGES)
            if rng.random() < 0.2:
                page += f"?q={rng.choice(('afval', 'paspoort', 'parkeren', 'select datum'))}"
            self.web(moment, ip, "GET", page, rng.choice((200, 200, 200, 304, 404)), agent)
            self.web(moment + timedelta(seconds=1), ip, "GET", rng.choice(ASSETS), 200, agent)

    # Employees --------------------------------------------------------------------------------
    def office(self) -> None:
        rng = self.rng
        for employee in self.pop.employees:
            if employee.state != "active":
                continue
            start = 7.8 + rng.random() * 1.5
            logon = self.at(start)
            self.sysmon_logon(logon, employee.workstation, employee.employee_id)
            for _ in range(rng.randint(6, 12)):
                image, original = rng.choice(PROGRAMS)
                self.sysmon_process(
                    self.at(start + rng.random() * 8.5),
                    employee.workstation,
                    employee.employee_id,
                    image,
                    original,
                )
            for _ in range(rng.randint(2, 6)):
                self.file_save(self.at(start + rng.random() * 8.5), employee.department)
            kinds = ROLES[employee.role][1]
            if not kinds:
                continue
            late = rng.random() < 0.04
            for _ in range(rng.randint(15, 30)):
                hour = start + rng.random() * 8.5
                if late and rng.random() < 0.15:
                    hour = 19.1 + rng.random() * 1.2  # finishing a case in the evening
                self.audit_action(self.at(hour), employee)
            if rng.random() < 0.3:
                self.mail_rule(self.at(start + rng.random() * 8), employee.employee_id)

    def audit_action(self, moment: datetime, employee: Employee) -> None:
        rng = self.rng
        kinds = ROLES[employee.role][1]
        record_type = rng.choice(kinds)
        common = {
            "system": SYSTEM_OF[record_type],
            "actor": employee.employee_id,
            "actor_role": employee.role,
            "department": employee.department,
            "result": "success",
        }
        fields: dict[str, object]
        if employee.role == "informatiebeheer":
            fields = {
                "action": rng.choice(("search", "search", "export")),
                "record_count": rng.randint(5, 60),
                "record_type": record_type,
                "purpose": "archivering",
                "channel": "intern",
            }
        elif rng.random() < 0.01 and employee.role == "medewerker-burgerzaken":
            walk_in = self.pop.residents[rng.randrange(len(self.pop.residents))]
            fields = {
                "action": "view",
                "subject": walk_in.bsn,
                "record_type": "persoonslijst",
                "purpose": "balievraag",
                "channel": "balie",
                "record_count": 1,
            }
        else:
            case_ref, bsn = rng.choice(employee.cases)
            action = rng.choice(("view", "view", "view", "view", "edit", "search", "print"))
            fields = {
                "action": action,
                "subject": bsn,
                "record_type": record_type,
                "purpose": "behandeling zaak",
                "case_ref": case_ref,
                "channel": rng.choice(("intern", "balie")),
                "record_count": rng.randint(1, 8) if action == "search" else 1,
            }
        self.write(fmt.app_audit, moment, **common, **fields)

    def mail_rule(self, moment: datetime, user: str) -> None:
        rng = self.rng
        forward = [f"team-{rng.randint(1, 9)}@{MAIL_DOMAIN}"] if rng.random() < 0.3 else None
        self.write(
            fmt.mail_rule,
            moment,
            user=f"{user.lower()}@{MAIL_DOMAIN}",
            ip=f"10.20.0.{rng.randint(2, 250)}",
            rule="Nieuwsbrieven" if forward is None else "Vervanging",
            forward_to=forward,
        )

    # Windows ----------------------------------------------------------------------------------
    def windows(self, moment: datetime, dataset: str, fields: dict[str, object]) -> None:
        self.record_id += 1
        self.write(fmt.windows, moment, dataset=dataset, record_id=self.record_id, fields=fields)

    def sysmon_logon(self, moment: datetime, host: str, user: str) -> None:
        self.windows(
            moment,
            "windows.security",
            {
                "EventID": 4624,
                "Channel": "Security",
                "Computer": host,
                "LogonType": 2,
                "TargetUserName": user,
                "TargetDomainName": "GEMEENTE",
                "Provider_Name": "Microsoft-Windows-Security-Auditing",
            },
        )

    def sysmon_process(
        self, moment: datetime, host: str, user: str, image: str, original: str
    ) -> None:
        fields = fmt.sysmon_process(
            host=host,
            image=image,
            original=original,
            command=f'"{image}"',
            parent=r"C:\Windows\explorer.exe",
            user=f"GEMEENTE\\{user}",
            process_id=self.rng.randint(1000, 30000),
        )
        self.windows(moment, "windows.sysmon", fields)

    def file_save(self, moment: datetime, department: str) -> None:
        kind = self.rng.choice(("brief", "besluit", "notitie", "rapport"))
        name = f"{kind}-{self.rng.randint(1, 9999)}"
        target = f"D:\\Shares\\{department}\\{name}.docx"
        fields = fmt.sysmon_file_created(host=FILE_SERVER, image="System", target=target)
        self.windows(moment, "windows.sysmon", fields)

    def windows_servers(self) -> None:
        backup = self.at(1.5 + self.rng.random())
        command = r"wbadmin start backup -backupTarget:\\nas01\backup -include:D: -quiet"
        backup_run = fmt.sysmon_process(
            host=FILE_SERVER,
            image=r"C:\Windows\System32\wbadmin.exe",
            original="WBADMIN.EXE",
            command=command,
            parent=r"C:\Windows\System32\svchost.exe",
            user="NT AUTHORITY\\SYSTEM",
        )
        self.windows(backup, "windows.sysmon", backup_run)
        if self.day.isoweekday() == 1:
            listing = fmt.sysmon_process(
                host=FILE_SERVER,
                image=r"C:\Windows\System32\vssadmin.exe",
                original="VSSADMIN.EXE",
                command="vssadmin list shadows",
                parent=r"C:\Windows\System32\cmd.exe",
                user="GEMEENTE\\adm-beheer",
            )
            self.windows(self.at(9.2), "windows.sysmon", listing)
        self.write(
            fmt.flow,
            backup,
            src="10.10.0.20",
            dst=NAS,
            dport=445,
            sent=30_000_000_000,
            received=40_000_000,
            seconds=5400,
        )

    # Linux and network ------------------------------------------------------------------------
    def linux(self) -> None:
        rng = self.rng
        for host in ("web01", "app02"):
            for _ in range(rng.randint(2, 5)):
                moment = self.at(8 + rng.random() * 9)
                pid = rng.randint(2000, 60000)
                accepted = (
                    f"Accepted publickey for beheer from 10.20.0.{rng.randint(2, 40)} "
                    f"port {rng.randint(40000, 60000)} ssh2: ED25519 SHA256:demo"
                )
                self.write(
                    fmt.authlog, moment, host=host, process="sshd", pid=pid, message=accepted
                )
                later = moment + timedelta(seconds=rng.randint(10, 300))
                self.write(fmt.authlog, later, host=host, process="sudo", pid=None, message=SUDO)
            for _ in range(rng.randint(5, 15)):
                moment = self.at(rng.random() * 24)
                self.write(
                    fmt.authlog,
                    moment,
                    host=host,
                    process="sshd",
                    pid=rng.randint(2000, 60000),
                    message=f"Invalid user {rng.choice(SCAN_USERS)} from "
                    f"{city_ip(rng, 'Singapore')} port {rng.randint(1024, 65000)}",
                )

    def network(self) -> None:
        rng = self.rng
        for index in range(len(self.pop.employees)):
            host_ip = f"10.20.1.{index + 10}"
            hours = (7.5, 18.0) if self.day.isoweekday() <= 5 else (10.0, 12.0)
            for _ in range(rng.randint(5, 15)):
                moment = self.at(hours[0] + rng.random() * (hours[1] - hours[0]))
                name = rng.choice(COMMON_DOMAINS)
                self.write(fmt.dns_query, moment, src=host_ip, resolver=RESOLVER, name=name)
            for _ in range(rng.randint(2, 6)):
                moment = self.at(hours[0] + rng.random() * (hours[1] - hours[0]))
                city = rng.choice(("Amsterdam", "Frankfurt"))
                self.write(
                    fmt.flow,
                    moment,
                    src=host_ip,
                    dst=city_ip(rng, city),
                    dport=443,
                    sent=rng.randint(2_000, 80_000_000),
                    received=rng.randint(10_000, 400_000_000),
                    seconds=rng.randint(1, 900),
                )
