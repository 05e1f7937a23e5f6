"""The simulated municipality's people, places and context tables, drawn from one seed.

Addresses come from RFC 6598 shared address space (100.64.0.0/10) split into fake "cities",
and from private ranges inside the municipality: realistic to the rules, nobody's real address.
Names are common Dutch names; BSNs pass the 11-test but are random.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

SURNAMES = tuple(
    [
        "de Jong",
        "Jansen",
        "de Vries",
        "van den Berg",
        "van Dijk",
        "Bakker",
        "Janssen",
        "Visser",
        "Smit",
        "Meijer",
        "de Boer",
        "Mulder",
        "de Groot",
        "Bos",
        "Vos",
        "Peters",
        "Hendriks",
        "van Leeuwen",
        "Dekker",
        "Brouwer",
        "de Wit",
        "Dijkstra",
        "Smits",
        "de Graaf",
        "van der Meer",
        "van der Linden",
        "Kok",
        "Jacobs",
        "de Haan",
        "Vermeulen",
        "van den Heuvel",
        "van der Veen",
        "van den Broek",
        "de Bruijn",
        "de Bruin",
        "van der Heijden",
        "Schouten",
        "van Beek",
        "Willems",
        "van Vliet",
        "van de Ven",
        "Hoekstra",
        "Maas",
        "Verhoeven",
        "Koster",
        "van Dam",
        "van der Wal",
        "Prins",
        "Blom",
        "Huisman",
        "Peeters",
        "de Jonge",
        "Kuipers",
        "van Veen",
        "Post",
    ]
)
STREETS = ("Dorpsstraat", "Kerkweg", "Molenlaan", "Dijkweg", "Stationsplein", "Schoolstraat")
AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 Chrome/129.0 Mobile Safari",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0",
)
# name -> (first two octets, country, latitude, longitude)
CITIES = {
    "Zwolle": ("100.64", "NL", 52.5168, 6.0830),
    "Amsterdam": ("100.65", "NL", 52.3676, 4.9041),
    "Utrecht": ("100.66", "NL", 52.0907, 5.1214),
    "Groningen": ("100.67", "NL", 53.2194, 6.5665),
    "Eindhoven": ("100.68", "NL", 51.4416, 5.4697),
    "Madrid": ("100.80", "ES", 40.4168, -3.7038),
    "Frankfurt": ("100.81", "DE", 50.1109, 8.6821),
    "Sao Paulo": ("100.90", "BR", -23.5505, -46.6333),
    "Lagos": ("100.91", "NG", 6.5244, 3.3792),
    "Singapore": ("100.92", "SG", 1.3521, 103.8198),
}
HOME_CITIES = ("Zwolle", "Zwolle", "Zwolle", "Amsterdam", "Utrecht", "Groningen", "Eindhoven")
TOR_RANGE = "100.100.0"  # a configured anonymising network (Tor exit list)
VPN_RANGE = "100.100.1"  # a configured commercial VPN range
MAIL_DOMAIN = "gemeente.example"
# role -> (department, record types the role covers, system per record type)
ROLES = {
    "medewerker-burgerzaken": ("Burgerzaken", ("persoonslijst", "reisdocument", "verhuizing")),
    "medewerker-vergunningen": ("Vergunningen", ("zaak", "document", "vergunning")),
    "consulent-wmo": ("Sociaal Domein", ("zaak", "zorgdossier", "document", "persoonslijst")),
    "informatiebeheer": ("Informatiebeheer", ("zaak", "document")),
    "ict-beheer": ("ICT", ()),
}
SYSTEM_OF = {
    "persoonslijst": "brp",
    "reisdocument": "brp",
    "verhuizing": "brp",
    "zaak": "zaaksysteem",
    "zorgdossier": "zaaksysteem",
    "vergunning": "zaaksysteem",
    "document": "dms",
}
ROLE_MIX = (
    ["medewerker-burgerzaken"] * 10
    + ["medewerker-vergunningen"] * 8
    + ["consulent-wmo"] * 8
    + ["informatiebeheer"] * 2
    + ["ict-beheer"] * 2
)


def make_bsn(rng: random.Random) -> str:
    """A random 9-digit number passing the 11-test (never a real person's on purpose)."""
    while True:
        digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(7)]
        check = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True)) % 11
        if check < 10:
            return "".join(map(str, digits)) + str(check)


def city_ip(rng: random.Random, city: str) -> str:
    prefix = CITIES[city][0]
    return f"{prefix}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def keyed(kind: str, value: str) -> str:
    """How the portal logs a bank account or phone number: a salted hash, never the value."""
    return hashlib.sha256(f"demo-portal-salt:{kind}:{value}".encode()).hexdigest()[:20]


@dataclass
class Resident:
    bsn: str
    surname: str
    address: str
    account: str
    home_ip: str
    agent: str
    bank: str
    phone: str


@dataclass
class Employee:
    employee_id: str
    surname: str
    bsn: str
    address: str
    role: str
    department: str
    state: str
    workstation: str
    cases: list[tuple[str, str]] = field(default_factory=list)  # (case_ref, bsn)


@dataclass
class Population:
    residents: list[Resident]
    employees: list[Employee]
    protected: list[str]
    closed_cases: list[tuple[str, str, str]]  # (case_ref, employee, bsn)

    def workers(self, *roles: str) -> list[Employee]:
        return [e for e in self.employees if e.state == "active" and e.role in roles]


