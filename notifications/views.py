"""The notifications page and the header's bell."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from coaching.views import from_error
from core.errors import NotFound
from core.http import is_htmx

from .services import (
    notification_mark_all_read,
    notification_mark_read,
    notifications_for,
    unread_count,
)

PAGE_SIZE = 30


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(notifications_for(request.user), PAGE_SIZE).get_page(request.GET.get("page"))  # type: ignore[arg-type]
    return render(request, "notifications/list.html", {"page": page})


@login_required
def bell(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "partials/bell.html",
        {"unread_notifications": unread_count(request.user)},  # type: ignore[arg-type]
    )


def _refreshed(request: HttpRequest, message: str) -> HttpResponse:
    if is_htmx(request):
        response = render(
            request,
            "notifications/_list.html",
            {
                "page": Paginator(notifications_for(request.user), PAGE_SIZE).get_page(1)  # type: ignore[arg-type]
            },
        )
        response["HX-Trigger"] = json.dumps({"notifications:changed": {"message": message}})
        return response
    messages.success(request, message)
    return HttpResponseRedirect(reverse("notifications"))


@login_required
@require_POST
def mark_read(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        notification_mark_read(user=request.user, notification_id=pk)  # type: ignore[arg-type]
    except NotFound as err:
        return from_error(request, err)
    return _refreshed(request, "Marked as read.")


@login_required
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    count = notification_mark_all_read(user=request.user)  # type: ignore[arg-type]
    return _refreshed(request, f"Marked {count} notification{'s' if count != 1 else ''} as read.")


@login_required
def open_notification(request: HttpRequest, pk: int) -> HttpResponse:
    """Follow a notification to its session; opening it reads it."""
    try:
        n = notification_mark_read(user=request.user, notification_id=pk)  # type: ignore[arg-type]
    except NotFound as err:
        return from_error(request, err)
    return HttpResponseRedirect(reverse("session_detail", args=[n.session_id]))
