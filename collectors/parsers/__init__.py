"""Parsers: raw records (bytes) in, ECS events out, `ParseError` for anything unparseable.

`get_parser(name, **options)` builds a parser by format name; every parser satisfies the
`Parser` protocol: `parse(raw, *, received_at, source) -> Event`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from collectors.parsers.access_log import AccessLogParser
from collectors.parsers.app_audit import AppAuditParser, HeaderRow
from collectors.parsers.authlog import AuthLogParser
from collectors.parsers.base import ParseError, Parser
from collectors.parsers.framing import Frame, Framing, SyslogFramer
from collectors.parsers.jsonlines import JsonLinesParser
from collectors.parsers.ldv import LdvParser
from collectors.parsers.rfc3164 import Rfc3164Parser
from collectors.parsers.syslog import Rfc5424Parser, SyslogParser
from core.errors import ConfigError
from core.privacy.service import Pseudonymiser

if TYPE_CHECKING:
    from core.config import Settings

__all__ = [
    "PARSER_NAMES",
    "AccessLogParser",
    "AppAuditParser",
    "AuthLogParser",
    "Frame",
    "Framing",
    "HeaderRow",
    "JsonLinesParser",
    "LdvParser",
    "ParseError",
    "Parser",
    "Rfc3164Parser",
    "Rfc5424Parser",
    "SyslogFramer",
    "SyslogParser",
    "get_parser",
    "zone_options",
]


def _audit(fmt: str) -> Callable[..., Parser]:
    def build(*, pseudonymiser: Pseudonymiser | None = None, **_: Any) -> Parser:
        if pseudonymiser is None:
            raise ConfigError(f"parser app-audit-{fmt} needs a pseudonymiser (pseudonym_key)")
        return AppAuditParser(pseudonymiser=pseudonymiser, fmt=fmt)

    return build


def _ldv(*, pseudonymiser: Pseudonymiser | None = None, **_: Any) -> Parser:
    if pseudonymiser is None:
        raise ConfigError("parser ldv needs a pseudonymiser (pseudonym_key)")
    return LdvParser(pseudonymiser=pseudonymiser)


def _zoned(factory: Callable[..., Parser]) -> Callable[..., Parser]:
    def build(
        *,
        tz: tzinfo = UTC,
        future_tolerance: timedelta = timedelta(days=1),
        zones: Mapping[str, tzinfo] | None = None,
        **_: Any,
    ) -> Parser:
        return factory(tz=tz, future_tolerance=future_tolerance, zones=zones)

    return build


def _json(
    *, dataset: str = "json", timestamp_field: str = "timestamp", tz: tzinfo = UTC, **_: Any
) -> Parser:
    return JsonLinesParser(dataset=dataset, timestamp_field=timestamp_field, default_tz=tz)


_FACTORIES: dict[str, Callable[..., Parser]] = {
    "syslog": _zoned(SyslogParser),
    "rfc5424": lambda **_: Rfc5424Parser(),
    "rfc3164": _zoned(Rfc3164Parser),
    "nginx": lambda **_: AccessLogParser(flavour="nginx"),
    "apache": lambda **_: AccessLogParser(flavour="apache"),
    "authlog": _zoned(AuthLogParser),
    "json": _json,
    "app-audit-json": _audit("json"),
    "app-audit-csv": _audit("csv"),
    "ldv": _ldv,
}
PARSER_NAMES = tuple(_FACTORIES)


def zone_options(settings: Settings) -> dict[str, Any]:
    """The `tz` and per-sender `zones` parser options the settings give (see
    `syslog_sender_timezones`), so every collector path reads RFC 3164 times alike."""
    zones = {sender: ZoneInfo(zone) for sender, zone in settings.syslog_sender_timezones.items()}
    return {"tz": ZoneInfo(settings.timezone), "zones": zones}


def get_parser(name: str, **options: Any) -> Parser:
    """A parser by format name; options: tz, zones, future_tolerance, dataset, timestamp_field,
    pseudonymiser (required for app-audit-* and ldv). Options a format does not use are ignored, so
    one collector config can build any parser."""
    factory = _FACTORIES.get(name)
    if factory is None:
        raise ConfigError(f"unknown parser {name!r}; known: {', '.join(PARSER_NAMES)}")
    return factory(**options)
