"""Awareness service: what the dashboard and the CLI call to list, render and build content.

library = default_library()
rendered = render_output(library=library, lang="nl", audience="library", name="phishing.html")
jobs = build_jobs(library=library, audiences=["primary"], langs=["nl"], formats=["pdf"])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from awareness.adapt import topic_view
from awareness.errors import UnknownContentError
from awareness.lint import lint_library
from awareness.loader import Library, check_audiences, check_file, default_library, load_library
from awareness.pdf import render_pdf
from awareness.render import (
    BulletinEntry,
    render_audience,
    render_bulletin,
    render_feed,
    render_index,
    render_lesson,
    render_newsletter,
    render_topic,
)
from awareness.schemas import AUDIENCES, LANGS, Lang
from awareness.trends import RankedTopic, rank_topics
from core.store.base import AlertStore
from detection import service as detection_service

__all__ = [
    "Rendered",
    "atom_feed",
    "build_jobs",
    "check_audiences",
    "check_file",
    "default_library",
    "index_page",
    "lint_library",
    "load_library",
    "monthly_bulletin",
    "published_topics",
    "render_output",
    "write_job",
]

# kind -> (file name suffix, media type)
OUTPUTS: dict[str, tuple[str, str]] = {
    "html": (".html", "text/html; charset=utf-8"),
    "lesson": ("-lesson.html", "text/html; charset=utf-8"),
    "newsletter": ("-newsletter.txt", "text/plain; charset=utf-8"),
    "handout": ("-handout.pdf", "application/pdf"),
    "poster": ("-poster.pdf", "application/pdf"),
    "slides": ("-slides.pdf", "application/pdf"),
}
FORMAT_GROUPS: dict[str, tuple[str, ...]] = {
    "pdf": ("handout", "poster", "slides"),
    "web": ("html", "lesson"),
    "all": tuple(OUTPUTS),
    **{kind: (kind,) for kind in OUTPUTS},
}
AUDIENCE_GROUPS: dict[str, tuple[str, ...]] = {
    "schools": ("primary", "secondary"),
    "all": AUDIENCES,
    **{audience: (audience,) for audience in AUDIENCES},
}
BULLETIN_DAYS = 30


@dataclass(frozen=True)
class Rendered:
    """One rendered output and how to serve it."""

    content: bytes
    media_type: str


def _check(lang: str, audience: str, library: Library) -> Lang:
    if lang not in LANGS:
        raise UnknownContentError(f"language '{lang}' does not exist (choose nl or en)")
    if audience not in library.audiences:
        raise UnknownContentError(f"audience '{audience}' does not exist")
    return lang  # type: ignore[return-value]


def parse_name(name: str) -> tuple[str, str]:
    """(topic id, kind) of an output file name such as ``phishing-handout.pdf``."""
    for kind, (suffix, _media) in sorted(OUTPUTS.items(), key=lambda kv: -len(kv[1][0])):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], kind
    raise UnknownContentError(f"no output is called '{name}'")


def render_output(*, library: Library, lang: str, audience: str, name: str) -> Rendered:
    """One file of the layout under ``{lang}/{audience}/``; UnknownContentError if none."""
    checked = _check(lang, audience, library)
    if name == "index.html":
        html = render_audience(library, audience, checked, with_bulletin=True)
        return Rendered(html.encode("utf-8"), OUTPUTS["html"][1])
    topic_id, kind = parse_name(name)
    return _render_kind(library, checked, audience, topic_id, kind)


def _render_kind(
    library: Library,
    lang: Lang,
    audience: str,
    topic_id: str,
    kind: str,
    downloads: Sequence[str] | None = None,
) -> Rendered:
    view = topic_view(library=library, topic_id=topic_id, audience=audience, lang=lang)
    media = OUTPUTS[kind][1]
    if kind == "html":
        return Rendered(render_topic(library, view, downloads=downloads).encode("utf-8"), media)
    if kind == "lesson":
        return Rendered(render_lesson(library, view, downloads=downloads).encode("utf-8"), media)
    if kind == "newsletter":
        return Rendered(render_newsletter(library, view).encode("utf-8"), media)

    return Rendered(render_pdf(library, view, kind), media)


def index_page(*, library: Library) -> Rendered:
    """The root page listing every audience per language."""
    return Rendered(render_index(library).encode("utf-8"), OUTPUTS["html"][1])


def atom_feed(*, library: Library, lang: str, base_url: str | None = None) -> Rendered:
    """The Atom feed of one language."""
    checked = _check(lang, next(iter(library.audiences)), library)
    xml = render_feed(library, checked, base_url=base_url)
    return Rendered(xml.encode("utf-8"), "application/atom+xml; charset=utf-8")


def bulletin_ranking(
    *, library: Library, alert_store: AlertStore, now: datetime
) -> list[RankedTopic]:
    """Topics ranked by the last 30 days of alerts, through detection's service only."""
    counts = detection_service.alert_tag_counts(
        alert_store=alert_store, since=now - timedelta(days=BULLETIN_DAYS), until=now
    )
    return rank_topics(tag_counts=counts, topic_ids=[t.id for t in library.topics])


