"""Raw record builders: each returns one line exactly as the source system would write it.

The demo goes through the real collectors, so these must be the formats the parsers read:
ECS JSON lines for the portal, mail audit, packet summaries and the Windows shipper; the
municipal app-audit JSON; nginx combined log lines; auth.log lines.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

PORTAL_AUTH = "portal_auth.jsonl"
PORTAL_FORMS = "portal_forms.jsonl"
APP_AUDIT = "app_audit.jsonl"
NGINX = "nginx_access.log"
AUTHLOG = "auth.log"
WINDOWS = "windows.jsonl"
MAIL = "mail_audit.jsonl"
NETWORK = "network.jsonl"
LDV = "ldv.jsonl"

# File -> (parser name, parser options) the ingest uses; the README of the output says the same.
FILES: dict[str, tuple[str, dict[str, Any]]] = {
    PORTAL_AUTH: ("json", {"dataset": "portal.auth"}),
    PORTAL_FORMS: ("json", {"dataset": "portal.forms"}),
    APP_AUDIT: ("app-audit-json", {}),
    NGINX: ("nginx", {}),
    AUTHLOG: ("authlog", {}),
    WINDOWS: ("json", {"dataset": "windows"}),
    MAIL: ("json", {"dataset": "mail.audit"}),
    NETWORK: ("json", {"dataset": "network"}),
    LDV: ("ldv", {}),
}


@dataclass(frozen=True)
class Record:
    """One raw line, when it happened, and the scenario that seeded it (None: normal)."""

    time: datetime
    file: str
    text: str
    scenario: str | None = None


@dataclass(frozen=True)
class Client:
    """Who is at the portal, from where and with what: every portal record repeats these."""

    account: str
    ip: str
    agent: str
    session: str


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _dump(obj: dict[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def portal_auth(
    moment: datetime,
    client: Client,
    *,
    outcome: str,
    method: str = "digid",
    action: str = "login",
) -> str:
    """The portal's ECS login record (ecs-logging style); never a BSN, only the account id."""
    event: dict[str, Any] = {
        "kind": "event",
        "dataset": "portal.auth",
        "category": ["authentication"],
        "type": ["start"] if action == "login" else ["info"],
        "action": action,
        "outcome": outcome,
    }
    if outcome == "failure":
        event["reason"] = "authentication failed"
    return _dump(
        {
            "@timestamp": _iso(moment),
            "event": event,
            "user": {"id": client.account},
            "source": {"ip": client.ip},
            "user_agent": {"original": client.agent},
            "url": {"domain": "mijn.gemeente.example"},
            "dijkwacht": {"auth": {"method": method}, "session": {"id": client.session}},
        }
    )


def portal_form(
    moment: datetime,
    client: Client,
    *,
    action: str,
    outcome: str = "success",
    form: str | None = None,
    fill_seconds: int | None = None,
    bank_hash: str | None = None,
    phone_hash: str | None = None,
    case_ref: str | None = None,
    status: int = 200,
) -> str:
    """A portal form record: a submission, or a look-up of a case or document by number."""
    extension: dict[str, Any] = {"session": {"id": client.session}}
    form_fields: dict[str, Any] = {}
    if form is not None:
        form_fields["name"] = form
    if fill_seconds is not None:
        form_fields["fill_seconds"] = fill_seconds
    if bank_hash is not None:
        form_fields["bank_account_hash"] = bank_hash
    if phone_hash is not None:
        form_fields["phone_hash"] = phone_hash
    if form_fields:
        extension["form"] = form_fields
    if case_ref is not None:
        extension["case"] = {"reference": case_ref}
    return _dump(
        {
            "@timestamp": _iso(moment),
            "event": {
                "kind": "event",
                "dataset": "portal.forms",
                "category": ["web"],
                "type": ["creation"] if action == "form_submit" else ["access"],
                "action": action,
                "outcome": outcome,
            },
            "user": {"id": client.account},
            "source": {"ip": client.ip},
            "user_agent": {"original": client.agent},
            "http": {"response": {"status_code": status}},
            "dijkwacht": extension,
        }
    )


def app_audit(moment: datetime, **fields: Any) -> str:
    """One municipal application audit record (docs/collectors.md), keys in documented order."""
    order = [
        "system",
        "actor",
        "actor_role",
        "department",
        "action",
        "subject",
        "record_type",
        "purpose",
        "case_ref",
        "channel",
        "result",
        "record_count",
    ]
    record: dict[str, Any] = {"time": _iso(moment)}
    for key in order:
        if fields.get(key) not in (None, ""):
            record[key] = fields[key]
    return _dump(record)


def nginx(
    moment: datetime,
    *,
    ip: str,
    method: str,
    target: str,
    status: int,
    size: int,
    agent: str,
    referrer: str = "-",
) -> str:
    """An nginx combined-format line."""
    stamp = moment.strftime("%d/%b/%Y:%H:%M:%S %z")
    return f'{ip} - - [{stamp}] "{method} {target} HTTP/1.1" {status} {size} "{referrer}" "{agent}"'


def authlog(moment: datetime, *, host: str, process: str, pid: int | None, message: str) -> str:
    """An auth.log line (BSD syslog without PRI, as rsyslog writes it)."""
    stamp = f"{moment.strftime('%b')} {moment.day:>2} {moment.strftime('%H:%M:%S')}"
    tag = f"{process}[{pid}]" if pid is not None else process
    return f"{stamp} {host} {tag}: {message}"


SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"
SYSMON_PROVIDER = "Microsoft-Windows-Sysmon"


def sysmon_process(
    *,
    host: str,
    image: str,
    original: str,
    command: str,
    parent: str,
    user: str,
    process_id: int | None = None,
) -> dict[str, Any]:
    """Sysmon event 1 (process created) fields, in the order the shipper writes them."""
    fields: dict[str, Any] = {
        "EventID": 1,
        "Channel": SYSMON_CHANNEL,
        "Computer": host,
        "Image": image,
        "OriginalFileName": original,
        "CommandLine": command,
        "ParentImage": parent,
        "User": user,
    }
    if process_id is not None:
        fields["ProcessId"] = process_id
    fields["Provider_Name"] = SYSMON_PROVIDER
    return fields


def sysmon_file_created(*, host: str, image: str, target: str) -> dict[str, Any]:
    """Sysmon event 11 (file created) fields, in the order the shipper writes them."""
    return {
        "EventID": 11,
        "Channel": SYSMON_CHANNEL,
        "Computer": host,
        "Image": image,
        "TargetFilename": target,
        "Provider_Name": SYSMON_PROVIDER,
    }


def windows(moment: datetime, *, dataset: str, record_id: int, fields: dict[str, Any]) -> str:
    """A Windows event as the shipper sends it: Zircolite-style flat fields plus ECS basics."""
    return _dump(
        {
            "@timestamp": _utc(moment),
            "event": {"kind": "event", "dataset": dataset},
            "SystemTime": _utc(moment),
            "EventRecordID": record_id,
            **fields,
        }
    )


def mail_rule(
    moment: datetime, *, user: str, ip: str, rule: str, forward_to: list[str] | None
) -> str:
    """A mail server audit record: an inbox rule created (ECS JSON from the mail gateway)."""
    obj: dict[str, Any] = {
        "@timestamp": _iso(moment),
        "event": {
            "kind": "event",
            "dataset": "mail.audit",
            "category": ["configuration"],
            "type": ["creation"],
            "action": "new_inbox_rule",
            "outcome": "success",
        },
        "user": {"name": user},
        "source": {"ip": ip},
        "rule": {"name": rule},
    }
    if forward_to:
        obj["email"] = {"to": {"address": forward_to}}
    return _dump(obj)


def flow(
    moment: datetime, *, src: str, dst: str, dport: int, sent: int, received: int, seconds: int
) -> str:
    """A packet-collector flow summary (the `network.flow` events of collectors/packets.py)."""
    return _dump(
        {
            "@timestamp": _utc(moment),
            "event": {
                "kind": "event",
                "dataset": "network.flow",
                "category": ["network"],
                "type": ["connection"],
                "action": "network_flow",
                "duration": seconds * 1_000_000_000,
            },
            "network": {"transport": "tcp", "type": "ipv4", "bytes": sent + received},
            "source": {"ip": src, "port": 49152 + (sent % 16000), "bytes": sent},
            "destination": {"ip": dst, "port": dport, "bytes": received},
        }
    )


def dns_query(moment: datetime, *, src: str, resolver: str, name: str, qtype: str = "A") -> str:
    """A packet-collector DNS query summary (`network.dns`)."""
    return _dump(
        {
            "@timestamp": _utc(moment),
            "event": {
                "kind": "event",
                "dataset": "network.dns",
                "category": ["network"],
                "type": ["protocol"],
                "original": f"dns query {name} {qtype}",
            },
            "network": {"transport": "udp", "type": "ipv4", "protocol": "dns"},
            "source": {"ip": src, "port": 53000 + len(name)},
            "destination": {"ip": resolver, "port": 53},
            "dns": {"type": "query", "question": {"name": name, "type": qtype}},
        }
    )


# Builder -> the file its lines go to (``Writer.write`` looks the file up here).
def ldv_record(
    moment: datetime,
    *,
    trace: str,
    span: str,
    name: str,
    system: str,
    activity: str,
    subject: str | list[str] | None,
    duration_ms: int,
    parent: str | None = None,
    foreign: tuple[str, str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """One Logboek Dataverwerkingen record as a JSON line (the `ldv` format, docs/ldv.md)."""
    start = int(moment.timestamp() * 1000)
    attributes: dict[str, Any] = {"dpl.core.processing_activity_id": activity}
    if subject is not None:
        attributes["dpl.core.data_subject_id"] = subject
        attributes["dpl.core.data_subject_id_type"] = "BSN"
    attributes.update(extra or {})
    record: dict[str, Any] = {
        "trace_id": trace,
        "span_id": span,
        "name": name,
        "start_time": start,
        "end_time": start + duration_ms,
        "status_code": 1,
        "resource": {"attributes": {"service.name": system}},
        "attributes": attributes,
    }
    if parent is not None:
        record["parent_span_id"] = parent
    if foreign is not None:
        trace_id, span_id, entity = foreign
        record["foreign_operation"] = {"trace_id": trace_id, "span_id": span_id, "entity": entity}
    return _dump(record)


FILE_OF: dict[Callable[..., str], str] = {
    portal_auth: PORTAL_AUTH,
    portal_form: PORTAL_FORMS,
    app_audit: APP_AUDIT,
    nginx: NGINX,
    authlog: AUTHLOG,
    windows: WINDOWS,
    mail_rule: MAIL,
    flow: NETWORK,
    dns_query: NETWORK,
    ldv_record: LDV,
}
