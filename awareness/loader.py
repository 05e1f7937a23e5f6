"""Load topics, audience profiles and labels from YAML, reporting file, line and field.

YAML is composed to nodes first so every key keeps its line; pydantic's error locations are then
mapped back to those lines (the idea of pySigma's rule locations, our own code).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from awareness.errors import ContentError, ContentProblem
from awareness.schemas import AudienceId, AudienceProfile, Labels, Topic

CONTENT_DIR = Path(__file__).resolve().parent
Model = TypeVar("Model", bound=BaseModel)
Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Library:
    """All authored content, loaded and validated once."""

    topics: tuple[Topic, ...]
    audiences: dict[AudienceId, AudienceProfile]
    labels: Labels
    paths: dict[str, Path]  # topic id -> file, for lint messages

    def topic(self, topic_id: str) -> Topic | None:
        """The topic with this id, or None."""
        return next((topic for topic in self.topics if topic.id == topic_id), None)


def _lines(node: yaml.Node, loc: Loc = ()) -> Iterator[tuple[Loc, int]]:
    """(location, 1-based line) of every node under ``node``."""
    yield loc, node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _lines(value, (*loc, str(key.value)))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _lines(item, (*loc, index))


def _line_of(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The line of the deepest existing node on ``loc`` (a missing key points at its parent)."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _field(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _read(path: Path) -> tuple[Any, dict[Loc, int]]:
    """Parsed data and the line map of one YAML file; syntax errors become ContentError."""
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ContentError([ContentProblem(path, line, "(yaml)", str(exc))]) from None
    return data, dict(_lines(node)) if node is not None else {}


def _validate(model: type[Model], path: Path, data: Any, lines: dict[Loc, int]) -> Model:
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        problems = []
        for error in exc.errors():
            # Drop pydantic's union/type tags (e.g. 'str') that are not keys of the document.
            loc = tuple(
                part for part in error["loc"] if isinstance(part, int) or part in _keys(lines)
            )
            problems.append(ContentProblem(path, _line_of(lines, loc), _field(loc), error["msg"]))
        raise ContentError(problems) from None


def _keys(lines: dict[Loc, int]) -> set[str]:
    return {part for loc in lines for part in loc if isinstance(part, str)}


def load_file(model: type[Model], path: Path) -> Model:
    """One YAML file as ``model``; ContentError names file, line and field of every problem."""
    data, lines = _read(path)
    return _validate(model, path, data, lines)


def load_library(content_dir: Path = CONTENT_DIR) -> Library:
    """Every topic under ``content_dir/topics`` plus audiences and labels; all problems at once."""
    problems: list[ContentProblem] = []
    topics: list[Topic] = []
    paths: dict[str, Path] = {}
    for path in sorted((content_dir / "topics").glob("*.yml")):
        try:
            topic = load_file(Topic, path)
        except ContentError as exc:
            problems.extend(exc.problems)
            continue
        if topic.id != path.stem:
            problems.append(ContentProblem(path, 1, "id", f"'{topic.id}' must equal the file name"))
        if topic.id in paths:
            problems.append(ContentProblem(path, 1, "id", f"duplicate of {paths[topic.id]}"))
        paths[topic.id] = path
        topics.append(topic)
    audiences: dict[AudienceId, AudienceProfile] = {}
    audience_path = content_dir / "audiences.yml"
    data, lines = _read(audience_path)
    for index, item in enumerate(data or []):
        try:
            profile = _validate(AudienceProfile, audience_path, item, _shift(lines, index))
        except ContentError as exc:
            problems.extend(exc.problems)
            continue
        audiences[profile.id] = profile
    try:
        labels = load_file(Labels, content_dir / "labels.yml")
    except ContentError as exc:
        problems.extend(exc.problems)
        labels = Labels(labels={})
    if problems:
        raise ContentError(problems)
    topics.sort(key=lambda topic: (topic.order, topic.id))
    return Library(tuple(topics), audiences, labels, paths)


def _shift(lines: dict[Loc, int], index: int) -> dict[Loc, int]:
    """The line map of item ``index`` of a top-level list, with locations relative to it."""
    return {loc[1:]: line for loc, line in lines.items() if loc[:1] == (index,)}


@cache
def default_library() -> Library:
    """The shipped content, loaded on first use (never at import) and kept for the process."""
    return load_library(CONTENT_DIR)
