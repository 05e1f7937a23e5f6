"""Context tables for ingest enrichment, loaded from local CSV/JSON files (no network).

Sigma sees one event at a time and cannot ask "does this employee have an open case for this
resident?". The municipality's systems can: the case system, HR and the BRP export small tables
into a *context directory*, and enrichment (``collectors.enrichment``) answers those questions
at ingest by writing documented ``dijkwacht.*`` fields that rules test.

Files (all optional; a missing file is an empty table; see docs/detection-content.md):

- ``employees.csv``  employee,role,state,bsn,surname,address  (state: active|deactivated|shared)
- ``cases.csv``      case_ref,employee,bsn,status              (the case system's export)
- ``roles.csv``      role,record_type                          (what each role may see)
- ``protected.csv``  bsn                                       (protected persons)
- ``residents.csv``  bsn,surname,address                       (for the relatives check)
- ``networks.csv``   cidr,kind,label                           (kind: anonymising)
- ``geo.csv``        cidr,country,city,lat,lon                 (local geo table)
- ``office.json``    {"timezone", "weekdays": [1-7], "start", "end", "holidays", "mail_domains"}
- ``ldv_activities.csv`` uri,retired,requires_subject             (processing register, LDV)
- ``ldv_partners.csv``   entity,name,activity                     (chain partners, one row per
  agreed activity; written by ``dijkwacht ldv export-context``, see docs/ldv.md)

Privacy: BSN columns (a BSN, or an ``rp_`` pseudonym already) are pseudonymised at load with the
``pseudonym_key``; surnames and addresses are kept only as keyed hashes, enough to compare
"same surname / same address" and nothing more.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import hmac
import ipaddress
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import ConfigError
from core.privacy.service import PSEUDONYM_PREFIX, PrivacyError, Pseudonymiser

ACCOUNT_STATES = frozenset({"active", "deactivated", "shared"})
NETWORK_KINDS = frozenset({"anonymising"})
# Dutch surname prefixes (tussenvoegsels): "van der Berg" and "Berg" are the same family name.
_PREFIXES = frozenset({"van", "de", "der", "den", "het", "ter", "ten", "te", "in", "'t", "la"})
_PSEUDONYM = re.compile(r"rp_[a-z2-7]{32}")
_SCAN_BACK = 16

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ContextError(ConfigError):
    """A context file is malformed; the message names file, line and column."""


@dataclass(frozen=True)
class Employee:
    """One employee as enrichment needs them; personal details only as keyed hashes."""

    employee_id: str
    role: str | None
    state: str
    subject: str | None  # pseudonym of the employee's own BSN
    surname_key: str | None
    address_key: str | None


@dataclass(frozen=True)
class GeoPlace:
    """Where an address range is, from the local geo table."""

    country: str
    city: str
    lat: float
    lon: float


class RangeTable:
    """IP ranges → values, looked up by bisection (the tables may hold thousands of ranges)."""

    def __init__(self, rows: list[tuple[IPNetwork, Any]]) -> None:
        spans = sorted(
            ((int(n.network_address), int(n.broadcast_address), n.version, v) for n, v in rows),
            key=lambda row: (row[2], row[0]),
        )
        self._starts = [(version, start) for start, _, version, _ in spans]
        self._spans = spans

    def __len__(self) -> int:
        return len(self._spans)

    def lookup(self, address: str) -> Any:
        """The value of the (narrowest-start) range holding ``address``, or None."""
        if not self._spans:
            return None
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        key = (ip.version, int(ip))
        index = bisect.bisect_right(self._starts, key) - 1
        # Ranges in these tables rarely nest; a short scan back finds an enclosing one.
        for candidate in range(index, max(index - _SCAN_BACK, -1), -1):
            start, end, version, value = self._spans[candidate]
            if version == ip.version and start <= int(ip) <= end:
                return value
        return None


@dataclass(frozen=True)
class OfficeHours:
    """Working hours in the municipality's time zone; holidays are whole days off."""

    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Amsterdam"))
    weekdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})  # ISO weekday numbers
    start: time = time(7, 0)
    end: time = time(19, 0)
    holidays: frozenset[date] = frozenset()

    def outside(self, moment: datetime) -> bool:
        """True when ``moment`` (aware) falls outside working hours."""
        local = moment.astimezone(self.zone)
        if local.isoweekday() not in self.weekdays or local.date() in self.holidays:
            return True
        return not self.start <= local.time() < self.end


