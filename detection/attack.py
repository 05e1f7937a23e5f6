"""ATT&CK context for detections: technique and tactic names, mitigations, Sigma tag resolution.

The data is loaded by pyattck from the local files of `detection.attack_data`, never from the
network, once per process: pyattck keeps what it parsed in class attributes and module globals,
so it cannot load a second data set in the same process. `get_attack_catalog()` does that load
lazily under a lock and turns pyattck's objects into small frozen records with dict indexes, so
every lookup afterwards is a dict access.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import NotFoundError
from detection.attack_bundles import SOURCE_NAME
from detection.attack_data import (
    AttackDataError,
    AttackFiles,
    default_attack_dir,
    ensure_attack_files,
    read_manifest,
)

logger = logging.getLogger(__name__)

_TECHNIQUE = re.compile(r"t\d{4}(?:\.\d{3})?")
_GROUP = re.compile(r"g\d{4}")
_SOFTWARE = re.compile(r"s\d{4}")
_MITIGATION = re.compile(r"m\d{4}")


@dataclass(frozen=True)
class Tactic:
    """An ATT&CK tactic (a column of the matrix)."""

    id: str
    shortname: str
    name: str
    url: str


@dataclass(frozen=True)
class Technique:
    """A technique or sub-technique; `tactics` holds (shortname, name) pairs in matrix order."""

    id: str
    name: str
    tactics: tuple[tuple[str, str], ...]
    url: str
    is_subtechnique: bool = False
    platforms: tuple[str, ...] = ()
    revoked: bool = False
    deprecated: bool = False
    replaced_by: str | None = None

    @property
    def active(self) -> bool:
        return not (self.revoked or self.deprecated)


@dataclass(frozen=True)
class Mitigation:
    """A course of action that reduces a technique's risk."""

    id: str
    name: str
    url: str
    active: bool = True


@dataclass(frozen=True)
class Group:
    """A threat group (intrusion set)."""

    id: str
    name: str
    aliases: tuple[str, ...]
    url: str
    active: bool = True


@dataclass(frozen=True)
class Software:
    """Malware or a tool known to ATT&CK."""

    id: str
    name: str
    kind: str
    aliases: tuple[str, ...]
    url: str
    active: bool = True


@dataclass(frozen=True)
class AttackContext:
    """What a rule's `attack.*` tags mean; nothing is dropped silently.

    `unknown` keeps tags that name nothing in the data; `outdated` flags tags that resolved to
    revoked or deprecated objects (they are still listed with the resolved ones).
    """

    tactics: tuple[Tactic, ...] = ()
    techniques: tuple[Technique, ...] = ()
    groups: tuple[Group, ...] = ()
    software: tuple[Software, ...] = ()
    mitigations: tuple[Mitigation, ...] = ()
    unknown: tuple[str, ...] = ()
    outdated: tuple[str, ...] = ()

    @property
    def all_tactics(self) -> tuple[tuple[str, str], ...]:
        """(shortname, name) of the tagged tactics and of the tagged techniques' tactics."""
        pairs = [(t.shortname, t.name) for t in self.tactics]
        pairs += [pair for technique in self.techniques for pair in technique.tactics]
        return tuple(dict.fromkeys(pairs))


@dataclass
class _Collector:
    tactics: list[Tactic] = field(default_factory=list)
    techniques: list[Technique] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    software: list[Software] = field(default_factory=list)
    mitigations: list[Mitigation] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    outdated: list[str] = field(default_factory=list)

    def add(self, bucket: list[Any], item: Any, tag: str, *, active: bool) -> None:
        if item not in bucket:
            bucket.append(item)
        if not active and tag not in self.outdated:
            self.outdated.append(tag)

    def freeze(self) -> AttackContext:
        return AttackContext(
            tactics=tuple(self.tactics),
            techniques=tuple(self.techniques),
            groups=tuple(self.groups),
            software=tuple(self.software),
            mitigations=tuple(self.mitigations),
            unknown=tuple(dict.fromkeys(self.unknown)),
            outdated=tuple(self.outdated),
        )


