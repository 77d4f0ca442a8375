"""What every page shares: a refusal as a page or as a dialog fragment, the answer once a change
is done, safe `next` links, and how users, groups and cases show as options in the pickers.

Views do not catch `ApplicationError`s: they raise them (or let a selector, policy or service
raise them) and `core.middleware.ApplicationErrorMiddleware` answers with `problem_for`. The one
catch is `form_errors`, which hands a form's `ValidationFailed` back to the form to show each
message beside its field.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from core.errors import ApplicationError, FieldError, ValidationFailed
from core.http import is_htmx
from directory.models import Case, UserGroup
from directory.parties import Party, PartyRef, party_name

PROBLEM_TITLES = {
    403: "You may not do this",
    404: "Not found",
    409: "This can no longer be done",
    412: "Changed meanwhile",
}
# Statuses with a page of their own (the same templates Django's handler403/handler404 use).
OWN_PAGES = (403, 404)


def problem(
    request: HttpRequest, status: int, message: str, title: str | None = None
) -> HttpResponse:
    """A refusal as a page, or as a dialog fragment when htmx asked (the dialog shows it)."""
    ctx: dict[str, Any] = {
        "status": status,
        "title": title or PROBLEM_TITLES.get(status, "Something went wrong"),
        "message": message,
    }
    if is_htmx(request):
        return render(request, "partials/problem.html", ctx, status=status)
    if status in OWN_PAGES:
        return render(request, f"{status}.html", {**ctx, "exception": message}, status=status)
    return render(request, "problem.html", ctx, status=status)


def problem_for(request: HttpRequest, err: ApplicationError) -> HttpResponse:
    return problem(request, err.status, err.message)


def form_errors(run: Callable[[], HttpResponse]) -> HttpResponse | list[FieldError]:
    """Run a form's service call: its answer when it succeeds, or the field errors it refused the
    values with, for the form to show. Any other refusal goes on to the middleware."""
    try:
        return run()
    except ValidationFailed as err:
        return err.errors


def safe_next(request: HttpRequest, fallback: str) -> str:
    """The `next` the request names when it is a URL of this site, else `fallback`."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return fallback


def with_trigger(response: HttpResponse, event: str, detail: dict[str, Any]) -> HttpResponse:
    """Tell htmx on the page that `event` happened (an `HX-Trigger` header)."""
    response["HX-Trigger"] = json.dumps({event: detail})
    return response


def done(request: HttpRequest, message: str, url: str) -> HttpResponse:
    """After a change: htmx closes the dialog and refreshes what shows sessions; a plain request
    follows the redirect and sees the message."""
    if is_htmx(request):
        response = HttpResponse("")
        response["HX-Reswap"] = "none"
        return with_trigger(response, "coaching:changed", {"message": message, "url": url})
    messages.success(request, message)
    return HttpResponseRedirect(url)


# --- options of the pickers (the form's Coach, Trainees and Reference Cases) ---------------------
def party_option(obj: Party) -> dict[str, Any]:
    """How a user or group shows as an option or a picked chip."""
    if isinstance(obj, UserGroup):
        count = getattr(obj, "member_count", None)
        detail = "User group" if count is None else f"{count} member{'s' if count != 1 else ''}"
        kind = "group"
    else:
        detail, kind = obj.username, "user"
    return {
        "token": PartyRef.of(obj).token,
        "label": party_name(obj),
        "detail": detail,
        "kind": kind,
    }


def case_option(case: Case) -> dict[str, Any]:
    return {"token": str(case.pk), "label": case.number, "detail": case.subject, "kind": "case"}
