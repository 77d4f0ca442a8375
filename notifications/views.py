"""The notifications page and the header's bell."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.http import AuthenticatedRequest, is_htmx
from core.pages import with_trigger

from .models import Notification
from .services import (
    notification_mark_all_read,
    notification_mark_read,
    notifications_for,
    unread_count,
)

PAGE_SIZE = 30


def _page(request: AuthenticatedRequest, number: str | int | None) -> Page[Notification]:
    return Paginator(notifications_for(request.user), PAGE_SIZE).get_page(number)


@login_required
def notification_list(request: AuthenticatedRequest) -> HttpResponse:
    page = _page(request, request.GET.get("page"))
    return render(request, "notifications/list.html", {"page": page})


@login_required
def bell(request: AuthenticatedRequest) -> HttpResponse:
    ctx = {"unread_notifications": unread_count(request.user)}
    return render(request, "partials/bell.html", ctx)


def _refreshed(request: AuthenticatedRequest, message: str) -> HttpResponse:
    if is_htmx(request):
        response = render(request, "notifications/_list.html", {"page": _page(request, 1)})
        return with_trigger(response, "notifications:changed", {"message": message})
    messages.success(request, message)
    return HttpResponseRedirect(reverse("notifications"))


@login_required
@require_POST
def mark_read(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    notification_mark_read(user=request.user, notification_id=pk)
    return _refreshed(request, "Marked as read.")


@login_required
@require_POST
def mark_all_read(request: AuthenticatedRequest) -> HttpResponse:
    count = notification_mark_all_read(user=request.user)
    return _refreshed(request, f"Marked {count} notification{'s' if count != 1 else ''} as read.")


@login_required
def open_notification(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    """Follow a notification to its session; opening it reads it."""
    n = notification_mark_read(user=request.user, notification_id=pk)
    return HttpResponseRedirect(reverse("session_detail", args=[n.session_id]))
