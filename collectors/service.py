"""The collectors' public service API for other domains (see tests/test_import_contract.py).

Other domains put events into the pipeline only through here, never by opening the spool
themselves: events appended go the same way as syslog or HTTP ingest (spool → consumer →
event store → detection), so a drill tests the real path and nothing is lost on a crash.

The parsers, the pseudonymiser, the context tables and the enricher are public too: the demo
world (`demo_world/`) reads the files it generates exactly as a collector would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from collectors.context import load_context
from collectors.deadletters import replay_dead_letters
from collectors.enrichment import Enricher
from collectors.expected import (
    check_expected,
    expect_source,
    forget_source,
    list_expected,
    silence_limits,
)
from collectors.health import data_dir_setting
from collectors.http_ingest import ForbiddenError, UnauthorizedError, authenticate
from collectors.metrics import SourceCollector, SourceStatus, source_status
from collectors.parsers import (
    PARSER_NAMES,
    HeaderRow,
    ParseError,
    Parser,
    get_parser,
    zone_options,
)
from collectors.parsers.app_audit import FIELDS as APP_AUDIT_FIELDS
from collectors.parsers.auth_messages import AUTH_PROGRAMS
from collectors.spool import open_spool
from core.config import Settings
from core.events import Event
from core.privacy.service import PSEUDONYM_PREFIX, valid_bsns_in
from core.store.base import DeadLetterCount, EventStore
from core.store.faults import describe_fault

__all__ = [
    "APP_AUDIT_FIELDS",
    "AUTH_PROGRAMS",
    "PARSER_NAMES",
    "DeadLetterSummary",
    "Enricher",
    "ForbiddenError",
    "HeaderRow",
    "ParseError",
    "Parser",
    "SourceCollector",
    "SourceStatus",
    "UnauthorizedError",
    "authenticate",
    "check_expected",
    "data_dir_setting",
    "dead_letter_summary",
    "describe_fault",
    "expect_source",
    "forget_source",
    "get_parser",
    "holds_resident_identifier",
    "inject_events",
    "list_expected",
    "load_context",
    "open_spool",
    "replay_dead_letters",
    "silence_limits",
    "source_status",
    "zone_options",
]


@dataclass(frozen=True, slots=True)
class DeadLetterSummary:
    """Input that never became an event, per source: live collectors, `dijkwacht ingest`,
    HTTP ingest and store refusals all end in the event store's dead-letter table."""

    total: int
    sources: list[DeadLetterCount]


def inject_events(*, settings: Settings, events: Sequence[Event], source: str) -> int:
    """Append events durably to the spool (fsynced before return); returns how many.

    The dicts get their store `event.id` in place, as with every collector.
    """
    if not events:
        return 0
    with open_spool(settings) as spool:
        spool.append(list(events), source=source)
    return len(events)


def dead_letter_summary(*, store: EventStore) -> DeadLetterSummary:
    """Dead letters per source (most first) and in all, for status pages and the CLI."""
    sources = store.dead_letter_counts()
    return DeadLetterSummary(sum(item.count for item in sources), sources)


def holds_resident_identifier(text: str) -> bool:
    """Whether `text` holds a resident identifier: a 9-digit run passing the BSN 11-test, or a
    resident pseudonym (`rp_...`, which re-identifies with the key). For code that lets data
    leave the platform (sharing indicators with a CERT) and must leave these out."""
    lowered = text.lower()
    if PSEUDONYM_PREFIX in lowered:
        return True
    return bool(valid_bsns_in(text))
