"""The suggestion form's rules, in one place.

The suggestion form, the edit form, the schedule step (pages and API alike) all call
`validate_session_fields`. Each rule yields a `FieldError` naming the field, a stable code and a
sentence naming the person or group concerned. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from core.errors import FieldCode, FieldError
from core.timeutils import max_expiry, months_from_now
from directory.models import Case, CoachingArea, User, UserGroup, UserGroupMembership
from directory.parties import Party, PartyRef

from .models import Origin

TITLE_MAX = 200
REASON_MAX = 1000
LOCATION_MAX = 200
DURATION_MIN, DURATION_MAX = 5, 360
TRAINEES_MAX = 200
CASES_MAX = 50
NOTES_MAX = 5000
ACTION_ITEMS_MAX = 20
ACTION_ITEM_MAX = 500
COMMENT_MAX = 1000


@dataclass
class SessionFields:
    """Form input. `None` means "not given" (for edits and schedule overrides: keep as is)."""

    title: str | None = None
    coach: PartyRef | None = None
    trainees: Sequence[PartyRef] | None = None
    coaching_area_id: int | None = None
    expires_at: datetime | None = None
    reference_case_ids: Sequence[int] | None = None

    def given(self) -> set[str]:
        return {name for name in self.__dataclass_fields__ if getattr(self, name) is not None}


@dataclass
class ResolvedFields:
    title: str = ""
    coach_user: User | None = None
    coach_group: UserGroup | None = None
    trainee_users: list[User] = field(default_factory=list)
    trainee_groups: list[UserGroup] = field(default_factory=list)
    coaching_area: CoachingArea | None = None
    expires_at: datetime | None = None
    reference_cases: list[Case] = field(default_factory=list)


def group_active_member_ids(group_ids: Iterable[int]) -> dict[int, set[int]]:
    """Active members of each group, read now (membership counts at the moment of the request)."""
    members: dict[int, set[int]] = {gid: set() for gid in group_ids}
    if not members:
        return members
    rows = UserGroupMembership.objects.filter(
        group_id__in=list(members), user__is_active=True
    ).values_list("group_id", "user_id")
    for gid, uid in rows:
        members[gid].add(uid)
    return members


def _has_nul(text: str) -> bool:
    # No database stores NUL in text (PostgreSQL refuses it); a page's form may still send one.
    return "\x00" in text


def bounded_text(
    raw: str | None, *, field: str, limit: int, name: str, required: str | None = None
) -> tuple[str, FieldError | None]:
    """Free text trimmed, required (when `required` gives the message) and at most `limit`
    characters; `name` opens the too-long message ("The title", "The notes")."""
    text = (raw or "").strip()
    are = name.endswith("s") and not name.endswith("ss")
    if _has_nul(text):
        return text, FieldError(
            field, FieldCode.INVALID, f"{name} contain{'' if are else 's'} a NUL character."
        )
    if not text:
        return text, FieldError(field, FieldCode.REQUIRED, required) if required else None
    if len(text) > limit:
        return text, FieldError(
            field,
            FieldCode.TOO_LONG,
            f"{name} {'are' if are else 'is'} {len(text)} characters long; "
            f"{'they' if are else 'it'} may have at most {limit}.",
        )
    return text, None


def clean_title(raw: str | None, errors: list[FieldError]) -> str:
    title, error = bounded_text(
        raw, field="title", limit=TITLE_MAX, name="The title", required="Enter a title."
    )
    errors += [error] if error else []
    return title


def clean_reason(raw: str | None, *, doing: str = "declining") -> tuple[str, list[FieldError]]:
    reason, error = bounded_text(
        raw,
        field="reason",
        limit=REASON_MAX,
        name="The reason",
        required=f"Enter a reason for {doing}.",
    )
    return reason, [error] if error else []


def clean_origin(raw: str) -> list[FieldError]:
    """The page a suggestion was started from: one of `Origin`, but not `rule` (only a coaching
    rule makes those, without an author)."""
    if raw == Origin.RULE:
        msg = "Only a coaching rule makes suggestions of origin rule."
        return [FieldError("origin", FieldCode.INVALID, msg)]
    if raw in Origin.values:
        return []
    return [FieldError("origin", FieldCode.INVALID, f"Unknown origin {raw!r}.")]


def clean_expiry(
    expires_at: datetime | None, *, tz_name: str | None, now: datetime, errors: list[FieldError]
) -> datetime | None:
    if expires_at is None:
        errors.append(FieldError("expires_at", FieldCode.REQUIRED, "Enter an expiry time."))
        return None
    if timezone.is_naive(expires_at):
        errors.append(
            FieldError("expires_at", FieldCode.INVALID, "Give the expiry time with its time zone.")
        )
        return None
    if expires_at <= now:
        errors.append(
            FieldError("expires_at", FieldCode.IN_PAST, "The expiry time must be in the future.")
        )
    elif expires_at > max_expiry(tz_name=tz_name, now=now):
        months = settings.COACHING_MAX_EXPIRY_MONTHS
        errors.append(
            FieldError(
                "expires_at",
                FieldCode.TOO_FAR,
                f"The expiry time may be at most {months} months from now.",
            )
        )
    return expires_at


def clean_schedule(
    *, starts_at: datetime | None, duration_minutes: int | None, location: str | None, now: datetime
) -> list[FieldError]:
    errors: list[FieldError] = []
    if starts_at is None:
        errors.append(
            FieldError("starts_at", FieldCode.REQUIRED, "Enter the session's date and time.")
        )
    elif timezone.is_naive(starts_at):
        errors.append(
            FieldError("starts_at", FieldCode.INVALID, "Give the start time with its time zone.")
        )
    elif starts_at <= now:
        errors.append(
            FieldError("starts_at", FieldCode.IN_PAST, "The session must start in the future.")
        )
    elif starts_at > months_from_now(settings.COACHING_MAX_SCHEDULE_MONTHS, now=now):
        months = settings.COACHING_MAX_SCHEDULE_MONTHS
        errors.append(
            FieldError(
                "starts_at",
                FieldCode.TOO_FAR,
                f"The session may start at most {months} months from now.",
            )
        )
    if duration_minutes is None:
        errors.append(
            FieldError("duration_minutes", FieldCode.REQUIRED, "Enter the duration in minutes.")
        )
    elif not DURATION_MIN <= duration_minutes <= DURATION_MAX:
        errors.append(
            FieldError(
                "duration_minutes",
                FieldCode.OUT_OF_RANGE,
                f"The duration must be between {DURATION_MIN} and {DURATION_MAX} minutes.",
            )
        )
    if location and _has_nul(location):
        errors.append(
            FieldError("location", FieldCode.INVALID, "The location contains a NUL character.")
        )
    elif location and len(location) > LOCATION_MAX:
        errors.append(
            FieldError(
                "location",
                FieldCode.TOO_LONG,
                f"The location may have at most {LOCATION_MAX} characters.",
            )
        )
    return errors


# --- who may sit where: the seed's self-selection rule, once for both seats -----------------------
@dataclass(frozen=True)
class Seat:
    """Coach or trainee, as the self-selection rule speaks of them."""

    field: str
    in_person: FieldCode  # the author picked themselves
    only_member: FieldCode  # the author picked a group of which they are the only active member
    as_person: str  # how the messages name the seat
    as_group: str


COACH_SEAT = Seat(
    "coach",
    FieldCode.SUPERVISOR_CANNOT_BE_COACH,
    FieldCode.COACH_GROUP_ONLY_SUPERVISOR,
    "its coach",
    "the coach",
)
TRAINEE_SEAT = Seat(
    "trainees",
    FieldCode.SUPERVISOR_CANNOT_BE_TRAINEE,
    FieldCode.TRAINEE_GROUP_ONLY_SUPERVISOR,
    "a trainee",
    "a trainee",
)


def seat_errors(
    party: Party, seat: Seat, *, author: User | None, members: dict[int, set[int]]
) -> list[FieldError]:
    """The author may not take a seat, in person or as the only active member of a group; and a
    group with no active member seats nobody. `members` holds each group's active members."""
    if isinstance(party, UserGroup):
        active = members.get(party.pk, set())
        if not active:
            msg = f"The group {party.name} has no active members."
            return [FieldError(seat.field, FieldCode.EMPTY_GROUP, msg)]
        if author is not None and active == {author.pk}:
            msg = (
                f"The group {party.name} has only {author}, who suggested this session, "
                f"so it cannot be {seat.as_group}."
            )
            return [FieldError(seat.field, seat.only_member, msg)]
    elif author is not None and party.pk == author.pk:
        msg = f"{author} suggested this session and cannot also be {seat.as_person}."
        return [FieldError(seat.field, seat.in_person, msg)]
    return []


