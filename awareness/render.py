"""Render awareness outputs from Jinja2 templates (autoescape on for HTML and XML).

Links between pages are relative and follow one layout, so the same HTML works from the
dashboard (/awareness/...) and from a folder written by `dijkwacht awareness build`:

    index.html                              every audience per language
    {lang}/feed.atom                        the Atom feed of one language
    {lang}/{audience}/index.html            the topics of one audience
    {lang}/{audience}/{topic}.html          a topic page; {topic}-{kind}.{ext} for the rest
    {lang}/{audience}/bulletin.html         the monthly bulletin (needs the alert store)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from awareness.adapt import TopicView, topic_view
from awareness.loader import Library
from awareness.schemas import AUDIENCES, LANGS, AudienceProfile, Lang

TEMPLATES = Path(__file__).resolve().parent / "templates"
LESSON_STEPS: tuple[tuple[str, int], ...] = (
    ("lesson_start", 5),
    ("lesson_facts", 10),
    ("lesson_examples", 10),
    ("lesson_tips", 10),
    ("lesson_quiz", 5),
    ("lesson_close", 5),
)


@cache
def environment() -> Environment:
    """The template environment, built on first use; plain-text templates are not escaped."""
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=lambda name: name is None or not name.endswith(".txt.j2"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def labels(library: Library, lang: Lang) -> dict[str, str]:
    """Interface strings in ``lang``."""
    return {key: text.get(lang) for key, text in library.labels.labels.items()}


def _other(lang: Lang) -> Lang:
    return "en" if lang == "nl" else "nl"


def _page_context(library: Library, lang: Lang, *, depth: int, here: str) -> dict[str, Any]:
    """Shared context of a web page ``depth`` folders below the root, at path ``here``."""
    other = _other(lang)
    up = "../" * depth
    return {
        "lang": lang,
        "L": labels(library, lang),
        "home_href": f"{up}index.html",
        "other_lang": other,
        "other_href": f"{up}{other}/{here}" if depth else None,
        "other_label": labels(library, other)["lang_name"],
        "feed_href": f"{up}{lang}/feed.atom" if depth else None,
    }


def render_index(library: Library) -> str:
    """The root page: every audience in every language."""
    groups = [
        {"lang": lang, "labels": labels(library, lang), "audiences": _audiences(library)}
        for lang in LANGS
    ]
    context = _page_context(library, "nl", depth=0, here="index.html")
    return environment().get_template("index.html.j2").render(groups=groups, **context)


def _audiences(library: Library) -> list[AudienceProfile]:
    return [library.audiences[a] for a in AUDIENCES if a in library.audiences]


def views(library: Library, audience: str, lang: Lang) -> list[TopicView]:
    """Every topic for one audience and language, in topic order."""
    return [
        topic_view(library=library, topic_id=t.id, audience=audience, lang=lang)
        for t in library.topics
    ]


def render_audience(
    library: Library, audience: str, lang: Lang, *, with_bulletin: bool = False
) -> str:
    """The topic list of one audience."""
    topics = views(library, audience, lang)
    context = _page_context(library, lang, depth=2, here=f"{audience}/index.html")
    return (
        environment()
        .get_template("audience.html.j2")
        .render(
            audience=library.audiences[audience],  # type: ignore[index]
            views=topics,
            with_bulletin=with_bulletin,
            **context,
        )
    )


DOWNLOADS: tuple[tuple[str, str], ...] = (
    ("handout", "-handout.pdf"),
    ("poster", "-poster.pdf"),
    ("slides", "-slides.pdf"),
    ("newsletter", "-newsletter.txt"),
    ("lesson", "-lesson.html"),
)


def render_topic(
    library: Library, view: TopicView, *, downloads: Sequence[str] | None = None
) -> str:
    """The accessible web page of one topic; links only the ``downloads`` kinds (None: all)."""
    here = f"{view.audience.id}/{view.id}.html"
    context = _page_context(library, view.lang, depth=2, here=here)
    links = [(kind, suffix) for kind, suffix in DOWNLOADS if downloads is None or kind in downloads]
    return environment().get_template("topic.html.j2").render(t=view, downloads=links, **context)


def lesson_steps(library: Library, lang: Lang) -> list[dict[str, Any]]:
    """The 45-minute plan: what happens in each step and for how long."""
    text = labels(library, lang)
    return [{"text": text[key], "minutes": minutes} for key, minutes in LESSON_STEPS]


def render_lesson(
    library: Library, view: TopicView, *, downloads: Sequence[str] | None = None
) -> str:
    """A lesson plan for a library or classroom session, with a quiz and its answers."""
    here = f"{view.audience.id}/{view.id}-lesson.html"
    context = _page_context(library, view.lang, depth=2, here=here)
    steps = lesson_steps(library, view.lang)
    setting = context["L"][f"setting_{view.audience.setting}"]
    return (
        environment()
        .get_template("lesson.html.j2")
        .render(
            t=view,
            steps=steps,
            total_minutes=sum(step["minutes"] for step in steps),
            setting=setting,
            downloads=[
                (kind, suffix)
                for kind, suffix in DOWNLOADS
                if kind in ("handout", "slides") and (downloads is None or kind in downloads)
            ],
            **context,
        )
    )


def render_newsletter(library: Library, view: TopicView) -> str:
    """Plain text for a newsletter or a website editor."""
    return (
        environment().get_template("newsletter.txt.j2").render(t=view, L=labels(library, view.lang))
    )


@dataclass(frozen=True)
class BulletinEntry:
    """One ranked topic of the bulletin; `level` is high, some or none (no counts)."""

    view: TopicView
    level: str


def render_bulletin(
    library: Library,
    *,
    audience: str,
    lang: Lang,
    month: str,
    since: str,
    until: str,
    entries: Sequence[BulletinEntry],
) -> str:
    """The monthly bulletin page."""
    context = _page_context(library, lang, depth=2, here=f"{audience}/bulletin.html")
    bulletin = {"month": month, "since": since, "until": until}
    return (
        environment()
        .get_template("bulletin.html.j2")
        .render(
            audience=library.audiences[audience],  # type: ignore[index]
            bulletin=bulletin,
            entries=entries,
            **context,
        )
    )


def render_feed(
    library: Library, lang: Lang, *, base_url: str | None = None, now: datetime | None = None
) -> str:
    """The Atom feed of one language: one entry per topic and audience."""
    entries: list[Mapping[str, str]] = []
    for profile in _audiences(library):
        for view in views(library, profile.id, lang):
            entries.append(
                {
                    "id": view.id,
                    "title": view.title,
                    "audience": profile.name.get(lang),
                    "audience_id": profile.id,
                    "updated": f"{view.updated}T00:00:00Z",
                    "summary": view.summary,
                }
            )
    latest = max((t.updated for t in library.topics), default=None)
    updated = (
        f"{latest.isoformat()}T00:00:00Z"
        if latest is not None
        else (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    return (
        environment()
        .get_template("feed.atom.j2")
        .render(
            lang=lang, L=labels(library, lang), entries=entries, updated=updated, base_url=base_url
        )
    )
