"""The reports pages: the effect of coaching, per coach or per coaching area, beside the baseline
(supervisors and QM Admins). A plain GET form; the chart is server-rendered SVG with the same
numbers in a table beside it, and the CSV is the API's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from core.errors import ValidationFailed
from core.http import AuthenticatedRequest
from core.timeutils import zone

from . import effect
from .api_reports import report_denial, report_period

GROUPINGS = {"coaching_area": "Coaching area", "coach": "Coach"}
CHART_ROWS = 30  # the chart's rows (most changes first); the table and the CSV have them all

# The chart's geometry (SVG user units; the SVG scales to its box).
LABEL_W, PLOT_W, ROW_H, TOP = 180, 400, 34, 30


def _date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Bar:
    """One chart row, its numbers already in SVG coordinates."""

    label: str
    y: int
    coached_x: float
    coached_w: float
    low_x: float | None
    high_x: float | None
    baseline_x: float | None
    baseline_w: float
    text: str  # the row as a sentence, for the SVG's own accessible description


def _chart(rows: list[effect.ReportRow]) -> dict[str, Any]:
    """Horizontal bars around a zero line: the mean change (with its 95 % interval as whiskers)
    and, under it, the baseline's mean change."""
    shown = sorted(rows, key=lambda r: (-r.n, r.name.lower(), r.key_id))[:CHART_ROWS]
    values = [0.0]
    for r in shown:
        values += [v for v in (r.mean_delta, r.baseline_mean_delta) if v is not None]
        if r.ci95:
            values += list(r.ci95)
    span = max(5.0, max(abs(v) for v in values))
    scale = (PLOT_W / 2) / span
    zero = LABEL_W + PLOT_W / 2

    def x(v: float) -> float:
        return zero + max(-span, min(span, v)) * scale

    bars = []
    for i, r in enumerate(shown):
        m = r.mean_delta or 0.0
        b = r.baseline_mean_delta
        ci = r.ci95
        text = f"{r.name}: mean change {m:+.1f}"
        text += f" (95% interval {ci[0]:+.1f} to {ci[1]:+.1f})" if ci else ""
        text += f", baseline {b:+.1f}" if b is not None else ", no baseline"
        bars.append(
            Bar(
                label=r.name,
                y=TOP + i * ROW_H,
                coached_x=min(x(m), zero),
                coached_w=abs(x(m) - zero),
                low_x=x(ci[0]) if ci else None,
                high_x=x(ci[1]) if ci else None,
                baseline_x=min(x(b), zero) if b is not None else None,
                baseline_w=abs(x(b) - zero) if b is not None else 0.0,
                text=text,
            )
        )
    return {
        "bars": bars,
        "width": LABEL_W + PLOT_W + 20,
        "height": TOP + len(bars) * ROW_H + 10,
        "zero": zero,
        "left": LABEL_W,
        "right": LABEL_W + PLOT_W,
        "span": round(span, 1),
        "more": max(0, len(rows) - len(shown)),
    }


@login_required
@require_http_methods(["GET"])
def coaching_effect_page(request: AuthenticatedRequest) -> HttpResponse:
    viewer = request.user
    if (refused := report_denial(viewer)) is not None:
        raise refused
    group_by = request.GET.get("group_by", "coaching_area")
    if group_by not in GROUPINGS:
        group_by = "coaching_area"
    today = timezone.now().astimezone(zone(viewer.time_zone)).date()
    raw_from, raw_to = request.GET.get("from", ""), request.GET.get("to", "")
    errors: list[str] = []
    first, last = _date(raw_from), _date(raw_to)
    if (raw_from and first is None) or (raw_to and last is None):
        errors.append("Enter the dates as year-month-day, e.g. 2026-11-30.")
    try:
        first, last = report_period(first, last, today)
    except ValidationFailed as failed:
        errors += [e.message for e in failed.errors]
        first, last = report_period(None, None, today)
    start, end = effect.period_bounds(first, last, viewer.time_zone)
    report = effect.coaching_effect_report(group_by=group_by, start=start, end=end)  # type: ignore[arg-type]
    query = {"group_by": group_by, "from": first.isoformat(), "to": last.isoformat()}
    context = {
        "report": report,
        "rows": report.rows,
        "group_by": group_by,
        "groupings": GROUPINGS,
        "key_label": GROUPINGS[group_by],
        "first": first,
        "last": last,
        "errors": errors,
        "chart": _chart(report.rows),
        "window": effect.window(),
        "csv_url": "/api/v1/reports/coaching-effect?" + urlencode({**query, "format": "csv"}),
    }
    return render(request, "qa/report_effect.html", context)


urlpatterns: list[URLPattern] = [
    path("reports/coaching-effect/", coaching_effect_page, name="report_coaching_effect"),
]
