"""The suggestion form's fields (decisions.md "The form"): each rule's field and code, and a refused
form leaves the database as it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from coaching import services
from coaching.models import CoachingSession, Origin, SessionEvent, State
from core.errors import ValidationFailed
from core.timeutils import add_months
from directory.models import CoachingArea, User
from directory.parties import PartyRef

from .helpers import codes, fields, ref, suggest, world


def refused(org, actor=None, **kw) -> list[tuple[str, str]]:
    before = world()
    with pytest.raises(ValidationFailed) as e:
        suggest(org, actor=actor, **kw)
    assert world() == before
    return codes(e.value)


def test_valid_suggestion_is_stored_with_everything(org):
    s = suggest(
        org,
        trainees=[ref(org.alice), ref(org.tier1)],
        reference_case_ids=[org.case1001.pk],
    )
    s.refresh_from_db()
    assert s.state == State.SUGGESTED and s.version == 1
    assert s.suggested_by == org.sam and s.suggested_by_name == "Sam Supervisor"
    assert s.coach_user == org.cora and s.coach_group is None
    assert list(s.trainee_users.all()) == [org.alice]
    assert list(s.trainee_groups.all()) == [org.tier1]
    assert list(s.reference_cases.all()) == [org.case1001]
    assert s.origin == Origin.HOMEPAGE
    ev = SessionEvent.objects.get(session=s)
    assert (ev.action, ev.actor, ev.actor_name) == ("suggested", org.sam, "Sam Supervisor")
    assert ev.changes["title"] == "Empathy on refunds"
    assert ev.changes["coach"] == {"type": "user", "id": org.cora.pk, "name": "Cora Coach"}
    assert sorted(t["name"] for t in ev.changes["trainees"]) == ["Alice Agent", "Tier 1"]
    assert ev.changes["reference_cases"] == [{"id": org.case1001.pk, "number": "CASE-1001"}]


# --- title ------------------------------------------------------------------------------------
@pytest.mark.parametrize("title", ["", "   ", None])
def test_title_required(org, title):
    assert refused(org, title=title) == [("title", "required")]


def test_title_trimmed(org):
    assert suggest(org, title="  Hold etiquette \n").title == "Hold etiquette"


def test_title_length(org):
    assert len(suggest(org, title=" " + "x" * 200 + " ").title) == 200
    assert suggest(org, title="x").title == "x"
    assert refused(org, title="x" * 201) == [("title", "too_long")]


def test_title_is_stored_as_plain_text(org):
    s = suggest(org, title="<b>Bold</b> & <script>x</script>")
    s.refresh_from_db()
    assert s.title == "<b>Bold</b> & <script>x</script>"


# --- coach ------------------------------------------------------------------------------------
def test_coach_required(org):
    assert refused(org, coach=None) == [("coach", "required")]


def test_coach_unknown_user_or_group(org):
    assert refused(org, coach=PartyRef("user", 999_999)) == [("coach", "unknown_id")]
    assert refused(org, coach=PartyRef("group", 999_999)) == [("coach", "unknown_id")]


def test_coach_group_is_stored_as_group_only(org):
    s = suggest(org, coach=ref(org.coaching_team))
    assert (s.coach_user, s.coach_group) == (None, org.coaching_team)


def test_inactive_coach_refused(org):
    User.objects.filter(pk=org.cora.pk).update(is_active=False)
    assert refused(org) == [("coach", "inactive")]


def test_empty_coach_group_refused(org):
    assert refused(org, coach=ref(org.empty_group)) == [("coach", "empty_group")]


def test_group_of_only_inactive_members_is_empty(org):
    User.objects.filter(pk__in=[org.cora.pk, org.carl.pk]).update(is_active=False)
    assert refused(org, coach=ref(org.coaching_team)) == [("coach", "empty_group")]


# --- trainees ---------------------------------------------------------------------------------
@pytest.mark.parametrize("trainees", [None, []])
def test_trainees_required(org, trainees):
    assert refused(org, trainees=trainees) == [("trainees", "required")]


def test_trainee_duplicates_refused(org):
    assert refused(org, trainees=[ref(org.alice), ref(org.bob), ref(org.alice)]) == [
        ("trainees", "duplicate")
    ]
    assert refused(org, trainees=[ref(org.tier1), ref(org.tier1)]) == [("trainees", "duplicate")]


def test_user_and_group_with_same_id_are_not_duplicates(org):
    s = suggest(org, trainees=[PartyRef("user", org.alice.pk), PartyRef("group", org.tier1.pk)])
    assert s.trainee_users.count() == 1 and s.trainee_groups.count() == 1


def test_trainee_unknown_and_inactive(org):
    assert refused(org, trainees=[PartyRef("user", 999_999)]) == [("trainees", "unknown_id")]
    assert refused(org, trainees=[PartyRef("group", 999_999)]) == [("trainees", "unknown_id")]
    User.objects.filter(pk=org.bob.pk).update(is_active=False)
    assert refused(org, trainees=[ref(org.alice), ref(org.bob)]) == [("trainees", "inactive")]


def test_empty_trainee_group_refused(org):
    assert refused(org, trainees=[ref(org.alice), ref(org.empty_group)]) == [
        ("trainees", "empty_group")
    ]


# --- coaching area ----------------------------------------------------------------------------
def test_coaching_area_required_known_active(org):
    assert refused(org, coaching_area_id=None) == [("coaching_area_id", "required")]
    assert refused(org, coaching_area_id=999_999) == [("coaching_area_id", "unknown_id")]
    CoachingArea.objects.filter(name="Compliance").update(is_active=False)
    assert refused(org, coaching_area_id=org.areas["Compliance"].pk) == [
        ("coaching_area_id", "inactive")
    ]


# --- expiry -----------------------------------------------------------------------------------
def test_expiry_defaults_to_three_calendar_months_in_users_zone(org):
    # 31 January 23:30 UTC is already 1 February in Auckland (UTC+13): three months later is
    # 1 May 12:30 NZST (UTC+12) = 1 May 00:30 UTC; counted in UTC it would be 30 April.
    User.objects.filter(pk=org.sam.pk).update(time_zone="Pacific/Auckland")
    sam = User.objects.get(pk=org.sam.pk)
    with time_machine.travel(datetime(2026, 1, 31, 23, 30, tzinfo=UTC), tick=False):
        s = services.session_suggest(actor=sam, fields=fields(org))
    assert s.expires_at == datetime(2026, 5, 1, 0, 30, tzinfo=UTC)
    # Sue lives in UTC; 30 November + 3 months clamps to 28 February.
    with time_machine.travel(datetime(2026, 11, 30, 10, 0, tzinfo=UTC), tick=False):
        s = suggest(org, actor=org.sue)
    assert s.expires_at == datetime(2027, 2, 28, 10, 0, tzinfo=UTC)


def test_expiry_default_keeps_wall_clock_across_dst(org):
    User.objects.filter(pk=org.sam.pk).update(time_zone="Europe/Berlin")
    sam = User.objects.get(pk=org.sam.pk)
    with time_machine.travel(datetime(2026, 1, 15, 9, 0, tzinfo=UTC), tick=False):  # 10:00 CET
        s = services.session_suggest(actor=sam, fields=fields(org))
    assert s.expires_at == datetime(2026, 4, 15, 8, 0, tzinfo=UTC)  # 10:00 CEST


def test_add_months_clamps_day():
    assert add_months(datetime(2026, 1, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2028, 1, 31, tzinfo=UTC), 1) == datetime(2028, 2, 29, tzinfo=UTC)
    assert add_months(datetime(2026, 11, 15, tzinfo=UTC), 3) == datetime(2027, 2, 15, tzinfo=UTC)


def test_expiry_must_be_in_future(org):
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        assert refused(org, expires_at=now - timedelta(minutes=1)) == [("expires_at", "in_past")]
        assert refused(org, expires_at=now) == [("expires_at", "in_past")]
        assert suggest(org, expires_at=now + timedelta(minutes=1)).expires_at > now


def test_expiry_at_most_twelve_months(org):
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    with time_machine.travel(now, tick=False):
        limit = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)
        assert suggest(org, expires_at=limit).expires_at == limit
        assert refused(org, expires_at=limit + timedelta(seconds=1)) == [("expires_at", "too_far")]


def test_naive_expiry_refused(org):
    assert refused(org, expires_at=datetime(2030, 1, 1)) == [("expires_at", "invalid")]


# --- reference cases --------------------------------------------------------------------------
def test_reference_cases_optional(org):
    assert suggest(org).reference_cases.count() == 0
    assert suggest(org, reference_case_ids=[]).reference_cases.count() == 0
    s = suggest(org, reference_case_ids=[org.case1001.pk, org.case1002.pk])
    assert set(s.reference_cases.all()) == {org.case1001, org.case1002}


def test_reference_case_unknown_and_duplicate(org):
    assert refused(org, reference_case_ids=[999_999]) == [("reference_case_ids", "unknown_id")]
    assert refused(org, reference_case_ids=[org.case1001.pk, org.case1001.pk]) == [
        ("reference_case_ids", "duplicate")
    ]


def test_unknown_origin_refused(org):
    before = world()
    with pytest.raises(ValidationFailed) as e:
        services.session_suggest(actor=org.sam, fields=fields(org), origin="email")
    assert codes(e.value) == [("origin", "invalid")]
    assert world() == before


def test_all_errors_reported_at_once(org):
    errs = refused(org, title="", coach=None, trainees=[], coaching_area_id=None)
    assert sorted(errs) == [
        ("coach", "required"),
        ("coaching_area_id", "required"),
        ("title", "required"),
        ("trainees", "required"),
    ]
    assert CoachingSession.objects.count() == 0
