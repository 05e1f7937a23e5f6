"""Load topics, audience profiles and labels from YAML, reporting file, line and field.

YAML goes through ``core.content.load_yaml`` (size, depth and alias limits; the line of every
data path) and pydantic through ``core.content.validate_model``, which maps each error back to
the path and line the author wrote (the idea of pySigma's rule locations).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from awareness.errors import ContentError
from awareness.schemas import AudienceId, AudienceProfile, Labels, Topic
from core.content import Document, Issue, has_errors, load_yaml, validate_model

CONTENT_DIR = Path(__file__).resolve().parent
Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class Library:
    """All authored content, loaded and validated once."""

    topics: tuple[Topic, ...]
    audiences: dict[AudienceId, AudienceProfile]
    labels: Labels
    paths: dict[str, Path]  # topic id -> file, for lint messages
    documents: dict[str, Document] = field(default_factory=dict)  # topic id -> lines, for lint

    def topic(self, topic_id: str) -> Topic | None:
        """The topic with this id, or None."""
        return next((topic for topic in self.topics if topic.id == topic_id), None)


def _read(path: Path, text: str | None = None) -> tuple[Document | None, list[Issue]]:
    """The one document of a YAML file and its issues (syntax, limits, duplicate keys)."""
    content = load_yaml(path if text is None else text, source=str(path))
    if content.document is None and not content.issues:
        return None, [Issue(str(path), 1, "(document)", "the file is empty")]
    return content.document, list(content.issues)


def check_file(
    model: type[Model], path: Path, *, text: str | None = None
) -> tuple[Model | None, list[Issue]]:
    """One YAML file (or ``text`` named ``path``) as ``model``: None on any error, and issues."""
    value, issues, _ = _check(model, path, text)
    return value, issues


def _check(
    model: type[Model], path: Path, text: str | None = None
) -> tuple[Model | None, list[Issue], Document | None]:
    document, issues = _read(path, text)
    if document is None:
        return None, issues, None
    value, found = validate_model(model, document, source=str(path))
    issues += found
    return (None if has_errors(issues) else value), issues, document


def load_file(model: type[Model], path: Path) -> Model:
    """One YAML file as ``model``; ContentError names file, line and field of every problem."""
    value, issues = check_file(model, path)
    if value is None:
        raise ContentError(issues)
    return value


def load_library(content_dir: Path = CONTENT_DIR) -> Library:
    """Every topic under ``content_dir/topics`` plus audiences and labels; all problems at once."""
    problems: list[Issue] = []
    topics: list[Topic] = []
    paths: dict[str, Path] = {}
    documents: dict[str, Document] = {}
    for path in sorted((content_dir / "topics").glob("*.yml")):
        topic, issues, document = _check(Topic, path)
        problems += issues
        if topic is None or document is None:
            continue
        if topic.id != path.stem:
            problems.append(Issue(str(path), 1, "id", f"'{topic.id}' must equal the file name"))
        if topic.id in paths:
            problems.append(Issue(str(path), 1, "id", f"duplicate of {paths[topic.id]}"))
        paths[topic.id] = path
        documents[topic.id] = document
        topics.append(topic)
    audiences, issues = check_audiences(content_dir / "audiences.yml")
    problems += issues
    labels, issues = check_file(Labels, content_dir / "labels.yml")
    problems += issues
    if has_errors(problems):
        raise ContentError(problems)
    topics.sort(key=lambda topic: (topic.order, topic.id))
    return Library(tuple(topics), audiences, labels or Labels(labels={}), paths, documents)


def check_audiences(path: Path) -> tuple[dict[AudienceId, AudienceProfile], list[Issue]]:
    """The audience profiles of a top-level YAML list, each item validated on its own."""
    document, issues = _read(path)
    audiences: dict[AudienceId, AudienceProfile] = {}
    if document is None:
        return audiences, issues
    if not isinstance(document.data, list):
        return audiences, [*issues, Issue(str(path), 1, "(document)", "must be a list")]
    for index in range(len(document.data)):
        profile, found = validate_model(AudienceProfile, document, source=str(path), at=(index,))
        issues += found
        if profile is not None:
            audiences[profile.id] = profile
    return audiences, issues


@cache
def default_library() -> Library:
    """The shipped content, loaded on first use (never at import) and kept for the process."""
    return load_library(CONTENT_DIR)
