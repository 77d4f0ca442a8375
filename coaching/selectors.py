"""Every read of coaching sessions that depends on who is asking.

Lists return querysets ordered deterministically, each answered by an index; `with_related` loads
what a page or an API list shows in a fixed number of queries, whatever the page size.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import F, Q, QuerySet, Value
from django.db.models.lookups import In
from django.utils import timezone

from core.shapes import Args, Bound, Shape, converted, instances, written
from core.timeutils import default_expiry
from directory.models import (
    Case,
    CaseParticipant,
    CoachingArea,
    User,
    UserGroup,
    UserGroupMembership,
)
from directory.parties import PartyRef
from directory.permissions import Perm, has_perm
from directory.policies import sees_all_analytics

from .models import (
    AttendeeRole,
    CoachingSession,
    Origin,
    SessionAttendee,
    SessionEvent,
    SessionReferenceCase,
    SessionTraineeGroup,
    SessionTraineeUser,
    State,
)
from .rules import DURATION_MAX


# --- building blocks ---------------------------------------------------------------------------
class _InArray(In):
    """`id IN (subquery)`, written on PostgreSQL as `id = ANY(ARRAY(subquery))`.

    The subquery (the viewer's own session ids, a UNION of index scans) then runs once as an
    InitPlan and the sessions are fetched by primary key, so the cost follows the viewer's
    sessions. With a plain IN, the planner may instead scan every session matching the caller's
    other filters (e.g. all open suggestions for `state=suggested`) and hash-join: a cost that
    grows with the table. Same rows either way (ids are never NULL)."""

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY(ARRAY{rhs})", (*lhs_params, *rhs_params)


def _id_in(ids: QuerySet) -> Q:
    return Q(_InArray(F("id"), ids.query))


def _groups_of(user: User) -> Any:
    """The user's user-group ids: from memory for the signed-in user (`load_viewer`), so the
    list queries carry a literal list instead of one more subquery to plan; else a subquery."""
    loaded = getattr(user, "_memo_group_ids", None)
    if loaded is not None:
        return sorted(loaded)
    return UserGroupMembership.objects.filter(user=user).values("group_id")


def _trainee_session_ids(user: User) -> QuerySet[SessionTraineeUser, Any]:
    return (
        SessionTraineeUser.objects.filter(user=user)
        .values("session_id")
        .union(
            SessionTraineeGroup.objects.filter(group_id__in=_groups_of(user)).values("session_id")
        )
    )


def trainee_q(user: User) -> Q:
    """Sessions where `user` is a trainee, directly or through a user group.

    One `id IN (... UNION ...)` rather than two `id IN` joined by OR: PostgreSQL cannot drive an
    OR of subqueries from an index, so it walked the whole `-created_at` index filtering every
    session (cost grew with the table); the union is answered from the trainee indexes and costs
    what the user's own sessions cost."""
    return _id_in(_trainee_session_ids(user))


def coach_q(user: User) -> Q:
    """Sessions where `user` is the coach, directly or through the coach group. With the group
    ids known (the signed-in user) this is an OR of two index conditions, which PostgreSQL
    answers with a BitmapOr of `session_coach_user` and `session_coach_group` (each with the
    state filter inside): the cost follows the coach's own sessions. A coach's own lists
    use `coached` instead, whose arms are read in the list's order."""
    return Q(coach_user=user) | Q(coach_group_id__in=_groups_of(user))


def _coach_arms(
    qs: QuerySet[CoachingSession], user: User, *filters: Q
) -> tuple[QuerySet[CoachingSession], QuerySet[CoachingSession]]:
    """`coach_q`'s two sides as two querysets: the sessions of `qs` coached by `user` directly,
    and those coached through one of their groups (never both: `session_coach_user_xor_group`),
    each an index range (`session_coach_user`, `session_coach_group`)."""
    direct = qs.filter(*filters, coach_user=user).order_by()
    through_group = qs.filter(*filters, coach_group_id__in=_groups_of(user)).order_by()
    return direct, through_group


def coached(qs: QuerySet[CoachingSession], user: User, *filters: Q) -> QuerySet[CoachingSession]:
    """`qs.filter(coach_q(user), *filters)` as a UNION ALL of its two arms (`_coach_arms`).
    Each arm's count is an index-only scan, where the OR's bitmap visited every one of a busy
    coach's sessions (600 of them: 1.0 ms per count, 0.3 ms as a union); the scheduled ones
    still ahead are a range of a partial index (`session_coach_user_ahead`)."""
    direct, through_group = _coach_arms(qs, user, *filters)
    return direct.union(through_group, all=True)


def _coached_session_ids(user: User) -> QuerySet[CoachingSession, Any]:
    """The ids of `coach_q`'s sessions, as a union of its two arms' index scans."""
    direct, through_group = _coach_arms(CoachingSession.objects.all(), user)
    return direct.values("id").union(through_group.values("id"))


def open_q(now: datetime) -> Q:
    return Q(state=written(State.SUGGESTED), expires_at__gt=now)


def state_q(state: str, now: datetime | None = None) -> Q:
    """The state as everyone reads it: a suggestion past its expiry is canceled already."""
    now = now or timezone.now()
    if state == State.SUGGESTED:
        return open_q(now)
    if state == State.CANCELED:
        return Q(state=written(State.CANCELED)) | Q(
            state=written(State.SUGGESTED), expires_at__lte=now
        )
    return Q(state=written(State(state)))


def canceled_before_scheduled_q(now: datetime) -> Q:
    return Q(state=written(State.CANCELED), scheduled_at__isnull=True) | Q(
        state=written(State.SUGGESTED), expires_at__lte=now
    )


def with_related(
    qs: QuerySet[CoachingSession], viewer: User | None = None
) -> QuerySet[CoachingSession]:
    """`qs`, loading with its rows what a card or the API shows of them (`load_related`); with
    `viewer`, of the invitation lists only what a list shows to them (`load_related`)."""
    return qs.with_cards(viewer)  # type: ignore[attr-defined]


def _instance(model: Any, **values: Any) -> Any:
    """A model instance with only these fields loaded (as `from_db` loads them)."""
    return instances(model, None, list(values), [tuple(values.values())])[0]


# The people a session names by foreign key, loaded by `load_related` with the page.
SESSION_USER_FIELDS = ("coach_user", "suggested_by", "scheduled_by", "canceled_by", "completed_by")
# An invitation-list row's columns, then what the policies and the API read of its person.
ATTENDEE_FIELDS = tuple(f.attname for f in SessionAttendee._meta.concrete_fields)
ATTENDEE_USER_COLUMNS = ("id", "username", "display_name", "is_active")


def prefetched(session: CoachingSession, name: str) -> list[Any]:
    """A to-many relation of `session` as a list: from what `load_related` (or a prefetch) loaded
    when it did, without building a related manager per access (lists and cards read these for
    every session several times); else from the database."""
    cache = getattr(session, "_prefetched_objects_cache", None)
    if cache is not None and name in cache:
        loaded = cache[name]
        if isinstance(loaded, list):
            return loaded
        if loaded._result_cache is not None:
            return loaded._result_cache
    return list(getattr(session, name).all())


def load_related(sessions: list[CoachingSession], viewer: User | None = None) -> None:
    """Trainees (users and groups), reference cases, coach, coaching area, author, scheduler and
    canceler of `sessions`, in one query whatever their number, set on each session as Django's
    own caches (`session.coach_user`, `session.trainee_users.all()` read them).

    With `viewer` (a list or a page of cards), of each invitation list only the rows a list reads:
    the viewer's own (what they may do: `policies.attendance`) and the acknowledgements (the API's
    `completion`); a group session's whole list is the detail page's to show.

    One UNION ALL of primary-key and link-index look-ups, rather than six joins in the page query
    and three prefetches: PostgreSQL spent more time planning the seven-relation page query than
    running it, and each prefetch is a round trip."""
    from django.db import connection

    if not sessions:
        return
    qn = connection.ops.quote_name
    ids = [s.pk for s in sessions]
    user_ids = {
        pk
        for s in sessions
        for _, attname in _SESSION_USER_ATTNAMES
        if (pk := getattr(s, attname)) is not None
    }
    group_ids = {s.coach_group_id for s in sessions if s.coach_group_id is not None}
    area_ids = {s.coaching_area_id for s in sessions}
    user_t, group_t = qn(User._meta.db_table), qn(UserGroup._meta.db_table)
    case_t, area_t = qn(Case._meta.db_table), qn(CoachingArea._meta.db_table)

    def marks(values: Any) -> str:
        return ", ".join(["%s"] * len(values))

    arms: list[str] = []
    params: list[Any] = []
    arrays = connection.vendor == "postgresql"

    def arm(sql: str, values: Any) -> None:
        if arrays:
            # One array per look-up: the same statement whatever the page holds, so psycopg
            # converts it once and PostgreSQL keeps it prepared. A list of marks was a new
            # statement for each number of ids, with more parameters than psycopg caches (50).
            arms.append(sql.replace(" IN (?)", " = ANY(%s::bigint[])"))
            params.append(list(values))
        else:
            arms.append(sql.replace("(?)", f"({marks(values)})"))
            params.extend(values)

    user_cols = f"{user_t}.id, {user_t}.username, {user_t}.display_name, {user_t}.is_active"
    arm(
        f"SELECT 'tu', l.session_id, {user_cols} FROM {qn(SessionTraineeUser._meta.db_table)} l "
        f"JOIN {user_t} ON {user_t}.id = l.user_id WHERE l.session_id IN (?)",
        ids,
    )
    # The group's name by a look-up per link (a scalar subquery): joined, PostgreSQL hashed all
    # the groups (thousands) for the few links of a page, a millisecond of each list.
    arm(
        f"SELECT 'tg', l.session_id, l.group_id, NULL, "
        f"(SELECT g.name FROM {group_t} g WHERE g.id = l.group_id), NULL "
        f"FROM {qn(SessionTraineeGroup._meta.db_table)} l WHERE l.session_id IN (?)",
        ids,
    )
    arm(
        f"SELECT 'rc', l.session_id, {case_t}.id, NULL, {case_t}.number, NULL "
        f"FROM {qn(SessionReferenceCase._meta.db_table)} l "
        f"JOIN {case_t} ON {case_t}.id = l.case_id WHERE l.session_id IN (?)",
        ids,
    )
    if user_ids:
        arm(f"SELECT 'u', NULL, {user_cols} FROM {user_t} WHERE {user_t}.id IN (?)", user_ids)
    if group_ids:
        arm(
            f"SELECT 'g', NULL, {group_t}.id, NULL, {group_t}.name, NULL FROM {group_t} "
            f"WHERE {group_t}.id IN (?)",
            group_ids,
        )
    arm(
        f"SELECT 'a', NULL, {area_t}.id, NULL, {area_t}.name, {area_t}.is_active FROM {area_t} "
        f"WHERE {area_t}.id IN (?)",
        area_ids,
    )
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(arms), params)
        rows = cursor.fetchall()

    # Each kind's rows first, then its instances made in one batch (`instances`: a model
    # instance per row, as the ORM makes them, without a call per row).
    user_rows: dict[int, tuple[Any, ...]] = {}
    group_rows: dict[int, tuple[Any, ...]] = {}
    case_rows: dict[int, tuple[Any, ...]] = {}
    area_rows: dict[int, tuple[Any, ...]] = {}
    links: dict[str, list[tuple[int, int]]] = {"tu": [], "tg": [], "rc": []}
    for kind, session_id, pk, a, b, c in rows:
        if kind == "tu" or kind == "u":
            user_rows[pk] = (pk, a, b, bool(c))
        elif kind == "tg" or kind == "g":
            group_rows[pk] = (pk, b)
        elif kind == "rc":
            case_rows[pk] = (pk, b)
        else:
            area_rows[pk] = (pk, b, bool(c))
        if session_id is not None:
            links[kind].append((session_id, pk))
    users = _made(User, ("id", "username", "display_name", "is_active"), user_rows)
    groups = _made(UserGroup, ("id", "name"), group_rows)
    cases = _made(Case, ("id", "number"), case_rows)
    areas = _made(CoachingArea, ("id", "name", "is_active"), area_rows)

    def user(pk: int, username: str, display: str, active: Any) -> User:
        u = users.get(pk)
        if u is None:
            u = users[pk] = _instance(
                User, id=pk, username=username, display_name=display, is_active=bool(active)
            )
        return u

    by_session: dict[str, dict[int, list[Any]]] = {"tu": {}, "tg": {}, "rc": {}}
    for kind, made in (("tu", users), ("tg", groups), ("rc", cases)):
        per = by_session[kind]
        for session_id, pk in links[kind]:
            per.setdefault(session_id, []).append(made[pk])

    # The invitation lists: only a session that was given a time has one (`services._invite`),
    # so a page of suggestions costs no query for them.
    timed = [s.pk for s in sessions if s.starts_at is not None]
    attendees: dict[int, list[SessionAttendee]] = {}
    if timed:
        for a in _attendees_of(timed, viewer, user):
            attendees.setdefault(a.session_id, []).append(a)
    none: list[Any] = []
    for s in sessions:
        fields = s._state.fields_cache
        for name, attname in _SESSION_USER_ATTNAMES:
            pk = getattr(s, attname)
            fields[name] = users.get(pk) if pk is not None else None
        group_id = s.coach_group_id
        fields["coach_group"] = groups.get(group_id) if group_id is not None else None
        fields["coaching_area"] = areas[s.coaching_area_id]
        trainees = by_session["tu"].get(s.pk, none)
        trainee_groups = by_session["tg"].get(s.pk, none)
        refs = by_session["rc"].get(s.pk, none)
        if len(trainees) > 1:
            trainees = sorted(trainees, key=_by_display_name)
        if len(trainee_groups) > 1:
            trainee_groups = sorted(trainee_groups, key=_by_name)
        if len(refs) > 1:
            refs = sorted(refs, key=_by_number)
        s._prefetched_objects_cache = {  # type: ignore[attr-defined]
            **getattr(s, "_prefetched_objects_cache", {}),
            "trainee_users": _cached(User, trainees),
            "trainee_groups": _cached(UserGroup, trainee_groups),
            "reference_cases": _cached(Case, refs),
            "attendees": attendees.get(s.pk, []),
        }


