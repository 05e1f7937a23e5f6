"""Tiny server-rendered SVG charts: no JavaScript, no CDN, autoescaped labels.

Returned as `markupsafe.Markup` built only from numbers and escaped strings, so templates can
embed them while autoescape stays on for everything else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

PALETTE = {
    "informational": "#8a9ba8",
    "low": "#4c9f70",
    "medium": "#e0a800",
    "high": "#e07b00",
    "critical": "#c0392b",
}
_FALLBACK = ("#2b6cb0", "#805ad5", "#d69e2e", "#38a169", "#e53e3e")


def stacked_bars(
    *,
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float]],
    width: int = 640,
    height: int = 220,
) -> Markup:
    """Stacked vertical bars, one per label, one colour per series; a legend underneath."""
    pad_left, pad_bottom, top = 40, 40, 20
    plot_w, plot_h = width - pad_left - 10, height - pad_bottom - top
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    peak = max(totals, default=0) or 1
    slot = plot_w / max(len(labels), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
        f'height="{height + 20}" viewBox="0 0 {width} {height + 20}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{pad_left}" y="12" font-size="11">max {peak:g}</text>',
    ]
    for i, label in enumerate(labels):
        x = pad_left + i * slot + 2
        y = float(top + plot_h)
        for n, (name, values) in enumerate(series.items()):
            value = values[i]
            if value <= 0:
                continue
            h = plot_h * value / peak
            y -= h
            colour = PALETTE.get(name, _FALLBACK[n % len(_FALLBACK)])
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(slot - 4, 1):.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{escape(label)} '
                f"{escape(name)}: {value:g}</title></rect>"
            )
        if len(labels) <= 16 or i % max(len(labels) // 12, 1) == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{top + plot_h + 14}" font-size="9">{escape(label)}</text>'
            )
    for n, name in enumerate(series):
        colour = PALETTE.get(name, _FALLBACK[n % len(_FALLBACK)])
        lx = pad_left + n * 110
        parts.append(
            f'<rect x="{lx}" y="{height}" width="10" height="10" fill="{colour}"></rect>'
            f'<text x="{lx + 14}" y="{height + 9}" font-size="10">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
