"""Agent Analytics and Case Analytics: the directory's QA scores and the coaching widget on one
page. They sit above both domains, which know nothing of each other's pages."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from coaching.widget import agent_widget, case_widget
from core.http import AuthenticatedRequest
from directory.lookups import recent_evaluations, user_groups_of
from directory.policies import access_agent, access_case, sees_all_analytics
from directory.selectors import (
    agent_score_series,
    case_evaluations,
    case_participants,
    role_names,
)
from qa.effect import agent_session_effects
from qa.effect import window as effect_window

CHART_DAYS = 90
RECENT_EVALUATIONS = 80
RECENT_CASES = 10


@login_required
def agent_analytics(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    viewer = request.user
    agent = access_agent(viewer, pk)
    series = agent_score_series(agent, days=CHART_DAYS)
    # The latest evaluations grouped by case and day: {case_id, number, subject, evaluated_at,
    # scores: [(area name, score)]} for `recent_case_rows`.
    recent: OrderedDict[tuple[int | None, Any], dict[str, Any]] = OrderedDict()
    for case_id, number, subject, at, area, score in recent_evaluations(agent, RECENT_EVALUATIONS):
        row = recent.setdefault(
            (case_id, at.date()),
            {"case_id": case_id, "number": number, "subject": subject, "evaluated_at": at},
        )
        row.setdefault("scores", []).append((area, score))
    all_scores = [score for points in series.values() for _, score in points]
    context = {
        "agent": agent,
        "roles": sorted(role_names(agent)),
        "user_groups": user_groups_of(agent),
        "series": series,
        "chart_days": CHART_DAYS,
        "average": round(sum(all_scores) / len(all_scores)) if all_scores else None,
        "evaluation_count": len(all_scores),
        "recent_cases": list(recent.values())[:RECENT_CASES],
        "widget": agent_widget(viewer, agent),
        "is_own_page": viewer.pk == agent.pk,
        "coaching_effects": agent_session_effects(viewer, agent),
        "effect_window": effect_window(),
    }
    return render(request, "analytics/agent.html", context)


@login_required
def case_analytics(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    viewer = request.user
    case = access_case(viewer, pk)
    by_agent: OrderedDict[int, dict[str, Any]] = OrderedDict()
    for ev in case_evaluations(case):
        by_agent.setdefault(ev.agent_id, {"agent": ev.agent, "scores": []})["scores"].append(ev)
    context = {
        "case": case,
        "participants": list(case_participants(case)),
        "evaluations_by_agent": list(by_agent.values()),
        "widget": case_widget(viewer, case),
        "link_people": sees_all_analytics(viewer),
    }
    return render(request, "analytics/case.html", context)
