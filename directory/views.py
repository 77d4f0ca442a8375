"""Directory pages: sign-in, Agent and Case Analytics, the search pages, and the typeahead
lookups behind the suggestion form's Coach, Trainees and Reference Cases fields."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from coaching.views import case_option, coaching_widget, party_option, problem
from core.http import is_htmx
from directory.models import Case, User
from directory.permissions import Perm, has_perm, is_qm_admin, role_names
from directory.policies import may_view_agent_page, may_view_case_page
from directory.selectors import (
    agent_evaluations,
    agent_score_series,
    case_evaluations,
    case_participants,
    search_cases,
    search_groups,
    search_users,
    with_member_count,
)

LOOKUP_USERS = 8
LOOKUP_GROUPS = 5
LOOKUP_CASES = 8
SEARCH_PAGE_SIZE = 20
CHART_DAYS = 90


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


def _sees_all_analytics(viewer: User) -> bool:
    return has_perm(viewer, Perm.VIEW_ANALYTICS) or is_qm_admin(viewer)


# --- analytics pages ---------------------------------------------------------------------------
@login_required
def agent_analytics(request: HttpRequest, pk: int) -> HttpResponse:
    viewer: User = request.user  # type: ignore[assignment]
    agent = User.objects.filter(pk=pk).first()
    if agent is None:
        return problem(request, 404, "There is no such agent.")
    if not may_view_agent_page(viewer, agent):
        return problem(
            request, 403, "You need the View Analytics permission to open another agent's page."
        )
    series = agent_score_series(agent, days=CHART_DAYS)
    evaluations = list(agent_evaluations(agent)[:80])
    recent: OrderedDict[tuple[int, Any], dict[str, Any]] = OrderedDict()
    for ev in evaluations:
        row = recent.setdefault(
            (ev.case_id, ev.evaluated_at.date()),
            {"case": ev.case, "evaluated_at": ev.evaluated_at, "scores": []},
        )
        row["scores"].append(ev)
    all_scores = [score for points in series.values() for _, score in points]
    context = {
        "agent": agent,
        "roles": sorted(role_names(agent)),
        "user_groups": list(agent.user_groups.order_by("name")),
        "series": series,
        "chart_days": CHART_DAYS,
        "average": round(sum(all_scores) / len(all_scores)) if all_scores else None,
        "evaluation_count": len(all_scores),
        "recent_cases": list(recent.values())[:10],
        "widget": coaching_widget(viewer, agent=agent),
        "is_own_page": viewer.pk == agent.pk,
    }
    return render(request, "directory/agent_analytics.html", context)


@login_required
def case_analytics(request: HttpRequest, pk: int) -> HttpResponse:
    viewer: User = request.user  # type: ignore[assignment]
    case = Case.objects.filter(pk=pk).first()
    if case is None:
        return problem(request, 404, "There is no such case.")
    if not may_view_case_page(viewer, case):
        return problem(
            request,
            403,
            "You need the View Analytics permission to open a case you did not take part in.",
        )
    participants = list(case_participants(case))
    evaluations = list(case_evaluations(case))
    by_agent: OrderedDict[int, dict[str, Any]] = OrderedDict()
    for ev in evaluations:
        by_agent.setdefault(ev.agent_id, {"agent": ev.agent, "scores": []})["scores"].append(ev)
    sees_all = _sees_all_analytics(viewer)
    context = {
        "case": case,
        "participants": participants,
        "evaluations_by_agent": list(by_agent.values()),
        "widget": coaching_widget(viewer, case=case),
        "link_people": sees_all,
    }
    return render(request, "directory/case_analytics.html", context)


# --- search pages ------------------------------------------------------------------------------
def _page(request: HttpRequest, qs: Any) -> Any:
    return Paginator(qs, SEARCH_PAGE_SIZE).get_page(request.GET.get("page"))


@login_required
def search_agents(request: HttpRequest) -> HttpResponse:
    viewer: User = request.user  # type: ignore[assignment]
    q = request.GET.get("q", "").strip()[:100]
    qs = search_users(q)
    if not _sees_all_analytics(viewer):
        qs = qs.filter(pk=viewer.pk)
    page = _page(request, qs)
    ctx = {"q": q, "page": page, "kind": "agents", "limited": not _sees_all_analytics(viewer)}
    template = "directory/_search_results.html" if is_htmx(request) else "directory/search.html"
    return render(request, template, ctx)


@login_required
def search_case_list(request: HttpRequest) -> HttpResponse:
    viewer: User = request.user  # type: ignore[assignment]
    q = request.GET.get("q", "").strip()[:100]
    page = _page(request, search_cases(q, viewer=viewer))
    ctx = {"q": q, "page": page, "kind": "cases", "limited": not _sees_all_analytics(viewer)}
    template = "directory/_search_results.html" if is_htmx(request) else "directory/search.html"
    return render(request, template, ctx)


# --- typeahead lookups (the form's comboboxes) -------------------------------------------------
def _may_use_form(viewer: User) -> bool:
    return has_perm(viewer, Perm.CREATE_SUGGESTIONS) or has_perm(viewer, Perm.VIEW_SUGGESTIONS)


@login_required
@require_GET
def lookup_parties(request: HttpRequest) -> HttpResponse:
    """Users and user groups whose name contains the typed text, a few of each: the form's
    Coach and Trainees comboboxes call this, debounced, as one types."""
    viewer: User = request.user  # type: ignore[assignment]
    if not _may_use_form(viewer):
        return problem(request, 403, "You may not pick coaches or trainees.")
    q = request.GET.get("q", "").strip()[:100]
    options: list[dict[str, Any]] = []
    if q:
        options += [party_option(u) for u in search_users(q)[:LOOKUP_USERS]]
        options += [party_option(g) for g in with_member_count(search_groups(q))[:LOOKUP_GROUPS]]
    return render(request, "partials/options.html", {"options": options, "q": q})


@login_required
@require_GET
def lookup_cases(request: HttpRequest) -> HttpResponse:
    viewer: User = request.user  # type: ignore[assignment]
    if not _may_use_form(viewer):
        return problem(request, 403, "You may not pick reference cases.")
    q = request.GET.get("q", "").strip()[:100]
    options = [case_option(c) for c in search_cases(q, viewer=viewer)[:LOOKUP_CASES]] if q else []
    return render(request, "partials/options.html", {"options": options, "q": q})
