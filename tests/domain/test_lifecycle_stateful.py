"""A stateful property test of the session lifecycle (hypothesis `RuleBasedStateMachine`).

Random people suggest, edit, delete, schedule and decline (as coach or as trainee), then
reschedule, cancel, complete and acknowledge what was scheduled; time jumps forward
(time-machine) past expiry times and start times; the worker runs (recording expiries, sending
reminders and e-mail); people join and leave user groups; people are removed from the directory.
Beside the real product runs a model written from decisions.md alone. After every step:

* each session has had at most one terminal transition (canceled, expired... or completed) and
  been scheduled at most once, and its state is the model's; it was completed only after its
  start, acknowledged only once completed, by each invited trainee at most once;
* the notifications are exactly the model's (session, recipient, kind, text), none twice: the
  suggestion's six kinds and the seven of "After scheduling", reminders included, nobody
  notified of their own act;
* no reminder was written once its session was canceled, completed or had started;
* every action was accepted exactly when the model says, and refused with the model's error
  (404 / 403 / 409 / 422 and the rule codes), so nothing is accepted after a terminal state;
* every person sees exactly the sessions the model says (decisions.md, "Visibility");
* no e-mail was sent twice.

Actors are drawn from everyone, plus "<coach>" and "<trainee>" (the session's coach or a
trainee it invited, resolved from the model), so the chains that need the right person
(schedule, then complete after the start, then acknowledge) happen within a few steps.

Deterministic: derandomized (the same examples on every run, no example database), bounded by
`LIFECYCLE_EXAMPLES` and `LIFECYCLE_STEPS` (raise them for a deeper local run).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from coaching import services
from coaching.models import CoachingSession, SessionEvent
from coaching.rules import PartyRef, SessionFields
from coaching.selectors import sessions_visible_to
from core.errors import (
    AlreadyAcknowledged,
    ApplicationError,
    InvalidState,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from core.testing import drain_tasks
from core.timeutils import format_moment
from directory.models import CoachingArea, User, UserGroup, UserGroupMembership
from directory.services import user_deactivate
from notifications.models import Notification
from tests.decisions import TEXT

EXAMPLES = int(os.environ.get("LIFECYCLE_EXAMPLES", "20"))
STEPS = int(os.environ.get("LIFECYCLE_STEPS", "30"))
START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)

# Who is who in the demo organisation (decisions.md, demo-org.md).
CREATORS = {"admin", "sam.supervisor", "sue.supervisor"}
ANALYTICS = {"admin", "sam.supervisor", "sue.supervisor", "cora.coach", "carl.coach"}
ANALYTICS |= {"audrey.auditor"}
VIEWERS = ANALYTICS | {"alice.agent", "bob.agent", "dan.agent"}
PEOPLE = sorted(VIEWERS | {"nora.noperm"})
AUTHORS = ["sam.supervisor", "sue.supervisor", "admin", "cora.coach"]  # Cora may not suggest
COACHES = ["cora.coach", "carl.coach", "dan.agent", "sam.supervisor", "group:Coaching Team"]
TRAINEES = ["alice.agent", "bob.agent", "dan.agent", "sam.supervisor", "group:Tier 1"]
MOVABLE = ["dan.agent", "sam.supervisor", "carl.coach", "bob.agent"]  # join and leave groups
REMOVABLE = ["sam.supervisor", "carl.coach", "bob.agent", "dan.agent", "cora.coach"]
GROUPS = ["Coaching Team", "Tier 1"]
ACTORS = [*PEOPLE, "<coach>", "<trainee>"]
# After scheduling, the right person and the right session are rarer: both are drawn more often.
COACH_FIRST = ["<coach>", "<coach>", *PEOPLE]
TRAINEE_FIRST = ["<trainee>", "<trainee>", *PEOPLE]
# Which session an action after scheduling takes: the one drawn from the bundle ("any"), or the
# oldest one in a phase (see `pick`).
RESCHEDULE_PICKS = ["upcoming", "started", "any"]
CANCEL_PICKS = ["upcoming", "any"]
COMPLETE_PICKS = ["started", "started", "any"]
ACKNOWLEDGE_PICKS = ["completed", "completed", "any"]

# Audit actions: a session is scheduled at most once and ends at most once.
TERMINAL = {"deleted", "declined_by_coach", "declined_by_trainee", "expired", "canceled"}
TERMINAL |= {"completed"}
REMIND_START = timedelta(hours=24)  # settings.COACHING_REMINDER_BEFORE_START_MINUTES (default)
REMIND_EXPIRY = timedelta(days=7)  # settings.COACHING_REMINDER_BEFORE_EXPIRY_MINUTES (default)


@dataclass
class Suggestion:
    pk: int
    author: str
    coach: str  # a username or "group:<name>"
    trainees: set[str]
    expires_at: datetime
    state: str = "suggested"  # suggested, scheduled, completed, canceled
    scheduled: bool = False
    transitions: list[str] = field(default_factory=list)
    starts_at: datetime | None = None
    holder: str | None = None  # the coach person who holds the scheduled session
    invited: set[str] = field(default_factory=set)  # trainee users invited when scheduled
    completed_by: str | None = None
    acknowledged: set[str] = field(default_factory=set)
    expiry_reminder: datetime | None = None  # when the pending "expires soon" reminder is due
    start_reminder: datetime | None = None  # when the pending "starts soon" reminder is due


class Lifecycle(RuleBasedStateMachine):
    sessions = Bundle("sessions")

    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self._clock = time_machine.travel(START, tick=False)
        self.clock = self._clock.start()
        from tests.conftest import build_org

        build_org()
        self.users = {u.username: u for u in User.objects.all()}
        self.names = {u.username: str(u) for u in self.users.values()}
        self.zones = {u.username: u.time_zone for u in self.users.values()}
        self.groups = {g.name: g for g in UserGroup.objects.all()}
        self.members = {
            name: set(g.members.values_list("username", flat=True))
            for name, g in self.groups.items()
        }
        self.area = CoachingArea.objects.get(name="Empathy").pk
        self.removed: set[str] = set()
        self.model: dict[int, Suggestion] = {}
        self.expected: Counter[tuple[int, str, str, str]] = Counter()
        del mail.outbox[:]

    def teardown(self) -> None:
        self._clock.stop()
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- the model (decisions.md) -----------------------------------------------------------
    def now(self) -> datetime:
        from django.utils import timezone

        return timezone.now()

    def active(self, username: str) -> bool:
        return username not in self.removed

    def expand(self, party: str) -> set[str]:
        """A party as recipients: groups expand to their active members."""
        if party.startswith("group:"):
            return {u for u in self.members[party[6:]] if self.active(u)}
        return {party} if self.active(party) else set()

    def is_coach(self, username: str, s: Suggestion) -> bool:
        if s.coach.startswith("group:"):
            return username in self.members[s.coach[6:]]
        return s.coach == username

    def is_trainee(self, username: str, s: Suggestion) -> bool:
        return any(
            (t == username) or (t.startswith("group:") and username in self.members[t[6:]])
            for t in s.trainees
        )

    def is_open(self, s: Suggestion) -> bool:
        return s.state == "suggested" and self.now() < s.expires_at

    def canceled_before_scheduling(self, s: Suggestion) -> bool:
        return not s.scheduled and not self.is_open(s)

    def sees(self, username: str, s: Suggestion) -> bool:
        if not self.active(username) or username not in VIEWERS:
            return False
        if username in ANALYTICS:
            return True
        own = s.author == username or self.is_coach(username, s)
        if own:
            return True
        # Invited when it was scheduled: theirs, even after leaving the group.
        if username in s.invited or username == s.holder:
            return True
        return self.is_trainee(username, s) and not self.canceled_before_scheduling(s)

    def resolve(self, actor: str, s: Suggestion) -> str:
        """ "<coach>" / "<trainee>": the session's coach person, or a trainee it invited (before
        scheduling: one of its trainees)."""
        if actor == "<coach>":
            if s.coach.startswith("group:"):
                return min(self.members[s.coach[6:]], default="admin")
            return s.coach
        if actor == "<trainee>":
            trainees = s.invited or set().union(*(self.expand(t) for t in s.trainees))
            return min(trainees, default="alice.agent")
        return actor

    def pick(self, pk: int, which: str) -> Suggestion:
        """The session drawn from the bundle, or for `which` the oldest one in that phase (when
        there is one): upcoming (scheduled, its start ahead), started (scheduled, its start
        passed), completed."""
        now = self.now()
        phases = {
            "upcoming": lambda s: s.state == "scheduled" and s.starts_at > now,
            "started": lambda s: s.state == "scheduled" and s.starts_at <= now,
            "completed": lambda s: s.state == "completed",
        }
        if which in phases:
            found = [s for _, s in sorted(self.model.items()) if phases[which](s)]
            if found:
                return found[0]
        return self.model[pk]

    def attendees(self, s: Suggestion) -> set[str]:
        """The invitation list as recipients: removed people are dropped."""
        people = s.invited | ({s.holder} if s.holder else set())
        return {u for u in people if self.active(u)}

    def rule_codes(self, author: str, coach: str, trainees: set[str], given: set[str]) -> set[str]:
        """The form's rules (decisions.md "Validation rules"), group membership read now."""
        codes: set[str] = set()

        def inactive(party: str) -> bool:
            return not party.startswith("group:") and not self.active(party)

        # A removed person picked anew is refused and left out of the other rules.
        if "coach" in given and inactive(coach):
            codes.add("inactive")
            coach = ""
        if "trainees" in given and any(inactive(t) for t in trainees):
            codes.add("inactive")
            trainees = {t for t in trainees if not inactive(t)}
        if not coach:
            pass
        elif coach.startswith("group:"):
            active = self.expand(coach)
            if not active:
                codes.add("empty_group")
            elif active == {author}:
                codes.add("coach_group_only_supervisor")
        elif coach == author:
            codes.add("supervisor_cannot_be_coach")
        for t in trainees:
            if t.startswith("group:"):
                active = self.expand(t)
                if not active:
                    codes.add("empty_group")
                elif active == {author}:
                    codes.add("trainee_group_only_supervisor")
            elif t == author:
                codes.add("supervisor_cannot_be_trainee")
            if t == coach:
                codes.add("coach_is_also_trainee")
        return codes

    def refusal(self, actor: str, s: Suggestion, action: str) -> type[ApplicationError] | None:
        """Visibility first (404), then who may (403), then the state (409)."""
        if not self.sees(actor, s):
            knew = (
                action == "decline"
                and self.active(actor)
                and actor in VIEWERS
                and self.is_trainee(actor, s)
            )
            if not knew:
                return NotFound
        if action in ("edit", "delete"):
            allowed = actor == "admin" or (s.author == actor and actor in CREATORS)
        elif action in ("schedule", "reschedule", "complete"):
            allowed = self.is_coach(actor, s)
        elif action == "cancel":
            allowed = self.is_coach(actor, s) or actor == "admin"
        elif action == "acknowledge":
            # The trainees invited when it was scheduled; before, its trainees (told 409).
            allowed = actor in s.invited if s.scheduled else self.is_trainee(actor, s)
        else:
            allowed = self.is_coach(actor, s) or self.is_trainee(actor, s)
        if not allowed:
            return PermissionDenied
        if action in ("reschedule", "cancel"):
            return None if s.state == "scheduled" else InvalidState
        if action == "complete":
            started = s.starts_at is not None and self.now() >= s.starts_at
            return None if s.state == "scheduled" and started else InvalidState
        if action == "acknowledge":
            if s.state != "completed":
                return InvalidState
            return AlreadyAcknowledged if actor in s.acknowledged else None
        if not self.is_open(s):
            return InvalidState
        return None

    def notify(
        self, s: Suggestion, kind: str, recipients: set[str], by: str | None, **kw: Any
    ) -> None:
        """Nobody is notified of their own action. `start` / `expiry` are written in each
        recipient's own time zone."""
        for username in recipients - {by}:
            zone = self.zones[username]
            local = {
                k: format_moment(v, zone) if isinstance(v, datetime) else v for k, v in kw.items()
            }
            self.expected[(s.pk, username, kind, TEXT[kind].format(**local))] += 1

    def attempt(self, expected: Any, call: Any) -> Any:
        """Run a service call; it must raise exactly the expected error (class, and rule codes for
        422) or succeed when none is expected. Returns the result, or None when refused."""
        before = Notification.objects.count()
        try:
            result = call()
        except ApplicationError as exc:
            assert expected is not None, (
                f"refused ({type(exc).__name__}: {exc}) but the model accepts"
            )
            if isinstance(expected, set):
                assert isinstance(exc, ValidationFailed), exc
                assert {str(e.code) for e in exc.errors} == expected, exc.errors
            else:
                assert type(exc) is expected, (
                    f"{type(exc).__name__}: {exc}, expected {expected.__name__}"
                )
            assert Notification.objects.count() == before  # a refused request writes nothing
            return None
        assert expected is None, f"accepted, but the model expects {expected}"
        return result

    # --- the rules -------------------------------------------------------------------------------
    def user(self, username: str) -> User:
        """The user as a new request loads it (policies cache group ids on the object)."""
        return User.objects.get(username=username)

    def party(self, token: str) -> PartyRef:
        if token.startswith("group:"):
            return PartyRef.of(self.groups[token[6:]])
        return PartyRef.of(self.users[token])

    @initialize(target=sessions)
    def first_suggestion(self) -> Any:
        return self.suggest("sam.supervisor", "cora.coach", ["alice.agent"], 5)

    @rule(
        target=sessions,
        author=st.sampled_from(AUTHORS),
        coach=st.sampled_from(COACHES),
        trainees=st.lists(st.sampled_from(TRAINEES), min_size=1, max_size=3, unique=True),
        days=st.sampled_from([1, 5, 30]),
    )
    def suggest(self, author: str, coach: str, trainees: list[str], days: int) -> Any:
        expires_at = self.now() + timedelta(days=days)
        expected: Any = None
        if not self.active(author) or author not in CREATORS:
            expected = PermissionDenied
        else:
            codes = self.rule_codes(author, coach, set(trainees), {"coach", "trainees"})
            expected = codes or None
        session = self.attempt(
            expected,
            lambda: services.session_suggest(
                actor=self.user(author),
                fields=SessionFields(
                    title="Lifecycle",
                    coach=self.party(coach),
                    trainees=[self.party(t) for t in trainees],
                    coaching_area_id=self.area,
                    expires_at=expires_at,
                ),
            ),
        )
        if session is None:
            return multiple()
        s = Suggestion(session.pk, author, coach, set(trainees), expires_at)
        if expires_at - REMIND_EXPIRY > self.now():
            s.expiry_reminder = expires_at - REMIND_EXPIRY
        self.model[s.pk] = s
        self.notify(s, "session_suggested", self.expand(coach), author, author=self.names[author])
        return s.pk

    @rule(pk=sessions, actor=st.sampled_from(PEOPLE), coach=st.sampled_from([None, *COACHES]))
    def edit(self, pk: int, actor: str, coach: str | None) -> None:
        s = self.model[pk]
        expected: Any = self.refusal(actor, s, "edit")
        new_coach = coach or s.coach
        if expected is None:
            codes = self.rule_codes(s.author, new_coach, s.trainees, {"coach"} if coach else set())
            expected = codes or None
        result = self.attempt(
            expected,
            lambda: services.session_edit(
                actor=self.user(actor),
                session_id=pk,
                fields=SessionFields(
                    title="Lifecycle (edited)", coach=self.party(coach) if coach else None
                ),
            ),
        )
        if result is None:
            return
        if new_coach != s.coach:
            newly = self.expand(new_coach) - self.expand(s.coach)
            self.notify(s, "session_suggested", newly, actor, author=self.names[s.author])
        s.coach = new_coach

    @rule(pk=sessions, actor=st.sampled_from(PEOPLE))
    def delete(self, pk: int, actor: str) -> None:
        s = self.model[pk]
        if self.attempt(
            self.refusal(actor, s, "delete"),
            lambda: services.session_delete(actor=self.user(actor), session_id=pk),
        ):
            self.close(s, "deleted")
            self.notify(s, "session_canceled_by_supervisor", self.expand(s.coach), actor)

    @rule(pk=sessions, actor=st.sampled_from(ACTORS), hours=st.sampled_from([30, 72]))
    def schedule(self, pk: int, actor: str, hours: int) -> None:
        s = self.model[pk]
        actor = self.resolve(actor, s)
        expected: Any = self.refusal(actor, s, "schedule")
        if expected is None:
            expected = self.rule_codes(s.author, s.coach, s.trainees, set()) or None
        starts_at = self.now() + timedelta(hours=hours)
        if self.attempt(
            expected,
            lambda: services.session_schedule(
                actor=self.user(actor),
                session_id=pk,
                starts_at=starts_at,
                duration_minutes=45,
                allow_conflicts=True,  # clashes are not this test's subject
            ),
        ):
            self.close(s, "scheduled")
            s.scheduled = True
            s.starts_at = starts_at
            # The coach person holds it: the coach user, or the group member who scheduled it;
            # the trainee users are invited, groups expanded now (decisions.md).
            s.holder = actor if s.coach.startswith("group:") else s.coach
            s.invited = set().union(*(self.expand(t) for t in s.trainees)) - {s.holder}
            s.expiry_reminder = None
            s.start_reminder = self.start_reminder_due(starts_at)
            name = self.names[actor]
            self.notify(s, "session_scheduled", self.expand(s.author), actor, actor=name)
            self.notify(s, "session_invitation", s.invited, actor, actor=name)

    def start_reminder_due(self, starts_at: datetime) -> datetime | None:
        """Planned when the start is set, unless its moment has already passed."""
        due = starts_at - REMIND_START
        return due if due > self.now() else None

    @initialize(target=sessions)
    def first_scheduled_sessions(self) -> Any:
        """Two sessions scheduled from the start (a group coach, a group of trainees; a coach
        user, one trainee), the second one an hour ahead, then two hours pass: the actions after
        scheduling, and after the start, have something to act on in every example."""
        first = self.suggest("sue.supervisor", "group:Coaching Team", ["group:Tier 1"], 30)
        self.schedule(first, "carl.coach", 30)
        second = self.suggest("sam.supervisor", "cora.coach", ["bob.agent"], 30)
        self.schedule(second, "cora.coach", 1)
        self.time_passes(2)
        return multiple(first, second)

    @rule(
        pk=sessions,
        which=st.sampled_from(RESCHEDULE_PICKS),
        actor=st.sampled_from(COACH_FIRST),
        hours=st.sampled_from([12, 30, 72]),
    )
    def reschedule(self, pk: int, which: str, actor: str, hours: int) -> None:
        s = self.pick(pk, which)
        pk = s.pk
        actor = self.resolve(actor, s)
        starts_at = self.now() + timedelta(hours=hours)
        if not self.attempt(
            self.refusal(actor, s, "reschedule"),
            lambda: services.session_reschedule(
                actor=self.user(actor),
                session_id=pk,
                starts_at=starts_at,
                duration_minutes=45,
                allow_conflicts=True,
            ),
        ):
            return
        if starts_at == s.starts_at:
            return  # nothing changed: nothing recorded, nobody told
        s.starts_at = starts_at
        previous = s.holder
        s.holder = actor if s.coach.startswith("group:") else s.coach
        s.invited.discard(s.holder)
        s.start_reminder = self.start_reminder_due(starts_at)
        # decisions.md: trainees and the author. The product also tells the coach who held it
        # when another member of the coach group moved it (the new holder).
        moved_from = {previous} if previous and previous != s.holder else set()
        recipients = {u for u in s.invited | moved_from if self.active(u)}
        self.notify(
            s,
            "session_rescheduled",
            recipients | self.expand(s.author),
            actor,
            actor=self.names[actor],
            start=starts_at,
        )

    @rule(pk=sessions, which=st.sampled_from(CANCEL_PICKS), actor=st.sampled_from(COACH_FIRST))
    def cancel(self, pk: int, which: str, actor: str) -> None:
        s = self.pick(pk, which)
        pk = s.pk
        actor = self.resolve(actor, s)
        reason = "Sick"
        if not self.attempt(
            self.refusal(actor, s, "cancel"),
            lambda: services.session_cancel(actor=self.user(actor), session_id=pk, reason=reason),
        ):
            return
        self.close(s, "canceled")
        # decisions.md: trainees and the author; the product also tells the coach who holds it
        # when someone else (a QM Admin, another member of the coach group) canceled it.
        self.notify(
            s,
            "session_canceled_after_scheduling",
            self.attendees(s) | self.expand(s.author),
            actor,
            actor=self.names[actor],
            reason=reason,
        )

    @rule(pk=sessions, which=st.sampled_from(COMPLETE_PICKS), actor=st.sampled_from(COACH_FIRST))
    def complete(self, pk: int, which: str, actor: str) -> None:
        s = self.pick(pk, which)
        pk = s.pk
        actor = self.resolve(actor, s)
        if not self.attempt(
            self.refusal(actor, s, "complete"),
            lambda: services.session_complete(
                actor=self.user(actor), session_id=pk, notes="Went well", action_items=["Practise"]
            ),
        ):
            return
        s.transitions.append("completed")
        s.state = "completed"
        s.completed_by = actor
        recipients = {u for u in s.invited if self.active(u)} | self.expand(s.author)
        self.notify(s, "session_completed", recipients, actor, actor=self.names[actor])

    @rule(
        pk=sessions, which=st.sampled_from(ACKNOWLEDGE_PICKS), actor=st.sampled_from(TRAINEE_FIRST)
    )
    def acknowledge(self, pk: int, which: str, actor: str) -> None:
        s = self.pick(pk, which)
        pk = s.pk
        actor = self.resolve(actor, s)
        if not self.attempt(
            self.refusal(actor, s, "acknowledge"),
            lambda: services.session_acknowledge(
                actor=self.user(actor), session_id=pk, comment="Thanks"
            ),
        ):
            return
        s.acknowledged.add(actor)
        assert s.completed_by is not None
        self.notify(
            s,
            "session_acknowledged",
            {s.completed_by} if self.active(s.completed_by) else set(),
            actor,
            actor=self.names[actor],
        )

    @rule(pk=sessions, actor=st.sampled_from(ACTORS), reason=st.sampled_from(["Busy", "On leave"]))
    def decline(self, pk: int, actor: str, reason: str) -> None:
        s = self.model[pk]
        actor = self.resolve(actor, s)
        as_coach = self.is_coach(actor, s)
        if self.attempt(
            self.refusal(actor, s, "decline"),
            lambda: services.session_decline(actor=self.user(actor), session_id=pk, reason=reason),
        ):
            kw = {"actor": self.names[actor], "reason": reason}
            if as_coach:
                self.close(s, "declined_by_coach")
                self.notify(s, "session_canceled_by_coach", self.expand(s.author), actor, **kw)
            else:
                self.close(s, "declined_by_trainee")
                recipients = self.expand(s.author) | self.expand(s.coach)
                self.notify(s, "session_canceled_by_trainee", recipients, actor, **kw)

    @rule(hours=st.sampled_from([2, 8, 36, 24 * 4, 24 * 20]))  # past reminders, starts, expiries
    def time_passes(self, hours: int) -> None:
        self.clock.shift(timedelta(hours=hours))

    @rule()
    def worker_runs(self) -> None:
        """The worker records every expiry that is due (once), sends each reminder whose moment
        has come (once; late ones too, unless what it announces has begun or is off) and the
        e-mail."""
        now = self.now()
        for s in self.model.values():
            if s.state == "suggested" and now >= s.expires_at:
                self.close(s, "expired")
                self.notify(
                    s, "session_expired", self.expand(s.coach) | self.expand(s.author), None
                )
            if s.expiry_reminder is not None and now >= s.expiry_reminder:
                s.expiry_reminder = None
                if s.state == "suggested" and now < s.expires_at:
                    self.notify(
                        s, "suggestion_expiring", self.expand(s.coach), None, expiry=s.expires_at
                    )
            if s.start_reminder is not None and now >= s.start_reminder:
                s.start_reminder = None
                assert s.starts_at is not None
                if s.state == "scheduled" and now < s.starts_at:
                    self.notify(s, "session_reminder", self.attendees(s), None, start=s.starts_at)
        drain_tasks()

    @rule(who=st.sampled_from(MOVABLE), group=st.sampled_from(GROUPS), join=st.booleans())
    def membership_changes(self, who: str, group: str, join: bool) -> None:
        # The admin site changes groups; there is no service for it.
        if join:
            UserGroupMembership.objects.get_or_create(
                group=self.groups[group], user=self.users[who]
            )
            self.members[group].add(who)
        else:
            UserGroupMembership.objects.filter(
                group=self.groups[group], user=self.users[who]
            ).delete()
            self.members[group].discard(who)

    @rule(who=st.sampled_from(REMOVABLE))
    def user_removed(self, who: str) -> None:
        user_deactivate(actor=self.user("admin"), user_id=self.users[who].pk)
        self.removed.add(who)

    def close(self, s: Suggestion, how: str) -> None:
        s.transitions.append(how)
        s.state = "scheduled" if how == "scheduled" else "canceled"
        if how != "scheduled":
            s.expiry_reminder = s.start_reminder = None  # dropped with the session

    # --- the invariants ------------------------------------------------------------------------
    @invariant()
    def one_terminal_transition_and_the_same_state(self) -> None:
        states = dict(CoachingSession.objects.values_list("pk", "state"))
        for s in self.model.values():
            assert len([t for t in s.transitions if t in TERMINAL]) <= 1, s.transitions
            assert s.transitions.count("scheduled") <= 1, s.transitions
            assert states[s.pk] == s.state
        for actions in (TERMINAL, {"scheduled"}):
            events = Counter(
                SessionEvent.objects.filter(action__in=actions).values_list("session_id", flat=True)
            )
            assert all(n == 1 for n in events.values()), (actions, events)

    @invariant()
    def completed_after_the_start_and_acknowledged_once_after_that(self) -> None:
        sessions = {
            pk: (starts_at, completed_at)
            for pk, starts_at, completed_at in CoachingSession.objects.values_list(
                "pk", "starts_at", "completed_at"
            )
        }
        for pk, at in SessionEvent.objects.filter(action="completed").values_list(
            "session_id", "at"
        ):
            starts_at = sessions[pk][0]
            assert starts_at is not None and at >= starts_at, (pk, at, starts_at)
        acks = Counter(
            SessionEvent.objects.filter(action="acknowledged").values_list("session_id", "actor")
        )
        assert all(n == 1 for n in acks.values()), acks
        for pk, at in SessionEvent.objects.filter(action="acknowledged").values_list(
            "session_id", "at"
        ):
            completed_at = sessions[pk][1]
            assert completed_at is not None and at >= completed_at, (pk, at, completed_at)
        for s in self.model.values():
            assert s.acknowledged <= s.invited, (s.acknowledged, s.invited)

    @invariant()
    def no_reminder_for_a_session_canceled_completed_or_started(self) -> None:
        for created_at, starts_at, canceled_at, completed_at in Notification.objects.filter(
            kind="session_reminder"
        ).values_list(
            "created_at", "session__starts_at", "session__canceled_at", "session__completed_at"
        ):
            assert starts_at is not None and created_at < starts_at
            assert canceled_at is None or created_at < canceled_at
            assert completed_at is None or created_at < completed_at

    @invariant()
    def notifications_are_exactly_those_of_decisions_md(self) -> None:
        # decisions.md's two tables: the suggestion's six kinds and the seven of 2026-12-01.
        actual = Counter(
            Notification.objects.filter(kind__in=TEXT).values_list(
                "session_id", "recipient__username", "kind", "message"
            )
        )
        assert actual == self.expected

    @invariant()
    def visibility(self) -> None:
        for username in PEOPLE:
            viewer = User.objects.get(username=username)  # as a new request loads it
            seen = set(sessions_visible_to(viewer).values_list("pk", flat=True))
            wanted = {pk for pk, s in self.model.items() if self.sees(username, s)}
            assert seen == wanted, (username, sorted(seen ^ wanted))

    @invariant()
    def no_email_twice(self) -> None:
        ids = Counter(
            int(m.extra_headers["Message-ID"].split("notification-")[1].split("@")[0])
            for m in mail.outbox
        )
        assert all(n == 1 for n in ids.values()), ids
        sent = set(Notification.objects.filter(email_status="sent").values_list("pk", flat=True))
        assert set(ids) == sent


