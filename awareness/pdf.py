"""PDF outputs (handout, poster, slides) with WeasyPrint, fonts embedded, no network.

DejaVu Sans is loaded from the local font files by @font-face so every PDF embeds the same
font whatever fontconfig picks; other fetches are refused so rendering stays offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from awareness.adapt import TopicView
from awareness.errors import ContentError
from awareness.loader import Library
from awareness.render import environment, labels
from core.content import Issue

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts/dejavu"),
)
LAYOUTS: dict[str, dict[str, str]] = {
    "handout": {"page_size": "A4", "page_margin": "16mm 18mm 18mm", "base_size": "10.5pt"},
    "poster": {"page_size": "A4", "page_margin": "18mm", "base_size": "13pt"},
    "slides": {"page_size": "A4 landscape", "page_margin": "16mm 20mm", "base_size": "16pt"},
}


def font_files() -> dict[str, Path]:
    """The regular and bold DejaVu Sans files; a clear error when the fonts are missing."""
    for folder in FONT_DIRS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return {"regular": regular, "bold": bold}
    problem = "DejaVu Sans not found; install the Debian package fonts-dejavu-core"
    raise ContentError([Issue(str(FONT_DIRS[0]), None, "fonts", problem)])


def render_pdf(library: Library, view: TopicView, kind: str) -> bytes:
    """One topic as a ``kind`` PDF (handout, poster or slides)."""
    from weasyprint import HTML  # noqa: PLC0415 - weasyprint: +1.19 s on start-up
    from weasyprint.urls import URLFetcher  # noqa: PLC0415 - weasyprint: +1.19 s on start-up

    fonts = font_files()
    allowed = {path.resolve().as_uri() for path in fonts.values()}

    class FontsOnly(URLFetcher):  # type: ignore[misc]
        """Only the two font files may be read: no network, no other local file."""

        def fetch(self, url: str, headers: Any = None) -> Any:
            if url not in allowed:
                raise ValueError(f"resource refused: {url[:80]}")
            return super().fetch(url, headers)

    text = labels(library, view.lang)
    html = (
        environment()
        .get_template(f"{kind}.html.j2")
        .render(
            t=view,
            lang=view.lang,
            L=text,
            fonts={name: path.resolve().as_uri() for name, path in fonts.items()},
            footer_text=text["site_name"],
            **LAYOUTS[kind],
        )
    )
    pdf: bytes = HTML(string=html, url_fetcher=FontsOnly(allowed_protocols=("file",))).write_pdf()
    return pdf
