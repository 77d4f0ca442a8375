"""The profile page: time zone, working hours, and the private calendar feed's address.

Plain form posts (they work without JavaScript), answered with a redirect and a message; a refused
change re-shows the form with each message beside its field.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from core.errors import FieldError, ValidationFailed
from core.timeutils import all_time_zones
from directory import feed_keys
from directory.models import User
from directory.services import calendar_feed_rotate, profile_set_working_hours
from directory.working_hours import DAY_LABELS, DAYS, stored_or_default

_RANGE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$")


def _hhmm(text: str) -> str:
    h, m = text.split(":")
    return f"{int(h):02d}:{m}"


def parse_day(text: str) -> list[Any]:
    """ "09:00-12:00, 13:00-17:00" -> [["09:00", "12:00"], ["13:00", "17:00"]]; a part that is
    not a range is kept as written for the rules to name."""
    out: list[Any] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = _RANGE.match(part)
        out.append([_hhmm(match[1]), _hhmm(match[2])] if match else [part])
    return out


def format_day(ranges: list[list[str]]) -> str:
    return ", ".join(f"{a}-{b}" for a, b in ranges)


def _context(
    user: User, values: dict[str, Any], errors: list[FieldError] | None = None
) -> dict[str, Any]:
    errors = errors or []
    by_field: dict[str, list[str]] = {}
    for e in errors:
        key = e.field.split("[", 1)[0]
        by_field.setdefault(key, []).append(e.message)
    return {
        "values": values,
        "errors": by_field,
        "error_count": len(errors),
        "time_zones": all_time_zones(),
        "days": [
            {
                "key": d,
                "label": DAY_LABELS[d],
                "value": values["days"][d],
                "errors": by_field.get(f"days.{d}", []),
            }
            for d in DAYS
        ],
        "feed_url": feed_keys.feed_url(user),
    }


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if request.method == "POST" and request.POST.get("form") == "rotate":
        calendar_feed_rotate(actor=user)
        messages.success(request, "Your calendar has a new address; the old one no longer works.")
        return HttpResponseRedirect(reverse("profile"))
    if request.method == "POST":
        raw = {d: request.POST.get(f"day_{d}", "") for d in DAYS}
        time_zone = request.POST.get("time_zone", "")
        try:
            profile_set_working_hours(
                actor=user, days={d: parse_day(raw[d]) for d in DAYS}, time_zone=time_zone
            )
        except ValidationFailed as err:
            values = {"time_zone": time_zone, "days": raw}
            return render(
                request, "directory/profile.html", _context(user, values, err.errors), status=422
            )
        messages.success(request, "Your time zone and working hours are saved.")
        return HttpResponseRedirect(reverse("profile"))
    hours = stored_or_default(user.working_hours)
    values = {"time_zone": user.time_zone, "days": {d: format_day(hours[d]) for d in DAYS}}
    return render(request, "directory/profile.html", _context(user, values))