@dataclass(frozen=True)
class ContextTables:
    """Every table enrichment reads; immutable, swapped whole on refresh."""

    version: str = "empty"
    employees: Mapping[str, Employee] = field(default_factory=dict)
    employee_by_subject: Mapping[str, str] = field(default_factory=dict)
    open_cases: frozenset[tuple[str, str]] = frozenset()
    role_record_types: Mapping[str, frozenset[str]] = field(default_factory=dict)
    protected: frozenset[str] = frozenset()
    residents: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)
    anonymising: RangeTable = field(default_factory=lambda: RangeTable([]))
    geo: RangeTable = field(default_factory=lambda: RangeTable([]))
    office_hours: OfficeHours = field(default_factory=OfficeHours)
    mail_domains: frozenset[str] = frozenset()
    # LDV: activity URI -> (retired, requires a data subject); partner entity URI -> (name,
    # agreed activity URIs).
    ldv_activities: Mapping[str, tuple[bool, bool]] = field(default_factory=dict)
    ldv_partners: Mapping[str, tuple[str, frozenset[str]]] = field(default_factory=dict)


def load_context(*, directory: Path, key: bytes) -> ContextTables:
    """Read every context file under ``directory``; ContextError names the bad file and line."""
    if not directory.is_dir():
        raise ContextError(f"context directory {directory} does not exist")
    loader = _Loader(directory, key)
    return loader.load()