def _same_party(a: Party, b: Party) -> bool:
    return type(a) is type(b) and a.pk == b.pk


def seating_errors(
    coach: Party | None, trainees: Sequence[Party], *, author: User | None
) -> list[FieldError]:
    """Coach and trainees against the author and against each other, with group membership as it
    is now."""
    members = group_active_member_ids(p.pk for p in [coach, *trainees] if isinstance(p, UserGroup))
    errors = seat_errors(coach, COACH_SEAT, author=author, members=members) if coach else []
    for trainee in trainees:
        errors += seat_errors(trainee, TRAINEE_SEAT, author=author, members=members)
        if coach is not None and _same_party(coach, trainee):
            name = f"The group {trainee.name}" if isinstance(trainee, UserGroup) else str(trainee)
            msg = f"{name} cannot be both the coach and a trainee."
            errors.append(FieldError("trainees", FieldCode.COACH_IS_ALSO_TRAINEE, msg))
    return errors


# --- one check per field -------------------------------------------------------------------------
def _resolve_parties(
    refs: Sequence[PartyRef], field_name: str, errors: list[FieldError]
) -> list[Party]:
    """The users and groups picked, in order; unknown ids and inactive users are errors."""
    users = User.objects.in_bulk([r.id for r in refs if r.type == "user"])
    groups = UserGroup.objects.in_bulk([r.id for r in refs if r.type == "group"])
    resolved: list[Party] = []
    for ref in refs:
        obj = (users if ref.type == "user" else groups).get(ref.id)
        if obj is None:
            msg = f"There is no {ref.type} with id {ref.id}."
            errors.append(FieldError(field_name, FieldCode.UNKNOWN_ID, msg))
        elif isinstance(obj, User) and not obj.is_active:
            msg = f"{obj} is no longer active and cannot be picked."
            errors.append(FieldError(field_name, FieldCode.INACTIVE, msg))
        else:
            resolved.append(obj)
    return resolved