# Transactional, so pytest-django runs it among the transactional tests, after the browser tests:
# run before them in the same session, one browser flow (test_coach_schedules_and_author_is_notified)
# lost a typed value; that interplay is not understood yet. Each example still runs in its own
# transaction, rolled back at its end.
@pytest.mark.django_db(transaction=True)
def test_lifecycle(mailoutbox):
    run_state_machine_as_test(
        Lifecycle,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            print_blob=False,
            report_multiple_bugs=False,
            # LIFECYCLE_SHRINK=0 reports the first failing run as found (faster while debugging).
            phases=list(Phase)
            if os.environ.get("LIFECYCLE_SHRINK", "1") == "1"
            else [Phase.explicit, Phase.generate],
        ),
    )


# --- walks: the long chains after scheduling, step by step -----------------------------------------
# Hypothesis explores at random (and switches rules off per example), so chains such as "schedule,
# let the start pass, complete, acknowledge" are rare in a bounded run. These walks take the same
# machine, model and invariants through them on purpose; the random run covers the rest.
def _walk(steps: list[tuple[str, dict[str, Any]]], kinds: set[str]) -> None:
    """Run the steps, checking every invariant after each; the walk must have produced each of
    `kinds` (so a walk that no longer reaches its states fails)."""
    machine = Lifecycle()
    try:
        machine.first_scheduled_sessions()  # `first`: group coach, +30 h; `second`: started
        first, second = sorted(machine.model)
        for name, kwargs in steps:
            kwargs = {k: {"first": first, "second": second}.get(v, v) for k, v in kwargs.items()}
            getattr(machine, name)(**kwargs)
            for check in INVARIANTS:
                getattr(machine, check)()
        produced = {kind for (_, _, kind, _) in machine.expected}
        assert kinds <= produced, f"never produced: {sorted(kinds - produced)}"
    finally:
        machine.teardown()


