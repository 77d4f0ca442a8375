"""Coaching sessions over HTTP: each endpoint is one selector or one service call."""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpResponse
from django.utils import timezone
from ninja import Header, Query, Router, Schema, Status
from pydantic import Field

from coaching import availability, selectors, services
from coaching.availability import FREE_SLOTS_LIMIT_MAX
from coaching.models import CoachingSession, State
from coaching.policies import access_session, require_view_suggestions, suggest_denial
from coaching.rules import DURATION_MAX, DURATION_MIN
from coaching.schemas import (
    AcknowledgeIn,
    CancelIn,
    CompleteIn,
    ConflictOut,
    DeclineIn,
    EditIn,
    FreeSlotsOut,
    HistoryOut,
    PrefillOut,
    RescheduleIn,
    ScheduleIn,
    SessionOut,
    SessionPage,
    SuggestIn,
    event_out,
    prefill_out,
    session_out,
)
from config.api_common import (
    Id,
    InputTime,
    Limit,
    Offset,
    Problem,
    answer_json,
    problems,
)
from core.errors import FieldCode, FieldError, ValidationFailed
from core.http import AuthenticatedRequest
from directory import feed_keys
from directory.models import User
from directory.policies import access_agent, access_case
from directory.services import calendar_feed_rotate
from qa.api_reports import SessionEffectOut, session_effect_out

router = Router(tags=["coaching sessions"])

IF_MATCH_DESCRIPTION = (
    'The session\'s `version` as an entity tag, e.g. `"3"`; a mismatch answers 412.'
)

SuggestedByFilter = Query(None, description="`me`: the ones I suggested.")
CoachFilter = Query(None, description="`me`: the ones I coach, directly or through a user group.")
TraineeFilter = Query(
    None, description="User id: sessions where they are a trainee (directly or via a group)."
)
CaseFilter = Query(None, description="Case id: sessions referencing that case.")
StateFilter = Query(None, description="An expired suggestion counts as canceled.")
PrefillAgent = Query(None, description="Agent Analytics: that agent as trainee.")
PrefillCase = Query(
    None, description="Case Analytics: its participants as trainees, the case as reference."
)
IfMatch = Header(None, alias="If-Match", description=IF_MATCH_DESCRIPTION)


class ConflictProblem(Problem):
    conflicts: list[ConflictOut] = Field(
        default_factory=list, description="With code schedule_conflict: each clash."
    )


CONFLICT_PROBLEMS = {**problems(400, 401, 403, 404, 422), 409: ConflictProblem}


def _reloaded(viewer: User, session_id: int) -> dict[str, Any]:
    """The session as the service left it, with everything the answer shows loaded at once.
    Not through `access_session`: a trainee who just declined may no longer see it, yet gets the
    answer."""
    session = selectors.with_related(CoachingSession.objects.filter(pk=session_id)).get()
    return session_out(session, viewer, timezone.now())


def _etag(version: int) -> str:
    return f'"{version}"'


def _if_match_version(header: str | None) -> int | None:
    """None for no header or `*`; -1 for a value that cannot match any version."""
    if header is None or header.strip() == "*":
        return None
    for tag in header.split(","):
        tag = tag.strip().removeprefix("W/").strip('"')
        if tag.isdigit() and len(tag) < 10:
            return int(tag)
    return -1


@router.post("", response={201: SessionOut, **problems(400, 401, 403, 422)})
def suggest(request: AuthenticatedRequest, payload: SuggestIn) -> Status[dict[str, Any]]:
    """Suggest a coaching session (needs Create Suggestions). The coach is notified."""
    viewer = request.auth
    session = services.session_suggest(actor=viewer, fields=payload.fields(), origin=payload.origin)
    return Status(201, _reloaded(viewer, session.pk))


