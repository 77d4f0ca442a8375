from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from core.timeutils import zone
from directory.permissions import load_viewer


class UserTimezoneMiddleware:
    """Shows every time in the signed-in user's own zone (storage stays UTC), and loads what the
    request's permission checks ask about the user in one query (`load_viewer`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            load_viewer(user)
            timezone.activate(zone(getattr(user, "time_zone", None)))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
