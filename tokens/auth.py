"""The API's two ways in: a bearer token, or the browser's session cookie (with CSRF)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from core.errors import NotAuthenticated, PermissionDenied
from directory.permissions import load_viewer

from .services import token_authenticate


class BearerTokenAuth(HttpBearer):
    """`Authorization: Bearer <token>`. A bearer header that does not name a live token of an active
    user is refused outright (401) rather than falling back to the session."""

    def __call__(self, request: HttpRequest) -> Any:
        header = request.headers.get(self.header)
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.authenticate(request, raw.strip())

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = token_authenticate(token)
        if user is None:
            raise NotAuthenticated("The bearer token is unknown, expired or revoked.")
        load_viewer(user)
        request.user = user
        return user


class SessionCookieAuth(APIKeyCookie):
    """The Django session of a signed-in browser. Unsafe methods need the CSRF token
    (`X-CSRFToken` header), checked only once the cookie is known to sign someone in, so an
    anonymous request gets 401, not a CSRF 403."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def __call__(self, request: HttpRequest) -> Any:
        user = getattr(request, "user", None)
        # Django's session backend already refuses inactive users; checked again for clarity.
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        if check_csrf(request) is not None:
            raise PermissionDenied(
                "CSRF verification failed: send the csrftoken cookie's value in X-CSRFToken."
            )
        return user

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:  # pragma: no cover
        return None