@router.get("", response={200: SessionPage, **problems(400, 401, 403, 422)})
def list_sessions(
    request: AuthenticatedRequest,
    suggested_by: Literal["me"] | None = SuggestedByFilter,
    coach: Literal["me"] | None = CoachFilter,
    trainee: Id | None = TraineeFilter,
    case: Id | None = CaseFilter,
    state: State | None = StateFilter,
    limit: int = Limit,
    offset: int = Offset,
) -> HttpResponse:
    """The sessions the caller may see, newest first; the filters combine (AND)."""
    viewer = request.auth
    require_view_suggestions(viewer)
    now = timezone.now()
    listed = selectors.sessions_listed(
        viewer,
        now=now,
        suggested_by_me=suggested_by == "me",
        coach_me=coach == "me",
        trainee=trainee,
        case=case,
        state=state,
    )
    items, count = listed.page(limit=limit, offset=offset)
    selectors.load_related(items, viewer)
    return answer_json(
        SessionPage, {"items": [session_out(s, viewer, now) for s in items], "count": count}
    )


@router.get("/prefill", response={200: PrefillOut, **problems(400, 401, 403, 404, 422)})
def prefill(
    request: AuthenticatedRequest,
    agent: Id | None = PrefillAgent,
    case: Id | None = PrefillCase,
) -> dict[str, Any]:
    """The suggestion form's starting values for one of its three entry points (needs Create
    Suggestions). With neither parameter: the homepage's empty form."""
    viewer = request.auth
    if (refused := suggest_denial(viewer)) is not None:
        raise refused
    if agent is not None and case is not None:
        raise ValidationFailed(
            [FieldError("case", FieldCode.INVALID, "Give either agent or case, not both.")]
        )
    if agent is not None:
        agent_user = access_agent(viewer, agent, require_active=True, hide=True)
        return prefill_out(selectors.prefill_for_agent(viewer, agent_user))
    if case is not None:
        return prefill_out(selectors.prefill_for_case(viewer, access_case(viewer, case, hide=True)))
    return prefill_out(selectors.prefill_for_homepage(viewer))


SimilarTrainee = Query(
    ...,
    description="User id of a trainee; repeat it for several (a group's members, say), at most "
    "100 (a longer query string would pass the request-line limit).",
    max_length=100,
)
SimilarArea = Query(..., description="The coaching area.")


class SimilarOut(Schema):
    items: list[SessionOut]


@router.get("/similar", response={200: SimilarOut, **problems(400, 401, 403, 422)})
def similar_sessions(
    request: AuthenticatedRequest,
    trainee: list[Id] = SimilarTrainee,
    coaching_area_id: Id = SimilarArea,
) -> dict[str, Any]:
    """The duplicate warning: open sessions (suggested or scheduled) in the coaching area with
    the trainee user (directly or through a trainee group) that the caller may see, the soonest
    first, at most 10. A warning only: suggesting another one is still accepted."""
    viewer = request.auth
    require_view_suggestions(viewer)
    now = timezone.now()
    qs = selectors.similar_open_sessions(
        viewer, coaching_area_id=coaching_area_id, user_ids=set(trainee), now=now
    )
    items = selectors.with_related(qs, viewer)[: selectors.SIMILAR_SHOWN]
    return {"items": [session_out(s, viewer, now) for s in items]}


@router.get(
    "/{id}",
    response={200: SessionOut, **problems(400, 401, 404, 422)},
)
def get_session(request: AuthenticatedRequest, id: Id) -> HttpResponse:
    """One session (404 when it does not exist or the caller may not see it). The `ETag` header
    carries its version, for `If-Match` on PATCH."""
    viewer = request.auth
    session = access_session(viewer, id)
    out = answer_json(SessionOut, session_out(session, viewer, timezone.now()))
    out["ETag"] = _etag(session.version)
    return out


