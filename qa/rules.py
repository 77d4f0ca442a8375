"""A coaching rule's fields and their rules (one check per field). The coach and the coaching
area are checked by the session form's own checks (`coaching.rules`), with the rule as the
supervisor: nobody to protect from self-selection, but an inactive user, a group with no active
member or an area no longer in use is refused, as it would be on the form."""

from __future__ import annotations

from dataclasses import dataclass

from coaching.rules import (
    COACH_SEAT,
    SessionFields,
    bounded_text,
    check_coach,
    check_coaching_area,
    group_active_member_ids,
    seat_errors,
)
from core.errors import FieldCode, FieldError
from directory.models import CoachingArea, User, UserGroup
from directory.parties import Party, PartyRef

from .models import (
    EXPIRES_MAX_DAYS,
    EXPIRES_MIN_DAYS,
    NAME_MAX,
    THRESHOLD_MAX,
    THRESHOLD_MIN,
    WINDOW_MAX,
    WINDOW_MIN,
    CoachingRule,
)


@dataclass
class RuleFields:
    """Input. `None` means "not given" (for an edit: keep as is)."""

    name: str | None = None
    coaching_area_id: int | None = None
    threshold: int | None = None
    window: int | None = None
    min_evaluations: int | None = None
    coach: PartyRef | None = None
    expires_in_days: int | None = None
    active: bool | None = None


@dataclass
class ResolvedRule:
    name: str
    coaching_area: CoachingArea | None
    threshold: int
    window: int
    min_evaluations: int
    coach: Party | None
    expires_in_days: int
    active: bool


# Each whole-number field: its bounds and how the messages name it.
BOUNDS: dict[str, tuple[int, int, str]] = {
    "threshold": (THRESHOLD_MIN, THRESHOLD_MAX, "the threshold score"),
    "window": (WINDOW_MIN, WINDOW_MAX, "the number of evaluations to average"),
    "min_evaluations": (WINDOW_MIN, WINDOW_MAX, "the minimum number of evaluations"),
    "expires_in_days": (
        EXPIRES_MIN_DAYS,
        EXPIRES_MAX_DAYS,
        "the number of days until a suggestion expires",
    ),
}


def _bounded(
    value: int | None, current: int | None, *, field: str, low: int, high: int, what: str
) -> tuple[int, list[FieldError]]:
    if value is None:
        if current is not None:
            return current, []
        return 0, [FieldError(field, FieldCode.REQUIRED, f"Enter {what}.")]
    if not low <= value <= high:
        msg = f"{what[0].upper()}{what[1:]} must be between {low} and {high}."
        return value, [FieldError(field, FieldCode.OUT_OF_RANGE, msg)]
    return value, []


def validate_rule_fields(
    data: RuleFields, *, current: CoachingRule | None = None, complete: bool = False
) -> tuple[ResolvedRule, list[FieldError]]:
    """Resolve and check a rule's fields. Editing (`current`), a field not given keeps its value,
    unless `complete` (the page's form shows every field: an emptied one is required)."""
    errors: list[FieldError] = []
    keep = None if complete else current
    if data.name is None and keep is not None:
        name = keep.name
    else:
        name, error = bounded_text(
            data.name, field="name", limit=NAME_MAX, name="The name", required="Enter a name."
        )
        errors += [error] if error else []
        if error is None:
            same = CoachingRule.objects.filter(name__iexact=name)
            if current is not None:
                same = same.exclude(pk=current.pk)
            if same.exists():
                msg = f"There is already a coaching rule named {name}."
                errors.append(FieldError("name", FieldCode.DUPLICATE, msg))
    numbers: dict[str, int] = {}
    for field_name, (low, high, what) in BOUNDS.items():
        value, more = _bounded(
            getattr(data, field_name),
            getattr(keep, field_name) if keep else None,
            field=field_name,
            low=low,
            high=high,
            what=what,
        )
        numbers[field_name] = value
        errors += more
    window, min_evaluations = numbers["window"], numbers["min_evaluations"]
    bounded_ok = not any(e.field in ("window", "min_evaluations") for e in errors)
    if bounded_ok and min_evaluations > window:
        msg = (
            f"The minimum number of evaluations ({min_evaluations}) may not exceed the number "
            f"averaged ({window})."
        )
        errors.append(FieldError("min_evaluations", FieldCode.OUT_OF_RANGE, msg))
    # The session form's checks, with the rule as the supervisor (author None).
    given = SessionFields(coach=data.coach, coaching_area_id=data.coaching_area_id)
    coach: Party | None
    if current is not None and (
        (data.coach is None and keep is not None) or data.coach == PartyRef.of(current.coach)
    ):
        coach = current.coach
    else:
        coach = check_coach(given, None, errors)
    if coach is not None:
        group_ids = [coach.pk] if isinstance(coach, UserGroup) else []
        errors += seat_errors(
            coach, COACH_SEAT, author=None, members=group_active_member_ids(group_ids)
        )
    if current is not None and (
        (data.coaching_area_id is None and keep is not None)
        or data.coaching_area_id == current.coaching_area_id
    ):
        area: CoachingArea | None = current.coaching_area
    else:
        area = check_coaching_area(given, None, errors)
    return (
        ResolvedRule(
            name=name,
            coaching_area=area,
            threshold=numbers["threshold"],
            window=window,
            min_evaluations=min_evaluations,
            coach=coach,
            expires_in_days=numbers["expires_in_days"],
            active=data.active if data.active is not None else (keep.active if keep else True),
        ),
        errors,
    )


def coach_user(coach: Party | None) -> User | None:
    return coach if isinstance(coach, User) else None


def coach_group(coach: Party | None) -> UserGroup | None:
    return coach if isinstance(coach, UserGroup) else None
