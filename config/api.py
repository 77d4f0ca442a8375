"""The REST API v1 (django-ninja): the API object, its authentication and its error handlers.

Routers live with their domain (`coaching/api.py`, `directory/api.py`, `notifications/api.py`,
`tokens/api.py`); this module only mounts them. Every error leaves as RFC 9457
`application/problem+json` (see `config/errors_views.py`):

* `ApplicationError` (services, rules, policies) -> its own status and code;
* request values of the wrong type, or a body that is not JSON -> 400 `malformed_request`;
* request values of the right type that break a declared bound (`limit` > 100, an id < 1, a
  missing required field, an unknown enum value) -> 422 `validation_failed`, each field named;
* no / bad credentials -> 401, CSRF failure on a session request -> 403, unknown route -> 404,
  wrong method -> 405, anything unexpected -> 500 without a traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern, URLResolver
from django.views.decorators.csp import csp_override
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.parser import Parser

from config.errors_views import (
    PROBLEM_CONTENT_TYPE,
    database_unavailable,
    problem_response,
    service_unavailable,
)
from core.errors import (
    ApplicationError,
    ErrorCode,
    FieldCode,
    MalformedRequest,
    NotAuthenticated,
)
from core.middleware import too_large_body
from tokens.auth import BearerTokenAuth, SessionCookieAuth

log = logging.getLogger("django.request")

DESCRIPTION = """
Coaching-session suggestions for contact-center Quality Management.

**Authentication.** `POST /api/v1/auth/token` with a username and password returns a bearer token
(valid for a limited number of days, revocable by an administrator); send it as
`Authorization: Bearer <token>`. A signed-in browser session works too; unsafe methods then need
the `X-CSRFToken` header.