@router.patch(
    "/{id}",
    response={200: SessionOut, **problems(400, 401, 403, 404, 409, 412, 422)},
)
def edit_session(
    request: AuthenticatedRequest,
    response: HttpResponse,
    id: Id,
    payload: EditIn,
    if_match: str | None = IfMatch,
) -> dict[str, Any]:
    """The author (or a QM Admin) edits a suggestion; fields left out keep their value."""
    viewer = request.auth
    expected = _if_match_version(if_match)
    if payload.version is not None:
        # Header and body disagreeing cannot both match: -1 matches no version, and the service
        # answers 412 only after the checks that may answer 404/403/409.
        expected = payload.version if expected in (None, payload.version) else -1
    session = services.session_edit(
        actor=viewer, session_id=id, fields=payload.fields(), expected_version=expected
    )
    response["ETag"] = _etag(session.version)
    return _reloaded(viewer, session.pk)


@router.delete("/{id}", response={204: None, **problems(400, 401, 403, 404, 409, 422)})
def delete_session(request: AuthenticatedRequest, id: Id) -> HttpResponse:
    """The author (or a QM Admin) deletes a suggestion: it becomes canceled /
    deleted_by_supervisor and the coach is notified."""
    services.session_delete(actor=request.auth, session_id=id)
    return HttpResponse(status=204)


@router.post("/{id}/schedule", response={200: SessionOut, **CONFLICT_PROBLEMS})
def schedule_session(request: AuthenticatedRequest, id: Id, payload: ScheduleIn) -> dict[str, Any]:
    """The coach (or a member of the coach group) schedules the suggestion, optionally adjusting
    its fields; the author is notified and the trainees invited (with a calendar invitation).
    A clash with another scheduled session of the coach or a trainee answers 409
    `schedule_conflict` listing each one, unless `allow_conflicts` is true."""
    viewer = request.auth
    session = services.session_schedule(
        actor=viewer,
        session_id=id,
        starts_at=payload.starts_at,
        duration_minutes=payload.duration_minutes,
        location=payload.location,
        fields=payload.fields(),
        allow_conflicts=payload.allow_conflicts,
    )
    return _reloaded(viewer, session.pk)


@router.post("/{id}/decline", response={200: SessionOut, **problems(400, 401, 403, 404, 409, 422)})
def decline_session(request: AuthenticatedRequest, id: Id, payload: DeclineIn) -> dict[str, Any]:
    """The coach or a trainee declines: the whole suggestion is canceled (declined_by_coach or
    declined_by_trainee) and the others are notified."""
    viewer = request.auth
    session = services.session_decline(actor=viewer, session_id=id, reason=payload.reason)
    return _reloaded(viewer, session.pk)


@router.get("/{id}/history", response={200: HistoryOut, **problems(400, 401, 404, 422)})
def session_history(request: AuthenticatedRequest, id: Id) -> dict[str, Any]:
    """The audit trail, oldest first."""
    session = access_session(request.auth, id)
    return {"items": [event_out(e) for e in selectors.session_history(session)]}


@router.get("/{id}/effect", response={200: SessionEffectOut, **problems(400, 401, 404, 422)})
def session_effect(request: AuthenticatedRequest, id: Id) -> dict[str, Any]:
    """The effect of a completed session on its trainees' QA scores in its coaching area: the
    mean of the last N evaluations before its start and of the first N after its completion
    (N = `window`), and the change, null while either side has fewer than 3 evaluations."""
    viewer = request.auth
    return session_effect_out(access_session(viewer, id), viewer)


@router.post("/{id}/reschedule", response={200: SessionOut, **CONFLICT_PROBLEMS})
def reschedule_session(
    request: AuthenticatedRequest, id: Id, payload: RescheduleIn
) -> dict[str, Any]:
    """The coach moves a scheduled session; trainees (with an updated calendar invitation) and the
    author are told. Conflicts as for scheduling."""
    viewer = request.auth
    session = services.session_reschedule(
        actor=viewer,
        session_id=id,
        starts_at=payload.starts_at,
        duration_minutes=payload.duration_minutes,
        location=payload.location,
        allow_conflicts=payload.allow_conflicts,
    )
    return _reloaded(viewer, session.pk)


