"""The suggestion form's rules, in one place.

The suggestion form, the edit form, the schedule step (pages and API alike) all call
`validate_session_fields`. Each rule yields a `FieldError` naming the field, a stable code and a
sentence naming the person or group concerned. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from django.conf import settings
from django.utils import timezone

from core.errors import FieldCode, FieldError
from core.timeutils import max_expiry
from directory.models import Case, CoachingArea, User, UserGroup, UserGroupMembership

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

PartyType = Literal["user", "group"]


@dataclass(frozen=True)
class PartyRef:
    """A user or a user group, as picked in the form: `{"type": "user"|"group", "id": n}`."""

    type: PartyType
    id: int

    @classmethod
    def of(cls, obj: User | UserGroup) -> PartyRef:
        return cls("group" if isinstance(obj, UserGroup) else "user", obj.pk)

    @classmethod
    def parse(cls, token: str) -> PartyRef:
        """Parse the pages' `user:12` / `group:3` tokens."""
        kind, _, raw = token.partition(":")
        if kind not in ("user", "group") or not raw.isdigit():
            raise ValueError(token)
        return cls(kind, int(raw))  # type: ignore[arg-type]

    @property
    def token(self) -> str:
        return f"{self.type}:{self.id}"


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


def clean_title(raw: str | None, errors: list[FieldError]) -> str:
    title = (raw or "").strip()
    if not title:
        errors.append(FieldError("title", FieldCode.REQUIRED, "Enter a title."))
    elif len(title) > TITLE_MAX:
        errors.append(
            FieldError(
                "title",
                FieldCode.TOO_LONG,
                f"The title is {len(title)} characters long; it may have at most {TITLE_MAX}.",
            )
        )
    return title


def clean_reason(raw: str | None, *, doing: str = "declining") -> tuple[str, list[FieldError]]:
    reason = (raw or "").strip()
    if not reason:
        return reason, [FieldError("reason", FieldCode.REQUIRED, f"Enter a reason for {doing}.")]
    if len(reason) > REASON_MAX:
        return reason, [
            FieldError(
                "reason",
                FieldCode.TOO_LONG,
                f"The reason is {len(reason)} characters long; it may have at most {REASON_MAX}.",
            )
        ]
    return reason, []


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
    if location and len(location) > LOCATION_MAX:
        errors.append(
            FieldError(
                "location",
                FieldCode.TOO_LONG,
                f"The location may have at most {LOCATION_MAX} characters.",
            )
        )
    return errors


def _party_name(obj: User | UserGroup) -> str:
    return f"the group {obj.name}" if isinstance(obj, UserGroup) else str(obj)


def _resolve_parties(
    refs: Sequence[PartyRef], field_name: str, errors: list[FieldError], *, check_active: bool
) -> list[User | UserGroup]:
    user_ids = [r.id for r in refs if r.type == "user"]
    group_ids = [r.id for r in refs if r.type == "group"]
    users = User.objects.in_bulk(user_ids)
    groups = UserGroup.objects.in_bulk(group_ids)
    resolved: list[User | UserGroup] = []
    for ref in refs:
        obj = (users if ref.type == "user" else groups).get(ref.id)
        if obj is None:
            errors.append(
                FieldError(
                    field_name, FieldCode.UNKNOWN_ID, f"There is no {ref.type} with id {ref.id}."
                )
            )
            continue
        if check_active and isinstance(obj, User) and not obj.is_active:
            errors.append(
                FieldError(
                    field_name,
                    FieldCode.INACTIVE,
                    f"{obj} is no longer active and cannot be picked.",
                )
            )
            continue
        resolved.append(obj)
    return resolved


