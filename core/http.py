from __future__ import annotations

from django.http import HttpRequest

from directory.models import User


class AuthenticatedRequest(HttpRequest):
    """A request from a signed-in user: every page behind `login_required`, and every API
    operation behind the API's authentication (which puts the same user in `auth`)."""

    user: User
    auth: User


def is_htmx(request: HttpRequest) -> bool:
    """True for a request htmx made (django-htmx's middleware sets `request.htmx`)."""
    return bool(getattr(request, "htmx", False))
