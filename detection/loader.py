"""Read Sigma rule files and parse them with pySigma, rejecting broken rules one by one.

Files are read through ``core.content.load_yaml`` (size, depth and alias limits, located YAML
problems) once (``read_sources``); ``parse_sources`` turns them into fresh pySigma objects and
may be called once per pipeline stack, because pySigma pipelines mutate rules in place.

A broken rule becomes an ``Issue`` naming file, line, rule id, field and reason; every other rule
in the same run still loads. pySigma itself raises more than ``SigmaError`` on odd input
(``id: 1`` gives AttributeError, a correlation without ``condition`` UnboundLocalError): any
exception while parsing one file is caught here, at the per-file boundary, and becomes an issue
for that file, so one bad file never stops the rest. ``LastGood`` keeps, per file, the last
version that loaded cleanly, for hot reload.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.rule import SigmaRule

from core.content import DataPath, Issue, load_yaml

RULE_SUFFIXES = (".yml", ".yaml")
RULE_FIELD = "(rule)"  # the field of a problem that concerns a whole rule or file

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


# Top-level fields whose type pySigma trusts without checking (``id: 1`` crashed it).
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "name": (str,),
    "title": (str,),
    "status": (str,),
    "level": (str,),
    "description": (str,),
    "date": (str, dt.date),
    "modified": (str, dt.date),
    "tags": (list,),
    "references": (list,),
    "falsepositives": (list, str),
    "fields": (list,),
    "related": (list,),
    "logsource": (dict,),
    "detection": (dict,),
    "correlation": (dict,),
    "filter": (dict,),
}
_TYPE_NAMES = {str: "text", dt.date: "a date", list: "a list", dict: "a mapping"}


@dataclass(frozen=True)
class RuleSource:
    """One rule file read and YAML-parsed once; ``documents`` are never mutated."""

    path: Path
    documents: tuple[Any, ...]
    text: str
    lines: tuple[Mapping[DataPath, int], ...] = ()

    def line_for(self, rule_id: str | None, field_name: str | None) -> int | None:
        """Line of dotted ``field_name`` in the document defining ``rule_id`` (or the only one)."""
        lines = self._lines_of(rule_id)
        if lines is None:
            return None
        if field_name:
            parts = tuple(field_name.split("."))
            for end in range(len(parts), 0, -1):
                if parts[:end] in lines:
                    return lines[parts[:end]]
        return lines.get(())

    def _lines_of(self, rule_id: str | None) -> Mapping[DataPath, int] | None:
        for doc, lines in zip(self.documents, self.lines, strict=False):
            if isinstance(doc, dict) and rule_id is not None and str(doc.get("id")) == rule_id:
                return lines
        return self.lines[0] if len(self.lines) == 1 else None


@dataclass
class LoadResult:
    """Rules that parsed, plus one problem per rejected rule or file."""

    rules: list[SigmaRule] = field(default_factory=list)
    correlations: list[SigmaCorrelationRule] = field(default_factory=list)
    problems: list[Issue] = field(default_factory=list)


def rule_files(paths: Iterable[Path]) -> list[Path]:
    """Every *.yml / *.yaml file under the given files or directories, sorted for stable ids."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in path.rglob("*") if p.suffix in RULE_SUFFIXES and p.is_file())
        else:
            found.append(path)
    return sorted(set(found))


Snapshot = dict[str, tuple[int, int]]


def snapshot(paths: Iterable[Path]) -> Snapshot:
    """(mtime_ns, size) of every rule file: what decides that a reload is due."""
    found: Snapshot = {}
    for path in rule_files(paths):
        try:
            stat = path.stat()
        except OSError:
            continue  # deleted between listing and stat: the next poll sees it gone
        found[str(path)] = (stat.st_mtime_ns, stat.st_size)
    return found


def read_source(path: Path, *, text: str | None = None) -> tuple[RuleSource | None, list[Issue]]:
    """Read (or take ``text``) and YAML-parse one rule file safely; bad YAML becomes issues."""
    given = path if text is None else text
    content = load_yaml(given, source=str(path), multiple=True, duplicate_keys=None)
    if content.issues:
        return None, list(content.issues)
    documents = tuple(doc.data for doc in content.documents)
    lines = tuple(doc.lines for doc in content.documents)
    return RuleSource(path, documents, content.text, lines), []


def read_sources(paths: Iterable[Path]) -> tuple[list[RuleSource], list[Issue]]:
    """Read and YAML-parse every rule file; unreadable or invalid YAML becomes a problem."""
    sources: list[RuleSource] = []
    problems: list[Issue] = []
    for path in rule_files(paths):
        source, issues = read_source(path)
        problems += issues
        if source is not None:
            sources.append(source)
    return sources, problems