**Errors** are `application/problem+json` (RFC 9457) with `code` and a per-field `errors` list:
400 `malformed_request` (body is not JSON, or a value has the wrong type), 401 `not_authenticated`,
403 `permission_denied`, 404 `not_found` (also for what you may not see), 405
`method_not_allowed`, 409 `invalid_state`, 412 `version_conflict` (If-Match), 422
`validation_failed` (a missing required field has code `required`; a value out of its declared
bounds `out_of_range` / `too_long`; an unknown choice `invalid`; the business rules' own codes),
413 `request_too_large` (a body above 2.5 MiB), 414 `uri_too_long` (a query string above 4096
bytes), 429 `too_many_attempts` (sign-in locked after repeated wrong passwords; `Retry-After`
says for how many seconds), 500 `internal_error`, 503 `service_unavailable` (the database could not be reached, so nothing was
carried out; `Retry-After` says when to try again).

**Lists** take `limit` (default 20, at most 100) and `offset`, answer `{"items": [...], "count": N}`
and are ordered deterministically. **Times** are ISO 8601 with offset, answered in UTC.
"""

# Which ninja/pydantic validation failures are "a field is violated" (422) rather than "the
# request is malformed" (400: wrong JSON types, unparseable values).
UNPROCESSABLE: dict[str, FieldCode] = {
    "missing": FieldCode.REQUIRED,
    "string_too_long": FieldCode.TOO_LONG,
    "too_long": FieldCode.TOO_LONG,
    "greater_than": FieldCode.OUT_OF_RANGE,
    "greater_than_equal": FieldCode.OUT_OF_RANGE,
    "less_than": FieldCode.OUT_OF_RANGE,
    "less_than_equal": FieldCode.OUT_OF_RANGE,
    "out_of_range": FieldCode.OUT_OF_RANGE,
    "literal_error": FieldCode.INVALID,
    "string_pattern_mismatch": FieldCode.INVALID,
    "enum": FieldCode.INVALID,
}


class JsonObjectParser(Parser):
    """Every request body of this API is a JSON object."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        try:
            data = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise MalformedRequest("The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise MalformedRequest("The request body must be a JSON object.")
        return data


# Operations answering an ETag header (the session's version, for If-Match).
ETAG_OPERATIONS = {("get", "/coaching-sessions/{id}"), ("patch", "/coaching-sessions/{id}")}
ETAG_HEADER = {
    "description": 'The session\'s version as an entity tag, e.g. `"3"`.',
    "schema": {"type": "string"},
}
RETRY_AFTER_HEADER = {
    "description": "Seconds until signing in is allowed again.",
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}


# Refusals any operation may answer, before its own code runs (core/middleware.py).
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
LIMIT_RESPONSES = {
    "414": "URI too long: the query string has more than 4096 bytes (`uri_too_long`).",
}
BODY_LIMIT_RESPONSES = {
    "413": "Request too large: the body has more than 2.5 MiB (`request_too_large`); nothing is "
    "written.",
}


class ProblemAPI(NinjaAPI):
    def get_openapi_schema(self, **kwargs: Any) -> OpenAPISchema:
        schema = super().get_openapi_schema(**kwargs)
        # ninja documents every body as application/json; errors are sent as problem+json.
        for path, path_item in schema.get("paths", {}).items():
            for method, operation in path_item.items():
                if operation.pop("x-also-csv", False):
                    # The same answer as CSV on `Accept: text/csv` or `?format=csv`.
                    ok = operation["responses"][200 if 200 in operation["responses"] else "200"]
                    ok["content"]["text/csv"] = {"schema": {"type": "string"}}
                if any(path.endswith(p) and method == m for m, p in ETAG_OPERATIONS):
                    responses = operation["responses"]
                    responses[200 if 200 in responses else "200"]["headers"] = {"ETag": ETAG_HEADER}
                limits = dict(LIMIT_RESPONSES)
                if "requestBody" in operation:
                    limits.update(BODY_LIMIT_RESPONSES)
                for status, description in limits.items():
                    operation["responses"].setdefault(
                        status,
                        {
                            "description": description,
                            "content": {"application/json": {"schema": PROBLEM_REF}},
                        },
                    )
                if "429" in operation["responses"] or 429 in operation["responses"]:
                    too_many = operation["responses"].get("429") or operation["responses"][429]
                    too_many["headers"] = {"Retry-After": RETRY_AFTER_HEADER}
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content")
                    if int(status) >= 400 and content:
                        response["content"] = {PROBLEM_CONTENT_TYPE: next(iter(content.values()))}
        return schema

    def _get_urls(self) -> list[URLResolver | URLPattern]:
        urls = super()._get_urls()
        for pattern in urls:
            if isinstance(pattern, URLPattern):
                pattern.callback = _problem_on_405(pattern.callback)
        return urls


def _problem_on_405(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            return problem_response(
                status=405,
                code=ErrorCode.METHOD_NOT_ALLOWED,
                title="Method not allowed",
                detail=f"{request.method} is not allowed here; use {response['Allow']}.",
                headers={"Allow": response["Allow"]},
            )
        return response

    return wrapper


# The docs page loads Swagger UI from our own static files (no CDN); its React code sets inline
# styles, which the site-wide CSP forbids, so this page alone allows them.
DOCS_CSP = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'", "'unsafe-inline'"],
    "img-src": ["'self'", "data:"],
    "connect-src": ["'self'"],
    "font-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}

api = ProblemAPI(
    title="Coaching suggestions API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    auth=[BearerTokenAuth(), SessionCookieAuth()],
    parser=JsonObjectParser(),
    docs=Swagger(settings={"validatorUrl": None, "persistAuthorization": True}),
    docs_decorator=csp_override(DOCS_CSP),
)


# --- error handlers -----------------------------------------------------------------------------
@api.exception_handler(ApplicationError)
def on_application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    headers = (
        {"WWW-Authenticate": 'Bearer realm="api"'} if isinstance(exc, NotAuthenticated) else None
    )
    return problem_response(
        status=exc.status,
        code=exc.code,
        title=exc.title,
        detail=exc.message,
        errors=exc.errors,
        headers=headers,
        extra=exc.extra(),
    )


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return on_application_error(
        request,
        NotAuthenticated(
            "Send 'Authorization: Bearer <token>' (see POST /api/v1/auth/token) "
            "or sign in with a browser session."
        ),
    )


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    source, *rest = loc
    if source == "body" and rest:
        rest = rest[1:]  # the view's body parameter, not a field of the JSON document
    return ".".join(str(part) for part in rest) or "body"


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors: list[dict[str, str]] = []
    malformed = False
    for error in exc.errors:
        field = _field_name(error.get("loc", ("body",)))
        code = UNPROCESSABLE.get(error.get("type", ""))
        if code is None or field == "body":
            malformed = True
            code = FieldCode.INVALID
        errors.append({"field": field, "code": str(code), "message": str(error.get("msg", ""))})
    if malformed:
        return problem_response(
            status=400,
            code=ErrorCode.MALFORMED_REQUEST,
            title="Malformed request",
            detail="The request is not well formed: "
            + "; ".join(f"{e['field']}: {e['message']}" for e in errors),
            errors=errors,
        )
    return problem_response(
        status=422,
        code=ErrorCode.VALIDATION_FAILED,
        title="Validation failed",
        detail="; ".join(f"{e['field']}: {e['message']}" for e in errors),
        errors=errors,
    )


_HTTP_CODES = {
    400: (ErrorCode.MALFORMED_REQUEST, "Malformed request"),
    401: (ErrorCode.NOT_AUTHENTICATED, "Not authenticated"),
    403: (ErrorCode.PERMISSION_DENIED, "Permission denied"),
    404: (ErrorCode.NOT_FOUND, "Not found"),
}


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code, title = _HTTP_CODES.get(exc.status_code, (ErrorCode.MALFORMED_REQUEST, "Bad request"))
    detail = str(exc)
    if isinstance(exc.__cause__, ApplicationError):  # ninja wraps the parser's own error
        detail = exc.__cause__.message
    elif exc.status_code == 400:
        detail = "The request body is not valid JSON."
    return problem_response(status=exc.status_code, code=code, title=title, detail=detail)


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem_response(
        status=404, code=ErrorCode.NOT_FOUND, title="Not found", detail="Not found."
    )


@api.exception_handler(DjangoPermissionDenied)
def on_permission_denied(request: HttpRequest, exc: DjangoPermissionDenied) -> HttpResponse:
    return problem_response(
        status=403,
        code=ErrorCode.PERMISSION_DENIED,
        title="Permission denied",
        detail=str(exc) or "Permission denied.",
    )


@api.exception_handler(RequestDataTooBig)
def on_too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    # A body sent without Content-Length (chunked) is only found too large when read.
    return too_large_body(request)


@api.exception_handler(Exception)
def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    if database_unavailable(exc):
        log.error("Service unavailable (database): %s: %s", request.path, exc)
        return service_unavailable(request)
    log.error(
        "Internal Server Error: %s",
        request.path,
        exc_info=(type(exc), exc, exc.__traceback__),
        extra={"status_code": 500, "request": request},
    )
    return problem_response(
        status=500,
        code=ErrorCode.INTERNAL_ERROR,
        title="Internal server error",
        detail="The server failed to answer this request; the error has been logged.",
    )


# --- routers ------------------------------------------------------------------------------------
from coaching.api import me_router as calendar_router  # noqa: E402
from coaching.api import router as coaching_router  # noqa: E402
from directory.api import router as directory_router  # noqa: E402
from notifications.api import router as notifications_router  # noqa: E402
from qa.api_evaluations import router as evaluations_router  # noqa: E402
from qa.api_reports import router as reports_router  # noqa: E402
from qa.api_rules import router as rules_router  # noqa: E402
from tokens.api import router as tokens_router  # noqa: E402

api.add_router("/", tokens_router)
api.add_router("/", directory_router)
api.add_router("/coaching-sessions", coaching_router)
api.add_router("/", calendar_router)
api.add_router("/notifications", notifications_router)
api.add_router("/evaluations", evaluations_router)
api.add_router("/coaching-rules", rules_router)
api.add_router("/reports", reports_router)
