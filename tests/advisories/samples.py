"""Real-format samples built in the tests: CSAF 2.0 advisories and CycloneDX SBOMs.

The CSAF documents follow the OASIS CSAF 2.0 schema (profile `csaf_security_advisory`); the
tests validate them with the same validator the platform uses, so a sample that drifted from
the standard fails there first.
"""

from __future__ import annotations

import json
from typing import Any

from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

RELEASED = "2026-11-30T10:00:00.000Z"


def csaf_advisory(
    *,
    tracking_id: str = "NCSC-2026-0421",
    severity: str = "High",
    products: list[dict[str, Any]] | None = None,
    affected: list[str] | None = None,
    fixed: list[str] | None = None,
    version: str = "1",
    cve: str = "CVE-2026-12345",
) -> dict[str, Any]:
    """A CSAF 2.0 security advisory in NCSC-NL's shape: vendor / product / version branches.

    `products` are leaf branches under vendor "Example" and product "Gateway" by default.
    """
    leaves = products or [
        {
            "category": "product_version_range",
            "name": "vers:generic/>=2.0.0|<2.4.1",
            "product": {
                "product_id": "CSAFPID-0001",
                "name": "Example Gateway >=2.0.0 <2.4.1",
                "product_identification_helper": {
                    "cpe": "cpe:2.3:a:example:gateway:*:*:*:*:*:*:*:*"
                },
            },
        },
        {
            "category": "product_version",
            "name": "2.4.1",
            "product": {
                "product_id": "CSAFPID-0002",
                "name": "Example Gateway 2.4.1",
                "product_identification_helper": {
                    "cpe": "cpe:2.3:a:example:gateway:2.4.1:*:*:*:*:*:*:*"
                },
            },
        },
    ]
    ids = [leaf["product"]["product_id"] for leaf in leaves]
    return {
        "document": {
            "category": "csaf_security_advisory",
            "csaf_version": "2.0",
            "title": "Kwetsbaarheid verholpen in Example Gateway",
            "lang": "nl",
            "aggregate_severity": {"text": severity},
            "distribution": {"tlp": {"label": "WHITE"}},
            "publisher": {
                "category": "coordinator",
                "name": "Nationaal Cyber Security Centrum",
                "namespace": "https://www.ncsc.nl/",
            },
            "notes": [{"category": "summary", "text": "Een kwetsbaarheid in Example Gateway."}],
            "references": [
                {"category": "self", "summary": "Advisory", "url": "https://advisories.example/x"}
            ],
            "tracking": {
                "id": tracking_id,
                "status": "final",
                "version": version,
                "initial_release_date": RELEASED,
                "current_release_date": RELEASED,
                "revision_history": [
                    {"date": RELEASED, "number": str(n), "summary": "Release"}
                    for n in range(1, int(version) + 1)
                ],
                "generator": {"engine": {"name": "dijkwacht-tests"}},
            },
        },
        "product_tree": {
            "branches": [
                {
                    "category": "vendor",
                    "name": "Example",
                    "branches": [
                        {"category": "product_name", "name": "Gateway", "branches": leaves}
                    ],
                }
            ]
        },
        "vulnerabilities": [
            {
                "cve": cve,
                "notes": [{"category": "description", "text": "Remote code execution."}],
                "product_status": {
                    "known_affected": affected if affected is not None else ids[:1],
                    **({"fixed": fixed} if fixed else {"fixed": ids[1:2]} if len(ids) > 1 else {}),
                },
                "remediations": [
                    {
                        "category": "vendor_fix",
                        "details": "Update to 2.4.1.",
                        "product_ids": affected if affected is not None else ids[:1],
                    }
                ],
            }
        ],
    }


def inventory_csv(rows: list[dict[str, str]]) -> str:
    header = "vendor,product,version,owner,exposure,cpe,purl,log_source"
    lines = [header]
    for row in rows:
        lines.append(",".join(row.get(c, "") for c in header.split(",")))
    return "\n".join(lines) + "\n"


def cyclonedx_sbom(components: list[Component]) -> str:
    """A CycloneDX 1.6 JSON SBOM made with cyclonedx-python-lib's own model and writer."""
    bom = Bom()
    for component in components:
        bom.components.add(component)
    return JsonV1Dot6(bom).output_as_string(indent=2)


def library(name: str, version: str, *, group: str, purl_type: str = "pypi") -> Component:
    return Component(
        name=name,
        version=version,
        group=group,
        type=ComponentType.LIBRARY,
        purl=PackageURL(purl_type, None, name, version),
    )


def dumps(doc: Any) -> str:
    return json.dumps(doc, indent=2)