_SESSION_USER_ATTNAMES = tuple((name, f"{name}_id") for name in SESSION_USER_FIELDS)


def _by_display_name(u: User) -> tuple[str, int]:
    return (u.display_name, u.pk)


def _by_name(g: UserGroup) -> tuple[str, int]:
    return (g.name, g.pk)


def _by_number(c: Case) -> tuple[str, int]:
    return (c.number, c.pk)


def _made(model: Any, names: tuple[str, ...], rows: dict[int, tuple[Any, ...]]) -> dict[int, Any]:
    """Instances of `model` with only these fields loaded, by primary key, made in one batch."""
    return dict(zip(rows, instances(model, None, names, list(rows.values())), strict=True))


# A loaded relation as Django's prefetch leaves it: a queryset holding its rows. Each shares its
# model's one empty `Query` (a queryset's filters copy it; nothing changes it in place), so a
# page of sessions does not build three queries per session that nobody runs.
_EMPTY_QUERIES: dict[Any, Any] = {}


def _cached(model: Any, items: list[Any]) -> QuerySet[Any]:
    query = _EMPTY_QUERIES.get(model)
    if query is None:
        query = _EMPTY_QUERIES[model] = QuerySet(model=model).query
    qs: QuerySet[Any] = QuerySet(model=model, query=query)
    qs._result_cache = list(items)
    qs._prefetch_done = True  # type: ignore[attr-defined]
    return qs


