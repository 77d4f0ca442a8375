"""Typeahead search: short terms match word starts, longer ones anywhere; both indexed."""

from __future__ import annotations

import pytest
from django.db import connection

from directory.models import Case, User, UserGroup
from directory.selectors import search_cases, search_groups, search_users


@pytest.fixture
def people(org):
    nicole = User.objects.create(username="nicole.smith", display_name="Nicole Smith")
    return org, nicole


def names(qs):
    return [str(x) for x in qs]


def test_two_letters_match_word_starts_not_the_middle(people):
    org, _nicole = people
    assert names(search_users("co")) == ["Carl Coach", "Cora Coach"]
    assert names(search_groups("co")) == ["Coaching Team"]


def test_three_letters_match_anywhere(people):
    assert names(search_users("col")) == ["Nicole Smith"]
    assert names(search_users("OACH")) == ["Carl Coach", "Cora Coach"]


def test_username_and_inactive(people):
    org, nicole = people
    assert names(search_users("nicole.s")) == ["Nicole Smith"]
    nicole.is_active = False
    nicole.save()
    assert names(search_users("nicole")) == []
    assert names(search_users("nicole", active_only=False)) == ["Nicole Smith"]


def test_cases_by_short_number_part_and_subject(org):
    assert sorted(c.number for c in search_cases("10")) == ["CASE-1001", "CASE-1002"]
    assert [c.number for c in search_cases("1002")] == ["CASE-1002"]
    assert [c.number for c in search_cases("retention")] == ["CASE-1002"]


def test_cases_for_an_agent_are_only_their_own(org):
    assert [c.number for c in search_cases("case", viewer=org.dan)] == ["CASE-1002"]
    assert sorted(c.number for c in search_cases("case", viewer=org.sam)) == [
        "CASE-1001",
        "CASE-1002",
    ]
    assert Case.objects.count() == 2 and UserGroup.objects.count() == 4


@pytest.mark.postgres_only
@pytest.mark.parametrize("term", ["co", "coach"])
def test_postgres_answers_short_and_long_terms_from_the_trigram_index(org, term):
    sql, params = search_users(term).query.sql_with_params()
    with connection.cursor() as cursor:
        # Tiny tables make the planner prefer a scan; forbid it to see which index can answer.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "user_display_name_trgm" in plan, plan
