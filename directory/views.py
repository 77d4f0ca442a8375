"""Directory pages: sign-in, the search pages, and the typeahead lookups behind the suggestion
form's Coach, Trainees and Reference Cases fields."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.errors import PermissionDenied
from core.http import AuthenticatedRequest, is_htmx, search_text
from core.pages import case_option, party_option
from core.plans import custom_plans
from directory.models import User
from directory.permissions import Perm, has_perm
from directory.policies import sees_all_analytics
from directory.selectors import search_cases, search_groups, search_users, with_member_count

LOOKUP_USERS = 8
LOOKUP_GROUPS = 5
LOOKUP_CASES = 8
SEARCH_PAGE_SIZE = 20
TERM_MAX = 100


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


def _term(request: AuthenticatedRequest) -> str:
    return search_text(request, max_length=TERM_MAX)


# --- search pages ------------------------------------------------------------------------------
def _search_page(
    request: AuthenticatedRequest, kind: str, qs: QuerySet[Any], q: str
) -> HttpResponse:
    with custom_plans():  # the page's rows are read as it renders
        page: Page[Any] = Paginator(qs, SEARCH_PAGE_SIZE).get_page(request.GET.get("page"))
        ctx = {"q": q, "page": page, "kind": kind, "limited": not sees_all_analytics(request.user)}
        template = "directory/_search_results.html" if is_htmx(request) else "directory/search.html"
        return render(request, template, ctx)


@login_required
def search_agents(request: AuthenticatedRequest) -> HttpResponse:
    """Agents whose analytics page the viewer may open: all of them with View Analytics, else
    only themselves."""
    q = _term(request)
    qs: QuerySet[User] = search_users(q)
    if not sees_all_analytics(request.user):
        qs = qs.filter(pk=request.user.pk)
    return _search_page(request, "agents", qs, q)


@login_required
def search_case_list(request: AuthenticatedRequest) -> HttpResponse:
    q = _term(request)
    return _search_page(request, "cases", search_cases(q, viewer=request.user), q)


# --- typeahead lookups (the form's comboboxes) -------------------------------------------------
def _check_may_use_form(viewer: User, what: str) -> None:
    if not (has_perm(viewer, Perm.CREATE_SUGGESTIONS) or has_perm(viewer, Perm.VIEW_SUGGESTIONS)):
        raise PermissionDenied(f"You may not pick {what}.")


@login_required
@require_GET
def lookup_parties(request: AuthenticatedRequest) -> HttpResponse:
    """Users and user groups whose name contains the typed text, a few of each: the form's
    Coach and Trainees comboboxes call this, debounced, as one types."""
    _check_may_use_form(request.user, "coaches or trainees")
    q = _term(request)
    options: list[dict[str, Any]] = []
    if q:
        with custom_plans():
            options += [party_option(u) for u in search_users(q)[:LOOKUP_USERS]]
            groups = with_member_count(search_groups(q))[:LOOKUP_GROUPS]
            options += [party_option(g) for g in groups]
    return render(request, "partials/options.html", {"options": options, "q": q})


@login_required
@require_GET
def lookup_cases(request: AuthenticatedRequest) -> HttpResponse:
    _check_may_use_form(request.user, "reference cases")
    q = _term(request)
    with custom_plans():
        found = search_cases(q, viewer=request.user)[:LOOKUP_CASES] if q else []
        options = [case_option(c) for c in found]
    return render(request, "partials/options.html", {"options": options, "q": q})
