from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from core.errors import ApplicationError
from core.pages import problem_for
from core.timeutils import zone


class UserTimezoneMiddleware:
    """Shows every time in the signed-in user's own zone; storage stays UTC."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            timezone.activate(zone(getattr(user, "time_zone", None)))
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class ApplicationErrorMiddleware:
    """The one place a page's refusal becomes an answer: any `ApplicationError` a view raises
    turns into the problem page, or into the dialog fragment when htmx asked. (The API answers
    its own errors as problem+json before they get here.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, ApplicationError):
            return problem_for(request, exception)
        return None
