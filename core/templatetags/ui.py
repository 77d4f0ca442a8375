"""Template helpers for the pages: the QA score chart (inline SVG, drawn on the server) and links
that come back where they started (`with_next`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from core.markup import DATE, time_parts

register = template.Library()

CHART_W, CHART_H = 640, 240
PAD_L, PAD_R, PAD_T, PAD_B = 40, 16, 14, 30
SERIES_STYLES = 4  # colour + marker shape pairs in the stylesheet; more areas repeat them


def _marker(shape: int, x: float, y: float) -> str:
    """An SVG path for one data point; each series has its own shape, not only its colour."""
    r = 4.0
    if shape == 0:  # circle
        return f"M{x - r:.1f},{y:.1f}a{r},{r} 0 1,0 {2 * r},0a{r},{r} 0 1,0 {-2 * r},0"
    if shape == 1:  # square
        return f"M{x - r:.1f},{y - r:.1f}h{2 * r}v{2 * r}h{-2 * r}z"
    if shape == 2:  # diamond
        d = r * 1.3
        return f"M{x:.1f},{y - d:.1f}L{x + d:.1f},{y:.1f}L{x:.1f},{y + d:.1f}L{x - d:.1f},{y:.1f}z"
    d = r * 1.3  # triangle
    return f"M{x:.1f},{y - d:.1f}L{x + d:.1f},{y + d * 0.8:.1f}L{x - d:.1f},{y + d * 0.8:.1f}z"


@register.simple_tag
def score_chart(
    series: dict[str, list[tuple[datetime, int]]], days: int = 90, label: str = "QA scores"
) -> SafeString:
    """The QA scores of the last `days` days as an SVG line per coaching area, with its legend
    and the same scores as a table, written in Python: through the template engine the chart was
    a twentieth of the Agent Analytics page's time."""
    return mark_safe(_chart_markup(chart_data(series, days, label)))  # noqa: S308 - escaped


