"""What the feed readers hand to the service, and what an import reports back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.content.issues import Issue

FORMATS: tuple[str, ...] = ("misp-feed", "misp", "stix", "csv", "warninglist")


@dataclass
class IndicatorRecord:
    """One indicator as a feed gives it, value already normalised (`intel.values`)."""

    type: str
    value: str
    confidence: int | None = None  # None: the source's default
    tlp: str | None = None  # None: the source's default
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    valid_until: datetime | None = None
    techniques: tuple[str, ...] = ()
    group_key: str | None = None  # MISP event uuid, STIX bundle id: the related indicators
    external_id: str | None = None
    description: str | None = None
    revoked: bool = False  # a STIX `revoked` or a feed's deletion: expire the stored one


@dataclass
class WarninglistRecord:
    """One MISP warninglist: its name, matching type and values."""

    name: str
    kind: str
    values: list[str]


@dataclass
class Parsed:
    """What a reader found: records, warninglists, located issues, and how many it refused."""

    records: list[IndicatorRecord] = field(default_factory=list)
    warninglists: list[WarninglistRecord] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    rejected: int = 0
    skipped: int = 0  # well-formed but not for detection (MISP to_ids false, unsupported type)

    def reject(self, source: str, where: str, problem: str, line: int | None = None) -> None:
        self.issues.append(Issue(source=source, line=line, field=where, message=problem))
        self.rejected += 1


@dataclass
class ImportReport:
    """Counts and located problems of one import (CLI, page, scheduled refresh)."""

    source: str
    added: int = 0
    updated: int = 0
    expired: int = 0
    warninglisted: int = 0
    rejected: int = 0
    skipped: int = 0
    warninglist_entries: int = 0
    problems: list[Issue] = field(default_factory=list)
    new_keys: list[str] = field(default_factory=list)  # "<type>:<value>" added: retro-hunt these

    def counts(self) -> dict[str, int]:
        return {
            "added": self.added,
            "updated": self.updated,
            "expired": self.expired,
            "warninglisted": self.warninglisted,
            "rejected": self.rejected,
            "skipped": self.skipped,
            "warninglist_entries": self.warninglist_entries,
        }
