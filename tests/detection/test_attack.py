"""Offline ATT&CK: the bundle builder, the pyattck-backed catalog and pySigma's tag validator.

pyattck can load one data set per process, so the catalog is loaded once per test session from a
build in a temporary folder, with every socket call refused while it loads.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from core.errors import NotFoundError
from detection.attack import AttackCatalog, get_attack_catalog
from detection.attack_bundles import check_pyattck_keys
from detection.attack_data import (
    ENTERPRISE_FILE,
    AttackDataError,
    AttackFiles,
    build_attack_bundle,
    read_manifest,
)
from detection.attack_sigma import configure_sigma_attack_offline, offline_sigma_validators
from tests.conftest import REPO_ROOT


class NetworkUsed(AssertionError):
    """A test touched the network."""


@contextmanager
def no_network() -> Iterator[None]:
    """Refuse every name lookup and connection, as an offline machine would."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NetworkUsed(f"network access attempted: {args[:2]!r}")

    import socket

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket.socket, "connect_ex", refuse)
        patch.setattr(socket, "create_connection", refuse)
        patch.setattr(socket, "getaddrinfo", refuse)
        yield


@pytest.fixture(scope="session")
def attack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("attack")
    build_attack_bundle(output_dir=directory)
    return directory


@pytest.fixture(scope="session")
def catalog(attack_dir: Path) -> AttackCatalog:
    with no_network():
        return get_attack_catalog(attack_dir=attack_dir)


# --- the builder --------------------------------------------------------------------------------


def test_build_holds_enterprise_attack(attack_dir: Path) -> None:
    manifest = read_manifest(output_dir=attack_dir)
    counts = manifest["counts"]
    assert manifest["attack_version"] == "18.1"
    assert counts["techniques"] > 800
    assert counts["tactics"] == 14
    assert counts["mitigations"] > 250
    assert counts["groups"] > 150 and counts["software"] > 700
    assert counts["relationships"] > 15_000
    # Revoked and deprecated objects are kept (flagged); about 690 techniques are current.
    assert 650 < counts["active_techniques"] < counts["techniques"]


def test_bundle_objects_carry_what_pyattck_and_pysigma_read(attack_dir: Path) -> None:
    bundle = json.loads((attack_dir / ENTERPRISE_FILE).read_text(encoding="utf-8"))
    objects = {o["id"]: o for o in bundle["objects"]}
    powershell = next(
        o
        for o in objects.values()
        if o["type"] == "attack-pattern"
        and o["external_references"][0]["external_id"] == "T1059.001"
    )
    assert powershell["name"] == "PowerShell"
    assert powershell["kill_chain_phases"] == [
        {"kill_chain_name": "mitre-attack", "phase_name": "execution"}
    ]
    assert powershell["external_references"][0]["source_name"] == "mitre-attack"
    tactics = [o for o in bundle["objects"] if o["type"] == "x-mitre-tactic"]
    assert [t["x_mitre_shortname"] for t in tactics][:2] == [
        "reconnaissance",
        "resource-development",
    ]
    # Relationships never dangle: both ends are in the bundle.
    for rel in (o for o in bundle["objects"] if o["type"] == "relationship"):
        assert rel["source_ref"] in objects and rel["target_ref"] in objects


def test_build_is_deterministic_and_skips_when_up_to_date(tmp_path: Path, attack_dir: Path) -> None:
    first = build_attack_bundle(output_dir=tmp_path / "a")
    assert first == tmp_path / "a" / ENTERPRISE_FILE
    for name in read_manifest(output_dir=attack_dir)["files"]:
        assert (tmp_path / "a" / name).read_bytes() == (attack_dir / name).read_bytes()

    stamp = first.stat().st_mtime_ns
    build_attack_bundle(output_dir=tmp_path / "a")
    assert first.stat().st_mtime_ns == stamp  # up to date: not rewritten

    first.write_text("{}", encoding="utf-8")  # damaged: rebuilt
    build_attack_bundle(output_dir=tmp_path / "a")
    assert first.read_bytes() == (attack_dir / ENTERPRISE_FILE).read_bytes()