def check_title(
    data: SessionFields, current: ResolvedFields | None, errors: list[FieldError]
) -> str:
    if data.title is None and current is not None:
        return current.title
    return clean_title(data.title, errors)


def check_coach(
    data: SessionFields, current: ResolvedFields | None, errors: list[FieldError]
) -> Party | None:
    if data.coach is not None:
        found = _resolve_parties([data.coach], "coach", errors)
        return found[0] if found else None
    if current is not None:
        return current.coach_user or current.coach_group
    msg = "Pick a coach: one user or one user group."
    errors.append(FieldError("coach", FieldCode.REQUIRED, msg))
    return None


def check_trainees(
    data: SessionFields, current: ResolvedFields | None, errors: list[FieldError]
) -> list[Party]:
    if data.trainees is None:
        if current is not None:
            return [*current.trainee_users, *current.trainee_groups]
        errors.append(FieldError("trainees", FieldCode.REQUIRED, "Pick at least one trainee."))
        return []
    refs = list(data.trainees)
    if not refs:
        errors.append(FieldError("trainees", FieldCode.REQUIRED, "Pick at least one trainee."))
    if len(refs) > TRAINEES_MAX:
        msg = f"Pick at most {TRAINEES_MAX} trainees."
        errors.append(FieldError("trainees", FieldCode.TOO_LONG, msg))
    unique: dict[PartyRef, None] = {}
    for ref in refs:
        if ref in unique:
            msg = f"The {ref.type} with id {ref.id} is picked twice."
            errors.append(FieldError("trainees", FieldCode.DUPLICATE, msg))
        unique[ref] = None
    return _resolve_parties(list(unique), "trainees", errors)


def check_coaching_area(
    data: SessionFields, current: ResolvedFields | None, errors: list[FieldError]
) -> CoachingArea | None:
    """An active coaching area; a stored one that has since gone out of use may be kept."""
    if data.coaching_area_id is None:
        if current is not None:
            return current.coaching_area
        errors.append(FieldError("coaching_area_id", FieldCode.REQUIRED, "Pick a coaching area."))
        return None
    area = CoachingArea.objects.filter(pk=data.coaching_area_id).first()
    if area is None:
        msg = f"There is no coaching area with id {data.coaching_area_id}."
        errors.append(FieldError("coaching_area_id", FieldCode.UNKNOWN_ID, msg))
    elif not area.is_active and (current is None or area != current.coaching_area):
        msg = f"The coaching area {area.name} is no longer in use."
        errors.append(FieldError("coaching_area_id", FieldCode.INACTIVE, msg))
    return area