def build_population(rng: random.Random, *, residents: int, employees: int) -> Population:
    """Households of residents, employees living among them, their case portfolios."""
    people: list[Resident] = []
    number = 0
    while len(people) < residents:
        surname = rng.choice(SURNAMES)
        address = f"{rng.choice(STREETS)} {rng.randint(1, 240)}, 8011 {rng.choice('ABCDEFGH')}X"
        city = rng.choice(HOME_CITIES)
        ip, bank = city_ip(rng, city), f"NL{rng.randint(10, 99)}BANK0{rng.randint(10**8, 10**9)}"
        for _ in range(rng.choice((1, 1, 2, 2, 3))):  # a household shares IP and bank account
            number += 1
            people.append(
                Resident(
                    bsn=make_bsn(rng),
                    surname=surname,
                    address=address,
                    account=f"acc-{number:06d}",
                    home_ip=ip,
                    agent=rng.choice(AGENTS),
                    bank=keyed("iban", bank),
                    phone=keyed("phone", f"06{rng.randint(10**7, 10**8 - 1)}"),
                )
            )
    people = people[:residents]
    staff: list[Employee] = []
    for index in range(employees):
        role = ROLE_MIX[index % len(ROLE_MIX)]
        home = people[rng.randrange(len(people))]  # employees live in the municipality
        staff.append(
            Employee(
                employee_id=f"E{10100 + index}",
                surname=home.surname,
                bsn=home.bsn,
                address=home.address,
                role=role,
                department=ROLES[role][0],
                state="active",
                workstation=f"ws-{index + 1:03d}.{MAIL_DOMAIN}",
            )
        )
    staff.append(  # left last month; HR deactivated the account
        Employee(
            "E10990",
            "Visser",
            make_bsn(rng),
            "Kerkweg 3, 8011 AX",
            "medewerker-burgerzaken",
            "Burgerzaken",
            "deactivated",
            "ws-990." + MAIL_DOMAIN,
        )
    )
    staff.append(  # a counter account several people use: against policy, listed as shared
        Employee(
            "balie-algemeen",
            "Balie",
            make_bsn(rng),
            "Stationsplein 1, 8011 AA",
            "medewerker-burgerzaken",
            "Burgerzaken",
            "shared",
            "ws-balie." + MAIL_DOMAIN,
        )
    )
    household = {e.bsn: e.address for e in staff}
    case_number = 1000
    closed: list[tuple[str, str, str]] = []
    for employee in staff:
        if not ROLES[employee.role][1] or employee.state != "active":
            continue
        while len(employee.cases) < 30:
            resident = people[rng.randrange(len(people))]
            if resident.address == household[employee.bsn] or resident.bsn == employee.bsn:
                continue  # the case system routes one's own household to a colleague
            case_number += 1
            employee.cases.append((f"Z-2026-{case_number:05d}", resident.bsn))
        for _ in range(5):
            case_number += 1
            closed.append((f"Z-2025-{case_number:05d}", employee.employee_id, people[0].bsn))
    protected = [people[rng.randrange(len(people))].bsn for _ in range(8)]
    protected = list(dict.fromkeys(b for b in protected if b not in household))
    return Population(people, staff, protected, closed)


def _csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def write_context(population: Population, directory: Path) -> None:
    """The context tables as the case system, HR and BRP export them (collectors/context.py)."""
    directory.mkdir(parents=True, exist_ok=True)
    staff = population.employees
    files = {
        "employees.csv": [["employee", "role", "state", "bsn", "surname", "address"]]
        + [[e.employee_id, e.role, e.state, e.bsn, e.surname, e.address] for e in staff],
        "cases.csv": [["case_ref", "employee", "bsn", "status"]]
        + [[ref, e.employee_id, bsn, "open"] for e in staff for ref, bsn in e.cases]
        + [[ref, emp, bsn, "closed"] for ref, emp, bsn in population.closed_cases],
        "roles.csv": [["role", "record_type"]]
        + [[role, kind] for role, (_, kinds) in ROLES.items() for kind in kinds],
        "protected.csv": [["bsn"]] + [[bsn] for bsn in population.protected],
        "residents.csv": [["bsn", "surname", "address"]]
        + [[r.bsn, r.surname, r.address] for r in population.residents],
        "networks.csv": [
            ["cidr", "kind", "label"],
            [f"{TOR_RANGE}.0/24", "anonymising", "tor-exit"],
            [f"{VPN_RANGE}.0/24", "anonymising", "commercial-vpn"],
        ],
        "geo.csv": [["cidr", "country", "city", "lat", "lon"]]
        + [
            [f"{p}.0.0/16", c, name, str(lat), str(lon)]
            for name, (p, c, lat, lon) in CITIES.items()
        ],
    }
    for name, rows in files.items():
        (directory / name).write_text(_csv(rows), encoding="utf-8")
    office = {
        "timezone": "Europe/Amsterdam",
        "weekdays": [1, 2, 3, 4, 5],
        "start": "07:00",
        "end": "19:00",
        "holidays": ["2026-12-25"],
        "mail_domains": [MAIL_DOMAIN],
    }
    (directory / "office.json").write_text(json.dumps(office, indent=2) + "\n", encoding="utf-8")