def test_model_check_names_the_object_and_the_key() -> None:
    bad = {"type": "x-mitre-tactic", "id": "x-mitre-tactic--1", "colour": "red"}
    with pytest.raises(AttackDataError, match=r"x-mitre-tactic--1.*colour"):
        check_pyattck_keys([bad])


def test_missing_build_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AttackDataError, match="dijkwacht attack build"):
        read_manifest(output_dir=tmp_path)


# --- the catalog --------------------------------------------------------------------------------


def test_powershell_resolves_under_execution(catalog: AttackCatalog) -> None:
    technique = catalog.technique("T1059.001")
    assert technique.name == "PowerShell"
    assert technique.tactics == (("execution", "Execution"),)
    assert technique.url == "https://attack.mitre.org/techniques/T1059/001"
    assert technique.is_subtechnique and technique.active
    assert catalog.technique("t1059.001") is technique
    assert catalog.version == "18.1"


def test_tactics_by_shortname_or_id(catalog: AttackCatalog) -> None:
    assert catalog.tactic("execution").name == "Execution"
    assert catalog.tactic("TA0002").shortname == "execution"
    assert catalog.tactic("command_and_control").shortname == "command-and-control"
    assert len(catalog.tactics()) == 14
    with pytest.raises(NotFoundError, match="no-such-tactic"):
        catalog.tactic("no-such-tactic")


def test_unknown_and_revoked_techniques(catalog: AttackCatalog) -> None:
    with pytest.raises(NotFoundError, match="T9999"):
        catalog.technique("T9999")
    old = catalog.technique("T1086")  # PowerShell before sub-techniques
    assert old.revoked and not old.active and old.replaced_by == "T1059.001"


def test_mitigations_are_current_ones(catalog: AttackCatalog) -> None:
    mitigations = catalog.mitigations("T1059.001")
    assert ("M1038", "Execution Prevention") in [(m.id, m.name) for m in mitigations]
    assert all(m.active and m.id.startswith("M") for m in mitigations)


def test_resolve_sigma_tags(catalog: AttackCatalog) -> None:
    context = catalog.resolve_tags(
        [
            "attack.t1059.001",
            "attack.execution",
            "attack.g0016",
            "attack.s0002",
            "attack.T1059.001",  # duplicate in another case
            "attack.t9999",
            "attack.g9999",
            "attack.not-a-tactic",
            "attack.t1086",
            "attack.defense_evasion",
            "cve.2021-44228",
            "tlp.clear",
        ]
    )
    assert [t.id for t in context.techniques] == ["T1059.001", "T1086"]
    assert [t.shortname for t in context.tactics] == ["execution", "defense-evasion"]
    assert [(g.id, g.name) for g in context.groups] == [("G0016", "APT29")]
    assert [(s.id, s.name) for s in context.software] == [("S0002", "Mimikatz")]
    assert context.unknown == ("attack.t9999", "attack.g9999", "attack.not-a-tactic")
    assert context.outdated == ("attack.t1086",)
    assert ("execution", "Execution") in context.all_tactics


def test_resolve_nothing(catalog: AttackCatalog) -> None:
    context = catalog.resolve_tags(["attack.", "car.2013-05-004", ""])
    assert context == type(context)()


def test_coverage_matrix(catalog: AttackCatalog) -> None:
    matrix = catalog.all_techniques()
    assert list(matrix)[:3] == ["reconnaissance", "resource-development", "initial-access"]
    assert len(matrix) == 14
    assert "T1059.001" in [t.id for t in matrix["execution"]]
    every = {t.id: t for techniques in matrix.values() for t in techniques}
    assert all(t.active for t in every.values())
    assert 650 < len(every) < 800
    parents = catalog.all_techniques(subtechniques=False)
    assert "T1059" in [t.id for t in parents["execution"]]
    assert not any(t.is_subtechnique for ts in parents.values() for t in ts)


