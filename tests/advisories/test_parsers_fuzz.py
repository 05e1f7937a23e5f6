"""Hypothesis: the inventory and identifier parsers turn any input into items or located
problems, never into a crash."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from advisories.identifiers import parse_cpe, parse_purl
from advisories.inventory import read_csv, read_cyclonedx
from core.content import Issue
from core.errors import ValidationError

CELL = st.text(max_size=30)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
COMPONENT_KEYS = st.sampled_from(["type", "name", "version", "purl", "cpe", "group", "bom-ref"])


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.lists(CELL, min_size=1, max_size=9), max_size=6))
def test_any_csv_gives_items_or_located_issues(rows: list[list[str]]) -> None:
    header = "vendor,product,version,owner,exposure,cpe,purl,log_source"
    text = "\n".join([header, *(",".join(json.dumps(c) for c in row) for row in rows)])
    items, issues = read_csv(text, source="f.csv")
    assert all(isinstance(i, Issue) and i.line is not None for i in issues)
    assert len(items) + sum(1 for i in issues if i.is_error) <= max(len(rows), 1) + 1


@settings(max_examples=150, deadline=None)
@given(components=st.lists(st.dictionaries(COMPONENT_KEYS, JSON), max_size=4))
def test_any_component_list_gives_items_or_located_issues(components: list[object]) -> None:
    text = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": components})
    items, issues = read_cyclonedx(text, source="s.json", owner="o", exposure="internal")
    assert len(items) + len(issues) == len(components)
    assert all(i.field.startswith("components[") for i in issues)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=80))
def test_identifiers_parse_or_name_the_field(text: str) -> None:
    for parse, field in ((parse_cpe, "cpe"), (parse_purl, "purl")):
        try:
            parse(text)
        except ValidationError as exc:
            assert exc.field == field
