from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import resolve_url
from django.utils import timezone
from django.utils.functional import LazyObject, empty
from django.utils.http import url_has_allowed_host_and_scheme

from core.errors import ApplicationError, ErrorCode
from core.http import is_htmx
from core.pages import problem_for
from core.timeutils import zone
from directory.permissions import load_viewer


class UserTimezoneMiddleware:
    """Shows every time in the signed-in user's own zone (storage stays UTC), and loads what the
    request's permission checks ask about the user in one query (`load_viewer`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if isinstance(user, LazyObject):
            # The user itself from here on, not Django's lazy stand-in: a page reads it hundreds
            # of times (each card's actions, the header), and every read through the stand-in
            # is a failed attribute look-up and a proxy call.
            if user._wrapped is empty:
                user._setup()
            user = request.user = user._wrapped
        if user is not None and user.is_authenticated:
            load_viewer(user)
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


class RequestLimitsMiddleware:
    """Refuses a query string above MAX_QUERY_STRING_BYTES (414) and a declared body above
    DATA_UPLOAD_MAX_MEMORY_SIZE (413) before anything reads them. Under /api/ the answer is the
    documented problem+json; a body sent without a length is caught when read (config/api.py).

    The API's bodies are JSON, read by its own parser; its requests carry no form fields, so a
    form body is never parsed there (a malformed multipart one would otherwise fail whatever
    looks at `request.POST` first: the sign-in throttle's log, the CSRF check)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if len(request.META.get("QUERY_STRING", "")) > settings.MAX_QUERY_STRING_BYTES:
            return too_long_uri(request)
        declared = request.META.get("CONTENT_LENGTH") or ""
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if declared.isdigit() and limit is not None and int(declared) > limit:
            return too_large_body(request)
        if request.path.startswith("/api/"):
            request.POST = QueryDict()
        return self.get_response(request)


def too_long_uri(request: HttpRequest) -> HttpResponse:
    from config.errors_views import refusal

    return refusal(
        request,
        status=414,
        code=ErrorCode.URI_TOO_LONG,
        title="URI too long",
        detail=f"The query string may have at most {settings.MAX_QUERY_STRING_BYTES} bytes.",
    )


def too_large_body(request: HttpRequest) -> HttpResponse:
    from config.errors_views import refusal

    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
    return refusal(
        request,
        status=413,
        code=ErrorCode.REQUEST_TOO_LARGE,
        title="Request too large",
        detail=f"The request body may have at most {limit} bytes ({limit / 1048576:g} MiB).",
    )


class HtmxLoginRedirectMiddleware:
    """A dialog (or any htmx request) sent after the sign-in ended must not show the login page
    inside the page. Instead of the redirect to the login page, htmx is told to go there itself
    (`HX-Redirect`), with `next` the page the person is on, and the page's script is told first
    (`coaching:login-required`) so it keeps what was typed and puts it back after signing in."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not is_htmx(request) or response.status_code != 302:
            return response
        login_path = resolve_url(settings.LOGIN_URL)
        if urlsplit(response.get("Location", "")).path != login_path:
            return response
        current = request.headers.get("HX-Current-URL", "")
        parts = urlsplit(current)
        back = parts.path + (f"?{parts.query}" if parts.query else "")
        if not current or not url_has_allowed_host_and_scheme(
            current, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            back = "/"
        query = QueryDict(mutable=True)
        query["next"] = back
        url = f"{login_path}?{query.urlencode(safe='/')}"  # as Django's own redirect writes it
        answer = HttpResponse(status=401)
        answer["HX-Redirect"] = url
        answer["HX-Trigger"] = json.dumps({"coaching:login-required": {"url": url}})
        return answer
