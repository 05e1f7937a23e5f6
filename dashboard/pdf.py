"""HTML → PDF with WeasyPrint; imported lazily so pages that need no PDF never load it."""

from __future__ import annotations

from typing import Any

from fastapi.templating import Jinja2Templates


def render_pdf(templates: Jinja2Templates, template: str, context: dict[str, Any]) -> bytes:
    """Render a Jinja2 template (autoescaped) and lay it out as PDF; no network fetches."""
    from weasyprint import HTML  # noqa: PLC0415 - weasyprint costs ~0.6 s to import; only PDF exports need it

    html = templates.env.get_template(template).render(**context)

    def no_fetch(url: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        # Reports embed everything; refusing fetches keeps PDF rendering offline and safe.
        raise ValueError(f"external resource refused: {url[:80]}")

    pdf: bytes = HTML(string=html, url_fetcher=no_fetch).write_pdf()
    return pdf
