"""The rules pages: the list of coaching rules and its create, edit and delete dialogs (QM
Admins only). As the coaching pages: with htmx a form answers with its own fragment (again with
errors, 422) or, once done, with `coaching:changed`, which closes the dialog and refreshes the
list; without JavaScript the same URLs work as plain pages."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.views.decorators.http import require_GET, require_http_methods

from coaching.forms import errors_by_field
from core.errors import FieldError, ValidationFailed
from core.http import AuthenticatedRequest, is_htmx
from core.pages import done, party_option
from directory.parties import PartyRef
from directory.selectors import active_coaching_areas, parties_by_tokens

from . import selectors, services
from .forms_rules import RULE_FIELDS, parse_rule_form, values_of, with_rule_errors
from .models import (
    EXPIRES_MAX_DAYS,
    EXPIRES_MIN_DAYS,
    NAME_MAX,
    THRESHOLD_MAX,
    THRESHOLD_MIN,
    WINDOW_MAX,
    WINDOW_MIN,
    CoachingRule,
)

PAGE_SIZE = 25


def _denied(request: AuthenticatedRequest) -> None:
    if (refused := services.rule_denial(request.user)) is not None:
        raise refused


@login_required
@require_GET
def rules_page(request: AuthenticatedRequest) -> HttpResponse:
    """Every rule, by name, a page at a time (two queries whatever the page)."""
    _denied(request)
    raw = request.GET.get("offset", "0")
    offset = min(int(raw), 10**9) if raw.isdigit() else 0
    qs = selectors.rules_listed()
    rules = list(qs[offset : offset + PAGE_SIZE])
    count = qs.count()
    ctx = {
        "rules": rules,
        "count": count,
        "offset": offset,
        "shown_to": offset + len(rules),
        "previous": max(offset - PAGE_SIZE, 0) if offset else None,
        "next_offset": offset + PAGE_SIZE if offset + PAGE_SIZE < count else None,
    }
    return render(request, "qa/rules.html", ctx)


def _form(
    request: AuthenticatedRequest,
    *,
    rule: CoachingRule | None,
    values: dict[str, Any],
    errors: list[FieldError] | None = None,
    status: int = 200,
) -> HttpResponse:
    by_field, other = errors_by_field(errors or [], (*RULE_FIELDS,))
    coach_token = values.get("coach") or ""
    selected = []
    if coach_token:
        try:
            ref = PartyRef.parse(coach_token)
            selected = [party_option(p) for p in parties_by_tokens([(ref.type, ref.id)])]
        except ValueError:
            selected = []
    areas = list(active_coaching_areas())
    if rule is not None and not any(a.pk == rule.coaching_area_id for a in areas):
        areas.append(rule.coaching_area)  # no longer in use, but still this rule's
    ctx = {
        "rule": rule,
        "values": values,
        "errors": by_field,
        "other_errors": other,
        "error_count": sum(len(v) for v in by_field.values()) + len(other),
        "coach_selected": selected,
        "areas": areas,
        "action": request.path,
        "limits": {
            "name": NAME_MAX,
            "threshold": (THRESHOLD_MIN, THRESHOLD_MAX),
            "window": (WINDOW_MIN, WINDOW_MAX),
            "expires": (EXPIRES_MIN_DAYS, EXPIRES_MAX_DAYS),
        },
        "as_page": not is_htmx(request),
    }
    template = "qa/_rule_form.html"
    if is_htmx(request):
        return render(request, template, ctx, status=status)
    return _as_page(request, ctx, template, status=status)


def _submit(request: AuthenticatedRequest, rule: CoachingRule | None) -> HttpResponse:
    form = parse_rule_form(request.POST)
    if not form.errors:
        try:
            if rule is None:
                made = services.rule_create(actor=request.user, fields=form.fields)
                message = f"Created the coaching rule “{made.name}”."
            else:
                made = services.rule_update(
                    actor=request.user, rule_id=rule.pk, fields=form.fields, complete=True
                )
                message = f"Saved the coaching rule “{made.name}”."
            return done(request, message, reverse("rules"))
        except ValidationFailed as refused:
            errors = refused.errors
    else:
        errors = with_rule_errors(form, current=rule)
    return _form(request, rule=rule, values=form.data, errors=errors, status=422)


@login_required
@require_http_methods(["GET", "POST"])
def rule_new(request: AuthenticatedRequest) -> HttpResponse:
    _denied(request)
    if request.method == "POST":
        return _submit(request, None)
    return _form(request, rule=None, values=values_of(None))


@login_required
@require_http_methods(["GET", "POST"])
def rule_edit(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    rule = services.access_rule(request.user, pk)
    if request.method == "POST":
        return _submit(request, rule)
    return _form(request, rule=rule, values=values_of(rule))


@login_required
@require_http_methods(["GET", "POST"])
def rule_delete(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    rule = services.access_rule(request.user, pk)
    if request.method == "POST":
        services.rule_delete(actor=request.user, rule_id=pk)
        return done(request, f"Deleted the coaching rule “{rule.name}”.", reverse("rules"))
    ctx = {"rule": rule, "as_page": not is_htmx(request)}
    template = "qa/_rule_delete.html"
    if is_htmx(request):
        return render(request, template, ctx)
    return _as_page(request, ctx, template)


def _as_page(
    request: AuthenticatedRequest, ctx: dict[str, Any], template: str, status: int = 200
) -> HttpResponse:
    """A dialog on a page of its own (no JavaScript), as the coaching dialogs are."""
    rule = ctx.get("rule")
    title = rule.name if rule is not None else "New coaching rule"
    page = {**ctx, "inner": template, "page_title": title}
    return render(request, "coaching/dialog_page.html", page, status=status)


urlpatterns: list[URLPattern] = [
    path("rules/", rules_page, name="rules"),
    path("rules/new/", rule_new, name="rule_new"),
    path("rules/<int:pk>/edit/", rule_edit, name="rule_edit"),
    path("rules/<int:pk>/delete/", rule_delete, name="rule_delete"),
]
