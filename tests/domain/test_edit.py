"""Editing a suggestion: version, audit diff, expected_version, new coach told, expiry moved."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from coaching import services
from coaching.models import Action, State
from coaching.rules import SessionFields
from core.errors import InvalidState, VersionConflict
from notifications.models import Kind

from .helpers import EXPIRED_TEXT, inbox, ref, suggest, world

SUGGESTED = "Sam Supervisor suggested a coaching session."


def edit(actor, s, expected_version=None, **kw):
    return services.session_edit(
        actor=actor, session_id=s.pk, fields=SessionFields(**kw), expected_version=expected_version
    )


def test_edit_bumps_version_and_records_diff(org):
    s = suggest(org)
    edit(
        org.sam,
        s,
        title="  Better title ",
        reference_case_ids=[org.case1002.pk],
        expected_version=1,
    )
    s.refresh_from_db()
    assert (s.title, s.version) == ("Better title", 2)
    assert list(s.reference_cases.all()) == [org.case1002]
    ev = s.events.get(action=Action.EDITED)
    assert ev.actor == org.sam
    assert ev.changes == {
        "title": ["Empathy on refunds", "Better title"],
        "reference_cases": [[], [{"id": org.case1002.pk, "number": "CASE-1002"}]],
    }
    # No coach change: nobody is told.
    assert inbox(s) == [("cora.coach", SUGGESTED)]


def test_edit_without_change_changes_nothing(org):
    s = suggest(org)
    before = world()
    edit(org.sam, s, title="Empathy on refunds", trainees=[ref(org.alice)])
    assert world() == before


def test_stale_version_conflicts(org):
    s = suggest(org)
    edit(org.sam, s, title="v2", expected_version=1)
    before = world()
    with pytest.raises(VersionConflict):
        edit(org.sam, s, title="v3 from a stale form", expected_version=1)
    assert world() == before
    edit(org.sam, s, title="v3", expected_version=2)
    s.refresh_from_db()
    assert (s.title, s.version) == ("v3", 3)


def test_changing_coach_notifies_new_coach_only(org):
    s = suggest(org)
    edit(org.sam, s, coach=ref(org.carl))
    s.refresh_from_db()
    assert s.coach_user == org.carl
    assert inbox(s) == [("carl.coach", SUGGESTED), ("cora.coach", SUGGESTED)]
    ev = s.events.get(action=Action.EDITED)
    assert ev.changes["coach"] == [
        {"type": "user", "id": org.cora.pk, "name": "Cora Coach"},
        {"type": "user", "id": org.carl.pk, "name": "Carl Coach"},
    ]


def test_changing_coach_to_group_tells_only_those_new(org):
    s = suggest(org)
    edit(org.sam, s, coach=ref(org.coaching_team))
    s.refresh_from_db()
    assert (s.coach_user, s.coach_group) == (None, org.coaching_team)
    # Cora was coach already; only Carl learns of it.
    assert inbox(s, kind=Kind.SESSION_SUGGESTED) == [
        ("carl.coach", SUGGESTED),
        ("cora.coach", SUGGESTED),
    ]


def test_admin_changing_coach_names_the_author(org):
    s = suggest(org)
    edit(org.admin, s, coach=ref(org.carl))
    assert ("carl.coach", SUGGESTED) in inbox(s)


def test_moving_expiry_later_reschedules_the_expiry(org, run_worker):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as t:
        s = suggest(org, expires_at=start + timedelta(days=1))
        edit(org.sam, s, expires_at=start + timedelta(days=3))
        s.refresh_from_db()
        assert s.expires_at == start + timedelta(days=3) and s.version == 2
        t.move_to(start + timedelta(days=1, seconds=1))
        run_worker()  # the early task finds it not yet due
        s.refresh_from_db()
        assert s.state == State.SUGGESTED and s.effective_state == State.SUGGESTED
        assert inbox(s, kind=Kind.SESSION_EXPIRED) == []
        t.move_to(start + timedelta(days=3, seconds=1))
        run_worker()
        s.refresh_from_db()
        assert (s.state, s.cancel_reason) == (State.CANCELED, "expired")
        assert inbox(s, kind=Kind.SESSION_EXPIRED) == [
            ("cora.coach", EXPIRED_TEXT),
            ("sam.supervisor", EXPIRED_TEXT),
        ]


def test_moving_expiry_earlier_expires_earlier(org, run_worker):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as t:
        s = suggest(org, expires_at=start + timedelta(days=10))
        edit(org.sam, s, expires_at=start + timedelta(days=2))
        t.move_to(start + timedelta(days=2, seconds=1))
        run_worker()
        s.refresh_from_db()
        assert s.state == State.CANCELED
        t.move_to(start + timedelta(days=11))
        run_worker()
        assert s.events.filter(action=Action.EXPIRED).count() == 1


def test_edit_expiry_rules(org):
    s = suggest(org)
    before = world()
    from core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as e:
        edit(org.sam, s, expires_at=timezone.now() - timedelta(hours=1))
    assert [(x.field, x.code) for x in e.value.errors] == [("expires_at", "in_past")]
    with pytest.raises(ValidationFailed) as e:
        edit(org.sam, s, expires_at=timezone.now() + timedelta(days=400))
    assert [(x.field, x.code) for x in e.value.errors] == [("expires_at", "too_far")]
    assert world() == before


def test_edit_keeps_inactive_area_but_refuses_switching_to_one(org):
    from core.errors import ValidationFailed
    from directory.models import CoachingArea

    s = suggest(org, coaching_area_id=org.areas["Compliance"].pk)
    CoachingArea.objects.filter(name__in=["Compliance", "Call Handling"]).update(is_active=False)
    edit(org.sam, s, title="Still fine", coaching_area_id=org.areas["Compliance"].pk)
    with pytest.raises(ValidationFailed) as e:
        edit(org.sam, s, coaching_area_id=org.areas["Call Handling"].pk)
    assert [(x.field, x.code) for x in e.value.errors] == [("coaching_area_id", "inactive")]


def test_edit_after_expiry_refused(org):
    s = suggest(org)
    with time_machine.travel(s.expires_at, tick=False):
        before = world()
        with pytest.raises(InvalidState):
            edit(org.sam, s, title="too late")
        assert world() == before
