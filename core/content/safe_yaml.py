"""Safe YAML for authored content: size, depth and alias-expansion limits, located problems.

Hostile or broken YAML must never take a service down: a 405-byte "billion laughs" document
expands to gigabytes when walked, 2 KB of nesting overflows the Python stack, a control
character or ``date: 2025-02-30`` raise errors no caller expects. ``load_yaml`` therefore

1. refuses a document over ``max_bytes`` before parsing it;
2. streams the parser's events once (libyaml, linear in the input) and refuses it when the
   nesting is deeper than ``max_depth``, when it has more than ``max_aliases`` aliases, or when
   expanding its aliases would give more than ``max_nodes`` nodes — before anything is built;
3. only then composes and constructs it, turning every remaining error (syntax, reader,
   impossible dates, bad offsets) into an ``Issue`` with its line.

The result carries, per document, the data and a line map (data path -> 1-based line) that the
validators use to locate their own findings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.content.issues import DataPath, Issue, Severity, field_name

MAX_BYTES = 1_000_000
MAX_DEPTH = 64
MAX_ALIASES = 200
MAX_NODES = 200_000

# libyaml when present: the pure-Python parser is about 10x slower on the rule pack.
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc]
    """Safe loader whose constructors report bad values at their node, not as ValueError."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # PyYAML's constructors raise bare ValueError/AttributeError on values such as
        # `!!timestamp x` or `!!int 0x`; give them the node's position instead.
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, AttributeError, OverflowError, KeyError) as exc:
            shown = repr(node.value) if isinstance(node, yaml.ScalarNode) else "this value"
            raise yaml.constructor.ConstructorError(
                None, None, f"invalid {node.tag} {shown}: {exc}", node.start_mark
            ) from None


def _timestamp(loader: Any, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except (ValueError, OverflowError) as exc:
        raise yaml.constructor.ConstructorError(
            None, None, f"invalid date or time {node.value!r}: {exc}", node.start_mark
        ) from None
    except AttributeError:  # an explicit !!timestamp tag on text that is no date at all
        raise yaml.constructor.ConstructorError(
            None, None, f"invalid date or time {node.value!r}", node.start_mark
        ) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


@dataclass(frozen=True)
class Document:
    """One YAML document: its data and the line of every data path in it."""

    data: Any
    lines: Mapping[DataPath, int]

    def line_of(self, path: DataPath) -> int:
        """The line of ``path`` or of its nearest parent (a missing key: the mapping lacking it)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return 1


@dataclass(frozen=True)
class YamlContent:
    """What ``load_yaml`` found: the documents (empty when the file is unusable) and issues."""

    source: str
    text: str
    documents: tuple[Document, ...] = ()
    issues: tuple[Issue, ...] = field(default_factory=tuple)

    @property
    def document(self) -> Document | None:
        """The first document, or None (empty file or refused input)."""
        return self.documents[0] if self.documents else None


class _Refused(Exception):
    """Internal: the event scan found a limit exceeded at ``line``."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def load_yaml(
    text_or_path: str | bytes | Path,
    *,
    source: str,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    max_aliases: int = MAX_ALIASES,
    max_nodes: int = MAX_NODES,
    multiple: bool = False,
    duplicate_keys: Severity | None = "error",
) -> YamlContent:
    """Parse authored YAML safely; never raises for any input, only returns issues.

    ``multiple`` allows several documents (Sigma rule files); otherwise a second document is
    an issue. ``duplicate_keys`` is the severity of a key given twice in one mapping (YAML keeps
    the later value silently), or None to ignore them.
    """
    text, issue = _text(text_or_path, source=source, max_bytes=max_bytes)
    if issue is not None:
        return YamlContent(source, text, (), (issue,))
    try:
        _scan(text, max_depth=max_depth, max_aliases=max_aliases, max_nodes=max_nodes)
        nodes, data = _compose_and_construct(text)
    except _Refused as exc:
        return YamlContent(source, text, (), (Issue(source, exc.line, "(yaml)", exc.message),))
    except _BadValue as exc:
        issue = _yaml_issue(exc.error, text, source)
        if exc.path is not None:
            issue = Issue(source, issue.line, field_name(exc.path), exc.error.problem or "")
        return YamlContent(source, text, (), (issue,))
    except yaml.YAMLError as exc:
        return YamlContent(source, text, (), (_yaml_issue(exc, text, source),))
    except (ValueError, TypeError, AttributeError, KeyError, OverflowError, RecursionError) as exc:
        # A constructor failing where no node is known: report the input, never crash.
        message = f"cannot build the data: {type(exc).__name__}: {exc}"
        return YamlContent(source, text, (), (Issue(source, 1, "(yaml)", message),))
    issues: list[Issue] = []
    if not multiple and len(nodes) > 1:
        line = nodes[1].start_mark.line + 1
        message = f"expected one YAML document, found {len(nodes)}"
        return YamlContent(source, text, (), (Issue(source, line, "(document)", message),))
    documents = []
    for node, value in zip(nodes, data, strict=True):
        lines: dict[DataPath, int] = {}
        duplicates: list[tuple[DataPath, int]] = []
        _walk(node, (), lines, duplicates)
        documents.append(Document(value, lines))
        if duplicate_keys is not None:
            issues += [
                Issue(
                    source,
                    line,
                    field_name(path),
                    "duplicate key (the later value would win)",
                    duplicate_keys,
                )
                for path, line in duplicates
            ]
    return YamlContent(source, text, tuple(documents), tuple(issues))


