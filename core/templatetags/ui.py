"""Template helpers for the pages: the QA score chart (inline SVG, drawn on the server) and links
that come back where they started (`with_next`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from django import template
from django.utils import timezone
from django.utils.formats import date_format

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


@register.inclusion_tag("partials/score_chart.html")
def score_chart(
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


@register.filter
def with_next(url: str, next_url: str) -> str:
    """`url` with `next=` appended, so the plain-page fallback returns where one came from."""
    if not next_url:
        return url
    return f"{url}{'&' if '?' in url else '?'}next={quote(next_url, safe='/')}"