class AttackCatalog:
    """Read-only ATT&CK Enterprise lookups; obtain the process-wide one via get_attack_catalog()."""

    def __init__(
        self,
        *,
        version: str,
        tactics: Sequence[Tactic],
        techniques: Sequence[Technique],
        mitigations: Sequence[Mitigation],
        groups: Sequence[Group],
        software: Sequence[Software],
        mitigated_by: Mapping[str, Sequence[str]],
    ) -> None:
        self.version = version
        self._tactics = tuple(tactics)
        self._tactic_by_key = {t.shortname: t for t in tactics} | {t.id.lower(): t for t in tactics}
        self._techniques = {t.id.upper(): t for t in techniques}
        self._mitigations = {m.id.upper(): m for m in mitigations}
        self._groups = {g.id.upper(): g for g in groups}
        self._software = {s.id.upper(): s for s in software}
        self._mitigated_by = {tid.upper(): tuple(mids) for tid, mids in mitigated_by.items()}

    def technique(self, tid: str) -> Technique:
        """The technique with ATT&CK id `tid` (T1059 or T1059.001, any case)."""
        found = self._techniques.get(tid.strip().upper())
        if found is None:
            raise NotFoundError(f"ATT&CK technique {tid!r} is not in ATT&CK {self.version}")
        return found

    def tactic(self, shortname: str) -> Tactic:
        """The tactic by shortname (`execution`, also `command_and_control`) or id (TA0002)."""
        found = self._tactic_by_key.get(_tactic_key(shortname))
        if found is None:
            raise NotFoundError(f"ATT&CK tactic {shortname!r} is not in ATT&CK {self.version}")
        return found

    def tactics(self) -> tuple[Tactic, ...]:
        """All tactics in the order of the Enterprise matrix."""
        return self._tactics

    def mitigations(self, tid: str) -> tuple[Mitigation, ...]:
        """Active mitigations ATT&CK maps to the technique, by mitigation id."""
        technique = self.technique(tid)
        found = (self._mitigations[mid] for mid in self._mitigated_by.get(technique.id, ()))
        return tuple(sorted((m for m in found if m.active), key=lambda m: m.id))

    def group(self, gid: str) -> Group:
        """The threat group with id `gid` (G0016)."""
        found = self._groups.get(gid.strip().upper())
        if found is None:
            raise NotFoundError(f"ATT&CK group {gid!r} is not in ATT&CK {self.version}")
        return found

    def software(self, sid: str) -> Software:
        """The malware or tool with id `sid` (S0002)."""
        found = self._software.get(sid.strip().upper())
        if found is None:
            raise NotFoundError(f"ATT&CK software {sid!r} is not in ATT&CK {self.version}")
        return found

    def all_techniques(self, *, subtechniques: bool = True) -> dict[str, tuple[Technique, ...]]:
        """Active techniques per tactic shortname, tactics in matrix order: a coverage matrix."""
        matrix: dict[str, list[Technique]] = {t.shortname: [] for t in self._tactics}
        for technique in sorted(self._techniques.values(), key=lambda t: t.id):
            if not technique.active or (technique.is_subtechnique and not subtechniques):
                continue
            for shortname, _name in technique.tactics:
                matrix.setdefault(shortname, []).append(technique)
        return {shortname: tuple(items) for shortname, items in matrix.items()}

    def resolve_tags(self, tags: Iterable[str]) -> AttackContext:
        """Resolve Sigma `attack.*` tags; other namespaces are ignored, unknown ids kept."""
        found = _Collector()
        for raw in tags:
            tag = str(raw).strip()
            namespace, _, name = tag.lower().partition(".")
            if namespace != "attack" or not name:
                continue
            self._resolve_one(found, tag, name)
        return found.freeze()

    def _resolve_one(self, found: _Collector, tag: str, name: str) -> None:
        key = name.upper()
        if _TECHNIQUE.fullmatch(name):
            technique = self._techniques.get(key)
            if technique is not None:
                found.add(found.techniques, technique, tag, active=technique.active)
                return
        elif _GROUP.fullmatch(name):
            group = self._groups.get(key)
            if group is not None:
                found.add(found.groups, group, tag, active=group.active)
                return
        elif _SOFTWARE.fullmatch(name):
            software = self._software.get(key)
            if software is not None:
                found.add(found.software, software, tag, active=software.active)
                return
        elif _MITIGATION.fullmatch(name):
            mitigation = self._mitigations.get(key)
            if mitigation is not None:
                found.add(found.mitigations, mitigation, tag, active=mitigation.active)
                return
        else:
            tactic = self._tactic_by_key.get(_tactic_key(name))
            if tactic is not None:
                found.add(found.tactics, tactic, tag, active=True)
                return
        found.unknown.append(tag)