def _text(
    text_or_path: str | bytes | Path, *, source: str, max_bytes: int
) -> tuple[str, Issue | None]:
    """The input as text, or the issue that stops it: unreadable, too large, not UTF-8."""
    raw: str | bytes
    if isinstance(text_or_path, Path):
        try:
            with text_or_path.open("rb") as handle:
                raw = handle.read(max_bytes + 1)
        except OSError as exc:
            return "", Issue(source, None, "(file)", f"cannot read: {exc.strerror or exc}")
    else:
        raw = text_or_path
    size = len(raw.encode("utf-8")) if isinstance(raw, str) else len(raw)
    if size > max_bytes:
        return "", Issue(source, 1, "(file)", f"larger than the limit of {max_bytes} bytes")
    if isinstance(raw, str):
        return raw, None
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return "", Issue(source, line, "(file)", f"not UTF-8 (byte {exc.start}: {exc.reason})")


def _scan(text: str, *, max_depth: int, max_aliases: int, max_nodes: int) -> None:
    """Refuse deep nesting and alias bombs from the event stream, before any node is built.

    ``expanded`` counts the nodes a full walk of the data would visit: a completed anchor
    remembers its subtree's count and every alias adds it again, so nine aliases of nine
    aliases are seen as 9**n nodes without ever building them.
    """
    anchors: dict[str, int] = {}
    stack: list[tuple[str | None, int]] = []  # (anchor, nodes so far) of open collections
    open_anchors: set[str] = set()
    aliases = 0
    total = 0

    def add(count: int, line: int) -> None:
        nonlocal total
        if stack:
            anchor, so_far = stack[-1]
            stack[-1] = (anchor, so_far + count)
        else:
            total += count
        if total + sum(so_far for _, so_far in stack) > max_nodes:
            raise _Refused(line, f"expands to more than {max_nodes} nodes (alias expansion)")

    for event in yaml.parse(text, Loader=_Loader):
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        if isinstance(event, yaml.CollectionStartEvent):
            if len(stack) >= max_depth:
                raise _Refused(line, f"nested deeper than {max_depth} levels")
            stack.append((event.anchor, 1))
            if event.anchor:
                open_anchors.add(event.anchor)
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, count = stack.pop()
            if anchor:
                anchors[anchor] = count
                open_anchors.discard(anchor)
            add(count, line)
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor:
                anchors[event.anchor] = 1
            add(1, line)
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > max_aliases:
                raise _Refused(line, f"more than {max_aliases} aliases")
            if event.anchor in open_anchors:
                raise _Refused(line, f"alias *{event.anchor} refers to itself (recursive data)")
            if event.anchor not in anchors:
                raise _Refused(line, f"alias *{event.anchor} has no anchor before it")
            add(anchors[event.anchor], line)
        elif isinstance(event, yaml.DocumentEndEvent):
            anchors.clear()  # anchors are local to a document


def _compose_and_construct(text: str) -> tuple[list[yaml.Node], list[Any]]:
    """Compose every document, then build its data; a bad scalar names its data path."""
    loader = _Loader(text)
    try:
        nodes: list[yaml.Node] = []
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                nodes.append(node)
        data: list[Any] = []
        for node in nodes:
            try:
                data.append(loader.construct_document(node))
            except yaml.constructor.ConstructorError as exc:
                raise _BadValue(exc, _path_at(node, exc.problem_mark)) from None
        return nodes, data
    finally:
        loader.dispose()


class _BadValue(Exception):
    """Internal: a constructor refused a value; ``path`` is where it sits in the data."""

    def __init__(self, error: yaml.constructor.ConstructorError, path: DataPath | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.path = path


def _path_at(node: yaml.Node, mark: Any) -> DataPath | None:
    """The data path of the node that starts at ``mark`` (depth-first, bounded by ``_scan``)."""
    if mark is None:
        return None
    pending: list[tuple[yaml.Node, DataPath]] = [(node, ())]
    while pending:
        current, path = pending.pop()
        if current.start_mark.index == mark.index:
            return path
        if isinstance(current, yaml.MappingNode):
            pending += [(value, (*path, str(key.value))) for key, value in current.value]
        elif isinstance(current, yaml.SequenceNode):
            pending += [(item, (*path, index)) for index, item in enumerate(current.value)]
    return None


def _yaml_issue(exc: yaml.YAMLError, text: str, source: str) -> Issue:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = exc.problem or exc.context or str(exc)
        return Issue(source, line, "(yaml)", f"invalid YAML: {problem}")
    if isinstance(exc, yaml.reader.ReaderError):
        line = text[: exc.position].count("\n") + 1
        return Issue(
            source, line, "(yaml)", f"invalid YAML: {exc.reason} (character {exc.character!r})"
        )
    return Issue(source, 1, "(yaml)", f"invalid YAML: {exc}")


def _walk(
    node: yaml.Node,
    path: DataPath,
    lines: dict[DataPath, int],
    dups: list[tuple[DataPath, int]],
    walked: set[int] | None = None,
) -> None:
    """Record the line of every data path below ``node``.

    A collection reached again through an alias is not walked again: its lines are those of
    the anchor, and walking every expansion would cost as much as the alias bomb it allows.
    """
    lines.setdefault(path, node.start_mark.line + 1)
    walked = set() if walked is None else walked
    if isinstance(node, yaml.CollectionNode):
        if id(node) in walked:
            return
        walked.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            line = key_node.start_mark.line + 1
            if key in seen:
                dups.append((child, line))
            seen.add(key)
            lines.setdefault(child, line)
            _walk(value_node, child, lines, dups, walked)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines, dups, walked)