def validate_session_fields(
    data: SessionFields,
    *,
    author: User | None,
    actor_tz: str | None,
    now: datetime | None = None,
    current: ResolvedFields | None = None,
    require_expiry: bool = True,
) -> tuple[ResolvedFields, list[FieldError]]:
    """Resolve and check the form's six fields.

    `current` holds the stored values when editing or scheduling: a field not given keeps its
    value, and only a changed coaching area or expiry is re-checked for being active / ahead.
    Coach and trainee rules always run on the final values, against group membership as it is now.
    `author` is the suggestion's author (None once they were removed from the directory, when the
    author rules have nobody to protect).
    """
    now = now or timezone.now()
    errors: list[FieldError] = []
    out = ResolvedFields()
    given = data.given()
    base = current or ResolvedFields()

    # Title
    out.title = (
        clean_title(data.title, errors) if "title" in given or current is None else base.title
    )

    # Coach
    coach: User | UserGroup | None
    if data.coach is not None:
        found = _resolve_parties([data.coach], "coach", errors, check_active=True)
        coach = found[0] if found else None
    elif current is not None:
        coach = base.coach_user or base.coach_group
    else:
        coach = None
        errors.append(
            FieldError("coach", FieldCode.REQUIRED, "Pick a coach: one user or one user group.")
        )

    # Trainees
    trainees: list[User | UserGroup]
    if data.trainees is not None:
        refs = list(data.trainees)
        if not refs:
            errors.append(FieldError("trainees", FieldCode.REQUIRED, "Pick at least one trainee."))
        if len(refs) > TRAINEES_MAX:
            errors.append(
                FieldError("trainees", FieldCode.TOO_LONG, f"Pick at most {TRAINEES_MAX} trainees.")
            )
        seen: set[PartyRef] = set()
        unique: list[PartyRef] = []
        for ref in refs:
            if ref in seen:
                errors.append(
                    FieldError(
                        "trainees",
                        FieldCode.DUPLICATE,
                        f"The {ref.type} with id {ref.id} is picked twice.",
                    )
                )
            else:
                seen.add(ref)
                unique.append(ref)
        trainees = _resolve_parties(unique, "trainees", errors, check_active=True)
    elif current is not None:
        trainees = [*base.trainee_users, *base.trainee_groups]
    else:
        trainees = []
        errors.append(FieldError("trainees", FieldCode.REQUIRED, "Pick at least one trainee."))

    # Who is who, read now.
    group_ids = [p.pk for p in [coach, *trainees] if isinstance(p, UserGroup)]
    members = group_active_member_ids(group_ids)
    author_id = author.pk if author is not None else None

    if coach is not None:
        if isinstance(coach, UserGroup):
            coach_members = members.get(coach.pk, set())
            if not coach_members:
                errors.append(
                    FieldError(
                        "coach",
                        FieldCode.EMPTY_GROUP,
                        f"The group {coach.name} has no active members.",
                    )
                )
            elif author_id is not None and coach_members == {author_id}:
                errors.append(
                    FieldError(
                        "coach",
                        FieldCode.COACH_GROUP_ONLY_SUPERVISOR,
                        f"The group {coach.name} has only {author}, who suggested this session, "
                        "so it cannot be the coach.",
                    )
                )
            out.coach_group = coach
        else:
            if author_id is not None and coach.pk == author_id:
                errors.append(
                    FieldError(
                        "coach",
                        FieldCode.SUPERVISOR_CANNOT_BE_COACH,
                        f"{author} suggested this session and cannot also be its coach.",
                    )
                )
            out.coach_user = coach

    for trainee in trainees:
        if isinstance(trainee, UserGroup):
            trainee_members = members.get(trainee.pk, set())
            if not trainee_members:
                errors.append(
                    FieldError(
                        "trainees",
                        FieldCode.EMPTY_GROUP,
                        f"The group {trainee.name} has no active members.",
                    )
                )
            elif author_id is not None and trainee_members == {author_id}:
                errors.append(
                    FieldError(
                        "trainees",
                        FieldCode.TRAINEE_GROUP_ONLY_SUPERVISOR,
                        f"The group {trainee.name} has only {author}, who suggested this session, "
                        "so it cannot be a trainee.",
                    )
                )
            out.trainee_groups.append(trainee)
        else:
            if author_id is not None and trainee.pk == author_id:
                errors.append(
                    FieldError(
                        "trainees",
                        FieldCode.SUPERVISOR_CANNOT_BE_TRAINEE,
                        f"{author} suggested this session and cannot also be a trainee.",
                    )
                )
            out.trainee_users.append(trainee)
        if coach is not None and type(coach) is type(trainee) and coach.pk == trainee.pk:
            errors.append(
                FieldError(
                    "trainees",
                    FieldCode.COACH_IS_ALSO_TRAINEE,
                    f"{_party_name(trainee)[0].upper()}{_party_name(trainee)[1:]} cannot be both "
                    "the coach and a trainee.",
                )
            )

    # Coaching area
    if data.coaching_area_id is not None:
        area = CoachingArea.objects.filter(pk=data.coaching_area_id).first()
        if area is None:
            errors.append(
                FieldError(
                    "coaching_area_id",
                    FieldCode.UNKNOWN_ID,
                    f"There is no coaching area with id {data.coaching_area_id}.",
                )
            )
        elif not area.is_active and (current is None or area != base.coaching_area):
            errors.append(
                FieldError(
                    "coaching_area_id",
                    FieldCode.INACTIVE,
                    f"The coaching area {area.name} is no longer in use.",
                )
            )
        out.coaching_area = area
    elif current is not None:
        out.coaching_area = base.coaching_area
    else:
        errors.append(FieldError("coaching_area_id", FieldCode.REQUIRED, "Pick a coaching area."))

    # Expiry
    if data.expires_at is not None and (current is None or data.expires_at != base.expires_at):
        out.expires_at = clean_expiry(data.expires_at, tz_name=actor_tz, now=now, errors=errors)
    elif current is not None:
        out.expires_at = base.expires_at
    elif require_expiry:
        errors.append(FieldError("expires_at", FieldCode.REQUIRED, "Enter an expiry time."))

    # Reference cases
    if data.reference_case_ids is not None:
        ids = list(data.reference_case_ids)
        if len(ids) > CASES_MAX:
            errors.append(
                FieldError(
                    "reference_case_ids", FieldCode.TOO_LONG, f"Pick at most {CASES_MAX} cases."
                )
            )
        if len(set(ids)) != len(ids):
            errors.append(
                FieldError(
                    "reference_case_ids", FieldCode.DUPLICATE, "A reference case is picked twice."
                )
            )
        cases = Case.objects.in_bulk(ids)
        for case_id in dict.fromkeys(ids):
            case = cases.get(case_id)
            if case is None:
                errors.append(
                    FieldError(
                        "reference_case_ids",
                        FieldCode.UNKNOWN_ID,
                        f"There is no case with id {case_id}.",
                    )
                )
            else:
                out.reference_cases.append(case)
    elif current is not None:
        out.reference_cases = list(base.reference_cases)

    return out, errors


