"""The sessions behind the matrix: for each demo role, each relationship and each state, one
suggestion made and moved into that state through the services.

Besides the demo organisation, the world has three stand-ins that never ask anything:
`matrix.coach` (Coach role), the coach of every session the caller does not coach (and the member
of a coach group who schedules, cancels and completes); `matrix.trainee` (Agent role), a trainee of
every session (the one who declines as trainee); `matrix.member` (Agent role), the other member of
the trainee groups that the caller joins or leaves once the session is scheduled. Sessions the
caller did not author are Sue Supervisor's (she is no role's stand-in). Each caller has their own
coach group (with matrix.coach), trainee groups and case, so "via group" and "case participant"
are theirs alone.

Built as it stood two hours before `now`: suggested, scheduled (a week ahead, or an hour before
`now` for the states past the start), declined, deleted, canceled; half an hour before `now` the
started ones are completed and acknowledged; then the caller joins or leaves the groups, and the
expiries are recorded at `now`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import time_machine
from django.contrib.auth.models import Group

from coaching import services
from coaching.models import AttendeeRole, SessionAttendee
from coaching.rules import PartyRef, SessionFields
from demo.loader import load
from directory import feed_keys
from directory.models import (
    Case,
    CaseParticipant,
    CoachingArea,
    ParticipantRole,
    User,
    UserGroup,
    UserGroupMembership,
)
from directory.permissions import Role
from directory.services import calendar_feed_rotate
from notifications.models import Notification
from qa.effect import refresh_effect_windows
from qa.ingest import evaluations_ingest
from qa.rules import RuleFields
from qa.services import rule_create
from tokens.services import token_issue

from .spec import IMPOSSIBLE, RELATIONSHIP_STATES, RELATIONSHIPS, ROLES, STATES

NOTES = "Went well, greeting practised"  # a completed session's notes (shown to some only)
EXPIRED_STATES = {"expired_unrecorded", "expired"}
STARTED_STATES = {"scheduled_started", "completed", "acknowledged"}
SCHEDULED_STATES = STARTED_STATES | {"scheduled", "canceled_after_scheduling"}
# matrix.trainee's scores in the sessions' area: three before every started session's start (an
# hour before `now`) and three after its completion (half an hour before `now`), so each completed
# session has an effect of +12.0 for that trainee (api-v1: a delta from 3 on each side).
SCORES_BEFORE = (60, 62, 64)
SCORES_AFTER = (70, 74, 78)
EFFECT_DELTA = 12.0


@dataclass
class World:
    now: datetime
    users: dict[str, User]  # by role ("anonymous" absent)
    tokens: dict[str, str]  # by role
    sessions: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (role, rel, state)
    cases: dict[str, Case] = field(default_factory=dict)  # the case each role took part in
    other_case: Case | None = None
    other_agent: User | None = None
    notifications: dict[str, int] = field(default_factory=dict)  # one of each role's own
    other_notification: int = 0
    group: UserGroup | None = None
    victim: User | None = None  # whom api.user_delete removes
    area: CoachingArea | None = None
    feeds: dict[str, str] = field(default_factory=dict)  # the role's own feed path
    someones_feed: str = ""  # for nobody signed in
    rotated_feed: str = ""  # a feed path from before its owner rotated it
    trainee: User | None = None  # matrix.trainee, a trainee of every session
    rule: int = 0  # the one coaching rule (in another area than the sessions')


def impossible(role: str, relationship: str, state: str | None) -> str | None:
    if state is not None and state not in RELATIONSHIP_STATES.get(relationship, {state}):
        return "this relationship exists only in other states"
    return IMPOSSIBLE.get((role, relationship, None)) or IMPOSSIBLE.get((role, relationship, state))


def _user(username: str, display: str, role: Role) -> User:
    user = User.objects.create(username=username, display_name=display, email=f"{username}@x.test")
    user.groups.set([Group.objects.get(name=role.value)])
    return user


def build(now: datetime) -> World:
    """Build the world as it stood two hours before `now` (so suggestions can expire an hour
    before `now`), then record the expiries at `now`."""
    load(extras=False)
    by_name = {u.username: u for u in User.objects.all()}
    users = {role: by_name[name] for role, name in ROLES.items() if name}
    world = World(
        now=now,
        users=users,
        tokens={role: token_issue(user=u, name="matrix")[1] for role, u in users.items()},
    )
    sue = by_name["sue.supervisor"]
    stand_in_coach = _user("matrix.coach", "Matrix Coach", Role.COACH)
    stand_in_trainee = _user("matrix.trainee", "Matrix Trainee", Role.AGENT)
    stand_in_member = _user("matrix.member", "Matrix Member", Role.AGENT)
    world.victim = stand_in_trainee
    world.trainee = stand_in_trainee
    world.area = CoachingArea.objects.get(name="Empathy")
    world.group = UserGroup.objects.get(name="Tier 1")
    world.other_agent = by_name["dan.agent"]
    world.other_case = Case.objects.get(number="CASE-1002")  # none of the stand-ins took part

    coach_groups: dict[str, UserGroup] = {}
    trainee_groups: dict[str, UserGroup] = {}
    joiners: dict[str, UserGroup] = {}  # the caller joins it once its sessions are scheduled
    leavers: dict[str, UserGroup] = {}  # the caller leaves it once its sessions are scheduled
    for role, user in users.items():
        coach_groups[role] = UserGroup.objects.create(name=f"Matrix coaches with {user.username}")
        UserGroupMembership.objects.create(group=coach_groups[role], user=user)
        UserGroupMembership.objects.create(group=coach_groups[role], user=stand_in_coach)
        trainee_groups[role] = UserGroup.objects.create(name=f"Matrix trainees {user.username}")
        UserGroupMembership.objects.create(group=trainee_groups[role], user=user)
        joiners[role] = UserGroup.objects.create(name=f"Matrix joiners {user.username}")
        UserGroupMembership.objects.create(group=joiners[role], user=stand_in_member)
        leavers[role] = UserGroup.objects.create(name=f"Matrix leavers {user.username}")
        UserGroupMembership.objects.create(group=leavers[role], user=stand_in_member)
        UserGroupMembership.objects.create(group=leavers[role], user=user)
        case = Case.objects.create(
            number=f"MATRIX-{user.username}", subject="Matrix case", opened_at=now
        )
        CaseParticipant.objects.create(case=case, user=user, role=ParticipantRole.AGENT)
        world.cases[role] = case

    def make(role: str, rel: str, state: str) -> int:
        caller = users.get(role)
        author = caller if rel == "author" else sue
        assert author is not None
        coach: User | UserGroup = stand_in_coach
        trainees: list[User | UserGroup] = [stand_in_trainee]
        cases: list[int] = []
        if rel == "coach":
            coach = caller  # type: ignore[assignment]
        elif rel == "coach_via_group":
            coach = coach_groups[role]
        elif rel == "trainee":
            trainees.append(caller)  # type: ignore[arg-type]
        elif rel == "trainee_via_group":
            trainees.append(trainee_groups[role])
        elif rel == "case_participant":
            cases.append(world.cases[role].pk)
        elif rel == "trainee_joined_later":
            trainees.append(joiners[role])
        elif rel == "attendee_left_group":
            trainees.append(leavers[role])
        acting_coach = caller if rel == "coach" else stand_in_coach
        session = services.session_suggest(
            actor=author,
            fields=SessionFields(
                title=f"{role} {rel} {state}",
                coach=PartyRef.of(coach),
                trainees=[PartyRef.of(t) for t in trainees],
                coaching_area_id=world.area.pk,  # type: ignore[union-attr]
                expires_at=now - timedelta(hours=1) if state in EXPIRED_STATES else None,
                reference_case_ids=cases,
            ),
        )
        assert acting_coach is not None
        if state in SCHEDULED_STATES:
            started = state in STARTED_STATES
            services.session_schedule(
                actor=acting_coach,
                session_id=session.pk,
                starts_at=now - timedelta(hours=1) if started else now + timedelta(days=7),
                duration_minutes=30,
                allow_conflicts=True,  # the stand-ins coach and attend many at once
            )
            if state == "canceled_after_scheduling":
                services.session_cancel(actor=acting_coach, session_id=session.pk, reason="Sick")
            if state in ("completed", "acknowledged"):
                held.append((session.pk, acting_coach, state))
        elif state == "deleted_by_supervisor":
            services.session_delete(actor=author, session_id=session.pk)
        elif state == "declined_by_coach":
            services.session_decline(actor=acting_coach, session_id=session.pk, reason="Busy")
        elif state == "declined_by_trainee":
            services.session_decline(actor=stand_in_trainee, session_id=session.pk, reason="Away")
        return session.pk

    shared: dict[tuple[str, str], int] = {}  # "unrelated" sessions are the same for every role
    held: list[tuple[int, User, str]] = []  # to complete (and acknowledge) once started
    with time_machine.travel(now - timedelta(hours=2), tick=False):
        for role in ROLES:
            for rel in RELATIONSHIPS:
                for state in STATES:
                    if impossible(role, rel, state):
                        continue
                    if rel == "unrelated":
                        key = (rel, state)
                        if key not in shared:
                            shared[key] = make(role, rel, state)
                        world.sessions[(role, rel, state)] = shared[key]
                    else:
                        world.sessions[(role, rel, state)] = make(role, rel, state)
    with time_machine.travel(now - timedelta(minutes=30), tick=False):
        for pk, acting_coach, state in held:
            services.session_complete(actor=acting_coach, session_id=pk, notes=NOTES)
            if state == "acknowledged":
                for attendee in SessionAttendee.objects.filter(
                    session_id=pk, role=AttendeeRole.TRAINEE
                ).select_related("user"):
                    services.session_acknowledge(actor=attendee.user, session_id=pk)
    for role, user in users.items():
        UserGroupMembership.objects.create(group=joiners[role], user=user)
        UserGroupMembership.objects.filter(group=leavers[role], user=user).delete()
    for (_, _, state), pk in world.sessions.items():
        if state == "expired":
            services.session_expire(session_id=pk, now=now)

    world.feeds = {role: feed_keys.feed_path(user) for role, user in users.items()}
    world.someones_feed = feed_keys.feed_path(stand_in_trainee)
    world.rotated_feed = feed_keys.feed_path(stand_in_member)
    calendar_feed_rotate(actor=stand_in_member)

    for role, user in users.items():
        own = Notification.objects.filter(recipient=user).order_by("pk").first()
        assert own is not None, f"{role} has no notification"
        world.notifications[role] = own.pk
    world.other_notification = Notification.objects.filter(recipient=sue).order_by("pk")[0].pk

    admin = users["qm_admin"]
    world.rule = rule_create(
        actor=admin,
        fields=RuleFields(
            name="Matrix rule",
            coaching_area_id=CoachingArea.objects.get(name="Compliance").pk,
            threshold=50,
            window=5,
            min_evaluations=3,
            coach=PartyRef.of(stand_in_coach),
            expires_in_days=14,
            active=True,
        ),
    ).pk
    times = [now - timedelta(hours=h) for h in (4, 3.5, 3)] + [
        now - timedelta(minutes=m) for m in (20, 15, 10)
    ]
    evaluations_ingest(
        actor=admin,
        items=[
            {
                "source_id": f"matrix-{i}",
                "agent_id": stand_in_trainee.pk,
                "coaching_area_id": world.area.pk,
                "score": score,
                "evaluated_at": at.isoformat(),
            }
            for i, (score, at) in enumerate(zip(SCORES_BEFORE + SCORES_AFTER, times, strict=True))
        ],
    )
    # What the worker's refresh task (queued by the ingest) does: the stored windows the effect reads.
    refresh_effect_windows(pairs=[(stand_in_trainee.pk, world.area.pk)])
    return world