def chart_data(
    series: dict[str, list[tuple[datetime, int]]], days: int = 90, label: str = "QA scores"
) -> dict[str, Any]:
    now = timezone.now()
    start = now - timedelta(days=days)
    span = (now - start).total_seconds()
    inner_w = CHART_W - PAD_L - PAD_R
    inner_h = CHART_H - PAD_T - PAD_B

    def x(t: datetime) -> float:
        return PAD_L + max(0.0, min(1.0, (t - start).total_seconds() / span)) * inner_w

    # The value axis starts a little below the lowest score (in tens), so differences show.
    all_scores = [s for points in series.values() for _, s in points]
    low = max(0, (min(all_scores) // 10) * 10 - 10) if all_scores else 0

    def y(score: float) -> float:
        return PAD_T + (100 - score) / (100 - low) * inner_h

    lines = []
    for index, (area, points) in enumerate(sorted(series.items())):
        style = index % SERIES_STYLES
        scores = [s for _, s in points]
        lines.append(
            {
                "area": area,
                "style": style,
                "points": " ".join(f"{x(t):.1f},{y(s):.1f}" for t, s in points),
                "markers": [
                    {
                        "d": _marker(style, x(t), y(s)),
                        "label": f"{area}: {s} on {date_format(timezone.localtime(t), 'M j')}",
                    }
                    for t, s in points
                ],
                "average": round(sum(scores) / len(scores)),
                "latest": scores[-1],
                "count": len(scores),
                "rows": [(timezone.localtime(t), s) for t, s in points],
            }
        )
    step_y = (100 - low) / 4
    y_ticks = [
        {"y": round(y(low + i * step_y), 1), "label": round(low + i * step_y)} for i in range(5)
    ]
    x_ticks = []
    step = max(1, days // 6)
    for offset in range(0, days + 1, step):
        t = start + timedelta(days=offset)
        x_ticks.append(
            {
                "x": round(x(t), 1),
                "label": date_format(timezone.localtime(t), "M j"),
                "anchor": "end" if offset + step > days else "start" if offset == 0 else "middle",
            }
        )
    return {
        "label": label,
        "days": days,
        "lines": lines,
        "y_ticks": y_ticks,
        "x_ticks": x_ticks,
        "width": CHART_W,
        "height": CHART_H,
        "left": PAD_L,
        "right": CHART_W - PAD_R,
        "top": PAD_T,
        "bottom": CHART_H - PAD_B,
        "summary": "; ".join(
            f"{line['area']}: average {line['average']}, latest {line['latest']}" for line in lines
        ),
    }


# The legend's marker per series style (circle, square, diamond, triangle), as in the stylesheet.
_LEGEND_MARKERS = (
    "M10,6a4,4 0 1,0 8,0a4,4 0 1,0 -8,0",
    "M10,2h8v8h-8z",
    "M14,0.8L19.2,6L14,11.2L8.8,6z",
    "M14,0.8L19.2,10.2L8.8,10.2z",
)


def _chart_markup(c: dict[str, Any]) -> str:
    label, days = escape(c["label"]), c["days"]
    if not c["lines"]:
        return (
            '<figure class="chart">\n  <p class="empty">'
            f"No evaluations in the last {days} days.</p>\n</figure>"
        )
    left, right, bottom = c["left"], c["right"], c["bottom"]
    grid = "".join(
        f'<line x1="{left}" x2="{right}" y1="{t["y"]}" y2="{t["y"]}"/>'
        f'<text class="chart-label" x="{left - 8}" y="{t["y"]}" dy="4" text-anchor="end">'
        f"{t['label']}</text>"
        for t in c["y_ticks"]
    )
    grid_x = "".join(
        f'<text class="chart-label" x="{t["x"]}" y="{bottom + 20}" text-anchor="{t["anchor"]}">'
        f"{escape(t['label'])}</text>"
        for t in c["x_ticks"]
    )
    out = [
        '<figure class="chart">\n'
        f'  <svg class="chart-svg" viewBox="0 0 {c["width"]} {c["height"]}" role="img" '
        'aria-labelledby="chart-title chart-desc" preserveAspectRatio="xMidYMid meet">\n'
        f'    <title id="chart-title">{label} over the last {days} days, per coaching area</title>\n'
        f'    <desc id="chart-desc">{escape(c["summary"])}</desc>\n'
        f'    <g class="chart-grid">\n      {grid}\n      {grid_x}\n'
        f'      <line class="chart-axis" x1="{left}" x2="{right}" y1="{bottom}" y2="{bottom}"/>\n'
        "    </g>\n"
    ]
    for line in c["lines"]:
        markers = "".join(
            f'<path class="chart-marker" d="{m["d"]}"><title>{escape(m["label"])}</title></path>'
            for m in line["markers"]
        )
        out.append(
            f'    <g class="chart-series series-{line["style"]}" '
            f'data-area="{escape(line["area"])}">\n'
            f'      <polyline points="{line["points"]}" fill="none"/>\n      {markers}\n    </g>\n'
        )
    legend = "".join(
        f'<li><svg class="legend-key series-{line["style"]}" viewBox="0 0 28 12" '
        'aria-hidden="true" focusable="false"><line x1="0" x2="28" y1="6" y2="6"/>'
        f'<path class="chart-marker" d="{_LEGEND_MARKERS[min(line["style"], 3)]}"/></svg>\n'
        f'        <span class="legend-name">{escape(line["area"])}</span> '
        f'<span class="legend-stat">avg {line["average"]} · latest {line["latest"]}</span></li>'
        for line in c["lines"]
    )
    rows = "".join(
        f'<tr><th scope="row">{escape(line["area"])}</th>'
        f"<td>{escape(time_parts(when, DATE)[1])}</td><td>{score}</td></tr>"
        for line in c["lines"]
        for when, score in line["rows"]
    )
    out.append(
        "  </svg>\n  <figcaption>\n"
        f'    <ul class="legend">\n      {legend}\n    </ul>\n  </figcaption>\n'
        '  <details class="chart-table">\n    <summary>Show the scores as a table</summary>\n'
        '    <div class="table-wrap">\n    <table class="table">\n'
        f'      <caption class="visually-hidden">{label} per coaching area</caption>\n'
        '      <thead><tr><th scope="col">Coaching area</th><th scope="col">Date</th>'
        '<th scope="col">Score</th></tr></thead>\n'
        f"      <tbody>\n        {rows}\n      </tbody>\n    </table>\n    </div>\n"
        "  </details>\n</figure>"
    )
    return "".join(out)


@register.filter
def with_next(url: str, next_url: str) -> str:
    """`url` with `next=` appended, so the plain-page fallback returns where one came from."""
    if not next_url:
        return url
    return f"{url}{'&' if '?' in url else '?'}next={quote(next_url, safe='/')}"
