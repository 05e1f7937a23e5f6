"""core.content: safe YAML with limits and line maps, pydantic errors as located issues."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Literal

import pydantic
import pytest

from core.content import (
    Document,
    Issue,
    Validator,
    field_name,
    load_yaml,
    parse_field_name,
    validate_model,
)

LAUGHS = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        *(
            f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]"
            for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
        ),
    ]
)


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        (LAUGHS, 6, "(yaml)", "alias expansion"),
        ("a: " + "[" * 700 + "]" * 700, 1, "(yaml)", "nest"),
        ("a:\n" + "".join(f"{'  ' * i}k{i}:\n" for i in range(1, 80)), 65, "(yaml)", "deeper"),
        ("a: ok\nb: \x07\n", 2, "(yaml)", "control characters"),
        ("x: 1\nwhen: 2025-02-30\n", 2, "when", "day is out of range"),
        ("list:\n  - 2025-01-01 10:00:00 +99:99\n", 2, "list[0]", "offset"),
        ("&a [*a]", 1, "(yaml)", "refers to itself"),
        ("a: *nowhere", 1, "(yaml)", "no anchor"),
        ("a: [1, 2\nb: 3\n", 2, "(yaml)", "invalid YAML"),
        ("a: 1\n---\nb: 2\n", 3, "(document)", "one YAML document"),
        ("k: " + "x" * 20_000, 1, "(file)", "larger than the limit"),
    ],
)
def test_hostile_or_broken_yaml_is_a_located_issue(
    text: str, line: int, field: str, words: str
) -> None:
    started = time.perf_counter()
    content = load_yaml(text, source="t.yml", max_bytes=10_000)
    assert time.perf_counter() - started < 0.5
    assert content.documents == ()
    [issue] = content.issues
    assert (issue.source, issue.line, issue.field) == ("t.yml", line, field), str(issue)
    assert words in issue.message


def test_line_map_duplicates_and_several_documents() -> None:
    text = "title: x\nsteps:\n  - id: a\n    sla: 5\n  - id: b\ntitle: y\n---\nother: 1\n"
    content = load_yaml(text, source="t.yml", multiple=True)
    first, second = content.documents
    assert first.data["steps"][1] == {"id": "b"} and second.data == {"other": 1}
    assert first.lines[("steps", 0, "sla")] == 4 and first.line_of(("steps", 1, "nope")) == 5
    assert [str(i) for i in content.issues] == [
        "t.yml:6: title: duplicate key (the later value would win)"
    ]
    ignored = load_yaml(text, source="t.yml", multiple=True, duplicate_keys=None)
    assert ignored.issues == ()


def test_files_bytes_and_unreadable_paths(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text("a: 1\n", encoding="utf-8")
    assert load_yaml(good, source="good").document == Document({"a": 1}, {(): 1, ("a",): 1})
    latin = tmp_path / "latin.yml"
    latin.write_bytes(b"a: 1\nb: caf\xe9\n")
    assert [(i.line, i.field) for i in load_yaml(latin, source="l").issues] == [(2, "(file)")]
    [missing] = load_yaml(tmp_path / "nope.yml", source="nope").issues
    assert missing.line is None and "cannot read" in missing.message


class Step(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    id: str
    kind: Literal["action", "decision"] = pydantic.Field(alias="type")
    sla: int = 10


class Book(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    title: str
    steps: list[Step] = pydantic.Field(min_length=1)


class UniqueIds(Validator[Book]):
    name = "unique-ids"

    def check(self, item: Book) -> list[tuple[tuple[str | int, ...], str]]:
        ids = [step.id for step in item.steps]
        return [(("steps", i, "id"), "used twice") for i, s in enumerate(ids) if s in ids[:i]]


class ShortTitle(Validator[Book]):
    name = "short-title"
    severity = "warning"

    def check(self, item: Book) -> list[tuple[tuple[str | int, ...], str]]:
        return [(("title",), "a longer title helps")] if len(item.title) < 3 else []


def test_pydantic_errors_and_checks_are_located() -> None:
    text = "title: t\nsteps:\n  - id: a\n    type: action\n    sla: soon\n  - type: decision\n"
    document = load_yaml(text, source="b.yml").document
    assert document is not None
    book, issues = validate_model(Book, document, source="b.yml")
    assert book is None
    assert {(i.line, i.field) for i in issues} == {(5, "steps[0].sla"), (6, "steps[1].id")}
    assert next(i for i in issues if i.field == "steps[1].id").message == (
        "required field is missing"
    )
    text = "title: t\nsteps:\n  - {id: a, type: action}\n  - {id: a, type: decision}\nx: 1\n"
    document = load_yaml(text, source="b.yml").document
    assert document is not None
    _, issues = validate_model(Book, document, source="b.yml", validators=[UniqueIds()])
    assert [(i.line, i.field, i.message) for i in issues] == [(5, "x", "unknown field")]
    document = load_yaml(text.replace("x: 1\n", ""), source="b.yml").document
    assert document is not None
    _, issues = validate_model(Book, document, source="b.yml", validators=[UniqueIds()])
    assert [str(i) for i in issues] == ["b.yml:4: steps[1].id: used twice"]
    book, issues = validate_model(Book, document, source="b.yml", validators=[ShortTitle()])
    assert book is not None  # a warning does not reject the content
    assert [str(i) for i in issues] == ["b.yml:1: warning: title: a longer title helps"]


def test_issue_text_and_field_names() -> None:
    assert field_name(("steps", 2, "sla")) == "steps[2].sla" and field_name(()) == "(document)"
    for path in [("steps", 2, "sla"), ("a", 0, 1, "b"), ("tips", 0, "en")]:
        assert parse_field_name(field_name(path)) == path
    issue = Issue("r.yml", 3, "date", "bad", "warning", item="rule 1")
    assert str(issue) == "r.yml:3: warning: rule 1: date: bad" and not issue.is_error


def test_aliases_within_the_limits_load_and_are_walked_once() -> None:
    text = "base: &b {level: high, tags: [a, b]}\n" + "".join(
        f"r{i}:\n  <<: *b\n  name: n{i}\n" for i in range(150)
    )
    started = time.perf_counter()
    content = load_yaml(text, source="t.yml")
    assert time.perf_counter() - started < 0.5
    document = content.document
    assert content.issues == () and document is not None
    assert document.data["r149"] == {"level": "high", "tags": ["a", "b"], "name": "n149"}
    assert document.line_of(("r149", "name")) == 3 * 149 + 4
    many = "a: &a [x]\nb: [" + ", ".join(["*a"] * 201) + "]\n"
    [issue] = load_yaml(many, source="t.yml").issues
    assert "more than 200 aliases" in issue.message
