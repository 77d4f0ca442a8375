"""`/api/v1/coaching-rules` (api-v1.md, additions of 2026-12-01): QM Admins only, the shape,
paging, validation naming the field."""

from __future__ import annotations

import json

import pytest

from qa.models import CoachingRule

from ..api.conftest import assert_problem
from .helpers import rule

pytestmark = pytest.mark.django_db


def body(org, **kw):
    base = {
        "name": "Empathy dip",
        "coaching_area_id": org.areas["Empathy"].pk,
        "threshold": 70,
        "window": 5,
        "min_evaluations": 3,
        "coach": {"type": "group", "id": org.coaching_team.pk},
        "expires_in_days": 14,
    }
    base.update(kw)
    return base


def test_a_qm_admin_creates_reads_edits_and_deletes_a_rule(org, as_user):
    admin = as_user("admin")
    r = admin.post("/coaching-rules", body(org))
    assert r.status_code == 201, r.content
    created = json.loads(r.content)
    assert created == {
        "id": created["id"],
        "name": "Empathy dip",
        "coaching_area_id": org.areas["Empathy"].pk,
        "threshold": 70,
        "window": 5,
        "min_evaluations": 3,
        "coach": {"type": "group", "id": org.coaching_team.pk, "name": "Coaching Team"},
        "expires_in_days": 14,
        "active": True,
        "created_at": created["created_at"],
        "last_run_at": None,
        "suggestions_created": 0,
    }
    path = f"/coaching-rules/{created['id']}"
    assert json.loads(admin.get(path).content) == created
    r = admin.patch(
        path, {"threshold": 60, "active": False, "coach": {"type": "user", "id": org.cora.pk}}
    )
    assert r.status_code == 200, r.content
    edited = json.loads(r.content)
    assert (edited["threshold"], edited["active"], edited["coach"]["name"]) == (
        60,
        False,
        "Cora Coach",
    )
    assert edited["window"] == 5  # left out: kept
    assert admin.delete(path).status_code == 204
    assert not CoachingRule.objects.exists()
    assert_problem(admin.get(path), 404, "not_found")


@pytest.mark.parametrize("who", ["sam", "cora", "alice", "audrey", "nora"])
def test_everyone_but_qm_admins_is_refused(org, as_user, who):
    existing = rule(org)
    client = as_user(who)
    assert_problem(client.get("/coaching-rules"), 403, "permission_denied")
    assert_problem(
        client.post("/coaching-rules", body(org, name="Other")), 403, "permission_denied"
    )
    assert_problem(client.get(f"/coaching-rules/{existing.pk}"), 403, "permission_denied")
    assert_problem(
        client.patch(f"/coaching-rules/{existing.pk}", {"threshold": 1}), 403, "permission_denied"
    )
    assert_problem(client.delete(f"/coaching-rules/{existing.pk}"), 403, "permission_denied")
    assert CoachingRule.objects.get().threshold == 70


def test_anonymous_is_401(org, as_user):
    anonymous = as_user(None)
    assert_problem(anonymous.get("/coaching-rules"), 401, "not_authenticated")
    assert_problem(anonymous.post("/coaching-rules", body(org)), 401, "not_authenticated")


def test_the_list_is_paged_by_name_in_a_fixed_number_of_queries(
    org, as_user, django_assert_num_queries
):
    admin = as_user("admin")
    admin.get("/coaching-rules")  # the token's first use is written once
    for i in range(3):
        rule(org, name=f"Rule {i}", coach_user=None, coach_group=org.coaching_team)
    with django_assert_num_queries(4):
        few = json.loads(admin.get("/coaching-rules?limit=2").content)
    for i in range(3, 12):
        rule(org, name=f"Rule {i:02}")
    with django_assert_num_queries(4):
        many = json.loads(admin.get("/coaching-rules?limit=10&offset=2").content)
    assert few["count"] == 3 and [r["name"] for r in few["items"]] == ["Rule 0", "Rule 1"]
    assert many["count"] == 12 and len(many["items"]) == 10


@pytest.mark.parametrize(
    "change, field, code",
    [
        ({"name": ""}, "name", "required"),
        ({"name": "x" * 81}, "name", "too_long"),
        ({"threshold": 101}, "threshold", "out_of_range"),
        ({"threshold": -1}, "threshold", "out_of_range"),
        ({"window": 0}, "window", "out_of_range"),
        ({"window": 101}, "window", "out_of_range"),
        ({"window": 3, "min_evaluations": 4}, "min_evaluations", "out_of_range"),
        ({"expires_in_days": 0}, "expires_in_days", "out_of_range"),
        ({"expires_in_days": 366}, "expires_in_days", "out_of_range"),
        ({"coaching_area_id": 999999}, "coaching_area_id", "unknown_id"),
        ({"coach": {"type": "user", "id": 999999}}, "coach", "unknown_id"),
        ({"coach": {"type": "group", "id": 0}}, "coach.id", "out_of_range"),
        ({"threshold": None}, "threshold", "required"),
    ],
)
def test_invalid_fields_are_422_naming_the_field(org, as_user, change, field, code):
    if change.get("threshold", 0) is None:
        payload = body(org)
        del payload["threshold"]
    else:
        payload = body(org, **change)
    r = as_user("admin").post("/coaching-rules", payload)
    assert_problem(r, 422, "validation_failed", [(field, code)])
    assert not CoachingRule.objects.exists()


def test_the_coach_follows_the_session_forms_rules(org, as_user):
    admin = as_user("admin")
    org.bob.is_active = False
    org.bob.save()
    assert_problem(
        admin.post("/coaching-rules", body(org, coach={"type": "user", "id": org.bob.pk})),
        422,
        "validation_failed",
        [("coach", "inactive")],
    )
    assert_problem(
        admin.post("/coaching-rules", body(org, coach={"type": "group", "id": org.empty_group.pk})),
        422,
        "validation_failed",
        [("coach", "empty_group")],
    )
    # The rule is the supervisor: nobody to protect from self-selection, a one-person group is fine.
    r = admin.post("/coaching-rules", body(org, coach={"type": "group", "id": org.sam_only.pk}))
    assert r.status_code == 201


def test_a_name_is_unique_ignoring_case(org, as_user):
    admin = as_user("admin")
    rule(org, name="Empathy dip")
    assert_problem(
        admin.post("/coaching-rules", body(org, name="EMPATHY DIP")),
        422,
        "validation_failed",
        [("name", "duplicate")],
    )
    other = rule(org, name="Other")
    assert_problem(
        admin.patch(f"/coaching-rules/{other.pk}", {"name": "empathy dip"}),
        422,
        "validation_failed",
        [("name", "duplicate")],
    )
    assert admin.patch(f"/coaching-rules/{other.pk}", {"name": "Other"}).status_code == 200


def test_an_inactive_area_is_refused_for_a_new_rule_but_kept_on_an_old_one(org, as_user):
    admin = as_user("admin")
    existing = rule(org)
    area = org.areas["Empathy"]
    area.is_active = False
    area.save()
    assert_problem(
        admin.post("/coaching-rules", body(org, name="New")),
        422,
        "validation_failed",
        [("coaching_area_id", "inactive")],
    )
    r = admin.patch(
        f"/coaching-rules/{existing.pk}", {"threshold": 50, "coaching_area_id": area.pk}
    )
    assert r.status_code == 200, r.content
