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


# Control characters (NUL above all, which PostgreSQL refuses in text) mean nothing in a search.
_CONTROL = dict.fromkeys(range(32))


def search_text(request: HttpRequest, name: str = "q", max_length: int = 100) -> str:
    """A page's search box value: control characters dropped, trimmed, at most `max_length`."""
    return request.GET.get(name, "").translate(_CONTROL).strip()[:max_length]
