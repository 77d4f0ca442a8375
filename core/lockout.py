"""Sign-in throttling (django-axes): whose address a request comes from, and the lockout answer.

Axes counts wrong passwords per account and per client address in the database (several web
processes share the counts) and refuses both once LOGIN_FAILURE_LIMIT is reached, until
LOGIN_LOCKOUT_MINUTES have passed since the last failure. These two hooks are what it asks of us.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from config.errors_views import _is_api, problem_response
from core.errors import ErrorCode


def _valid(address: str | None) -> str | None:
    if not address:
        return None
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's address. Without trusted proxies it is the connection's own address: a
    forwarding header could be written by the client itself. Behind TRUSTED_PROXIES proxies, each
    of which appends the address it was reached from to CLIENT_IP_HEADER, the client is the entry
    that many places from the right."""
    remote = _valid(request.META.get("REMOTE_ADDR"))
    hops = settings.TRUSTED_PROXIES
    if hops <= 0:
        return remote
    meta_name = "HTTP_" + settings.CLIENT_IP_HEADER.upper().replace("-", "_")
    chain = [a for a in request.META.get(meta_name, "").split(",") if a.strip()]
    if not chain:
        return remote
    return _valid(chain[-hops] if len(chain) >= hops else chain[0]) or remote


def lockout_seconds() -> int:
    # Each refused attempt counts as a failure too, so the lock lasts this long from now.
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_message() -> str:
    minutes = max(1, round(lockout_seconds() / 60))
    return (
        "Too many failed sign-in attempts for this account or from your network. "
        f"Signing in is blocked for {minutes} minute{'s' if minutes != 1 else ''}; "
        "try again later or ask an administrator to unlock it."
    )


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any
) -> HttpResponse:
    """429 for a locked-out sign-in: problem+json with Retry-After for the API, the login page
    with the reason for a person."""
    seconds = lockout_seconds()
    headers = {"Retry-After": str(seconds)}
    if _is_api(request):
        return problem_response(
            status=429,
            code=ErrorCode.TOO_MANY_ATTEMPTS,
            title="Too many sign-in attempts",
            detail=lockout_message(),
            headers=headers,
        )
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    form = AuthenticationForm(request, initial={"username": username})
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    response = render(
        request,
        "registration/login.html",
        {"form": form, "next": next_url, "lockout_message": lockout_message()},
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response