class _Loader:
    def __init__(self, directory: Path, key: bytes) -> None:
        self.directory = directory
        self.key = key
        self.pseudonymiser = Pseudonymiser(key)
        self.digest = hashlib.sha256()

    def load(self) -> ContextTables:
        employees: dict[str, Employee] = {}
        for where, row in self._rows("employees.csv", ("employee", "role", "state")):
            state = (row.get("state") or "active").strip().lower()
            if state not in ACCOUNT_STATES:
                raise ContextError(f"{where}: state: must be one of {sorted(ACCOUNT_STATES)}")
            employee_id = self._required(row, "employee", where)
            employees[employee_id] = Employee(
                employee_id=employee_id,
                role=(row.get("role") or "").strip() or None,
                state=state,
                subject=self._subject(row.get("bsn"), where, required=False),
                surname_key=self._keyed("surname", _surname(row.get("surname"))),
                address_key=self._keyed("address", _address(row.get("address"))),
            )
        cases = set()
        for where, row in self._rows("cases.csv", ("case_ref", "employee", "bsn", "status")):
            if (row.get("status") or "open").strip().lower() != "open":
                continue
            subject = self._subject(row.get("bsn"), where, required=True)
            cases.add((self._required(row, "employee", where), str(subject)))
        roles: dict[str, set[str]] = {}
        for where, row in self._rows("roles.csv", ("role", "record_type")):
            role = self._required(row, "role", where)
            roles.setdefault(role, set()).add(self._required(row, "record_type", where))
        protected = {
            str(self._subject(row.get("bsn"), where, required=True))
            for where, row in self._rows("protected.csv", ("bsn",))
        }
        residents = {
            str(self._subject(row.get("bsn"), where, required=True)): (
                self._keyed("surname", _surname(row.get("surname"))),
                self._keyed("address", _address(row.get("address"))),
            )
            for where, row in self._rows("residents.csv", ("bsn", "surname", "address"))
        }
        anonymising = []
        for where, row in self._rows("networks.csv", ("cidr", "kind")):
            kind = self._required(row, "kind", where).lower()
            if kind not in NETWORK_KINDS:
                raise ContextError(f"{where}: kind: must be one of {sorted(NETWORK_KINDS)}")
            anonymising.append((_network(row.get("cidr"), where), True))
        geo = []
        for where, row in self._rows("geo.csv", ("cidr", "country", "city", "lat", "lon")):
            try:
                place = GeoPlace(
                    country=self._required(row, "country", where).upper(),
                    city=(row.get("city") or "").strip(),
                    lat=float(row["lat"]),
                    lon=float(row["lon"]),
                )
            except (TypeError, ValueError):
                raise ContextError(f"{where}: lat/lon: must be decimal degrees") from None
            geo.append((_network(row.get("cidr"), where), place))
        office, mail_domains = self._office()
        activities: dict[str, tuple[bool, bool]] = {}
        for where, row in self._rows("ldv_activities.csv", ("uri", "retired", "requires_subject")):
            activities[self._required(row, "uri", where)] = (
                _flag(row, "retired", where),
                _flag(row, "requires_subject", where),
            )
        partners: dict[str, tuple[str, set[str]]] = {}
        for where, row in self._rows("ldv_partners.csv", ("entity", "name", "activity")):
            entity = self._required(row, "entity", where)
            _, agreed = partners.setdefault(entity, (self._required(row, "name", where), set()))
            if (row.get("activity") or "").strip():
                agreed.add(row["activity"].strip())
        return ContextTables(
            version=self.digest.hexdigest()[:16],
            employees=employees,
            employee_by_subject={e.subject: e.employee_id for e in employees.values() if e.subject},
            open_cases=frozenset(cases),
            role_record_types={role: frozenset(types) for role, types in roles.items()},
            protected=frozenset(protected),
            residents=residents,
            anonymising=RangeTable(anonymising),
            geo=RangeTable(geo),
            office_hours=office,
            mail_domains=mail_domains,
            ldv_activities=activities,
            ldv_partners={e: (n, frozenset(a)) for e, (n, a) in partners.items()},
        )

    def _rows(self, name: str, columns: tuple[str, ...]) -> Iterator[tuple[str, dict[str, str]]]:
        path = self.directory / name
        if not path.is_file():
            return
        data = path.read_bytes()
        self.digest.update(name.encode() + b"\0" + data)
        reader = csv.DictReader(data.decode("utf-8-sig").splitlines())
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise ContextError(f"{name}:1: header lacks column(s) {', '.join(missing)}")
        for row in reader:
            yield f"{name}:{reader.line_num}", row

    def _required(self, row: Mapping[str, str | None], column: str, where: str) -> str:
        value = (row.get(column) or "").strip()
        if not value:
            raise ContextError(f"{where}: {column}: is required")
        return value

    def _subject(self, value: str | None, where: str, *, required: bool) -> str | None:
        text = (value or "").strip()
        if not text:
            if required:
                raise ContextError(f"{where}: bsn: is required")
            return None
        if text.startswith(PSEUDONYM_PREFIX):
            if not _PSEUDONYM.fullmatch(text):
                raise ContextError(f"{where}: bsn: not a valid pseudonym")
            return text
        try:
            return self.pseudonymiser.pseudonym(text, field="bsn")
        except PrivacyError as exc:  # the message never holds the number itself
            raise ContextError(f"{where}: {exc}") from None

    def _keyed(self, kind: str, value: str | None) -> str | None:
        if not value:
            return None
        mac = hmac.new(self.key, f"{kind}:{value}".encode(), hashlib.sha256)
        return mac.hexdigest()[:24]

    def _office(self) -> tuple[OfficeHours, frozenset[str]]:
        path = self.directory / "office.json"
        if not path.is_file():
            return OfficeHours(), frozenset()
        data = path.read_bytes()
        self.digest.update(b"office.json\0" + data)
        try:
            raw = json.loads(data)
            zone = ZoneInfo(str(raw.get("timezone", "Europe/Amsterdam")))
            hours = OfficeHours(
                zone=zone,
                weekdays=frozenset(int(d) for d in raw.get("weekdays", [1, 2, 3, 4, 5])),
                start=time.fromisoformat(str(raw.get("start", "07:00"))),
                end=time.fromisoformat(str(raw.get("end", "19:00"))),
                holidays=frozenset(date.fromisoformat(str(d)) for d in raw.get("holidays", [])),
            )
            domains = frozenset(str(d).lower() for d in raw.get("mail_domains", []))
        except (ValueError, TypeError, AttributeError, ZoneInfoNotFoundError) as exc:
            raise ContextError(f"office.json: {exc}") from None
        return hours, domains


def _flag(row: Mapping[str, str | None], column: str, where: str) -> bool:
    value = (row.get(column) or "").strip().lower()
    if value not in ("true", "false", "1", "0", "yes", "no", ""):
        raise ContextError(f"{where}: {column}: must be true or false")
    return value in ("true", "1", "yes")


def _network(value: str | None, where: str) -> IPNetwork:
    try:
        return ipaddress.ip_network((value or "").strip(), strict=False)
    except ValueError:
        raise ContextError(f"{where}: cidr: not an IP network") from None


def _surname(value: str | None) -> str | None:
    words = [w for w in (value or "").lower().split() if w not in _PREFIXES]
    return " ".join(words) or None


def _address(value: str | None) -> str | None:
    text = re.sub(r"\s+", "", (value or "").lower())
    return text or None
