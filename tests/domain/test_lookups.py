"""The directory's look-ups by id (`directory.lookups`): compiled once, bound without a viewer,
and the same rows as the ORM's queries they replace."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from directory import lookups
from directory.models import Evaluation, User

pytestmark = pytest.mark.django_db


def test_each_look_up_is_compiled_once_and_bound_without_a_viewer(org):
    for shape, ids, times in [
        (lookups.USER, {"user": ("user", org.alice.pk)}, {}),
        (lookups.CASE, {"case": ("case", org.case1001.pk)}, {}),
        (lookups.ROLE_NAMES, {"user": ("user", org.sam.pk)}, {}),
        (lookups.USER_GROUPS, {"user": ("user", org.alice.pk)}, {}),
        (lookups.SCORE_SERIES, {"agent": ("user", org.alice.pk)}, {"since": timezone.now()}),
        (lookups.RECENT_EVALUATIONS, {"agent": ("user", org.alice.pk)}, {}),
    ]:
        bound = shape.bind(viewer=None, ids=ids, times=times)
        assert bound.cached, shape.name
        other = {name: (domain, pk + 1) for name, (domain, pk) in ids.items()}
        again = shape.bind(viewer=None, ids=other, times=times)
        assert again.sql == bound.sql and again.params != bound.params  # values bound, not SQL


def test_users_and_cases_by_id(org):
    got = lookups.user_by_id(org.alice.pk)
    assert got is not None and got.pk == org.alice.pk and got.username == org.alice.username
    assert got.get_full_name() == User.objects.get(pk=org.alice.pk).get_full_name()
    assert lookups.user_by_id(10**9) is None
    case = lookups.case_by_id(org.case1001.pk)
    assert case is not None and case.number == org.case1001.number
    assert lookups.case_by_id(10**9) is None


def test_roles_and_groups_as_the_orm_lists_them(org):
    for person in (org.sam, org.alice, org.admin, org.nora):
        assert lookups.role_names_of(person) == frozenset(
            person.groups.values_list("name", flat=True)
        )
        assert [g.pk for g in lookups.user_groups_of(person)] == list(
            person.user_groups.order_by("name").values_list("pk", flat=True)
        )
    assert lookups.user_groups_of(org.alice)  # Alice is in groups: the test compares something


def test_scores_and_recent_evaluations_as_the_orm_reads_them(org):
    now = timezone.now()
    Evaluation.objects.create(
        source_id="lookup-nocase",
        agent=org.alice,
        coaching_area=org.areas["Empathy"],
        score=42,
        evaluated_at=now - timedelta(hours=1),
    )
    Evaluation.objects.create(
        source_id="lookup-case",
        agent=org.alice,
        case=org.case1001,
        coaching_area=org.areas["Compliance"],
        score=91,
        evaluated_at=now - timedelta(hours=2),
    )
    since = now - timedelta(days=90)
    expected = list(
        Evaluation.objects.filter(agent=org.alice, evaluated_at__gte=since)
        .order_by("evaluated_at", "id")
        .values_list("coaching_area__name", "evaluated_at", "score")
    )
    assert lookups.score_series(org.alice, since) == expected and len(expected) >= 2
    recent = lookups.recent_evaluations(org.alice, 5)
    orm = list(
        Evaluation.objects.filter(agent=org.alice)
        .select_related("case", "coaching_area")
        .order_by("-evaluated_at", "-id")[:5]
    )
    assert recent == [
        (
            e.case_id,
            e.case.number if e.case else None,
            e.case.subject if e.case else None,
            e.evaluated_at,
            e.coaching_area.name,
            e.score,
        )
        for e in orm
    ]
    assert recent[0][:3] == (None, None, None) and recent[0][-1] == 42  # the newest has no case
    assert recent[1][:3] == (org.case1001.pk, org.case1001.number, org.case1001.subject)