def parse_sources(sources: Sequence[RuleSource]) -> LoadResult:
    """Fresh pySigma rules from already-read sources (safe to mutate with a pipeline)."""
    result = LoadResult()
    collections: list[SigmaCollection] = []
    for source in sources:
        collection = parse_file(source, result.problems)
        if collection is not None:
            collections.append(collection)
    merged = SigmaCollection.merge(collections, resolve_references=False)
    merged = _resolved(merged, sources, result.problems)
    for rule in merged.rules:
        if isinstance(rule, SigmaCorrelationRule):
            result.correlations.append(rule)
        elif isinstance(rule, SigmaRule):
            result.rules.append(rule)
    return result


def _resolved(
    merged: SigmaCollection, sources: Sequence[RuleSource], problems: list[Issue]
) -> SigmaCollection:
    """``merged`` with correlation references resolved and filters applied.

    A correlation referring to a missing rule is dropped and reported on its own; the other
    correlations keep running. Should the filters still fail, every rule runs unfiltered
    and without correlations, and that is reported.
    """
    try:
        merged.resolve_rule_references()
        return merged
    except Exception:  # pySigma raises more than SigmaError here; located one by one below
        pass
    by_path = {str(source.path): source for source in sources}
    keep: list[Any] = list(merged.filters)
    for rule in merged.rules:
        if isinstance(rule, SigmaCorrelationRule):
            try:
                rule.resolve_rule_references(merged)
            except Exception as exc:  # one correlation at a time: the others still run
                source = by_path.get(str(getattr(rule.source, "path", "")))
                problems.append(_problem(source, str(rule.id) if rule.id else None, exc))
                continue
        keep.append(rule)
    salvaged = SigmaCollection(keep, collect_filters=True, resolve_references=False)
    try:
        salvaged.resolve_rule_references()
    except Exception as exc:  # a filter that cannot be applied: run the plain rules only
        problems.append(_problem(None, None, exc))
        plain: list[Any] = [r for r in merged.rules if isinstance(r, SigmaRule)]
        salvaged = SigmaCollection(plain, resolve_references=False)
    return salvaged


def parse_file(source: RuleSource, problems: list[Issue]) -> SigmaCollection | None:
    """The file's valid rules and filters; every problem is appended, nothing is raised."""
    documents = [d for d in copy.deepcopy(list(source.documents)) if d is not None]
    if any(not isinstance(d, dict) for d in documents):
        problems.append(
            Issue(str(source.path), 1, "(document)", "a YAML document is not a mapping")
        )
        return None
    typed = _type_issues(source)
    if typed:
        problems += typed
        return None
    try:
        collection = _from_dicts(source, documents, collect_errors=True)
    except SigmaError as exc:  # collection-level error not collected by pySigma
        problems.append(_problem(source, None, exc))
        return None
    except Exception as exc:  # the per-file boundary (module docstring)
        problems.append(_salvage(source, documents, exc))
        return None
    for error in collection.errors:
        if not any(error in rule.errors for rule in collection.rules):
            problems.append(_problem(source, None, error))
    keep: list[Any] = []
    for rule in collection.rules:
        if rule.errors:
            rule_id = str(rule.id) if getattr(rule, "id", None) else None
            problems += [_problem(source, rule_id, error) for error in rule.errors]
        else:
            keep.append(rule)
    for sigma_filter in collection.filters:
        if sigma_filter.errors:
            rule_id = str(sigma_filter.id) if sigma_filter.id else None
            problems += [_problem(source, rule_id, error) for error in sigma_filter.errors]
        else:
            keep.append(sigma_filter)
    return SigmaCollection(keep, collect_filters=True, resolve_references=False)


def _from_dicts(
    source: RuleSource, documents: list[Any], *, collect_errors: bool
) -> SigmaCollection:
    return SigmaCollection.from_dicts(
        documents,
        collect_errors=collect_errors,
        source=SigmaRuleLocation(source.path),
        collect_filters=True,
        resolve_references=False,
    )


def _salvage(source: RuleSource, documents: list[Any], exc: Exception) -> Issue:
    """The best located problem for a pySigma crash.

    pySigma's error-collecting mode has bugs the strict mode does not (a correlation without
    ``condition``): parsing again strictly often raises the real, located SigmaError.
    """
    try:
        _from_dicts(source, copy.deepcopy(documents), collect_errors=False)
    except SigmaError as strict:
        return _problem(source, _rule_id(documents), strict)
    except Exception:  # the first exception is the one reported below
        pass
    message = f"pySigma cannot parse this rule ({type(exc).__name__}: {exc})"
    line = source.line_for(_rule_id(documents), None)
    return Issue(str(source.path), line or 1, RULE_FIELD, message, item=_rule_id(documents))


def _rule_id(documents: Sequence[Any]) -> str | None:
    ids = [str(d["id"]) for d in documents if isinstance(d, dict) and d.get("id") is not None]
    return ids[0] if len(ids) == 1 else None