def _tactic_key(value: str) -> str:
    """Shortnames use hyphens; older Sigma rules wrote underscores (`attack.defense_evasion`)."""
    return value.strip().lower().replace("_", "-")


# --- process-wide loading ----------------------------------------------------------------------

_lock = threading.Lock()


@dataclass(frozen=True)
class _Loaded:
    directory: Path
    digest: str
    catalog: AttackCatalog


_loaded: _Loaded | None = None
_failed: str | None = None


def get_attack_catalog(*, attack_dir: Path | None = None) -> AttackCatalog:
    """The process-wide catalog, loaded on first use (building the files first when missing).

    pyattck holds one data set per process: a later call naming another directory gets the
    loaded catalog when that directory holds the same build, else an AttackDataError.
    Default directory: `detection.attack_data.default_attack_dir()`.
    """
    global _loaded, _failed
    directory = (attack_dir if attack_dir is not None else default_attack_dir()).resolve()
    loaded = _loaded
    if loaded is None:
        with _lock:
            if _failed is not None:
                raise AttackDataError(f"ATT&CK data failed to load earlier: {_failed}")
            if _loaded is None:
                files = ensure_attack_files(attack_dir=directory)
                digest = _build_digest(files)
                try:
                    _loaded = _Loaded(directory, digest, _load_with_pyattck(files))
                except AttackDataError as exc:
                    _failed = str(exc)  # pyattck's globals may be half-filled: no retry
                    raise
            loaded = _loaded
    if loaded.directory != directory:
        other = _build_digest(ensure_attack_files(attack_dir=directory))
        if other != loaded.digest:
            raise AttackDataError(
                f"ATT&CK data is already loaded from {loaded.directory} in this process; "
                f"pyattck cannot also load the different build in {directory}"
            )
    return loaded.catalog


def _build_digest(files: AttackFiles) -> str:
    return str(read_manifest(output_dir=files.directory).get("source_digest", ""))


@contextmanager
def _pyattck_logging_guard(files: AttackFiles) -> Iterator[None]:
    """pyattck configures logging when its classes are created; keep the application's own.

    It calls `logging.basicConfig()` (a no-op while the root logger has a handler), or loads a
    YAML file named by $LOG_CFG or found in ./pyattck/data/ that adds log files in the working
    directory (pointed at a path that does not exist).
    """
    root = logging.getLogger()
    placeholder = logging.NullHandler()
    saved = os.environ.get("LOG_CFG")
    root.addHandler(placeholder)
    os.environ["LOG_CFG"] = str(files.directory / "no-pyattck-logging.yml")
    try:
        yield
    finally:
        root.removeHandler(placeholder)
        if saved is None:
            os.environ.pop("LOG_CFG", None)
        else:
            os.environ["LOG_CFG"] = saved


def _load_with_pyattck(files: AttackFiles) -> AttackCatalog:
    """Parse the local files with pyattck; every source it knows points at a local file."""
    version = str(read_manifest(output_dir=files.directory).get("attack_version", "unknown"))
    if "pyattck.enterprise" in sys.modules:
        raise AttackDataError("pyattck's Enterprise data was loaded elsewhere in this process")
    with _pyattck_logging_guard(files):
        from pyattck import Attck  # noqa: PLC0415 - only inside the logging guard
        from pyattck.utils.utils import is_url  # noqa: PLC0415 - only inside the logging guard
        from pyattck_data import base as pyattck_store  # noqa: PLC0415 - only inside the logging guard

        if pyattck_store.BASE_OBJECTS:
            raise AttackDataError("pyattck already holds ATT&CK objects in this process")
        local = {
            "enterprise_attck_json": str(files.enterprise),
            "pre_attck_json": str(files.empty),
            "mobile_attck_json": str(files.empty),
            "ics_attck_json": str(files.empty),
            "nist_controls_json": str(files.nist),
            # Never read by pyattck 7.1.2 except to download it on update(); kept local anyway.
            "generated_nist_json": str(files.nist),
        }
        attck = Attck(
            nested_techniques=True,
            use_config=False,
            save_config=False,
            config_file_path=str(files.directory / "pyattck-config.yml"),
            data_path=str(files.directory),
            **local,
        )
        settings = attck.config.config
        remote = [name for name in local if is_url(getattr(settings, name))]
        if remote:
            raise AttackDataError(f"pyattck would download {remote}; refusing")
        try:
            enterprise = attck.enterprise  # the class body parses both files here
        except (TypeError, ValueError, KeyError, OSError) as exc:
            raise AttackDataError(f"pyattck could not load {files.enterprise}: {exc}") from None
    # pyattck's `techniques` property resolves sub-technique links by scanning every object for
    # every technique (~10 s) and `relationships` returns only "uses"; its object store has both.
    objects = list(pyattck_store.BASE_OBJECTS)
    return _catalog_from(
        version=version,
        tactics=enterprise.tactics,
        techniques=[o for o in objects if o.type == "attack-pattern"],
        mitigations=enterprise.mitigations,
        groups=enterprise.actors,
        software=[*enterprise.malwares, *enterprise.tools],
        relationships=[o for o in objects if o.type == "relationship"],
    )


