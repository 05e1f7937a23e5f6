"""Cut one topic for one audience and language: variants, lengths and the form of address.

Dutch topic text writes {je}/{jouw} (and {Je}/{Jouw} at a sentence start) where the reader is
addressed; the audience profile turns them into "je/je" or "u/uw". Sentences keep the pronoun
before its verb ("als {je} twijfelt"), so the verb form is right for both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from awareness.errors import UnknownContentError
from awareness.loader import Library
from awareness.schemas import AudienceProfile, Lang, QuizItem, Source, Text, Topic

_PRONOUNS = {
    "u": {"je": "u", "Je": "U", "jouw": "uw", "Jouw": "Uw"},
    "je": {"je": "je", "Je": "Je", "jouw": "je", "Jouw": "Je"},
}
PLACEHOLDER = re.compile(r"\{(je|Je|jouw|Jouw)\}")


@dataclass(frozen=True)
class QuizView:
    """A quiz statement, its answer and why."""

    statement: str
    answer: bool
    explanation: str


@dataclass(frozen=True)
class TopicView:
    """A topic as one audience reads it in one language: plain strings, ready for templates."""

    id: str
    lang: Lang
    audience: AudienceProfile
    title: str
    summary: str
    facts: tuple[str, ...]
    tips: tuple[str, ...]
    if_wrong: tuple[str, ...]
    examples: tuple[str, ...]
    quiz: tuple[QuizView, ...]
    sources: tuple[Source, ...]
    updated: str

    def texts(self) -> list[str]:
        """Every reader-facing text, for readability and translation checks."""
        quiz = [text for item in self.quiz for text in (item.statement, item.explanation)]
        return [
            self.title,
            self.summary,
            *self.facts,
            *self.tips,
            *self.if_wrong,
            *self.examples,
            *quiz,
        ]


def address(text: str, *, lang: Lang, profile: AudienceProfile) -> str:
    """Fill the form of address of ``profile`` into ``text`` (English has none to fill)."""
    if lang != "nl":
        return text
    table = _PRONOUNS[profile.address]
    return PLACEHOLDER.sub(lambda match: table[match.group(1)], text)


def topic_view(*, library: Library, topic_id: str, audience: str, lang: Lang) -> TopicView:
    """The topic ``topic_id`` for ``audience`` in ``lang``; UnknownContentError if absent."""
    topic = library.topic(topic_id)
    if topic is None:
        raise UnknownContentError(f"topic '{topic_id}' does not exist")
    profile = library.audiences.get(audience)  # type: ignore[call-overload]
    if profile is None:
        raise UnknownContentError(f"audience '{audience}' does not exist")
    return _view(topic, profile, lang)


def _view(topic: Topic, profile: AudienceProfile, lang: Lang) -> TopicView:
    variant = topic.audiences.get(profile.id)

    def pick(name: str) -> list[Text]:
        chosen = getattr(variant, name, None) if variant is not None else None
        return list(chosen if chosen is not None else getattr(topic, name))

    def say(text: Text) -> str:
        return address(text.get(lang), lang=lang, profile=profile)

    summary = variant.summary if variant is not None and variant.summary else topic.summary
    quiz: list[QuizItem] = (
        variant.quiz if variant is not None and variant.quiz is not None else topic.quiz
    )
    return TopicView(
        id=topic.id,
        lang=lang,
        audience=profile,
        title=say(topic.title),
        summary=say(summary),
        facts=tuple(say(t) for t in pick("facts")[: profile.max_facts]),
        tips=tuple(say(t) for t in pick("tips")[: profile.max_tips]),
        if_wrong=tuple(say(t) for t in pick("if_wrong")[: profile.max_if_wrong]),
        examples=tuple(say(t) for t in pick("examples")[: profile.max_examples]),
        quiz=tuple(
            QuizView(say(item.statement), item.answer, say(item.explanation)) for item in quiz
        ),
        sources=tuple(topic.sources),
        updated=topic.updated.isoformat(),
    )