@router.post("/{id}/cancel", response={200: SessionOut, **problems(400, 401, 403, 404, 409, 422)})
def cancel_session(request: AuthenticatedRequest, id: Id, payload: CancelIn) -> dict[str, Any]:
    """The coach (or a QM Admin) cancels a scheduled session with a reason: canceled /
    canceled_by_coach; calendars get a cancellation, trainees and the author are told."""
    viewer = request.auth
    session = services.session_cancel(actor=viewer, session_id=id, reason=payload.reason)
    return _reloaded(viewer, session.pk)


@router.post("/{id}/complete", response={200: SessionOut, **problems(400, 401, 403, 404, 409, 422)})
def complete_session(request: AuthenticatedRequest, id: Id, payload: CompleteIn) -> dict[str, Any]:
    """The coach records the session as held, with notes and action items; only once its start
    has passed (409 `invalid_state` before)."""
    viewer = request.auth
    session = services.session_complete(
        actor=viewer, session_id=id, notes=payload.notes, action_items=list(payload.action_items)
    )
    return _reloaded(viewer, session.pk)


@router.post(
    "/{id}/acknowledge", response={200: SessionOut, **problems(400, 401, 403, 404, 409, 422)}
)
def acknowledge_session(
    request: AuthenticatedRequest, id: Id, payload: AcknowledgeIn
) -> dict[str, Any]:
    """A trainee acknowledges a completed session, once (409 `already_acknowledged` after)."""
    viewer = request.auth
    session = services.session_acknowledge(actor=viewer, session_id=id, comment=payload.comment)
    return _reloaded(viewer, session.pk)


SlotDuration = Query(
    None, ge=DURATION_MIN, le=DURATION_MAX, description="Default: the session's, else 30."
)
SlotsFrom = Query(None, alias="from", description="Default: now.")
SlotsTo = Query(None, description="Default and maximum: 31 days after `from`.")
SlotsLimit = Query(10, ge=1, le=FREE_SLOTS_LIMIT_MAX, description="How many (default 10).")


@router.get("/{id}/free-slots", response={200: FreeSlotsOut, **problems(400, 401, 403, 404, 422)})
def free_slots(
    request: AuthenticatedRequest,
    id: Id,
    duration_minutes: int | None = SlotDuration,
    from_: InputTime | None = SlotsFrom,
    to: InputTime | None = SlotsTo,
    limit: int = SlotsLimit,
) -> dict[str, Any]:
    """The next times when the coach and every trainee user are free, inside the coach's working
    hours, on a 15-minute grid (for the coach, or a member of the coach group, who may schedule
    or reschedule the session)."""
    viewer = request.auth
    slots = availability.free_slots_for(
        viewer,
        access_session(viewer, id),
        duration_minutes=duration_minutes,
        start=from_,
        end=to,
        limit=limit,
    )
    return {"items": [{"starts_at": a, "ends_at": b} for a, b in slots]}


me_router = Router(tags=["calendar"])


class FeedOut(Schema):
    feed_url: str = Field(
        description="Private: whoever has it reads the calendar, no other credential needed."
    )


@me_router.get("/me/calendar", response={200: FeedOut, **problems(401)})
def my_calendar(request: AuthenticatedRequest) -> dict[str, Any]:
    """Your private calendar feed (iCalendar) of the sessions you coach or attend, to subscribe
    to in Outlook, Google Calendar or Apple Calendar."""
    return {"feed_url": feed_keys.feed_url(request.auth)}


@me_router.post("/me/calendar/rotate", response={200: FeedOut, **problems(401, 403)})
def rotate_my_calendar(request: AuthenticatedRequest) -> dict[str, Any]:
    """A new feed URL; the old one stops working at once."""
    return {"feed_url": feed_keys.feed_url(calendar_feed_rotate(actor=request.auth))}
