"""Content lint: small validator classes, one check each, returning issues (pySigma's idea).

Run every validator with `lint_library(library)`; tests require zero issues for shipped content.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from awareness.adapt import PLACEHOLDER, TopicView, _view
from awareness.loader import Library
from awareness.readability import measure, sentences
from awareness.schemas import LANGS, QuizItem, Text, Topic, Variant
from core.content import Issue, parse_field_name


def _texts(topic: Topic) -> Iterator[tuple[str, Text]]:
    """(field path, text) of every text of a topic, variants included."""
    yield "title", topic.title
    yield from _block("", topic)
    for audience, variant in topic.audiences.items():
        yield from _block(f"audiences.{audience}.", variant)


def _block(prefix: str, block: Topic | Variant) -> Iterator[tuple[str, Text]]:
    if block.summary is not None:
        yield f"{prefix}summary", block.summary
    for name in ("facts", "tips", "if_wrong", "examples"):
        for index, text in enumerate(getattr(block, name) or []):
            yield f"{prefix}{name}[{index}]", text
    quiz: list[QuizItem] = block.quiz or []
    for index, item in enumerate(quiz):
        yield f"{prefix}quiz[{index}].statement", item.statement
        yield f"{prefix}quiz[{index}].explanation", item.explanation


class Validator:
    """Base: one check over one topic; `name` appears in every issue it raises."""

    name: ClassVar[str] = "validator"

    def check(self, topic: Topic, library: Library) -> list[Issue]:
        raise NotImplementedError

    def issue(self, library: Library, topic: Topic, field: str, message: str) -> Issue:
        """A located issue: the topic's file and the line of ``field`` when the file has it."""
        path = library.paths.get(topic.id)
        document = library.documents.get(topic.id)
        line = document.line_of(parse_field_name(field)) if document is not None else None
        source = str(path) if path is not None else f"topic {topic.id}"
        return Issue(source, line, field, f"[{self.name}] {message}")


class MissingTranslation(Validator):
    """Every text exists in Dutch and English."""

    name = "missing-translation"

    def check(self, topic: Topic, library: Library) -> list[Issue]:
        return [
            self.issue(library, topic, f"{field}.{lang}", "translation is empty")
            for field, text in _texts(topic)
            for lang in LANGS
            if not text.get(lang).strip()
        ]


class MissingSource(Validator):
    """A topic without a source cannot be checked by a reader."""

    name = "missing-source"

    def check(self, topic: Topic, library: Library) -> list[Issue]:
        if topic.sources:
            return []
        return [self.issue(library, topic, "sources", "add at least one source")]


class TipTooLong(Validator):
    """Tips are one glance long: at most the audience's `max_tip_chars` once addressed."""

    name = "tip-too-long"

    def check(self, topic: Topic, library: Library) -> list[Issue]:
        issues = []
        for view in _views(topic, library):
            limit = view.audience.max_tip_chars
            for index, tip in enumerate(view.tips):
                if len(tip) > limit:
                    field = f"tips[{index}] ({view.audience.id}, {view.lang})"
                    issues.append(self.issue(library, topic, field, f"{len(tip)} > {limit} chars"))
        return issues


class SentenceTooLong(Validator):
    """A Dutch sentence stays within its audience's `max_sentence_words`."""

    name = "sentence-too-long"

    def check(self, topic: Topic, library: Library) -> list[Issue]:
        issues = []
        for view in _views(topic, library, langs=("nl",)):
            limit = view.audience.max_sentence_words
            for text in view.texts():
                for sentence in sentences(text):
                    words = len(sentence.split())
                    if words > limit:
                        field = f"({view.audience.id}) {sentence[:40]}..."
                        issues.append(self.issue(library, topic, field, f"{words} > {limit} words"))
        return issues


class NotB1(Validator):
    """The Dutch text of every audience meets the B1 target (readability.py)."""

    name = "not-b1"

    def check(self, topic: Topic, library: Library) -> list[Issue]:
        issues = []
        for view in _views(topic, library, langs=("nl",)):
            score = measure(view.texts())
            if not score.meets_b1:
                message = (
                    f"Flesch–Douma {score.flesch_douma:.1f}, "
                    f"{score.words_per_sentence:.1f} words/sentence"
                )
                issues.append(self.issue(library, topic, f"({view.audience.id})", message))
        return issues


_BARE_ADDRESS = re.compile(r"\b(je|jij|jou|jouw|u|uw)\b", re.IGNORECASE)
_QUOTED = re.compile(r"'[^']*'")


class BareAddress(Validator):
    """Dutch text writes {je}/{jouw}, never a fixed je or u, so each audience gets its own."""

    name = "bare-address"

    def check(self, topic: Topic, library: Library) -> list[Issue]:
        issues = []
        for field, text in _texts(topic):
            unquoted = _QUOTED.sub("", PLACEHOLDER.sub("", text.nl))  # quotes may say anything
            match = _BARE_ADDRESS.search(unquoted)
            if match:
                message = f"'{match.group(0)}': write {{je}} or {{jouw}}"
                issues.append(self.issue(library, topic, f"{field}.nl", message))
        return issues


_INVERSION = re.compile(
    r"(?:^|[.?!:]\s+)(?!(?:Als|Wat|Wie|Waar|Hoe)\b)(\w+) \{je\}|\b(?:dan|zo|nu) \{je\}"
)


class AddressInversion(Validator):
    """'Heb {je}' reads 'heb u' for seniors: the pronoun must come before its verb."""

    name = "address-inversion"

    def check(self, topic: Topic, library: Library) -> list[Issue]:
        return [
            self.issue(library, topic, f"{field}.nl", "put {je} before the verb")
            for field, text in _texts(topic)
            if _INVERSION.search(text.nl)
        ]


class ExampleForEveryAudience(Validator):
    """Every audience sees at least one example after cutting."""

    name = "example-per-audience"

    def check(self, topic: Topic, library: Library) -> list[Issue]:
        return [
            self.issue(library, topic, "examples", f"no example for {view.audience.id}")
            for view in _views(topic, library, langs=("nl",))
            if not view.examples
        ]


VALIDATORS: tuple[Validator, ...] = (
    MissingTranslation(),
    MissingSource(),
    TipTooLong(),
    SentenceTooLong(),
    NotB1(),
    BareAddress(),
    AddressInversion(),
    ExampleForEveryAudience(),
)


def _views(
    topic: Topic, library: Library, *, langs: tuple[str, ...] = LANGS
) -> Iterator[TopicView]:
    for profile in library.audiences.values():
        for lang in langs:
            yield _view(topic, profile, lang)  # type: ignore[arg-type]


def lint_library(library: Library, validators: tuple[Validator, ...] = VALIDATORS) -> list[Issue]:
    """Every issue of every topic; empty for content fit to publish."""
    return [
        issue
        for topic in library.topics
        for validator in validators
        for issue in validator.check(topic, library)
    ]
