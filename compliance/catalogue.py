"""Load and check catalogues: `catalogues/<framework>-<edition>.yml`, one file per edition.

YAML goes through `core.content.load_yaml` and pydantic through `validate_model`, so every
problem is a located Issue (file, line, field); cross-field rules are small validators.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from compliance.schemas import Catalogue
from core.content import DataPath, Issue, Validator, has_errors, load_yaml, validate_model
from core.errors import DijkwachtError, NotFoundError

CATALOGUE_DIR = Path(__file__).resolve().parent / "catalogues"
_NAME = re.compile(r"^(?P<framework>[a-z0-9]+)-(?P<edition>[0-9A-Za-z.-]+)\.yml$")


class CatalogueError(DijkwachtError):
    """A catalogue file has errors; `issues` names each file, line and field."""

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("; ".join(str(issue) for issue in self.issues[:5]))


class _UniqueIds(Validator[Catalogue]):
    name = "unique-measure-ids"

    def check(self, item: Catalogue) -> Iterable[tuple[DataPath, str]]:
        seen: set[str] = set()
        for index, measure in enumerate(item.measures):
            if measure.id in seen:
                yield ("measures", index, "id"), f"measure {measure.id} is listed twice"
            seen.add(measure.id)


class _KnownControl(Validator[Catalogue]):
    name = "known-control"

    def check(self, item: Catalogue) -> Iterable[tuple[DataPath, str]]:
        controls = {control.id for control in item.controls}
        for index, measure in enumerate(item.measures):
            if measure.control not in controls:
                yield ("measures", index, "control"), f"control {measure.control} is not listed"
            elif not measure.id.startswith(measure.control + "."):
                yield ("measures", index, "id"), f"does not belong to control {measure.control}"


VALIDATORS: tuple[Validator[Catalogue], ...] = (_UniqueIds(), _KnownControl())


def check_file(path: Path) -> tuple[Catalogue | None, list[Issue]]:
    """The catalogue in `path` and every issue found; never raises for bad content."""
    source = str(path)
    content = load_yaml(path, source=source)
    document = content.document
    if document is None:
        return None, list(content.issues) or [Issue(source, 1, "(document)", "must be a mapping")]
    catalogue, issues = validate_model(Catalogue, document, source=source, validators=VALIDATORS)
    issues = [*content.issues, *issues]
    match = _NAME.match(path.name)
    if catalogue is not None and (
        match is None
        or match["framework"] != catalogue.framework
        or match["edition"] != catalogue.edition
    ):
        expected = f"{catalogue.framework}-{catalogue.edition}.yml"
        issues.append(Issue(source, 1, "edition", f"file must be named {expected}"))
    if catalogue is None or has_errors(issues):
        return None, issues
    return catalogue, issues


_FRAMEWORK = re.compile(r"^[a-z0-9]{2,40}$")


def editions(framework: str, directory: Path = CATALOGUE_DIR) -> list[str]:
    """The editions shipped for `framework`, oldest first (by file name)."""
    if not _FRAMEWORK.match(framework):
        return []  # not a name a catalogue file can have (and never a path)
    found = []
    for path in sorted(directory.glob(f"{framework}-*.yml")):
        match = _NAME.match(path.name)
        if match is not None and match["framework"] == framework:
            found.append(match["edition"])
    return sorted(found, key=lambda e: [int(p) if p.isdigit() else p for p in e.split(".")])


def load_catalogue(
    framework: str, edition: str | None = None, directory: Path = CATALOGUE_DIR
) -> Catalogue:
    """One edition (default: the newest) of a framework; CatalogueError when it has errors."""
    known = editions(framework, directory)
    if not known:
        raise NotFoundError(f"framework: no catalogue for {framework!r}")
    chosen = edition or known[-1]
    if chosen not in known:
        raise NotFoundError(f"edition: {framework} has {', '.join(known)}, not {chosen!r}")
    catalogue, issues = check_file(directory / f"{framework}-{chosen}.yml")
    if catalogue is None:
        raise CatalogueError(issues)
    return catalogue
