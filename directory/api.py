"""Directory reads for pickers and integrations, and removing a user (QM Admin)."""

from __future__ import annotations

from django.http import HttpResponse
from ninja import Query, Router, Schema
from pydantic import BaseModel, Field

from config.api_common import (
    SEARCH_DESCRIPTION,
    SEARCH_MAX,
    Id,
    Limit,
    Offset,
    Text,
    page,
    problems,
)
from core.errors import NotFound
from core.http import AuthenticatedRequest
from core.plans import custom_plans
from directory import selectors
from directory.models import User, UserGroup
from directory.policies import access_case
from directory.schemas import (
    CaseDetailOut,
    CasePage,
    CoachingAreaPage,
    UserGroupDetailOut,
    UserGroupPage,
    UserPage,
)
from directory.services import profile_set_working_hours, user_deactivate
from directory.working_hours import DAYS, stored_or_default

router = Router(tags=["directory"])

Search = Query("", max_length=SEARCH_MAX, description=SEARCH_DESCRIPTION)
IncludeInactive = Query(False, description="Also list users removed from the directory.")


@router.get("/users", response={200: UserPage, **problems(400, 401, 422)})
def list_users(
    request: AuthenticatedRequest,
    search: Text = Search,
    include_inactive: bool = IncludeInactive,
    limit: int = Limit,
    offset: int = Offset,
) -> dict[str, object]:
    """Users by display name or username, ordered by display name."""
    qs = selectors.search_users(search, active_only=not include_inactive)
    with custom_plans():
        items, count = page(qs, limit=limit, offset=offset)
    return {"items": items, "count": count}


@router.delete("/users/{id}", response={204: None, **problems(400, 401, 403, 404, 422)})
def delete_user(request: AuthenticatedRequest, id: Id) -> HttpResponse:
    """Remove a user from the directory (QM Admin only): the account is deactivated, history keeps
    the name, and their open suggestions stay as they are."""
    user_deactivate(actor=request.auth, user_id=id)
    return HttpResponse(status=204)


@router.get("/user-groups", response={200: UserGroupPage, **problems(400, 401, 422)})
def list_user_groups(
    request: AuthenticatedRequest, search: Text = Search, limit: int = Limit, offset: int = Offset
) -> dict[str, object]:
    """User groups (pickable as coach or trainees), ordered by name, with their active members."""
    qs = selectors.with_member_count(selectors.search_groups(search))
    with custom_plans():
        items, count = page(qs, limit=limit, offset=offset)
    return {"items": items, "count": count}


@router.get("/user-groups/{id}", response={200: UserGroupDetailOut, **problems(400, 401, 404, 422)})
def get_user_group(request: AuthenticatedRequest, id: Id) -> dict[str, object]:
    group = selectors.with_member_count(UserGroup.objects.filter(pk=id)).first()
    if group is None:
        raise NotFound(f"There is no user group with id {id}.")
    return {
        "id": group.pk,
        "name": group.name,
        "member_count": group.member_count,  # type: ignore[attr-defined]  # annotated
        "members": list(selectors.group_members(group)),
    }


@router.get("/cases", response={200: CasePage, **problems(400, 401, 422)})
def list_cases(
    request: AuthenticatedRequest, search: Text = Search, limit: int = Limit, offset: int = Offset
) -> dict[str, object]:
    """Cases by number or subject, newest first. Without View Analytics, only one's own cases."""
    qs = selectors.search_cases(search, viewer=request.auth)
    with custom_plans():
        items, count = page(qs, limit=limit, offset=offset)
    return {"items": items, "count": count}


@router.get("/cases/{id}", response={200: CaseDetailOut, **problems(400, 401, 404, 422)})
def get_case(request: AuthenticatedRequest, id: Id) -> dict[str, object]:
    """One case with its participants (404 for a case the caller may not open)."""
    case = access_case(request.auth, id, hide=True)
    return {
        "id": case.pk,
        "number": case.number,
        "subject": case.subject,
        "participants": [
            {"user": p.user, "role": p.role} for p in selectors.case_participants(case)
        ],
    }


@router.get("/coaching-areas", response={200: CoachingAreaPage, **problems(400, 401, 422)})
def list_coaching_areas(
    request: AuthenticatedRequest, search: Text = Search, limit: int = Limit, offset: int = Offset
) -> dict[str, object]:
    """Coaching areas in use, ordered by name."""
    qs = selectors.active_coaching_areas()
    if search.strip():
        qs = qs.filter(name__icontains=search.strip())
    items, count = page(qs, limit=limit, offset=offset)
    return {"items": items, "count": count}


class WorkingHoursIn(BaseModel):
    time_zone: Text | None = Field(
        None, description="An IANA zone such as Europe/Berlin; left out: unchanged."
    )
    days: dict[str, list[list[Text]]] = Field(
        description='Per weekday (mon ... sun), [start, end) ranges as "HH:MM"; [] = not working.'
    )


class WorkingHoursOut(Schema):
    time_zone: str
    days: dict[str, list[list[str]]]


def _hours_out(user: User) -> dict[str, object]:
    hours = stored_or_default(user.working_hours)
    return {"time_zone": user.time_zone, "days": {d: hours[d] for d in DAYS}}


@router.get("/me/working-hours", response={200: WorkingHoursOut, **problems(401)})
def my_working_hours(request: AuthenticatedRequest) -> dict[str, object]:
    """Your working hours, in your own time zone; free-slot proposals keep inside a coach's."""
    return _hours_out(request.auth)


@router.put("/me/working-hours", response={200: WorkingHoursOut, **problems(400, 401, 403, 422)})
def set_my_working_hours(
    request: AuthenticatedRequest, payload: WorkingHoursIn
) -> dict[str, object]:
    """Replace your working hours (a weekday left out is a day off), and your time zone if given."""
    user = profile_set_working_hours(
        actor=request.auth,
        days=payload.days,
        time_zone=payload.time_zone,
    )
    return _hours_out(user)
