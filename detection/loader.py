"""Read Sigma rule files and parse them with pySigma, rejecting broken rules one by one.

Files are read and YAML-parsed once (``read_sources``); ``parse_sources`` turns them into fresh
pySigma objects and may be called once per pipeline stack, because pySigma pipelines mutate
rules in place. A broken rule becomes a ``LoadProblem`` naming file, line, rule id, field and
reason; every other rule in the same run still loads.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.rule import SigmaRule

RULE_SUFFIXES = (".yml", ".yaml")
# libyaml's loader when present: pure-Python YAML takes seconds for a few hundred rules.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Which top-level rule field a pySigma error class is about (its messages rarely say).
_ERROR_FIELDS = {
    "SigmaIdentifierError": "id",
    "SigmaTitleError": "title",
    "SigmaLogsourceError": "logsource",
    "SigmaDetectionError": "detection",
    "SigmaConditionError": "detection.condition",
    "SigmaModifierError": "detection",
    "SigmaTypeError": "detection",
    "SigmaValueError": "detection",
    "SigmaRegularExpressionError": "detection",
    "SigmaPlaceholderError": "detection",
    "SigmaLevelError": "level",
    "SigmaStatusError": "status",
    "SigmaDateError": "date",
    "SigmaModifiedError": "modified",
    "SigmaTagError": "tags",
    "SigmaRelatedError": "related",
    "SigmaReferencesError": "references",
    "SigmaAuthorError": "author",
    "SigmaDescriptionError": "description",
    "SigmaFieldsError": "fields",
    "SigmaFalsePositivesError": "falsepositives",
    "SigmaScopeError": "scope",
    "SigmaLicenseError": "license",
    "SigmaNameError": "name",
    "SigmaTaxonomyError": "taxonomy",
    "SigmaCorrelationRuleError": "correlation",
    "SigmaCorrelationConditionError": "correlation.condition",
    "SigmaCorrelationTypeError": "correlation.type",
    "SigmaTimespanError": "correlation.timespan",
    "SigmaRuleNotFoundError": "correlation.rules",
    "SigmaFilterError": "filter",
    "SigmaFilterConditionError": "filter.condition",
    "SigmaFilterRuleReferenceError": "filter.rules",
    "SigmaCollectionError": "action",
}


@dataclass(frozen=True)
class LoadProblem:
    """Why a rule (or a whole file) was rejected; ``field`` and ``line`` help the author fix it."""

    path: str
    rule_id: str | None
    field: str | None
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: rule {self.rule_id or '?'}: {self.field or '-'}: {self.message}"


@dataclass(frozen=True)
class RuleSource:
    """One rule file read and YAML-parsed once; ``documents`` are never mutated."""

    path: Path
    documents: tuple[Any, ...]
    text: str

    def key_lines(self) -> list[dict[str, int]]:
        """Per document, top-level key -> 1-based line; only computed to report a problem."""
        return [_key_lines(node) for node in yaml.compose_all(self.text, Loader=_LOADER)]


@dataclass
class LoadResult:
    """Rules that parsed, plus one problem per rejected rule or file."""

    rules: list[SigmaRule] = field(default_factory=list)
    correlations: list[SigmaCorrelationRule] = field(default_factory=list)
    problems: list[LoadProblem] = field(default_factory=list)


def rule_files(paths: Iterable[Path]) -> list[Path]:
    """Every *.yml / *.yaml file under the given files or directories, sorted for stable ids."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in path.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file())
        else:
            found.append(path)
    return sorted(set(found))


def read_sources(paths: Iterable[Path]) -> tuple[list[RuleSource], list[LoadProblem]]:
    """Read and YAML-parse every rule file; unreadable or invalid YAML becomes a problem."""
    sources: list[RuleSource] = []
    problems: list[LoadProblem] = []
    for path in rule_files(paths):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(LoadProblem(str(path), None, None, f"cannot read file: {exc}"))
            continue
        try:
            documents = tuple(yaml.load_all(text, Loader=_LOADER))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark is not None else None
            problems.append(LoadProblem(str(path), None, None, f"invalid YAML: {exc}", line))
            continue
        sources.append(RuleSource(path, documents, text))
    return sources, problems