def monthly_bulletin(
    *, library: Library, alert_store: AlertStore, now: datetime, lang: str, audience: str
) -> Rendered:
    """The bulletin page of this month for one audience: ranked topics, no incident detail."""
    checked = _check(lang, audience, library)
    ranking = bulletin_ranking(library=library, alert_store=alert_store, now=now)
    entries = [
        BulletinEntry(
            topic_view(library=library, topic_id=item.topic_id, audience=audience, lang=checked),
            item.level,
        )
        for item in ranking
    ]
    since = (now - timedelta(days=BULLETIN_DAYS)).date().isoformat()
    html = render_bulletin(
        library,
        audience=audience,
        lang=checked,
        month=now.strftime("%Y-%m"),
        since=since,
        until=now.date().isoformat(),
        entries=entries,
    )
    return Rendered(html.encode("utf-8"), OUTPUTS["html"][1])


@dataclass(frozen=True)
class BuildJob:
    """One file to write: its path relative to the output folder and how to make it."""

    path: Path
    make: Callable[[], bytes]


def expand(names: Iterable[str], groups: dict[str, tuple[str, ...]], what: str) -> list[str]:
    """Names with groups (``schools``, ``pdf``, ``all``) expanded, order kept, no repeats."""
    out: list[str] = []
    for name in names:
        if name not in groups:
            choices = ", ".join(sorted(groups))
            raise UnknownContentError(f"{what} '{name}' does not exist (choose from {choices})")
        out.extend(item for item in groups[name] if item not in out)
    return out


def build_jobs(
    *,
    library: Library,
    audiences: Sequence[str],
    langs: Sequence[str],
    formats: Sequence[str],
) -> list[BuildJob]:
    """Every file of a build; index pages and feeds come with HTML so links never break."""
    chosen_audiences = expand(audiences, AUDIENCE_GROUPS, "audience")
    kinds = expand(formats, FORMAT_GROUPS, "format")
    jobs: list[BuildJob] = []
    web = "html" in kinds
    for lang in langs:
        checked = _check(lang, chosen_audiences[0], library)
        if web:
            jobs.append(BuildJob(Path(lang, "feed.atom"), _feed_maker(library, checked)))
        for audience in chosen_audiences:
            if web:
                jobs.append(
                    BuildJob(
                        Path(lang, audience, "index.html"), _index_maker(library, checked, audience)
                    )
                )
            for topic in library.topics:
                for kind in kinds:
                    name = f"{topic.id}{OUTPUTS[kind][0]}"
                    jobs.append(
                        BuildJob(
                            Path(lang, audience, name),
                            _maker(library, checked, audience, topic.id, kind, kinds),
                        )
                    )
    if web:
        jobs.insert(0, BuildJob(Path("index.html"), lambda: index_page(library=library).content))
    return jobs


def _maker(
    library: Library, lang: Lang, audience: str, topic_id: str, kind: str, kinds: Sequence[str]
) -> Callable[[], bytes]:
    return lambda: _render_kind(library, lang, audience, topic_id, kind, kinds).content


def _index_maker(library: Library, lang: Lang, audience: str) -> Callable[[], bytes]:
    return lambda: render_audience(library, audience, lang).encode("utf-8")


def _feed_maker(library: Library, lang: Lang) -> Callable[[], bytes]:
    return lambda: render_feed(library, lang).encode("utf-8")


def write_job(job: BuildJob, *, output: Path) -> Path:
    """Make one file and write it under ``output``; returns the written path."""
    target = output / job.path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(job.make())
    return target


@dataclass(frozen=True, slots=True)
class PublishedTopic:
    """A topic on the public pages and when its content was last updated."""

    topic_id: str
    title: str
    updated: date


def published_topics(*, library: Library | None = None) -> list[PublishedTopic]:
    """The topics the public pages publish (the shipped library by default), newest first."""
    library = library if library is not None else load_library()
    topics = [PublishedTopic(t.id, t.title.nl, t.updated) for t in library.topics]
    return sorted(topics, key=lambda topic: (topic.updated, topic.topic_id), reverse=True)
