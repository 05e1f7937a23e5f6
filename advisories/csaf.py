"""Read CSAF 2.0 advisories: validate, then take out products, statuses, CVEs and severity.

Validation is the `csaf` package's (schema plus the mandatory tests of CSAF 2.0 section 6.1,
preset `basic`), with the official OASIS schema and the FIRST CVSS schemas it ships; nothing is
fetched. A document that fails is refused with every problem located by JSON pointer.

Products come from the product tree: `full_product_names`, the leaves of `branches` (whose
path gives vendor, product name and `product_version` or `product_version_range`) and the
`full_product_name` of each relationship; each with its `product_identification_helper`
(`cpe`, `purl`). Statuses: `known_affected`, `first_affected`, `last_affected` count as
affected; `fixed` and `first_fixed` as fixed.

Severity is the highest word found in `document.aggregate_severity.text`, in each
vulnerability's `threats` of category `impact`, and in the CVSS `baseSeverity` of its `scores`.
NCSC-NL writes Dutch words too (hoog, kritiek...), so both languages count.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.content import Issue

SEVERITY_ORDER = ("none", "low", "medium", "high", "critical")
_WORDS = {
    "critical": "critical",
    "kritiek": "critical",
    "kritisch": "critical",
    "urgent": "critical",
    "important": "high",
    "high": "high",
    "hoog": "high",
    "medium": "medium",
    "moderate": "medium",
    "middel": "medium",
    "gemiddeld": "medium",
    "low": "low",
    "laag": "low",
}
AFFECTED = ("known_affected", "first_affected", "last_affected")
FIXED = ("fixed", "first_fixed")


@dataclass(frozen=True, slots=True)
class ProductRef:
    """One product of the tree, with what matching compares."""

    product_id: str
    name: str
    vendor: str | None = None
    product: str | None = None
    version: str | None = None
    version_range: str | None = None
    cpe: str | None = None
    purl: str | None = None


@dataclass
class ParsedAdvisory:
    """What the platform keeps of one valid CSAF document."""

    tracking_id: str
    publisher: str
    title: str
    version: str
    released_at: datetime
    severity: str
    severity_text: str | None
    cves: list[str]
    products: dict[str, ProductRef]
    affected: dict[str, list[str]] = field(default_factory=dict)  # product id -> CVEs
    fixed: dict[str, list[str]] = field(default_factory=dict)
    document: dict[str, Any] = field(default_factory=dict)


def validate(doc: Any, *, source: str) -> list[Issue]:
    """Every schema and mandatory-test problem of a CSAF 2.0 document, located."""
    from csaf.csaf.v20 import validate as csaf_validate  # noqa: PLC0415 - csaf validator: +3.1 s on start-up

    if not isinstance(doc, dict):
        return [Issue(source, None, "(document)", "a CSAF document is a JSON object")]
    version = (
        doc.get("document", {}).get("csaf_version")
        if isinstance(doc.get("document"), dict)
        else None
    )
    if version != "2.0":
        return [Issue(source, None, "/document/csaf_version", f"must be 2.0, got {version!r}")]
    try:
        report = csaf_validate(doc, path=source, preset="basic")
    except Exception as exc:  # the validator's own bug must not end the whole import
        return [Issue(source, None, "/", f"the CSAF validator failed on this document: {exc}")]
    issues: list[Issue] = []
    for result in report.results:
        if result.passed or result.skipped:
            continue
        for error in result.errors or ():
            where = error.instance_path or "/"
            issues.append(Issue(source, None, where, f"{error.message} ({result.id})"))
        if not result.errors:
            issues.append(Issue(source, None, "/", f"{result.title} ({result.id})"))
    return issues


def severity_of(words: str | None) -> str:
    """The highest severity word in `words` (English or Dutch), or `none`."""
    best = "none"
    for word in re.findall(r"[a-z]+", (words or "").lower()):
        level = _WORDS.get(word)
        if level and SEVERITY_ORDER.index(level) > SEVERITY_ORDER.index(best):
            best = level
    return best


def _highest(levels: Iterator[str]) -> str:
    return max(levels, key=SEVERITY_ORDER.index, default="none")


def _helper(product: Mapping[str, Any]) -> tuple[str | None, str | None]:
    helper = product.get("product_identification_helper") or {}
    return helper.get("cpe"), helper.get("purl")


def _walk(branches: Any, path: Mapping[str, str]) -> Iterator[ProductRef]:
    for branch in branches or []:
        here = dict(path)
        category, name = branch.get("category"), str(branch.get("name", ""))
        if category in ("vendor", "product_name", "product_version", "product_version_range"):
            here[category] = name
        product = branch.get("product")
        if product:
            cpe, purl = _helper(product)
            yield ProductRef(
                product_id=product["product_id"],
                name=product.get("name", name),
                vendor=here.get("vendor"),
                product=here.get("product_name"),
                version=here.get("product_version"),
                version_range=here.get("product_version_range"),
                cpe=cpe,
                purl=purl,
            )
        yield from _walk(branch.get("branches"), here)


def products_of(tree: Mapping[str, Any]) -> dict[str, ProductRef]:
    """Every product of a product tree by id (see the module docstring)."""
    found: dict[str, ProductRef] = {}
    for ref in _walk(tree.get("branches"), {}):
        found[ref.product_id] = ref
    for product in tree.get("full_product_names") or []:
        cpe, purl = _helper(product)
        found[product["product_id"]] = ProductRef(
            product["product_id"], product.get("name", ""), cpe=cpe, purl=purl
        )
    for relation in tree.get("relationships") or []:
        product = relation.get("full_product_name") or {}
        if "product_id" not in product:
            continue
        base = found.get(relation.get("product_reference", ""))
        cpe, purl = _helper(product)
        if base is not None:
            found[product["product_id"]] = ProductRef(
                product["product_id"],
                product.get("name", base.name),
                base.vendor,
                base.product,
                base.version,
                base.version_range,
                cpe or base.cpe,
                purl or base.purl,
            )
        else:
            found[product["product_id"]] = ProductRef(
                product["product_id"], product.get("name", ""), cpe=cpe, purl=purl
            )
    return found


def parse(doc: dict[str, Any]) -> ParsedAdvisory:
    """The parts of a *validated* CSAF 2.0 document the platform keeps."""
    document = doc["document"]
    tracking = document["tracking"]
    aggregate = (document.get("aggregate_severity") or {}).get("text")
    levels = [severity_of(aggregate)]
    affected: dict[str, list[str]] = {}
    fixed: dict[str, list[str]] = {}
    cves: list[str] = []
    for vulnerability in doc.get("vulnerabilities") or []:
        cve = vulnerability.get("cve")
        if cve and cve not in cves:
            cves.append(cve)
        for threat in vulnerability.get("threats") or []:
            if threat.get("category") == "impact":
                levels.append(severity_of(threat.get("details")))
        for score in vulnerability.get("scores") or []:
            for key in ("cvss_v3", "cvss_v2"):
                levels.append(severity_of((score.get(key) or {}).get("baseSeverity")))
        status = vulnerability.get("product_status") or {}
        for kinds, target in ((AFFECTED, affected), (FIXED, fixed)):
            for kind in kinds:
                for product_id in status.get(kind) or []:
                    listed = target.setdefault(product_id, [])
                    if cve and cve not in listed:
                        listed.append(cve)
    return ParsedAdvisory(
        tracking_id=tracking["id"],
        publisher=document["publisher"]["name"],
        title=document["title"],
        version=tracking["version"],
        released_at=datetime.fromisoformat(tracking["current_release_date"]),
        severity=_highest(iter(levels)),
        severity_text=aggregate[:300] if aggregate else None,
        cves=cves,
        products=products_of(doc.get("product_tree") or {}),
        affected=affected,
        fixed=fixed,
        document=doc,
    )
