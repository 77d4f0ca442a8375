"""A user's working hours: per weekday, zero or more [start, end) wall-clock ranges in the user's
own time zone. Stored on the profile as `{"mon": [["09:00", "17:00"]], ..., "sun": []}`.

Free-slot proposals stay inside the coach's working hours; the profile page and the API
(`/api/v1/me/working-hours`) edit them through `clean_working_hours`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from core.errors import FieldCode, FieldError
from core.timeutils import zone

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_LABELS: dict[str, str] = {
    "mon": "Monday",
    "tue": "Tuesday",
    "wed": "Wednesday",
    "thu": "Thursday",
    "fri": "Friday",
    "sat": "Saturday",
    "sun": "Sunday",
}
RANGES_PER_DAY_MAX = 4
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")

WorkingHours = dict[str, list[list[str]]]


def default_working_hours() -> WorkingHours:
    """Monday to Friday, 09:00-17:00 (decisions.md)."""
    return {d: ([["09:00", "17:00"]] if d not in ("sat", "sun") else []) for d in DAYS}


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def clean_working_hours(raw: Any) -> tuple[WorkingHours, list[FieldError]]:
    """Check and normalise: every weekday present (missing ones mean "not working"), each range
    "HH:MM"-"HH:MM" with start before end (24:00 allowed as an end), ranges sorted and not
    overlapping, at most four a day. Errors name the day, e.g. `days.mon[1]`."""
    errors: list[FieldError] = []
    out: WorkingHours = {d: [] for d in DAYS}
    if not isinstance(raw, dict):
        return out, [FieldError("days", FieldCode.INVALID, "Give the working hours per weekday.")]
    for key in raw:
        if key not in DAYS:
            errors.append(
                FieldError(
                    f"days.{key}",
                    FieldCode.INVALID,
                    f"{key!r} is not a weekday; use {', '.join(DAYS)}.",
                )
            )
    for day in DAYS:
        ranges = raw.get(day) or []
        if not isinstance(ranges, list):
            errors.append(
                FieldError(f"days.{day}", FieldCode.INVALID, f"{DAY_LABELS[day]}: give a list.")
            )
            continue
        if len(ranges) > RANGES_PER_DAY_MAX:
            errors.append(
                FieldError(
                    f"days.{day}",
                    FieldCode.TOO_LONG,
                    f"{DAY_LABELS[day]}: at most {RANGES_PER_DAY_MAX} ranges.",
                )
            )
            continue
        cleaned: list[tuple[int, int, str, str]] = []
        for i, pair in enumerate(ranges):
            where = f"days.{day}[{i}]"
            if (
                not isinstance(pair, list | tuple)
                or len(pair) != 2
                or not all(isinstance(p, str) and _HHMM.match(p) for p in pair)
                or pair[0] == "24:00"
            ):
                errors.append(
                    FieldError(
                        where,
                        FieldCode.INVALID,
                        f"{DAY_LABELS[day]}: give each range as two times, e.g. "
                        '["09:00", "17:00"].',
                    )
                )
                continue
            start, end = _minutes(pair[0]), _minutes(pair[1])
            if start >= end:
                errors.append(
                    FieldError(
                        where,
                        FieldCode.OUT_OF_RANGE,
                        f"{DAY_LABELS[day]}: {pair[0]}-{pair[1]} ends before it starts.",
                    )
                )
                continue
            cleaned.append((start, end, pair[0], pair[1]))
        cleaned.sort()
        for (_, end_a, a0, a1), (start_b, _, b0, b1) in zip(cleaned, cleaned[1:], strict=False):
            if start_b < end_a:
                errors.append(
                    FieldError(
                        f"days.{day}",
                        FieldCode.DUPLICATE,
                        f"{DAY_LABELS[day]}: {a0}-{a1} and {b0}-{b1} overlap.",
                    )
                )
        out[day] = [[s, e] for _, _, s, e in cleaned]
    return out, errors


def stored_or_default(value: Any) -> WorkingHours:
    """The stored value as a complete week (a profile saved before this setting existed, or an
    unreadable one, counts as the default)."""
    cleaned, errors = clean_working_hours(value)
    return default_working_hours() if errors or value in (None, {}) else cleaned


def working_intervals(
    hours: WorkingHours, tz_name: str | None, start: datetime, end: datetime
) -> Iterator[tuple[datetime, datetime]]:
    """The working intervals, as aware UTC datetimes, overlapping [start, end), clipped to it.

    Each local day's ranges are turned into instants in the user's zone, so a day of a daylight
    saving change keeps its wall-clock hours (a 09:00-17:00 day is 7 or 9 hours long in UTC
    terms only where the change falls inside it)."""
    tz = zone(tz_name)
    day: date = start.astimezone(tz).date() - timedelta(days=1)
    last: date = end.astimezone(tz).date() + timedelta(days=1)
    while day <= last:
        for s, e in hours.get(DAYS[day.weekday()], []):
            local_start = datetime.combine(day, _clock(s), tz)
            local_end = (
                datetime.combine(day + timedelta(days=1), time(0), tz)
                if e == "24:00"
                else datetime.combine(day, _clock(e), tz)
            )
            a, b = max(local_start.astimezone(UTC), start), min(local_end.astimezone(UTC), end)
            if a < b:
                yield a, b
        day += timedelta(days=1)


def _clock(hhmm: str) -> time:
    h, m = hhmm.split(":")
    return time(int(h), int(m))