INVARIANTS = (
    "one_terminal_transition_and_the_same_state",
    "completed_after_the_start_and_acknowledged_once_after_that",
    "no_reminder_for_a_session_canceled_completed_or_started",
    "notifications_are_exactly_those_of_decisions_md",
    "visibility",
    "no_email_twice",
)
C, T, ANY = {"which": "any", "actor": "<coach>"}, {"which": "any", "actor": "<trainee>"}, "any"

AFTER_SCHEDULING_KINDS = {
    "session_invitation",
    "session_rescheduled",
    "session_canceled_after_scheduling",
    "session_completed",
    "session_acknowledged",
    "session_reminder",
}
WALKS: dict[str, tuple[set[str], list[tuple[str, dict[str, Any]]]]] = {
    "completed_acknowledged_reminded_moved_canceled": (
        AFTER_SCHEDULING_KINDS,
        [
            ("worker_runs", {}),
            ("complete", {"pk": "first", **C}),  # before its start: 409
            ("time_passes", {"hours": 8}),
            ("worker_runs", {}),  # the first one's reminder: carl (holds it), alice, bob
            ("complete", {"pk": "second", **C}),
            ("complete", {"pk": "second", **C}),  # twice: 409
            ("cancel", {"pk": "second", **C}),  # completed: 409
            ("acknowledge", {"pk": "second", **T}),  # bob
            ("acknowledge", {"pk": "second", **T}),  # twice: already_acknowledged
            (
                "acknowledge",
                {"pk": "second", "which": ANY, "actor": "alice.agent"},
            ),  # not hers: 403
            ("reschedule", {"pk": "first", "which": ANY, "actor": "cora.coach", "hours": 72}),
            ("worker_runs", {}),  # the old reminder is not sent again; the new one not yet due
            ("time_passes", {"hours": 36}),
            ("worker_runs", {}),  # the new one: cora now holds it
            ("cancel", {"pk": "first", "which": ANY, "actor": "admin"}),
            ("time_passes", {"hours": 96}),
            ("worker_runs", {}),
            ("complete", {"pk": "first", **C}),  # canceled: 409
            ("reschedule", {"pk": "first", **C, "hours": 30}),  # canceled: 409
        ],
    ),
    "groups_change_and_people_leave_after_scheduling": (
        AFTER_SCHEDULING_KINDS - {"session_reminder"},
        [
            ("membership_changes", {"who": "dan.agent", "group": "Tier 1", "join": True}),
            ("time_passes", {"hours": 36}),  # both started; the first one's reminder was never sent
            ("worker_runs", {}),
            ("complete", {"pk": "first", **C}),
            (
                "acknowledge",
                {"pk": "first", "which": ANY, "actor": "dan.agent"},
            ),  # not invited: 403
            ("membership_changes", {"who": "bob.agent", "group": "Tier 1", "join": False}),
            (
                "acknowledge",
                {"pk": "first", "which": ANY, "actor": "bob.agent"},
            ),  # invited: accepted
            ("user_removed", {"who": "carl.coach"}),  # completed it: no longer told
            ("acknowledge", {"pk": "first", "which": ANY, "actor": "alice.agent"}),
            ("reschedule", {"pk": "second", **C, "hours": 12}),  # started, still scheduled: moved
            ("user_removed", {"who": "bob.agent"}),
            ("time_passes", {"hours": 8}),
            ("worker_runs", {}),  # 12 h ahead: no reminder was planned
            ("cancel", {"pk": "second", "which": ANY, "actor": "bob.agent"}),  # removed: 404
            ("cancel", {"pk": "second", **C}),
        ],
    ),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("walk", list(WALKS))
def test_lifecycle_walk(mailoutbox, walk):
    kinds, steps = WALKS[walk]
    _walk(steps, kinds)
