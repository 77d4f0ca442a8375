"""A stateful property test of the suggestion lifecycle (hypothesis `RuleBasedStateMachine`).

Random people suggest, edit, delete, schedule and decline (as coach or as trainee); time jumps
forward (time-machine) past expiry times; the worker runs (recording expiries and sending
e-mail); people join and leave user groups; people are removed from the directory. Beside the
real product runs a model written from decisions.md alone. After every step:

* each session has had at most one terminal transition, and its state is the model's;
* the notifications are exactly the model's (session, recipient, kind, text), none twice;
* every action was accepted exactly when the model says, and refused with the model's error
  (404 / 403 / 409 / 422 and the rule codes), so nothing is accepted after a terminal state;
* every person sees exactly the sessions the model says (decisions.md, "Visibility");
* no e-mail was sent twice.

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
from coaching.models import CoachingSession, State
from coaching.rules import PartyRef, SessionFields
from coaching.selectors import sessions_visible_to
from core.errors import ApplicationError, InvalidState, NotFound, PermissionDenied, ValidationFailed
from core.testing import drain_tasks
from directory.models import CoachingArea, User, UserGroup, UserGroupMembership
from directory.services import user_deactivate
from notifications.models import Notification
from tests.decisions import TEXT

# The kinds this machine models: TEXT also holds the invitation (2026-12-01), not modelled yet.
MODELLED = [kind for kind in TEXT if kind != "session_invitation"]

EXAMPLES = int(os.environ.get("LIFECYCLE_EXAMPLES", "20"))
STEPS = int(os.environ.get("LIFECYCLE_STEPS", "25"))
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

TERMINAL = {"scheduled", "deleted", "declined_by_coach", "declined_by_trainee", "expired"}


@dataclass
class Suggestion:
    pk: int
    author: str
    coach: str  # a username or "group:<name>"
    trainees: set[str]
    expires_at: datetime
    state: str = "suggested"
    scheduled: bool = False
    transitions: list[str] = field(default_factory=list)


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
        return self.is_trainee(username, s) and not self.canceled_before_scheduling(s)

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
        elif action == "schedule":
            allowed = self.is_coach(actor, s)
        else:
            allowed = self.is_coach(actor, s) or self.is_trainee(actor, s)
        if not allowed:
            return PermissionDenied
        if not self.is_open(s):
            return InvalidState
        return None

    def notify(
        self, s: Suggestion, kind: str, recipients: set[str], by: str | None, **kw: str
    ) -> None:
        """Nobody is notified of their own action."""
        text = TEXT[kind].format(**kw)
        for username in recipients - {by}:
            self.expected[(s.pk, username, kind, text)] += 1

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

    @rule(pk=sessions, actor=st.sampled_from(PEOPLE))
    def schedule(self, pk: int, actor: str) -> None:
        s = self.model[pk]
        expected: Any = self.refusal(actor, s, "schedule")
        if expected is None:
            expected = self.rule_codes(s.author, s.coach, s.trainees, set()) or None
        if self.attempt(
            expected,
            lambda: services.session_schedule(
                actor=self.user(actor),
                session_id=pk,
                starts_at=self.now() + timedelta(days=3),
                duration_minutes=45,
                allow_conflicts=True,  # clashes are not this test's subject
            ),
        ):
            self.close(s, "scheduled")
            s.scheduled = True
            self.notify(
                s, "session_scheduled", self.expand(s.author), actor, actor=self.names[actor]
            )

    @rule(pk=sessions, actor=st.sampled_from(PEOPLE), reason=st.sampled_from(["Busy", "On leave"]))
    def decline(self, pk: int, actor: str, reason: str) -> None:
        s = self.model[pk]
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

    @rule(hours=st.sampled_from([2, 24, 24 * 4, 24 * 20]))
    def time_passes(self, hours: int) -> None:
        self.clock.shift(timedelta(hours=hours))

    @rule()
    def worker_runs(self) -> None:
        """The worker records every expiry that is due (once) and sends the e-mail."""
        for s in self.model.values():
            if s.state == "suggested" and self.now() >= s.expires_at:
                self.close(s, "expired")
                self.notify(
                    s, "session_expired", self.expand(s.coach) | self.expand(s.author), None
                )
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

    # --- the invariants ------------------------------------------------------------------------
    @invariant()
    def one_terminal_transition_and_the_same_state(self) -> None:
        states = dict(CoachingSession.objects.values_list("pk", "state"))
        for s in self.model.values():
            assert len([t for t in s.transitions if t in TERMINAL]) <= 1
            assert states[s.pk] == (State.SCHEDULED if s.state == "scheduled" else s.state)
        events = Counter(
            CoachingSession.objects.filter(events__action__in=TERMINAL).values_list("pk", flat=True)
        )
        assert all(n == 1 for n in events.values()), events

    @invariant()
    def notifications_are_exactly_those_of_decisions_md(self) -> None:
        # The suggestion's six kinds (decisions.md's first table); the kinds added on 2026-12-01
        # for scheduled sessions (invitations, reminders) are not modelled here yet.
        actual = Counter(
            Notification.objects.filter(kind__in=MODELLED).values_list(
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