def _key_lines(node: yaml.Node | None) -> dict[str, int]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {
        str(key.value): key.start_mark.line + 1
        for key, _ in node.value
        if isinstance(key, yaml.ScalarNode)
    }


def parse_sources(sources: Sequence[RuleSource]) -> LoadResult:
    """Fresh pySigma rules from already-read sources (safe to mutate with a pipeline)."""
    result = LoadResult()
    collections: list[SigmaCollection] = []
    for source in sources:
        collection = _parse_file(source, result.problems)
        if collection is not None:
            collections.append(collection)
    merged = SigmaCollection.merge(collections, resolve_references=False)
    try:
        merged.resolve_rule_references()
    except SigmaError as exc:
        # A correlation or filter referring to a missing rule: drop those, keep plain rules.
        result.problems.append(_problem(None, None, exc, None))
        plain: list[Any] = [r for r in merged.rules if isinstance(r, SigmaRule)]
        merged = SigmaCollection(plain, resolve_references=False)
    for rule in merged.rules:
        if isinstance(rule, SigmaCorrelationRule):
            result.correlations.append(rule)
        elif isinstance(rule, SigmaRule):
            result.rules.append(rule)
    return result


def _parse_file(source: RuleSource, problems: list[LoadProblem]) -> SigmaCollection | None:
    documents = [d for d in copy.deepcopy(list(source.documents)) if d is not None]
    bad = [i for i, d in enumerate(documents) if not isinstance(d, dict)]
    if bad:
        problems.append(
            LoadProblem(str(source.path), None, None, "a YAML document is not a mapping")
        )
        return None
    location = SigmaRuleLocation(source.path)
    try:
        collection = SigmaCollection.from_dicts(
            documents,
            collect_errors=True,
            source=location,
            collect_filters=True,
            resolve_references=False,
        )
    except SigmaError as exc:  # collection-level error not collected by pySigma
        problems.append(_problem(source, None, exc, None))
        return None
    for error in collection.errors:
        if not any(error in rule.errors for rule in collection.rules):
            problems.append(_problem(source, None, error, None))
    keep: list[Any] = []
    for rule in collection.rules:
        if rule.errors:
            rule_id = str(rule.id) if getattr(rule, "id", None) else None
            lines = _lines_for(source, rule_id)
            for error in rule.errors:
                problems.append(_problem(source, rule_id, error, lines))
        else:
            keep.append(rule)
    for sigma_filter in collection.filters:
        if sigma_filter.errors:
            rule_id = str(sigma_filter.id) if sigma_filter.id else None
            for error in sigma_filter.errors:
                problems.append(_problem(source, rule_id, error, _lines_for(source, rule_id)))
        else:
            keep.append(sigma_filter)
    return SigmaCollection(keep, collect_filters=True, resolve_references=False)


def _lines_for(source: RuleSource, rule_id: str | None) -> dict[str, int]:
    """Key lines of the document that defines ``rule_id`` (or of a single-document file)."""
    try:
        all_lines = source.key_lines()
    except yaml.YAMLError:
        return {}
    documents = [d for d in source.documents]
    for doc, lines in zip(documents, all_lines, strict=False):
        if isinstance(doc, dict) and rule_id is not None and str(doc.get("id")) == rule_id:
            return lines
    return all_lines[0] if len(all_lines) == 1 else {}


def _problem(
    source: RuleSource | None,
    rule_id: str | None,
    error: SigmaError,
    key_lines: dict[str, int] | None,
) -> LoadProblem:
    field_name = _ERROR_FIELDS.get(type(error).__name__)
    location = getattr(error, "source", None)
    path = str(source.path) if source is not None else str(getattr(location, "path", "?"))
    line = getattr(location, "line", None)
    if line is None and field_name and key_lines:
        line = key_lines.get(field_name.split(".")[0])
    message = error.args[0] if error.args else type(error).__name__
    return LoadProblem(path, rule_id, field_name, str(message), line)
