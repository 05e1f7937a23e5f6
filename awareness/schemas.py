"""Pydantic models of awareness content: topics, per-audience variants and audience profiles.

Content is authored as YAML (awareness/topics/*.yml); these models are the contract the loader
checks it against, so a missing field is reported with its file and line, not found in print.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

Lang = Literal["nl", "en"]
LANGS: tuple[Lang, ...] = ("nl", "en")
AudienceId = Literal["library", "primary", "secondary", "parents", "business"]
AUDIENCES: tuple[AudienceId, ...] = ("library", "primary", "secondary", "parents", "business")


class _Strict(BaseModel):
    """Unknown keys are errors: a typo in a YAML key must not silently drop content."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Strict):
    """One text in both languages; an empty side is a missing translation (see lint)."""

    nl: str = ""
    en: str = ""

    def get(self, lang: Lang) -> str:
        """The text in ``lang`` ('' when untranslated; lint reports it)."""
        return self.nl if lang == "nl" else self.en


class Source(_Strict):
    """Where a fact comes from; every topic names at least one (lint)."""

    title: str
    url: HttpUrl
    kind: Literal["official", "official-secondary", "secondary"] = "official"


class QuizItem(_Strict):
    """A statement for the quiz: true or false, with the reason given afterwards."""

    statement: Text
    answer: bool
    explanation: Text


class Variant(_Strict):
    """What one audience sees instead of the topic's defaults; unset fields fall back."""

    summary: Text | None = None
    facts: list[Text] | None = None
    tips: list[Text] | None = None
    if_wrong: list[Text] | None = None
    examples: list[Text] | None = None
    quiz: list[QuizItem] | None = None


class Topic(_Strict):
    """One awareness topic: facts, tips, what to do if it went wrong, and its sources."""

    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    order: int = Field(ge=1)
    updated: date
    title: Text
    summary: Text
    facts: list[Text] = Field(min_length=1)
    tips: list[Text] = Field(min_length=1)
    if_wrong: list[Text] = Field(min_length=1)
    examples: list[Text] = Field(min_length=1)
    quiz: list[QuizItem] = Field(min_length=1)
    sources: list[Source] = Field(default_factory=list)
    audiences: dict[AudienceId, Variant] = Field(default_factory=dict)


class AudienceProfile(_Strict):
    """How content is cut for one audience: form of address, lengths and the session setting."""

    id: AudienceId
    name: Text
    address: Literal["u", "je"]
    setting: Literal["library", "classroom", "meeting"]
    max_facts: int = Field(ge=1)
    max_tips: int = Field(ge=1)
    max_if_wrong: int = Field(ge=1)
    max_examples: int = Field(ge=1)
    max_sentence_words: int = Field(ge=5)
    max_tip_chars: int = Field(ge=40)


class Labels(_Strict):
    """Interface strings of every template, keyed by name, in both languages."""

    labels: dict[str, Text]
