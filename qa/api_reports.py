"""The reports API (see ../shared/spec/api-v1.md, additions of 2026-12-01), and the shapes of a
session's effect (served by the coaching-sessions router, beside the session)."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any, Literal

from django.http import HttpResponse
from django.utils import timezone
from ninja import Query, Router
from pydantic import Field

from config.api_common import InputDate, Out, problems
from core.errors import FieldCode, FieldError, PermissionDenied, ValidationFailed
from core.http import AuthenticatedRequest
from core.timeutils import zone
from directory.schemas import UserOut

from . import effect

router = Router(tags=["reports"])

MAX_PERIOD_DAYS = 731  # two years: the report reads every evaluation of the period


class SideOut(Out):
    mean: float | None = Field(description="Mean score of the window; null without evaluations.")
    n: int = Field(description="Evaluations in the window (at most the window size N).")


class TraineeEffectOut(Out):
    trainee: UserOut
    before: SideOut = Field(description="The last N evaluations in the area before the start.")
    after: SideOut = Field(description="The first N evaluations in the area after completion.")
    delta: float | None = Field(
        description="after.mean - before.mean; null while either side has fewer than 3."
    )


class AreaRefOut(Out):
    id: int
    name: str


class SessionEffectOut(Out):
    coaching_area: AreaRefOut
    window: int = Field(description="N, the window size (evaluations each side).")
    items: list[TraineeEffectOut] = Field(
        description="One per trainee user whose scores the caller may see (their Agent "
        "Analytics page); empty unless the session is completed."
    )


def session_effect_out(session: Any, viewer: Any) -> dict[str, Any]:
    items = effect.session_effect(session, viewer)
    return {
        "coaching_area": {"id": session.coaching_area_id, "name": session.coaching_area.name},
        "window": effect.window(),
        "items": [
            {
                "trainee": e.trainee,
                "before": {"mean": e.before.mean, "n": e.before.n},
                "after": {"mean": e.after.mean, "n": e.after.n},
                "delta": e.delta,
            }
            for e in items
        ],
    }


class KeyOut(Out):
    id: int
    name: str


class ReportItemOut(Out):
    key: KeyOut = Field(
        description="The coach (the user who held the session: the coach user, or the member "
        "of the coach group who took it) or the coaching area."
    )
    sessions: int = Field(description="Completed sessions with at least one change.")
    trainees: int = Field(description="Distinct trainee users with a change.")
    mean_delta: float | None
    ci95: tuple[float, float] | None = Field(
        description="95 % confidence interval of mean_delta (t distribution); null below 2."
    )
    baseline_mean_delta: float | None = Field(
        description="The same windows for un-coached agents of the areas (see docs/effect.md)."
    )
    baseline_agents: int


class ReportOut(Out):
    group_by: Literal["coach", "coaching_area"]
    from_: date = Field(alias="from", serialization_alias="from")
    to: date
    window: int
    items: list[ReportItemOut]


GroupByParam = Query("coaching_area", description="`coach` or `coaching_area`.")
FromParam = Query(None, alias="from", description="First day (default: 90 days ago).")
ToParam = Query(None, description="Last day, included (default: today).")
FormatParam = Query(None, description="`csv` for CSV (as `Accept: text/csv`).")


def report_period(first: date | None, last: date | None, today: date) -> tuple[date, date]:
    """The report's days: default the last 90; `from` after `to` or longer than two years is a
    422."""
    last = last or today
    first = first or last - timedelta(days=89)
    if first > last:
        raise ValidationFailed([FieldError("from", FieldCode.INVALID, "`from` is after `to`.")])
    if (last - first).days >= MAX_PERIOD_DAYS:
        raise ValidationFailed(
            [FieldError("from", FieldCode.OUT_OF_RANGE, "The period is at most two years.")]
        )
    return first, last


def report_denial(viewer: Any) -> PermissionDenied | None:
    if effect.may_view_report(viewer):
        return None
    return PermissionDenied("The coaching-effect report is for supervisors and QM Admins.")


def item_out(row: effect.ReportRow) -> dict[str, Any]:
    return {
        "key": {"id": row.key_id, "name": row.name},
        "sessions": row.sessions,
        "trainees": row.trainees,
        "mean_delta": row.mean_delta,
        "ci95": row.ci95,
        "baseline_mean_delta": row.baseline_mean_delta,
        "baseline_agents": row.baseline_agents,
    }


def csv_response(report: effect.Report, first: date, last: date) -> HttpResponse:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(effect.csv_rows(report))
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    name = f"coaching-effect-{report.group_by}-{first.isoformat()}-{last.isoformat()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def wants_csv(request: Any, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "csv"
    accept = request.headers.get("Accept", "")
    return "text/csv" in accept and "application/json" not in accept


@router.get(
    "/coaching-effect",
    response={200: ReportOut, **problems(400, 401, 403, 422)},
    by_alias=True,
    openapi_extra={"x-also-csv": True},
)
def coaching_effect(
    request: AuthenticatedRequest,
    group_by: Literal["coach", "coaching_area"] = GroupByParam,
    from_: InputDate | None = FromParam,
    to: InputDate | None = ToParam,
    format: Literal["csv", "json"] | None = FormatParam,
) -> Any:
    """The effect of coaching over completed sessions whose start lies in the period (in the
    caller's time zone) and that have a change, per coach or per coaching area, beside a
    baseline of un-coached agents (for supervisors and QM Admins). `Accept: text/csv` or
    `?format=csv` answers `text/csv` instead, with a header row: `group_by, key_id, key_name,
    sessions, trainees, mean_delta, ci95_low, ci95_high, baseline_mean_delta, baseline_agents`."""
    viewer = request.auth
    if (refused := report_denial(viewer)) is not None:
        raise refused
    today = timezone.now().astimezone(zone(viewer.time_zone)).date()
    first, last = report_period(from_, to, today)
    start, end = effect.period_bounds(first, last, viewer.time_zone)
    report = effect.coaching_effect_report(group_by=group_by, start=start, end=end)
    if wants_csv(request, format):
        return csv_response(report, first, last)
    return {
        "group_by": group_by,
        "from": first,
        "to": last,
        "window": effect.window(),
        "items": [item_out(r) for r in report.rows],
    }