def _type_issues(source: RuleSource) -> list[Issue]:
    """Wrong types of top-level fields, which pySigma would trip over instead of reporting."""
    issues = []
    lines_of = source.lines or ({},) * len(source.documents)
    for doc, lines in zip(source.documents, lines_of, strict=False):
        if not isinstance(doc, dict):
            continue
        rule_id = str(doc["id"]) if isinstance(doc.get("id"), str) else None
        for name, types in _FIELD_TYPES.items():
            value = doc.get(name)
            if value is None or isinstance(value, types):
                continue
            wanted = " or ".join(_TYPE_NAMES[t] for t in types)
            issues.append(
                Issue(
                    str(source.path),
                    lines.get((name,), 1),
                    name,
                    f"must be {wanted}, not {type(value).__name__} {value!r}",
                    item=rule_id,
                )
            )
    return issues


def _problem(source: RuleSource | None, rule_id: str | None, error: Exception) -> Issue:
    field_name = _ERROR_FIELDS.get(type(error).__name__)
    location = getattr(error, "source", None)
    path = str(source.path) if source is not None else str(getattr(location, "path", "?"))
    line = getattr(location, "line", None)
    if line is None and source is not None:
        line = source.line_for(rule_id, field_name)
    message = error.args[0] if error.args else type(error).__name__
    if not isinstance(error, SigmaError):
        message = f"{type(error).__name__}: {message}"
    return Issue(path, line or 1, field_name or RULE_FIELD, str(message), item=rule_id)


class LastGood:
    """Hot reload: per file, the last version that loaded without a problem.

    A file that turns bad (broken YAML, a rule pySigma rejects) is replaced by its last good
    version, and its problems are still reported with a note that the old version runs; a file
    that never loaded cleanly is passed on as is (its good rules load). Checks are cached per
    file text, so an unchanged file is parsed once, not on every reload.
    """

    def __init__(self) -> None:
        self._good: dict[Path, RuleSource] = {}
        self._checked: dict[Path, tuple[bytes, list[Issue]]] = {}  # by a digest of the text
        # The last reading of each file by a digest of its bytes: an unchanged file is not
        # YAML-parsed again (2,407 SigmaHQ files take seconds to parse, milliseconds to hash).
        self._read: dict[Path, tuple[bytes, RuleSource | None, list[Issue]]] = {}
        # Files the compile cache served from disk: known good, parsed only should they turn bad.
        self._good_bytes: dict[Path, bytes] = {}

    def remember(self, path: Path, data: bytes) -> None:
        """``data`` is a version of ``path`` that loaded cleanly (not parsed unless needed)."""
        if path not in self._good or self._good[path].text.encode("utf-8") != data:
            self._good_bytes[path] = data

    def _last_good(self, path: Path) -> RuleSource | None:
        data = self._good_bytes.pop(path, None)
        if data is not None:
            source, issues = read_source(path, text=data.decode("utf-8"))
            if source is not None and not issues:
                self._good[path] = source
        return self._good.get(path)

    def _read_source(self, path: Path) -> tuple[RuleSource | None, list[Issue]]:
        try:
            data = path.read_bytes()
        except OSError:
            return read_source(path)  # reports the unreadable file as read_source does
        digest = hashlib.blake2b(data, digest_size=16).digest()
        known = self._read.get(path)
        if known is not None and known[0] == digest:
            return known[1], list(known[2])
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return read_source(path)
        source, issues = read_source(path, text=text)
        self._read[path] = (digest, source, list(issues))
        return source, issues

    def read(
        self, paths: Iterable[Path], *, only: Collection[Path] | None = None
    ) -> tuple[list[RuleSource], list[Issue]]:
        """Like ``read_sources``, with bad files swapped for their last good version.

        ``only``: read just these of the files found (the others came from the compile cache);
        files that are gone are still forgotten.
        """
        sources: list[RuleSource] = []
        problems: list[Issue] = []
        files = rule_files(paths)
        for path in files:
            if only is not None and path not in only:
                continue
            source, issues = self._read_source(path)
            if source is not None and not issues:
                issues = self._check(source)
                if not issues:
                    self._good[path] = source
                    self._good_bytes.pop(path, None)
                    sources.append(source)
                    continue
            good = self._last_good(path)
            if good is None:
                problems += issues if source is None else []
                if source is not None:
                    sources.append(source)  # parse_sources reports its problems
                continue
            sources.append(good)
            problems += issues
            note = "the file has problems: the last good version of it keeps running"
            problems.append(Issue(str(path), None, "(file)", note, "warning"))
        for gone in set(self._good) - set(files):
            del self._good[gone]
            self._checked.pop(gone, None)
        for gone in set(self._good_bytes) - set(files):
            del self._good_bytes[gone]
        for gone in set(self._read) - set(files):
            del self._read[gone]
        return sources, problems

    def _check(self, source: RuleSource) -> list[Issue]:
        digest = hashlib.blake2b(source.text.encode("utf-8"), digest_size=16).digest()
        cached = self._checked.get(source.path)
        if cached is not None and cached[0] == digest:
            return cached[1]
        issues: list[Issue] = []
        parse_file(source, issues)
        self._checked[source.path] = (digest, issues)
        return issues