def _attendees_of(
    session_ids: list[int], viewer: User | None, user: Callable[..., User]
) -> list[SessionAttendee]:
    """The invitation-list rows of these sessions (with `viewer`, only the viewer's own and the
    acknowledgements), each with its person from `user(pk, username, display_name, is_active)`,
    in list order (role, then as invited). One statement, the rows made without the ORM's
    compiler (a page of scheduled sessions reads a few hundred)."""
    from django.db import connection

    qn = connection.ops.quote_name
    cols = ", ".join(f"a.{qn(str(f.column))}" for f in SessionAttendee._meta.concrete_fields)
    people = ", ".join(f"u.{qn(c)}" for c in ATTENDEE_USER_COLUMNS)
    params: list[Any]
    if connection.vendor == "postgresql":
        where, params = "a.session_id = ANY(%s::bigint[])", [session_ids]
    else:
        where, params = f"a.session_id IN ({', '.join(['%s'] * len(session_ids))})", session_ids
    if viewer is not None:
        where += " AND (a.user_id = %s OR a.acknowledged_at IS NOT NULL)"
        params = [*params, viewer.pk]
    sql = (
        f"SELECT {cols}, {people} FROM {qn(SessionAttendee._meta.db_table)} a "
        f"JOIN {qn(User._meta.db_table)} u ON u.id = a.user_id WHERE {where} ORDER BY a.role, a.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = converted(SessionAttendee, connection, cursor.fetchall())
    n = len(ATTENDEE_FIELDS)
    found = instances(SessionAttendee, None, ATTENDEE_FIELDS, [row[:n] for row in rows])
    for a, row in zip(found, rows, strict=True):
        a._state.fields_cache["user"] = user(*row[n:])
    return found


def sessions_suggested_by_open(viewer: User, now: datetime | None = None) -> QuerySet[Any]:
    """The author's open suggestions (what they may still edit or delete), newest first."""
    now = now or timezone.now()
    return sessions_suggested_by(viewer, now).filter(open_q(now))


def sessions_suggested_by_past(viewer: User, now: datetime | None = None) -> QuerySet[Any]:
    """The author's suggestions that are settled: scheduled, canceled, expired."""
    now = now or timezone.now()
    return sessions_suggested_by(viewer, now).exclude(open_q(now))


def sessions_for_trainee_current(
    viewer: User, agent: User, now: datetime | None = None
) -> QuerySet[Any]:
    """`sessions_for_trainee` still ahead: open suggestions and scheduled sessions."""
    now = now or timezone.now()
    return sessions_for_trainee(viewer, agent, now).filter(
        open_q(now) | Q(state=written(State.SCHEDULED))
    )


def sessions_for_trainee_past(
    viewer: User, agent: User, now: datetime | None = None
) -> QuerySet[Any]:
    now = now or timezone.now()
    return sessions_for_trainee(viewer, agent, now).exclude(
        open_q(now) | Q(state=written(State.SCHEDULED))
    )


# --- visibility --------------------------------------------------------------------------------
def sessions_visible_to(viewer: User, now: datetime | None = None) -> QuerySet[CoachingSession]:
    """Sessions `viewer` may see. An agent (no View Analytics) sees their own involvement, but
    never a session canceled before it was scheduled, unless they wrote it or coach it. Being
    invited is involvement: whoever was invited when it was scheduled (a trainee group expanded
    then) keeps seeing it after leaving the group, as their notifications and calendar do."""
    qs = CoachingSession.objects.all()
    if (
        not viewer.is_authenticated
        or not viewer.is_active
        or not has_perm(viewer, Perm.VIEW_SUGGESTIONS)
    ):
        return qs.none()
    if sees_all_analytics(viewer):
        return qs
    now = now or timezone.now()
    # own | (involved & ~canceled_before_scheduled), written as: the id is among the viewer's
    # own or involved sessions (one UNION of index scans, so the cost follows the viewer's
    # sessions, not the table), and the row is own or not canceled-before-scheduled.
    own = Q(suggested_by=viewer) | coach_q(viewer)
    cases = CaseParticipant.objects.filter(user=viewer).values("case_id")
    candidates = _trainee_session_ids(viewer).union(
        SessionReferenceCase.objects.filter(case_id__in=cases).values("session_id"),
        CoachingSession.objects.filter(suggested_by=viewer).order_by().values("id"),
        _coached_session_ids(viewer),
        SessionAttendee.objects.filter(user=viewer).values("session_id"),
    )
    return qs.filter(_id_in(candidates), own | ~canceled_before_scheduled_q(now))


# --- the API's list -----------------------------------------------------------------------------
def _sessions_listed(a: Args) -> QuerySet[CoachingSession]:
    viewer, now, o = a.viewer, a.times["now"], a.options
    qs = sessions_visible_to(viewer, now)
    if (trainee := a.ids["trainee"]) is not None:
        qs = qs & sessions_for_trainee(viewer, User(pk=trainee), now)
    if (case := a.ids["case"]) is not None:
        qs = qs & sessions_for_case(viewer, Case(pk=case), now)
    if o["suggested_by_me"]:
        qs = qs.filter(suggested_by=viewer)
    if (state := o["state"]) is not None:
        qs = qs.filter(state_q(str(state), now))
    if o["coach_me"]:
        # Coached directly or through a group as two arms (`coached`): the COUNT is two
        # index-only scans, where `coach_q`'s OR visited every one of a busy coach's rows.
        qs = coached(qs, viewer)
    return qs.order_by("-created_at", "-id")


SESSIONS_LISTED = Shape("coaching.sessions_listed", CoachingSession, _sessions_listed)


def sessions_listed(
    viewer: User,
    *,
    now: datetime,
    suggested_by_me: bool = False,
    coach_me: bool = False,
    trainee: int | None = None,
    case: int | None = None,
    state: str | None = None,
) -> Bound:
    """The API's list of sessions: those the viewer may see, newest first, the filters combined
    (AND). Compiled once per process for each combination of filters (`core.shapes`)."""
    return SESSIONS_LISTED.bind(
        viewer=viewer,
        options={
            "suggested_by_me": suggested_by_me,
            "coach_me": coach_me,
            "state": None if state is None else str(state),
        },
        ids={"trainee": ("user", trainee), "case": ("case", case)},
        times={"now": now},
    )


# --- the lists of decisions.md -----------------------------------------------------------------
def sessions_suggested_by(viewer: User, now: datetime | None = None) -> QuerySet[CoachingSession]:
    """The author's cards on their homepage, newest first."""
    return (
        sessions_visible_to(viewer, now).filter(suggested_by=viewer).order_by("-created_at", "-id")
    )


def sessions_to_coach(viewer: User, now: datetime | None = None) -> QuerySet[CoachingSession]:
    """The coach's "Suggested Coaching Sessions": open suggestions addressed to them or to one of
    their groups, the soonest to expire first."""
    now = now or timezone.now()
    return coached(sessions_visible_to(viewer, now), viewer, open_q(now)).order_by(
        "expires_at", "id"
    )


def possibly_running_since(now: datetime) -> datetime:
    """A scheduled session that started after this may still be running (the longest duration)."""
    return now - timedelta(minutes=DURATION_MAX)


def sessions_scheduled_to_coach(
    viewer: User, now: datetime | None = None, *, since: datetime | None = None
) -> QuerySet[CoachingSession]:
    """The coach's "Scheduled Coaching Sessions": sessions they coach (directly or through a
    group) that are scheduled and still ahead or possibly running (started after `since`:
    `possibly_running_since(now)`), the next one first."""
    now = now or timezone.now()
    since = since or possibly_running_since(now)
    upcoming = Q(state=written(State.SCHEDULED), starts_at__gt=since)
    return coached(sessions_visible_to(viewer, now), viewer, upcoming).order_by("starts_at", "id")


def sessions_upcoming_for(
    viewer: User,
    now: datetime | None = None,
    *,
    as_trainee_only: bool = False,
    since: datetime | None = None,
) -> QuerySet[CoachingSession]:
    """The scheduled sessions the viewer attends (as trainee, or as the coach who holds it) that
    are ahead or possibly running, the next first: the agent's "Upcoming Coaching Sessions".
    `as_trainee_only` leaves out those they hold as coach (a coach's homepage lists those under
    "Scheduled Coaching Sessions" already)."""
    now = now or timezone.now()
    since = since or possibly_running_since(now)
    attending = SessionAttendee.objects.filter(
        user=viewer, busy=True, ends_at__gt=now, starts_at__gt=since
    )
    if as_trainee_only:
        attending = attending.filter(role=written(AttendeeRole.TRAINEE))
    ids = attending.values("session_id")
    return (
        sessions_visible_to(viewer, now)
        .filter(_id_in(ids), state=written(State.SCHEDULED))
        .order_by("starts_at", "id")
    )


def sessions_awaiting_acknowledgement(
    viewer: User, now: datetime | None = None
) -> QuerySet[CoachingSession]:
    """Completed sessions the viewer attended as a trainee and has not acknowledged yet, the most
    recently held first."""
    ids = SessionAttendee.objects.filter(
        user=viewer, role=written(AttendeeRole.TRAINEE), acknowledged_at__isnull=True
    ).values("session_id")
    return (
        sessions_visible_to(viewer, now)
        .filter(_id_in(ids), state=written(State.COMPLETED))
        .order_by("-starts_at", "-id")
    )


def sessions_for_trainee(
    viewer: User, agent: User, now: datetime | None = None
) -> QuerySet[CoachingSession]:
    """The Agent Analytics page of `agent`: sessions where they are a trainee (directly or through
    a group), as far as `viewer` may see them."""
    now = now or timezone.now()
    qs = sessions_visible_to(viewer, now).filter(trainee_q(agent))
    if viewer.pk == agent.pk or not sees_all_analytics(viewer):
        qs = qs.exclude(canceled_before_scheduled_q(now))
    return qs.order_by("-created_at", "-id")


def sessions_for_case(
    viewer: User, case: Case, now: datetime | None = None
) -> QuerySet[CoachingSession]:
    """The Case Analytics page of `case`: sessions that reference it."""
    now = now or timezone.now()
    qs = sessions_visible_to(viewer, now).filter(
        id__in=SessionReferenceCase.objects.filter(case=case).values("session_id")
    )
    if not sees_all_analytics(viewer):
        qs = qs.exclude(canceled_before_scheduled_q(now))
    return qs.order_by("-created_at", "-id")


def session_history(session: CoachingSession) -> QuerySet[SessionEvent]:
    return session.events.select_related("actor").order_by("at", "id")


# --- prefill of the three entry points ---------------------------------------------------------
@dataclass
class Prefill:
    origin: str
    expires_at: datetime
    trainees: list[PartyRef] = field(default_factory=list)
    reference_case_ids: list[int] = field(default_factory=list)
    trainee_objects: list[User | UserGroup] = field(default_factory=list)
    reference_cases: list[Case] = field(default_factory=list)


def prefill_for_homepage(viewer: User) -> Prefill:
    return Prefill(origin=Origin.HOMEPAGE, expires_at=default_expiry(tz_name=viewer.time_zone))


def prefill_for_agent(viewer: User, agent: User) -> Prefill:
    return Prefill(
        origin=Origin.AGENT_ANALYTICS,
        expires_at=default_expiry(tz_name=viewer.time_zone),
        trainees=[PartyRef.of(agent)],
        trainee_objects=[agent],
    )


def prefill_for_case(viewer: User, case: Case) -> Prefill:
    """Every participant of the case, agents and auditors, and the case itself."""
    participants = [
        p.user
        for p in case.participations.select_related("user")
        .filter(user__is_active=True)
        .order_by("role", "user__display_name", "id")
    ]
    return Prefill(
        origin=Origin.CASE_ANALYTICS,
        expires_at=default_expiry(tz_name=viewer.time_zone),
        trainees=[PartyRef.of(u) for u in participants],
        trainee_objects=list(participants),
        reference_case_ids=[case.pk],
        reference_cases=[case],
    )


# --- no duplicates (decisions.md, "Data-driven coaching") ---------------------------------------
def open_in_area_q(now: datetime) -> Q:
    """Open as the duplicate rule reads it: an unexpired suggestion or a scheduled session."""
    return open_q(now) | Q(state=written(State.SCHEDULED))


def open_sessions_for_trainees(
    *, coaching_area_id: int, user_ids: Collection[int], now: datetime | None = None
) -> QuerySet[CoachingSession]:
    """Open sessions in the area with any of `user_ids` as a trainee, directly or through a
    trainee group (its members now). The one rule for "already has an open session there": the
    coaching rules skip these agents; the form and the API warn with the ones the person may
    see (`sessions_visible_to(...) & this`)."""
    now = now or timezone.now()
    ids = list(user_ids)
    through_user = SessionTraineeUser.objects.filter(user_id__in=ids).values("session_id")
    through_group = SessionTraineeGroup.objects.filter(
        group_id__in=UserGroupMembership.objects.filter(user_id__in=ids).values("group_id")
    ).values("session_id")
    return CoachingSession.objects.filter(
        open_in_area_q(now),
        Q(id__in=through_user) | Q(id__in=through_group),
        coaching_area_id=coaching_area_id,
    )


def trainees_with_open_session(
    *, coaching_area_id: int, user_ids: Collection[int], now: datetime | None = None
) -> set[int]:
    """Which of `user_ids` already have an open session in the area (one query, set-based: a
    rule firing for thousands of agents asks once)."""
    now = now or timezone.now()
    ids = list(user_ids)
    if not ids:
        return set()
    open_ids = CoachingSession.objects.filter(
        open_in_area_q(now), coaching_area_id=coaching_area_id
    ).values("id")
    direct = SessionTraineeUser.objects.filter(
        user_id__in=ids, session_id__in=open_ids
    ).values_list("user_id", flat=True)
    through_group = UserGroupMembership.objects.filter(
        user_id__in=ids,
        group_id__in=SessionTraineeGroup.objects.filter(session_id__in=open_ids).values("group_id"),
    ).values_list("user_id", flat=True)
    return set(direct.union(through_group))


@dataclass(frozen=True)
class Similar:
    """An open session the viewer may see, and who of the people being picked it already has as
    trainees: the users picked directly and the trainee groups holding one of them."""

    session: CoachingSession
    users: list[User]
    groups: list[UserGroup]


SIMILAR_SHOWN = 10


def trainee_user_ids(refs: Collection[PartyRef]) -> set[int]:
    """The users that `refs` (users and user groups, as picked as trainees) stand for now: the
    users, and every member of the groups. One query for the groups, whatever their size."""
    users = {r.id for r in refs if r.type == "user"}
    groups = [r.id for r in refs if r.type == "group"]
    if groups:
        users |= set(
            UserGroupMembership.objects.filter(group_id__in=groups).values_list(
                "user_id", flat=True
            )
        )
    return users


def similar_open_sessions(
    viewer: User,
    *,
    coaching_area_id: int,
    user_ids: Collection[int],
    exclude: int | None = None,
    now: datetime | None = None,
) -> QuerySet[CoachingSession]:
    """The duplicate warning (decisions.md, "No duplicates"): open sessions in the area with any
    of `user_ids` as a trainee that `viewer` may see, the soonest first (scheduled ones by start,
    then suggestions by expiry), without `exclude` (the session being edited or scheduled)."""
    now = now or timezone.now()
    qs = sessions_visible_to(viewer, now) & open_sessions_for_trainees(
        coaching_area_id=coaching_area_id, user_ids=user_ids, now=now
    )
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return qs.order_by(F("starts_at").asc(nulls_last=True), "expires_at", "id")


def similar_with_trainees(
    sessions: QuerySet[CoachingSession], user_ids: Collection[int], limit: int = SIMILAR_SHOWN
) -> list[Similar]:
    """The first `limit` of `sessions`, each with who of `user_ids` it already has as trainees:
    those picked directly, and its trainee groups holding one of them. Two queries whatever the
    number of users."""
    found = list(sessions.select_related("coaching_area")[:limit])
    if not found:
        return []
    ids = [s.pk for s in found]
    wanted = list(user_ids)
    direct = (
        SessionTraineeUser.objects.filter(session_id__in=ids, user_id__in=wanted)
        .annotate(kind=Value("u"), name=F("user__display_name"))
        .values_list("session_id", "kind", "user_id", "name")
    )
    holding = (
        SessionTraineeGroup.objects.filter(
            session_id__in=ids,
            group_id__in=UserGroupMembership.objects.filter(user_id__in=wanted).values("group_id"),
        )
        .annotate(kind=Value("g"), name=F("group__name"))
        .values_list("session_id", "kind", "group_id", "name")
    )
    users: dict[int, list[User]] = {}
    groups: dict[int, list[UserGroup]] = {}
    for session_id, kind, pk, name in direct.union(holding, all=True):
        if kind == "u":
            users.setdefault(session_id, []).append(
                _instance(User, id=pk, display_name=name, username="")
            )
        else:
            groups.setdefault(session_id, []).append(_instance(UserGroup, id=pk, name=name))
    return [
        Similar(
            session=s,
            users=sorted(users.get(s.pk, []), key=lambda u: (u.display_name, u.pk)),
            groups=sorted(groups.get(s.pk, []), key=lambda g: (g.name, g.pk)),
        )
        for s in found
    ]
