"""CPE 2.3 and purl identifiers, and whether an inventory version lies in an advisory's range.

purls are parsed with `packageurl-python`; version ranges in the `vers:` syntax with `univers`.
No maintained CPE 2.3 parser installs from PyPI for Python 3.11, so a formatted string
(`cpe:2.3:part:vendor:product:version:...`, NISTIR 7695 section 6.2) is split here on the
colons that are not escaped with a backslash; that is the whole grammar matching needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from packageurl import PackageURL
from univers.version_range import VersionRange

from core.errors import ValidationError

ANY = frozenset({"*", "-", ""})
_SPLIT = re.compile(r"(?<!\\):")


@dataclass(frozen=True, slots=True)
class Cpe:
    """The parts of a CPE 2.3 name that matching compares (lower case, unescaped)."""

    part: str
    vendor: str
    product: str
    version: str


def parse_cpe(text: str, *, field: str = "cpe") -> Cpe:
    """A CPE 2.3 formatted string; anything else is a ValidationError naming `field`."""
    parts = _SPLIT.split(text.strip())
    if len(parts) != 13 or parts[0].lower() != "cpe" or parts[1] != "2.3":
        raise ValidationError(field, f"not a CPE 2.3 name (cpe:2.3: and 11 parts): {text!r}")
    if parts[2].lower() not in ("a", "o", "h", "*"):
        raise ValidationError(field, f"part must be a, o or h: {text!r}")

    def clean(value: str) -> str:
        return value.replace("\\", "").lower()

    return Cpe(clean(parts[2]), clean(parts[3]), clean(parts[4]), clean(parts[5]))


def parse_purl(text: str, *, field: str = "purl") -> PackageURL:
    """A package URL; anything else is a ValidationError naming `field`."""
    try:
        return PackageURL.from_string(text.strip())
    except ValueError as exc:
        raise ValidationError(field, f"not a package URL ({exc}): {text!r}") from None


def parse_range(text: str, *, field: str = "product_version_range") -> VersionRange:
    """A `vers:` version range (e.g. `vers:generic/>=2.0|<2.4.1`)."""
    try:
        return VersionRange.from_string(text.strip())
    except Exception as exc:  # univers raises bare ValueError/TypeError/KeyError by scheme
        raise ValidationError(field, f"not a vers range ({exc}): {text!r}") from None


def in_range(version: str, versions: VersionRange) -> bool:
    """Whether `version` lies in `versions`; a version the scheme cannot read is not in it."""
    make: Any = versions.version_class
    try:
        return bool(make(version) in versions)
    except Exception:  # an unparsable inventory version: no match rather than a crash
        return False


def same_version(left: str, right: str) -> bool:
    """Versions written alike (case and a leading `v` aside)."""
    return left.strip().lower().removeprefix("v") == right.strip().lower().removeprefix("v")
