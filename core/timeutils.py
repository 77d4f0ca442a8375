"""Time helpers: storage is UTC, display is in each user's zone, months are calendar months."""

from __future__ import annotations

import calendar
import zoneinfo
from datetime import UTC, datetime
from functools import lru_cache

from django.conf import settings
from django.utils import timezone


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` plus whole calendar months, clamping the day (31 Jan + 1 month = 28/29 Feb)."""
    month_index = moment.month - 1 + months
    year = moment.year + month_index // 12
    month = month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@lru_cache(maxsize=512)
def zone(name: str | None) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def months_from_now(
    months: int, *, tz_name: str | None = None, now: datetime | None = None
) -> datetime:
    """Now + N calendar months, counted in the user's own zone (so "3 months" keeps the wall-clock
    time the user sees), returned in UTC."""
    now = now or timezone.now()
    local = now.astimezone(zone(tz_name))
    return add_months(local, months).astimezone(zoneinfo.ZoneInfo("UTC"))


def default_expiry(*, tz_name: str | None = None, now: datetime | None = None) -> datetime:
    return months_from_now(settings.COACHING_DEFAULT_EXPIRY_MONTHS, tz_name=tz_name, now=now)


def max_expiry(*, tz_name: str | None = None, now: datetime | None = None) -> datetime:
    return months_from_now(settings.COACHING_MAX_EXPIRY_MONTHS, tz_name=tz_name, now=now)


def all_time_zones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def localized(moment: datetime, tz_name: str | None = None) -> datetime:
    """`moment` in the user's zone (`tz_name`, else the active one) for display. A moment at the
    edge of what Python can hold (9999-12-31T23:00Z seen from east of UTC) has no local time; it
    is shown in UTC then, rather than failing the page."""
    if timezone.is_naive(moment):
        return moment
    try:
        return moment.astimezone(zone(tz_name) if tz_name else timezone.get_current_timezone())
    except (OverflowError, ValueError):
        return moment.astimezone(UTC)


def format_moment(moment: datetime, tz_name: str | None) -> str:
    """A moment as a person reads it in their own zone: "Tue 4 Mar 2030, 10:00 CET"."""
    local = moment.astimezone(zone(tz_name))
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} {local.tzname() or tz_name}"