def test_same_build_elsewhere_reuses_the_catalog(
    catalog: AttackCatalog, attack_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(attack_dir, copy)
    assert get_attack_catalog(attack_dir=copy) is catalog
    # Another ATT&CK build (e.g. a newer package) cannot join pyattck's loaded data.
    monkeypatch.setattr("detection.attack._build_digest", lambda files: "another build")
    with pytest.raises(AttackDataError, match="already loaded"):
        get_attack_catalog(attack_dir=copy)


# --- pySigma ------------------------------------------------------------------------------------

RULE = """
title: PowerShell started
id: 5d6a2f0e-1111-4c3b-9d2a-0a1b2c3d4e5f
status: test
level: low
logsource: {product: windows, category: process_creation}
detection:
  selection: {Image|endswith: '\\\\powershell.exe'}
  condition: selection
tags: [attack.execution, attack.t1059.001, attack.t9999, attack.g0016, d3fend.d3-pa]
"""


@pytest.fixture
def sigma_offline(
    attack_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """pySigma pointed at the build; its module state is restored afterwards."""
    from sigma.data import mitre_attack, mitre_d3fend

    for module in (mitre_attack, mitre_d3fend):
        for name in ("_cache", "_custom_url", "_custom_cache_dir"):
            monkeypatch.setattr(module, name, getattr(module, name))
    cache_dir = tmp_path / "pysigma-cache"
    with no_network():
        yield configure_sigma_attack_offline(cache_dir=cache_dir, attack_dir=attack_dir)
    for module in (mitre_attack, mitre_d3fend):
        if module._cache is not None:
            module._cache.close()


def test_pysigma_attack_tag_validator_runs_offline(sigma_offline: Path, tmp_path: Path) -> None:
    from sigma.collection import SigmaCollection
    from sigma.data import mitre_attack
    from sigma.validators.core.tags import ATTACKTagValidator, InvalidATTACKTagIssue

    rule = SigmaCollection.from_yaml(RULE).rules[0]
    issues = ATTACKTagValidator().validate(rule)
    assert len(issues) == 1 and isinstance(issues[0], InvalidATTACKTagIssue)
    assert str(issues[0].tag) == "attack.t9999"
    assert mitre_attack.mitre_attack_version == "18.1"
    assert mitre_attack.mitre_attack_techniques["T1059.001"] == "PowerShell"
    assert (tmp_path / "pysigma-cache" / "mitre_attack").is_dir()


def test_d3fend_is_skipped_and_fails_fast_offline(sigma_offline: Path) -> None:
    from sigma.collection import SigmaCollection
    from sigma.plugins import InstalledSigmaPlugins
    from sigma.validators.core.tags import ATTACKTagValidator, D3FENDTagValidator

    installed = InstalledSigmaPlugins.autodiscover().validators
    kept = offline_sigma_validators(installed)
    assert D3FENDTagValidator in installed.values()
    assert D3FENDTagValidator not in kept.values() and ATTACKTagValidator in kept.values()
    rule = SigmaCollection.from_yaml(RULE).rules[0]
    with pytest.raises(RuntimeError, match="D3FEND"):
        D3FENDTagValidator().validate(rule)


# --- no network at all, in a fresh process ------------------------------------------------------

OFFLINE_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from detection.attack import get_attack_catalog
    from detection.attack_sigma import configure_sigma_attack_offline
    from sigma.collection import SigmaCollection
    from sigma.validators.core.tags import ATTACKTagValidator

    base = Path(sys.argv[1])
    catalog = get_attack_catalog(attack_dir=base / "attack")  # built here, then loaded
    print(catalog.technique("T1059.001").name, catalog.mitigations("T1059.001")[0].id)
    configure_sigma_attack_offline(cache_dir=base / "cache", attack_dir=base / "attack")
    rule = SigmaCollection.from_yaml(sys.stdin.read()).rules[0]
    print([str(issue.tag) for issue in ATTACKTagValidator().validate(rule)])
    """
)


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _unshare_works(), reason="needs `unshare -n` (a network namespace)")
def test_build_load_and_validate_without_a_network(tmp_path: Path) -> None:
    result = subprocess.run(
        ["unshare", "-n", sys.executable, "-c", OFFLINE_SCRIPT, str(tmp_path)],
        input=RULE,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["PowerShell M1026", "['attack.t9999']"]
    assert not (tmp_path / ".cache").exists()  # nothing under $HOME
    assert AttackFiles(tmp_path / "attack").manifest.is_file()
