"""Outputs: golden HTML, PDFs that open and hold the text, the lesson plan, links and the feed."""

from __future__ import annotations

import io
import os
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from pypdf import PdfReader

from awareness.adapt import topic_view
from awareness.loader import Library
from awareness.render import LESSON_STEPS, render_lesson, render_topic
from awareness.schemas import Lang
from awareness.service import render_output

GOLDEN = Path(__file__).with_name("golden")


def test_topic_page_matches_golden(library: Library) -> None:
    """phishing × library × nl; regenerate with UPDATE_GOLDEN=1 after a deliberate change."""
    view = topic_view(library=library, topic_id="phishing", audience="library", lang="nl")
    html = render_topic(library, view)
    golden = GOLDEN / "phishing.library.nl.html"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(html, encoding="utf-8")
    assert html == golden.read_text(encoding="utf-8")


def _pdf_text(data: bytes) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(data))
    return reader, " ".join(page.extract_text() or "" for page in reader.pages)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize(
    ("kind", "audience", "lang", "pages"),
    [
        ("handout", "library", "nl", (2, 2)),
        ("handout", "business", "en", (2, 2)),
        ("poster", "primary", "nl", (1, 1)),
        ("slides", "secondary", "nl", (8, 8)),
    ],
)
def test_pdfs_open_hold_the_text_and_embed_fonts(
    library: Library, kind: str, audience: str, lang: Lang, pages: tuple[int, int]
) -> None:
    rendered = render_output(
        library=library, lang=lang, audience=audience, name=f"phishing-{kind}.pdf"
    )
    assert rendered.media_type == "application/pdf"
    reader, text = _pdf_text(rendered.content)
    assert pages[0] <= len(reader.pages) <= pages[1]
    view = topic_view(library=library, topic_id="phishing", audience=audience, lang=lang)
    assert _squash(view.title) in _squash(text)
    assert _squash(view.tips[0])[:30] in _squash(text)
    for page in reader.pages:
        resources: Any = page["/Resources"]
        for ref in resources["/Font"].values():
            font: Any = ref.get_object()
            if "/DescendantFonts" in font:  # Type0 (CID) fonts keep it on the descendant
                font = font["/DescendantFonts"][0].get_object()
            descriptor = font["/FontDescriptor"].get_object()
            assert "/FontFile2" in descriptor or "/FontFile3" in descriptor  # embedded


@pytest.mark.parametrize("topic_id", ["ransomware", "help", "two-step-login"])
def test_every_handout_fits_two_pages(library: Library, topic_id: str) -> None:
    for audience in ("library", "business"):
        rendered = render_output(
            library=library, lang="nl", audience=audience, name=f"{topic_id}-handout.pdf"
        )
        assert len(PdfReader(io.BytesIO(rendered.content)).pages) == 2


def test_lesson_plan_is_45_minutes_with_quiz_and_answers(library: Library) -> None:
    assert sum(minutes for _key, minutes in LESSON_STEPS) == 45
    view = topic_view(library=library, topic_id="backups", audience="primary", lang="nl")
    html = render_lesson(library, view)
    assert "45 minuten" in html
    assert "Les in de klas" in html
    for item in view.quiz:
        assert item.statement in html.replace("&#39;", "'")
        assert item.explanation in html.replace("&#39;", "'")


def test_newsletter_is_plain_text(library: Library) -> None:
    text = render_output(
        library=library, lang="nl", audience="parents", name="phishing-newsletter.txt"
    ).content.decode("utf-8")
    assert "&#39;" not in text and "<" not in text
    assert "nep-sms'jes" in text


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "href" and value:
                self.hrefs.append(value)


def test_no_broken_internal_link(web_site: Path) -> None:
    broken = []
    pages = list(web_site.rglob("*.html"))
    for page in pages:
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        for href in parser.hrefs:
            if urlsplit(href).scheme or href.startswith("#"):
                continue  # external sources and in-page anchors
            target = (page.parent / urlsplit(href).path).resolve()
            if not target.is_file():
                broken.append(f"{page.relative_to(web_site)} -> {href}")
    assert len(pages) > 100
    assert not broken, broken[:20]


def test_pdf_build_links_only_what_was_built(library: Library, tmp_path: Path) -> None:
    from awareness.service import build_jobs, write_job

    jobs = build_jobs(library=library, audiences=["schools"], langs=["nl"], formats=["pdf"])
    assert {job.path.parts[1] for job in jobs} == {"primary", "secondary"}
    assert all(job.path.suffix == ".pdf" for job in jobs)
    write_job(jobs[0], output=tmp_path)
    assert (tmp_path / jobs[0].path).stat().st_size > 1000


def test_atom_feed_is_valid_xml_with_entries(web_site: Path) -> None:
    root = ET.parse(web_site / "nl" / "feed.atom").getroot()
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = root.findall("a:entry", ns)
    assert len(entries) == 11 * 5
    for entry in entries:
        href = entry.find("a:link", ns).get("href")  # type: ignore[union-attr]
        assert (web_site / "nl" / str(href)).is_file()
