"""The software inventory: CSV and CycloneDX imports, located problems, re-import updates."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from advisories.service import import_inventory, list_items
from collectors.service import list_expected
from core.clock import FrozenClock
from tests.advisories.samples import cyclonedx_sbom, inventory_csv, library


def test_csv_rows_with_problems_are_located_and_the_rest_loads(
    db: Session, clock: FrozenClock
) -> None:
    good = {"vendor": "Microsoft", "product": "Exchange Server", "version": "15.2.1544",
            "owner": "team-werkplek", "exposure": "internet",
            "cpe": "cpe:2.3:a:microsoft:exchange_server:15.2.1544:*:*:*:*:*:*:*",
            "log_source": "exchange01"}  # fmt: skip
    text = inventory_csv(
        [
            good,
            {**good, "version": "1", "exposure": "dmz"},
            {**good, "version": "2", "cpe": "cpe:/a:microsoft:exchange"},
            {**good, "version": "3", "owner": ""},
            {**good, "version": "4", "purl": "not a purl", "cpe": ""},
            {**good, "version": "5" * 101},
        ]
    )
    report = import_inventory(db=db, clock=clock, text=text, source="inv.csv", actor="t")
    assert report.added == 1
    assert [(i.line, i.field) for i in report.issues] == [
        (3, "exposure"),
        (4, "cpe"),
        (5, "owner"),
        (6, "purl"),
        (7, "version"),
    ]
    assert report.issues[-1].message == "longer than 100 characters"
    assert str(report.issues[0]).startswith("inv.csv:3: exposure: must be internet or internal")
    [item] = list_items(db=db)
    assert (item.owner, item.exposure, item.log_source) == (
        "team-werkplek",
        "internet",
        "exchange01",
    )
    assert report.log_sources == ["exchange01"]
    [expected] = list_expected(db=db)
    assert (expected.name, expected.origin, expected.max_silence_minutes) == (
        "exchange01",
        "inventory",
        15,
    )
    again = import_inventory(
        db=db, clock=clock, text=inventory_csv([{**good, "owner": "team-nieuw"}]),
        source="inv.csv", actor="t",
    )  # fmt: skip
    assert (again.added, again.updated) == (0, 1)
    assert list_items(db=db)[0].owner == "team-nieuw"


def test_a_csv_without_required_columns_says_which() -> None:
    from advisories.inventory import read_csv

    items, issues = read_csv("vendor,product\nA,B\n", source="x.csv")
    assert items == [] and issues[0].line == 1
    assert "version" in issues[0].message and "exposure" in issues[0].message


def test_a_cyclonedx_sbom_made_with_the_library_imports(db: Session, clock: FrozenClock) -> None:
    text = cyclonedx_sbom(
        [library("requests", "2.31.0", group="psf"), library("jinja2", "3.1.2", group="pallets")]
    )
    report = import_inventory(
        db=db, clock=clock, text=text, source="app.cdx.json", actor="t", kind="cyclonedx",
        owner="team-apps", exposure="internet",
    )  # fmt: skip
    assert report.issues == [] and report.added == 2
    items = {i.product: i for i in list_items(db=db)}
    assert items["requests"].purl == "pkg:pypi/requests@2.31.0"
    assert (items["jinja2"].vendor, items["jinja2"].owner) == ("pallets", "team-apps")


def test_a_bad_component_is_located_and_the_others_load(db: Session, clock: FrozenClock) -> None:
    doc = json.loads(cyclonedx_sbom([library("requests", "2.31.0", group="psf")]))
    doc["components"].append({"type": "library", "name": "broken", "version": "1",
                              "purl": "pkg:"})  # fmt: skip
    doc["components"].append({"type": "library", "name": "noversion"})
    report = import_inventory(
        db=db, clock=clock, text=json.dumps(doc), source="s.json", actor="t", kind="cyclonedx",
        owner="team-apps",
    )  # fmt: skip
    assert report.added == 1
    assert [i.field.split(".")[0] for i in report.issues] == ["components[1]", "components[2]"]
    assert report.issues[1].field == "components[2].version"
    assert (
        import_inventory(
            db=db, clock=clock, text="{}", source="e.json", actor="t", kind="cyclonedx", owner="x"
        )
        .issues[0]
        .field
        == "bomFormat"
    )
    assert (
        import_inventory(
            db=db, clock=clock, text="{", source="e.json", actor="t", kind="cyclonedx", owner="x"
        )
        .issues[0]
        .field
        == "(document)"
    )
