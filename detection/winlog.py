"""Windows events in the raw-field form SigmaHQ Windows rules are written for.

SigmaHQ's Windows rules name Sysmon and Security fields as Windows writes them (``Image``,
``CommandLine``, ``TargetUserName``) and find their log source through ``Channel`` and
``EventID`` (added by the ``sysmon``/``windows-audit`` + ``windows-logsources`` pipelines).
Events stored as ECS keep those values under ``winlog.*``; this module lays them out again as
one flat mapping, the way Zircolite flattens an EVTX record, so the rules run unchanged under
``WINDOWS_STACKS`` and agree with the reference corpus (``../shared/corpus/sigma-dev``).

Where each raw field comes from (docs/detection-content.md has the table):

- an EVTX record rendered by ``evtx`` (``event.original`` of events from ``collectors.evtx``, or
  the record itself in ``dijkwacht detect``): every leaf of ``Event.System``/``EventData``/
  ``UserData`` under its last path element with non-alphanumerics removed, plus
  ``Provider_Name`` (``System.Provider@Name``) and ``EventID`` (``System.EventID`` or its text);
- a Winlogbeat / Elastic Agent event (no such original): ``winlog.channel`` → ``Channel``,
  ``winlog.event_id`` → ``EventID``, ``winlog.provider_name`` → ``Provider_Name``,
  ``winlog.computer_name`` → ``Computer``, ``winlog.record_id`` → ``EventRecordID``, every
  ``winlog.event_data.*`` / ``winlog.user_data.*`` item under its own name, and a few more.

Values are kept as they are (the matcher compares text case-insensitively and reads 4688 and
"4688" alike); lists become their Python text form and empty values are dropped, like the
reference. ``Hashes`` is also split into ``SHA1``/``MD5``/``SHA256``/``IMPHASH``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

# Both stacks the reference evaluates every SigmaHQ Windows rule under; a rule matches if it
# matches under either (Sysmon event ids, or the Security log's 4688 and friends).
WINDOWS_STACKS: tuple[str, ...] = (
    "sysmon+windows-logsources",
    "windows-audit+windows-logsources",
)

# Full record paths whose flat name is not simply the last element without punctuation.
_RENAMED = {
    "Event.System.Provider.#attributes.Name": "Provider_Name",
    "Event.System.EventID.#text": "EventID",
    "Event.System.Channel.#text": "Channel",
    "Event.System.Computer.#text": "Computer",
    "Event.EventData.Data": "Message",
    "Event.EventData.Data.#text": "Message",
    "Event.EventData.TargetFilename": "TargetFileName",
    "Event.EventData.SamAccountName": "SAMAccountName",
}
_HASH_NAMES = frozenset({"SHA1", "MD5", "SHA256", "IMPHASH"})

# Winlogbeat / Elastic Agent `winlog.*` keys (ECS side) → raw field.
_WINLOG_SYSTEM = {
    "channel": "Channel",
    "event_id": "EventID",
    "provider_name": "Provider_Name",
    "provider_guid": "Guid",
    "computer_name": "Computer",
    "record_id": "EventRecordID",
    "task": "Task",
    "opcode": "Opcode",
    "version": "Version",
    "keywords": "Keywords",
}


def is_windows(event: Mapping[str, Any]) -> bool:
    """Whether an event carries Windows event-log data the mapping applies to."""
    winlog = event.get("winlog")
    return isinstance(winlog, Mapping) and bool(winlog.get("channel") or winlog.get("event_id"))


def raw_fields(event: Mapping[str, Any]) -> dict[str, Any]:
    """The flat raw-field form of an ECS Windows event (see the module docstring)."""
    document = _original(event)
    if document is not None:
        return flatten_record(document)
    return _from_winlog(event)


def flatten_record(document: Mapping[str, Any]) -> dict[str, Any]:
    """A rendered EVTX record (``{"Event": {"System": .., "EventData": ..}}``) made flat."""
    flat: dict[str, Any] = {}
    root = document.get("Event")
    if isinstance(root, Mapping):
        # The payload first, then System, whose value wins for a name both have: the
        # reference's order (``Channel`` of a log-cleared event whose UserData names the
        # cleared log, ``ProcessID`` where EventData has one too).
        payload = {k: v for k, v in root.items() if k != "System"}
        _walk(payload, "Event", flat)
        system = root.get("System")
        if isinstance(system, Mapping):
            _walk(system, "Event.System", flat)
    else:
        _walk(document, "", flat)
    _split_hashes(flat)
    return flat


def _walk(node: Mapping[str, Any], path: str, flat: dict[str, Any]) -> None:
    for key, value in node.items():
        full = f"{path}.{key}" if path else key
        if "xmlns" in full:
            continue
        if isinstance(value, Mapping):
            _walk(value, full, flat)
            continue
        if value is None or value == "":
            continue
        name = _RENAMED.get(full) or "".join(c for c in key if c.isalnum())
        if not name:
            continue
        flat[name] = str(value) if isinstance(value, list) else value


def _split_hashes(flat: dict[str, Any]) -> None:
    hashes = flat.get("Hashes")
    if not isinstance(hashes, str):
        return
    for part in hashes.split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip().upper() in _HASH_NAMES and value.strip():
            flat[name.strip().upper()] = value.strip()


def _original(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The rendered EVTX record kept in ``event.original``, if that is what it holds."""
    meta = event.get("event")
    original = meta.get("original") if isinstance(meta, Mapping) else None
    if not isinstance(original, str | bytes) or original.lstrip()[:1] not in ("{", b"{"):
        return None
    try:
        document = orjson.loads(original)
    except orjson.JSONDecodeError:
        return None
    if isinstance(document, dict) and isinstance(document.get("Event"), Mapping):
        return document
    return None


def _from_winlog(event: Mapping[str, Any]) -> dict[str, Any]:
    """Winlogbeat's layout: system values under ``winlog.*``, the payload in ``event_data``."""
    winlog = event.get("winlog")
    if not isinstance(winlog, Mapping):
        return {}
    flat: dict[str, Any] = {}
    for key, name in _WINLOG_SYSTEM.items():
        value = winlog.get(key)
        if value is not None and value != "":
            flat[name] = value
    process = winlog.get("process")
    if isinstance(process, Mapping):
        if process.get("pid") is not None:
            flat["ProcessID"] = process["pid"]
        thread = process.get("thread")
        if isinstance(thread, Mapping) and thread.get("id") is not None:
            flat["ThreadID"] = thread["id"]
    user = winlog.get("user")
    if isinstance(user, Mapping) and user.get("identifier"):
        flat["UserID"] = user["identifier"]
    log = event.get("log")
    if isinstance(log, Mapping) and log.get("level"):
        flat["Level"] = log["level"]
    if event.get("@timestamp"):
        flat["SystemTime"] = event["@timestamp"]
    for key in ("event_data", "user_data"):
        data = winlog.get(key)
        if isinstance(data, Mapping):
            _walk(data, "", flat)
    _split_hashes(flat)
    return flat