def check_expiry(
    data: SessionFields,
    current: ResolvedFields | None,
    errors: list[FieldError],
    *,
    tz_name: str | None,
    now: datetime,
    required: bool,
) -> datetime | None:
    """Ahead, within the limit; an unchanged stored expiry is kept as it is (even if near)."""
    if data.expires_at is not None and (current is None or data.expires_at != current.expires_at):
        return clean_expiry(data.expires_at, tz_name=tz_name, now=now, errors=errors)
    if current is not None:
        return current.expires_at
    if required:
        errors.append(FieldError("expires_at", FieldCode.REQUIRED, "Enter an expiry time."))
    return None


def check_reference_cases(
    data: SessionFields, current: ResolvedFields | None, errors: list[FieldError]
) -> list[Case]:
    if data.reference_case_ids is None:
        return list(current.reference_cases) if current is not None else []
    ids = list(data.reference_case_ids)
    if len(ids) > CASES_MAX:
        msg = f"Pick at most {CASES_MAX} cases."
        errors.append(FieldError("reference_case_ids", FieldCode.TOO_LONG, msg))
    if len(set(ids)) != len(ids):
        msg = "A reference case is picked twice."
        errors.append(FieldError("reference_case_ids", FieldCode.DUPLICATE, msg))
    found = Case.objects.in_bulk(ids)
    cases: list[Case] = []
    for case_id in dict.fromkeys(ids):
        if case_id in found:
            cases.append(found[case_id])
        else:
            msg = f"There is no case with id {case_id}."
            errors.append(FieldError("reference_case_ids", FieldCode.UNKNOWN_ID, msg))
    return cases


def validate_session_fields(
    data: SessionFields,
    *,
    author: User | None,
    actor_tz: str | None,
    now: datetime | None = None,
    current: ResolvedFields | None = None,
    require_expiry: bool = True,
) -> tuple[ResolvedFields, list[FieldError]]:
    """Resolve and check the form's six fields, each by its own check, then the seating rules.

    `current` holds the stored values when editing or scheduling: a field not given keeps its
    value, and only a changed coaching area or expiry is re-checked for being active / ahead.
    Coach and trainee rules always run on the final values, against group membership as it is now.
    `author` is the suggestion's author (None once they were removed from the directory, or for a
    suggestion nobody authored: the author rules then have nobody to protect).
    """
    now = now or timezone.now()
    errors: list[FieldError] = []
    title = check_title(data, current, errors)
    coach = check_coach(data, current, errors)
    trainees = check_trainees(data, current, errors)
    errors += seating_errors(coach, trainees, author=author)
    area = check_coaching_area(data, current, errors)
    expires_at = check_expiry(
        data, current, errors, tz_name=actor_tz, now=now, required=require_expiry
    )
    cases = check_reference_cases(data, current, errors)
    resolved = ResolvedFields(
        title=title,
        coach_user=coach if isinstance(coach, User) else None,
        coach_group=coach if isinstance(coach, UserGroup) else None,
        trainee_users=[t for t in trainees if isinstance(t, User)],
        trainee_groups=[t for t in trainees if isinstance(t, UserGroup)],
        coaching_area=area,
        expires_at=expires_at,
        reference_cases=cases,
    )
    return resolved, errors


def clean_completion(
    notes: str | None, action_items: Sequence[str] | None
) -> tuple[str, list[str], list[FieldError]]:
    """Completion: notes required (1-5000 characters), at most 20 action items of 1-500."""
    text, error = bounded_text(
        notes,
        field="notes",
        limit=NOTES_MAX,
        name="The notes",
        required="Enter the session's notes.",
    )
    errors = [error] if error else []
    raw_items = list(action_items or [])
    if len(raw_items) > ACTION_ITEMS_MAX:
        errors.append(
            FieldError(
                "action_items", FieldCode.TOO_LONG, f"Give at most {ACTION_ITEMS_MAX} action items."
            )
        )
    items: list[str] = []
    for i, raw in enumerate(raw_items):
        item, error = bounded_text(
            raw,
            field=f"action_items[{i}]",
            limit=ACTION_ITEM_MAX,
            name=f"Action item {i + 1}",
            required=f"Action item {i + 1} is empty.",
        )
        items.append(item)
        errors += [error] if error else []
    return text, items, errors


def clean_comment(raw: str | None) -> tuple[str, list[FieldError]]:
    comment, error = bounded_text(raw, field="comment", limit=COMMENT_MAX, name="The comment")
    return comment, [error] if error else []
