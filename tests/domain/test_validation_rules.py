"""The spec's "Error Messages" (decisions.md "Validation rules"), at suggestion, edit and
scheduling, with group membership read at the moment of the request."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from coaching import services
from coaching.models import State
from coaching.rules import SessionFields
from core.errors import ValidationFailed
from directory.models import UserGroup, UserGroupMembership

from .helpers import codes, fresh, ref, schedule, suggest, world


def refused_suggest(org, **kw):
    before = world()
    with pytest.raises(ValidationFailed) as e:
        suggest(org, **kw)
    assert world() == before
    return e.value


def test_supervisor_cannot_be_coach(org):
    e = refused_suggest(org, coach=ref(org.sam))
    assert codes(e) == [("coach", "supervisor_cannot_be_coach")]
    assert "Sam Supervisor" in e.errors[0].message


def test_supervisor_cannot_be_trainee(org):
    e = refused_suggest(org, trainees=[ref(org.alice), ref(org.sam)])
    assert codes(e) == [("trainees", "supervisor_cannot_be_trainee")]
    assert "Sam Supervisor" in e.errors[0].message


def test_same_user_as_coach_and_trainee(org):
    e = refused_suggest(org, coach=ref(org.cora), trainees=[ref(org.alice), ref(org.cora)])
    assert codes(e) == [("trainees", "coach_is_also_trainee")]
    assert "Cora Coach" in e.errors[0].message


def test_same_group_as_coach_and_trainee(org):
    e = refused_suggest(org, coach=ref(org.tier1), trainees=[ref(org.tier1)])
    assert codes(e) == [("trainees", "coach_is_also_trainee")]
    assert "Tier 1" in e.errors[0].message


def test_coach_group_with_only_the_supervisor(org):
    e = refused_suggest(org, coach=ref(org.sam_only))
    assert codes(e) == [("coach", "coach_group_only_supervisor")]
    assert "Sam Only" in e.errors[0].message and "Sam Supervisor" in e.errors[0].message


def test_trainee_group_with_only_the_supervisor(org):
    e = refused_suggest(org, trainees=[ref(org.alice), ref(org.sam_only)])
    assert codes(e) == [("trainees", "trainee_group_only_supervisor")]
    assert "Sam Only" in e.errors[0].message


def test_only_supervisor_rules_are_about_the_author(org):
    """Sam Only is a fine coach group for Sue: the rules protect the author, not Sam."""
    s = suggest(org, actor=org.sue, coach=ref(org.sam_only), trainees=[ref(org.alice)])
    assert s.coach_group == org.sam_only
    s = suggest(org, actor=org.sue, trainees=[ref(org.sam_only)])
    assert list(s.trainee_groups.all()) == [org.sam_only]


def test_group_with_the_supervisor_and_others_is_allowed(org):
    UserGroupMembership.objects.create(group=org.sam_only, user=org.cora)
    s = suggest(org, coach=ref(org.sam_only))
    assert s.coach_group == org.sam_only


def test_membership_is_read_at_request_time(org):
    UserGroupMembership.objects.create(group=org.sam_only, user=org.cora)
    assert suggest(org, coach=ref(org.sam_only)).state == State.SUGGESTED
    UserGroupMembership.objects.filter(group=org.sam_only, user=org.cora).delete()
    e = refused_suggest(org, coach=ref(org.sam_only))
    assert codes(e) == [("coach", "coach_group_only_supervisor")]


def test_several_rules_at_once(org):
    e = refused_suggest(org, coach=ref(org.sam), trainees=[ref(org.sam), ref(org.sam_only)])
    assert sorted(codes(e)) == [
        ("coach", "supervisor_cannot_be_coach"),
        ("trainees", "coach_is_also_trainee"),
        ("trainees", "supervisor_cannot_be_trainee"),
        ("trainees", "trainee_group_only_supervisor"),
    ]


# --- the same rules when the coach schedules ----------------------------------------------------
@pytest.mark.parametrize(
    "override, expected",
    [
        (lambda o: {"coach": ref(o.sam)}, [("coach", "supervisor_cannot_be_coach")]),
        (
            lambda o: {"trainees": [ref(o.alice), ref(o.sam)]},
            [("trainees", "supervisor_cannot_be_trainee")],
        ),
        (lambda o: {"coach": ref(o.sam_only)}, [("coach", "coach_group_only_supervisor")]),
        (
            lambda o: {"trainees": [ref(o.sam_only)]},
            [("trainees", "trainee_group_only_supervisor")],
        ),
        (lambda o: {"trainees": [ref(o.cora)]}, [("trainees", "coach_is_also_trainee")]),
        (lambda o: {"coach": ref(o.alice)}, [("trainees", "coach_is_also_trainee")]),
        (lambda o: {"coach": ref(o.empty_group)}, [("coach", "empty_group")]),
        (lambda o: {"title": "  "}, [("title", "required")]),
    ],
    ids=[
        "author-as-coach",
        "author-as-trainee",
        "sam-only-coach",
        "sam-only-trainee",
        "coach-as-trainee",
        "trainee-as-coach",
        "empty-coach-group",
        "blank-title",
    ],
)
def test_schedule_applies_the_same_rules(org, override, expected):
    s = suggest(org)
    before = world()
    with pytest.raises(ValidationFailed) as e:
        schedule(org.cora, s, fields=SessionFields(**override(org)))
    assert codes(e.value) == expected
    assert world() == before


def test_schedule_with_adjusted_fields(org):
    s = suggest(org)
    schedule(
        org.cora,
        s,
        fields=SessionFields(title="Refunds, revisited", trainees=[ref(org.alice), ref(org.bob)]),
        location="Room 2",
    )
    s.refresh_from_db()
    assert s.state == State.SCHEDULED and s.title == "Refunds, revisited"
    assert set(s.trainee_users.all()) == {org.alice, org.bob}
    assert s.location == "Room 2"
    ev = s.events.get(action="scheduled")
    assert ev.changes["title"] == ["Empathy on refunds", "Refunds, revisited"]
    assert "trainees" in ev.changes and ev.changes["location"] == "Room 2"


def test_membership_changed_between_suggest_and_schedule(org):
    """Tier 1 was a fine trainee group when Sam suggested; by the time Cora schedules, Sam is its
    only member, and the schedule step says so."""
    s = suggest(org, trainees=[ref(org.tier1)])
    UserGroupMembership.objects.filter(group=org.tier1).delete()
    UserGroupMembership.objects.create(group=org.tier1, user=org.sam)
    before = world()
    with pytest.raises(ValidationFailed) as e:
        schedule(fresh(org.cora), s)
    assert codes(e.value) == [("trainees", "trainee_group_only_supervisor")]
    assert world() == before
    UserGroupMembership.objects.filter(group=org.tier1).delete()
    with pytest.raises(ValidationFailed) as e:
        schedule(fresh(org.cora), s)
    assert codes(e.value) == [("trainees", "empty_group")]
    UserGroupMembership.objects.create(group=org.tier1, user=org.dan)
    assert schedule(fresh(org.cora), s).state == State.SCHEDULED


def test_schedule_fields_checked(org):
    s = suggest(org)
    before = world()
    with pytest.raises(ValidationFailed) as e:
        services.session_schedule(
            actor=org.cora,
            session_id=s.pk,
            starts_at=timezone.now() - timedelta(minutes=1),
            duration_minutes=4,
            location="x" * 201,
        )
    assert sorted(codes(e.value)) == [
        ("duration_minutes", "out_of_range"),
        ("location", "too_long"),
        ("starts_at", "in_past"),
    ]
    with pytest.raises(ValidationFailed) as e:
        services.session_schedule(
            actor=org.cora, session_id=s.pk, starts_at=None, duration_minutes=None
        )
    assert sorted(codes(e.value)) == [("duration_minutes", "required"), ("starts_at", "required")]
    assert world() == before


def test_edit_applies_the_same_rules(org):
    s = suggest(org)
    before = world()
    for data, expected in [
        (SessionFields(coach=ref(org.sam)), [("coach", "supervisor_cannot_be_coach")]),
        (
            SessionFields(trainees=[ref(org.sam_only)]),
            [("trainees", "trainee_group_only_supervisor")],
        ),
        (SessionFields(trainees=[ref(org.cora)]), [("trainees", "coach_is_also_trainee")]),
        (SessionFields(trainees=[]), [("trainees", "required")]),
    ]:
        with pytest.raises(ValidationFailed) as e:
            services.session_edit(actor=org.sam, session_id=s.pk, fields=data)
        assert codes(e.value) == expected
    assert world() == before


def test_admin_edit_still_protects_the_author(org):
    """A QM Admin editing Sam's suggestion may not make Sam the coach either."""
    s = suggest(org)
    with pytest.raises(ValidationFailed) as e:
        services.session_edit(
            actor=org.admin, session_id=s.pk, fields=SessionFields(coach=ref(org.sam))
        )
    assert codes(e.value) == [("coach", "supervisor_cannot_be_coach")]
    assert UserGroup.objects.count() == 4
