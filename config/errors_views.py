"""Errors as RFC 9457 problem details under /api/, and Django's HTML error pages elsewhere.

`problem_response` is the one place a problem+json body is built; the API's exception handlers
(config/api.py) and Django's handler404/handler500 (config/urls.py) both use it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from django.http import HttpRequest, HttpResponse
from django.views import defaults

from core.errors import ErrorCode, FieldError

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://coaching.example/problems/"
API_PREFIX = "/api/"


def problem_body(
    *,
    status: int,
    code: ErrorCode,
    title: str,
    detail: str,
    errors: Iterable[FieldError | Mapping[str, str]] = (),
    extra: Mapping[str, object] | None = None,
) -> dict[str, object]:
    return {
        "type": f"{PROBLEM_TYPE_BASE}{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": str(code),
        "errors": [e.as_dict() if isinstance(e, FieldError) else dict(e) for e in errors],
        **(extra or {}),
    }


def problem_response(
    *,
    status: int,
    code: ErrorCode,
    title: str,
    detail: str,
    errors: Iterable[FieldError | Mapping[str, str]] = (),
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, object] | None = None,
) -> HttpResponse:
    body = problem_body(
        status=status, code=code, title=title, detail=detail, errors=errors, extra=extra
    )
    response = HttpResponse(
        json.dumps(body), status=status, content_type=PROBLEM_CONTENT_TYPE, headers=headers
    )
    return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def refusal(
    request: HttpRequest,
    *,
    status: int,
    code: ErrorCode,
    title: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    """A refusal decided before any view runs: problem+json under /api/, plain text elsewhere
    (no page template: the middleware that renders pages has not run yet)."""
    if _is_api(request):
        return problem_response(
            status=status, code=code, title=title, detail=detail, headers=headers
        )
    return HttpResponse(
        f"{title}. {detail}\n",
        status=status,
        content_type="text/plain; charset=utf-8",
        headers=headers,
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return problem_response(
            status=404,
            code=ErrorCode.NOT_FOUND,
            title="Not found",
            detail=f"There is no API resource at {request.path}.",
        )
    # Renders templates/404.html, or Django's plain page when the template is missing.
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    # Never a traceback, whatever DEBUG says: the details are in the server log.
    if _is_api(request):
        return problem_response(
            status=500,
            code=ErrorCode.INTERNAL_ERROR,
            title="Internal server error",
            detail="The server failed to answer this request; the error has been logged.",
        )
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return problem_response(
            status=400,
            code=ErrorCode.MALFORMED_REQUEST,
            title="Malformed request",
            detail="The request could not be read.",
        )
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return problem_response(
            status=403,
            code=ErrorCode.PERMISSION_DENIED,
            title="Permission denied",
            detail=str(exception) or "You may not do this.",
        )
    return defaults.permission_denied(request, exception)
