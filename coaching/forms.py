"""Parsing of the pages' forms into the services' input.

The forms only turn text into values (tokens into `PartyRef`s, `datetime-local` text into aware
datetimes in the user's zone). Every rule about those values lives in `coaching.rules` and runs
inside the services; the pages show the services' `FieldError`s next to their fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Any

from django.http import QueryDict
from django.utils import timezone

from core.errors import FieldCode, FieldError
from core.timeutils import localized, zone
from directory.models import User
from directory.parties import PartyRef

from .models import Origin
from .rules import ResolvedFields, SessionFields, clean_schedule, validate_session_fields

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class FormMode(StrEnum):
    """The suggestion form's three uses: a new suggestion, its edit, the coach's schedule step."""

    SUGGEST = "suggest"
    EDIT = "edit"
    SCHEDULE = "schedule"


# The form's fields, in the order errors are listed (and the services' error names).
SESSION_FIELDS = (
    "title",
    "coach",
    "trainees",
    "coaching_area_id",
    "expires_at",
    "reference_case_ids",
)
SCHEDULE_FIELDS = ("starts_at", "duration_minutes", "location")


def to_local_input(moment: datetime | None, tz_name: str | None) -> str:
    """An aware datetime as a `datetime-local` value in the user's zone."""
    if moment is None:
        return ""
    return localized(moment, tz_name).strftime(DATETIME_LOCAL)


def parse_local_input(raw: str, tz_name: str | None) -> datetime:
    """`datetime-local` text, read as wall-clock time in the user's zone. Raises ValueError."""
    value = datetime.fromisoformat(raw.strip())
    if timezone.is_aware(value):
        return value
    return timezone.make_aware(value, zone(tz_name))


@cache
def _required_errors() -> dict[str, FieldError]:
    """The rules' own "required" errors, for the edit and schedule steps, where the services
    read a missing field as "keep as is" but the page's user has emptied it."""
    _, errors = validate_session_fields(SessionFields(), author=None, actor_tz=None)
    return {e.field: e for e in errors}


@dataclass
class SessionForm:
    """What the user typed (kept for re-rendering) and what it means (for the services)."""

    data: dict[str, Any]
    fields: SessionFields
    errors: list[FieldError] = field(default_factory=list)
    origin: str = Origin.HOMEPAGE
    starts_at: datetime | None = None
    duration_minutes: int | None = None
    location: str = ""
    when: WhenWhere | None = None


def _whole(raw: str) -> int:
    if not raw.strip().isdigit():
        raise ValueError(raw)
    return int(raw)


def _picked[T](
    raws: list[str], parse: Callable[[str], T], name: str, message: str, errors: list[FieldError]
) -> list[T]:
    """Each value parsed; the first that does not parse is reported (once) with `message`."""
    values: list[T] = []
    for raw in raws:
        try:
            values.append(parse(raw))
        except ValueError:
            errors.append(FieldError(name, FieldCode.INVALID, message))
            break
    return values


def _one[T](
    raw: str,
    parse: Callable[[str], T],
    name: str,
    message: str,
    errors: list[FieldError],
    *,
    required: FieldError | None = None,
) -> T | None:
    """One value parsed, or None; a blank one is `required` when given."""
    if not raw:
        if required is not None:
            errors.append(required)
        return None
    values = _picked([raw], parse, name, message, errors)
    return values[0] if values else None


def _expiry(
    raw: str, tz_name: str | None, keep: datetime | None, errors: list[FieldError]
) -> datetime | None:
    if not raw:
        # Blank is not "use the default": the spec makes Expiry Time mandatory.
        errors.append(_required_errors()["expires_at"])
        return None
    message = "Enter the expiry time as a date and a time."
    moment = _one(raw, lambda r: parse_local_input(r, tz_name), "expires_at", message, errors)
    if keep is not None and raw == to_local_input(keep, tz_name):
        return None  # unchanged: keep the stored value, to the second
    return moment