def clean_completion(
    notes: str | None, action_items: Sequence[str] | None
) -> tuple[str, list[str], list[FieldError]]:
    """Completion: notes required (1-5000 characters), at most 20 action items of 1-500."""
    errors: list[FieldError] = []
    text = (notes or "").strip()
    if not text:
        errors.append(FieldError("notes", FieldCode.REQUIRED, "Enter the session's notes."))
    elif len(text) > NOTES_MAX:
        errors.append(
            FieldError(
                "notes",
                FieldCode.TOO_LONG,
                f"The notes are {len(text)} characters long; they may have at most {NOTES_MAX}.",
            )
        )
    items = [(item or "").strip() for item in (action_items or [])]
    if len(items) > ACTION_ITEMS_MAX:
        errors.append(
            FieldError(
                "action_items", FieldCode.TOO_LONG, f"Give at most {ACTION_ITEMS_MAX} action items."
            )
        )
    for i, item in enumerate(items):
        if not item:
            errors.append(
                FieldError(
                    f"action_items[{i}]", FieldCode.REQUIRED, f"Action item {i + 1} is empty."
                )
            )
        elif len(item) > ACTION_ITEM_MAX:
            errors.append(
                FieldError(
                    f"action_items[{i}]",
                    FieldCode.TOO_LONG,
                    f"Action item {i + 1} may have at most {ACTION_ITEM_MAX} characters.",
                )
            )
    return text, items, errors


def clean_comment(raw: str | None) -> tuple[str, list[FieldError]]:
    comment = (raw or "").strip()
    if len(comment) > COMMENT_MAX:
        return comment, [
            FieldError(
                "comment",
                FieldCode.TOO_LONG,
                f"The comment may have at most {COMMENT_MAX} characters.",
            )
        ]
    return comment, []