def _catalog_from(
    *,
    version: str,
    tactics: Sequence[Any],
    techniques: Sequence[Any],
    mitigations: Sequence[Any],
    groups: Sequence[Any],
    software: Sequence[Any],
    relationships: Sequence[Any],
) -> AttackCatalog:
    """Plain records and indexes from pyattck's model objects."""
    if not tactics or not techniques:
        raise AttackDataError("pyattck loaded no tactics or techniques")
    ids: dict[str, str] = {}
    for obj in [*tactics, *techniques, *mitigations, *groups, *software]:
        ids[obj.id] = _external_id(obj)
    mitigated_by: dict[str, list[str]] = {}
    replaced_by: dict[str, str] = {}
    for rel in relationships:
        source, target = ids.get(rel.source_ref), ids.get(rel.target_ref)
        if source is None or target is None or rel.revoked:
            continue
        if rel.relationship_type == "mitigates":
            mitigated_by.setdefault(target, []).append(source)
        elif rel.relationship_type == "revoked-by":
            replaced_by[source] = target
    tactic_records = [
        Tactic(id=_external_id(t), shortname=t.x_mitre_shortname, name=t.name, url=_url(t))
        for t in tactics
    ]
    tactic_names = {t.shortname: t.name for t in tactic_records}
    order = {t.shortname: i for i, t in enumerate(tactic_records)}

    def technique(obj: Any) -> Technique:
        phases = sorted(
            {p.phase_name for p in obj.kill_chain_phases if p.kill_chain_name == SOURCE_NAME},
            key=lambda name: (order.get(name, len(order)), name),
        )
        tid = _external_id(obj)
        return Technique(
            id=tid,
            name=obj.name,
            tactics=tuple((name, tactic_names.get(name, name)) for name in phases),
            url=_url(obj),
            is_subtechnique=bool(obj.x_mitre_is_subtechnique),
            platforms=tuple(obj.x_mitre_platforms),
            revoked=bool(obj.revoked),
            deprecated=bool(obj.x_mitre_deprecated),
            replaced_by=replaced_by.get(tid),
        )

    return AttackCatalog(
        version=version,
        tactics=tactic_records,
        techniques=[technique(t) for t in techniques],
        mitigations=[
            Mitigation(id=_external_id(m), name=m.name, url=_url(m), active=_active(m))
            for m in mitigations
        ],
        groups=[
            Group(
                id=_external_id(g),
                name=g.name,
                aliases=tuple(g.aliases),
                url=_url(g),
                active=_active(g),
            )
            for g in groups
        ],
        software=[
            Software(
                id=_external_id(s),
                name=s.name,
                kind=s.type,
                aliases=tuple(s.x_mitre_aliases),
                url=_url(s),
                active=_active(s),
            )
            for s in software
        ],
        mitigated_by=mitigated_by,
    )


def _reference(obj: Any) -> Any:
    for ref in obj.external_references:
        if ref.source_name == SOURCE_NAME and ref.external_id:
            return ref
    raise AttackDataError(f"{obj.id}: no {SOURCE_NAME} external reference")


def _external_id(obj: Any) -> str:
    return str(_reference(obj).external_id)


def _url(obj: Any) -> str:
    return str(_reference(obj).url or "")


def _active(obj: Any) -> bool:
    return not (obj.revoked or obj.x_mitre_deprecated)