def parse_session_form(
    post: QueryDict,
    *,
    tz_name: str | None,
    mode: FormMode = FormMode.SUGGEST,
    keep_expiry: datetime | None = None,
) -> SessionForm:
    """Read the suggestion form in one of its three uses, one field after the other.

    `keep_expiry` is the stored expiry when editing: an unchanged `datetime-local` value (which
    has no seconds) then means "keep", so an edit that touches only the title records only that.
    """
    errors: list[FieldError] = []
    data: dict[str, Any] = {
        "title": post.get("title", ""),
        "coach": post.get("coach", "").strip(),
        "trainees": [t for t in post.getlist("trainees") if t.strip()],
        "coaching_area_id": post.get("coaching_area_id", "").strip(),
        "expires_at": post.get("expires_at", "").strip(),
        "reference_case_ids": [c for c in post.getlist("reference_case_ids") if c.strip()],
        "starts_at": post.get("starts_at", "").strip(),
        "duration_minutes": post.get("duration_minutes", "").strip(),
        "location": post.get("location", ""),
    }
    # Suggesting, a blank field is "not given" and the service says it is required; editing and
    # scheduling, the service would keep the stored value, so the emptied field is refused here.
    required = {} if mode == FormMode.SUGGEST else _required_errors()
    fields = SessionFields(
        title=data["title"],
        coach=_one(
            data["coach"],
            PartyRef.parse,
            "coach",
            "Pick the coach from the list of matches.",
            errors,
            required=required.get("coach"),
        ),
        trainees=_picked(
            data["trainees"],
            PartyRef.parse,
            "trainees",
            "Pick each trainee from the list of matches.",
            errors,
        ),
        coaching_area_id=_one(
            data["coaching_area_id"],
            _whole,
            "coaching_area_id",
            "Pick a coaching area.",
            errors,
            required=required.get("coaching_area_id"),
        ),
        expires_at=None
        if mode == FormMode.SCHEDULE
        else _expiry(data["expires_at"], tz_name, keep_expiry, errors),
        reference_case_ids=_picked(
            data["reference_case_ids"],
            _whole,
            "reference_case_ids",
            "Pick each reference case from the list of matches.",
            errors,
        ),
    )
    form = SessionForm(
        data=data, fields=fields, errors=errors, origin=post.get("origin", Origin.HOMEPAGE)
    )
    if mode == FormMode.SCHEDULE:
        when = parse_when_where(post, tz_name=tz_name)
        form.starts_at, form.duration_minutes, form.location = (
            when.starts_at,
            when.duration_minutes,
            when.location,
        )
        errors += when.errors
        data.update(starts_at=when.data["starts_at"], allow_conflicts=when.allow_conflicts)
        form.when = when
    return form


def with_rule_errors(
    form: SessionForm,
    *,
    author: User | None,
    tz_name: str | None,
    current: ResolvedFields | None = None,
    mode: FormMode = FormMode.SUGGEST,
) -> list[FieldError]:
    """When the form cannot go to the service (a value did not even parse), still run the
    service's own rules over the rest, so every problem is shown at once and not one by one."""
    _, rule_errors = validate_session_fields(
        form.fields,
        author=author,
        actor_tz=tz_name,
        current=current,
        require_expiry=False,
    )
    if mode == FormMode.SCHEDULE:
        rule_errors += clean_schedule(
            starts_at=form.starts_at,
            duration_minutes=form.duration_minutes,
            location=form.location,
            now=timezone.now(),
        )
    parsed = {e.field for e in form.errors}
    return form.errors + [e for e in rule_errors if e.field not in parsed]


def errors_by_field(
    errors: list[FieldError], known: tuple[str, ...]
) -> tuple[dict[str, list[str]], list[str]]:
    """Messages per form field (each once), and those that belong to no field."""
    by_field: dict[str, list[str]] = {}
    other: list[str] = []
    for e in errors:
        if e.field in known:
            messages = by_field.setdefault(e.field, [])
            if e.message not in messages:
                messages.append(e.message)
        elif e.message not in other:
            other.append(e.message)
    return by_field, other


@dataclass
class WhenWhere:
    """The schedule and reschedule forms' date, duration and place, "schedule anyway", and the
    free time picked (without JavaScript, a pick comes back as `take_slot`)."""

    data: dict[str, Any]
    starts_at: datetime | None = None
    duration_minutes: int | None = None
    location: str = ""
    allow_conflicts: bool = False
    take_slot: str = ""
    errors: list[FieldError] = field(default_factory=list)


def parse_when_where(post: QueryDict, *, tz_name: str | None) -> WhenWhere:
    data: dict[str, Any] = {
        "starts_at": post.get("take_slot", "").strip() or post.get("starts_at", "").strip(),
        "duration_minutes": post.get("duration_minutes", "").strip(),
        "location": post.get("location", ""),
        "allow_conflicts": post.get("allow_conflicts") == "1",
    }
    when = WhenWhere(
        data=data,
        location=data["location"],
        allow_conflicts=data["allow_conflicts"],
        take_slot=post.get("take_slot", "").strip(),
    )
    when.starts_at = _one(
        data["starts_at"],
        lambda r: parse_local_input(r, tz_name),
        "starts_at",
        "Enter the session's date and time.",
        when.errors,
    )
    when.duration_minutes = _one(
        data["duration_minutes"],
        _whole,
        "duration_minutes",
        "Enter the duration as a whole number of minutes.",
        when.errors,
    )
    return when
