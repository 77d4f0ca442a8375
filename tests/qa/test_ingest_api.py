"""POST and GET /api/v1/evaluations: each field's rule with its exact path, all or nothing,
idempotency, the limits, who may send and who may read, the list's filters, paging and queries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from directory.models import Evaluation, User
from directory.permissions import Perm
from tokens.services import token_issue

from .conftest import ApiClient, assert_problem, item

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def stored() -> list[tuple[str, int, int, int, datetime, int | None]]:
    return list(
        Evaluation.objects.filter(source_id__startswith="qa-")
        .order_by("source_id")
        .values_list(
            "source_id", "agent_id", "coaching_area_id", "score", "evaluated_at", "case_id"
        )
    )


def test_a_batch_is_stored_and_the_engine_hears_of_its_pairs_after_commit(
    org, as_user, arrivals, django_capture_on_commit_callbacks
):
    empathy, compliance = org.areas["Empathy"].pk, org.areas["Compliance"].pk
    body = {
        "items": [
            item(org, 1),
            item(org, 2, coaching_area_id=compliance, score=0, case_id=None),
            item(org, 3, agent_id=org.dan.pk, score=100, evaluated_at="2026-12-01T12:00:00Z"),
        ]
    }
    with django_capture_on_commit_callbacks(execute=True):
        r = as_user("admin").post("/evaluations", body)
    assert r.status_code == 200, r.content
    assert r.json() == {"created": 3, "updated": 0}
    assert stored() == [
        (
            "qa-1",
            org.alice.pk,
            empathy,
            80,
            datetime(2026, 11, 30, 13, 5, tzinfo=UTC),
            org.case1001.pk,
        ),
        ("qa-2", org.alice.pk, compliance, 0, datetime(2026, 11, 30, 13, 5, tzinfo=UTC), None),
        ("qa-3", org.dan.pk, empathy, 100, NOW, org.case1001.pk),
    ]
    assert arrivals == [
        sorted([(org.alice.pk, empathy), (org.alice.pk, compliance), (org.dan.pk, empathy)])
    ]


def test_the_same_batch_again_updates_what_it_stored(org, as_user, arrivals):
    client = as_user("admin")
    assert client.post("/evaluations", {"items": [item(org, 1), item(org, 2)]}).json() == {
        "created": 2,
        "updated": 0,
    }
    again = {"items": [item(org, 1, score=55, case_id=None), item(org, 2), item(org, 3)]}
    r = client.post("/evaluations", again)
    assert r.json() == {"created": 1, "updated": 2}
    assert [(s, score, case) for s, _, _, score, _, case in stored()] == [
        ("qa-1", 55, None),
        ("qa-2", 80, org.case1001.pk),
        ("qa-3", 80, org.case1001.pk),
    ]
    assert Evaluation.objects.filter(source_id__startswith="qa-").count() == 3


def test_an_evaluation_moved_to_another_agent_tells_the_engine_of_both(
    org, as_user, arrivals, django_capture_on_commit_callbacks
):
    client = as_user("admin")
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/evaluations", {"items": [item(org, 1)]})
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post("/evaluations", {"items": [item(org, 1, agent_id=org.bob.pk)]})
    assert r.json() == {"created": 0, "updated": 1}
    empathy = org.areas["Empathy"].pk
    assert arrivals[-1] == sorted([(org.alice.pk, empathy), (org.bob.pk, empathy)])


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"score": 101}, "score", "out_of_range"),
        ({"score": -1}, "score", "out_of_range"),
        ({"score": "80"}, "score", "invalid"),
        ({"score": 80.0}, "score", "invalid"),
        ({"score": 80.5}, "score", "invalid"),
        ({"score": True}, "score", "invalid"),
        ({"score": None}, "score", "required"),
        ({"source_id": ""}, "source_id", "required"),
        ({"source_id": "   "}, "source_id", "required"),
        ({"source_id": "x" * 101}, "source_id", "too_long"),
        ({"source_id": 17}, "source_id", "invalid"),
        ({"source_id": "a\x00b"}, "source_id", "invalid"),
        ({"agent_id": 999999}, "agent_id", "unknown_id"),
        ({"agent_id": "12"}, "agent_id", "invalid"),
        ({"agent_id": 0}, "agent_id", "out_of_range"),
        ({"agent_id": None}, "agent_id", "required"),
        ({"coaching_area_id": 999999}, "coaching_area_id", "unknown_id"),
        ({"coaching_area_id": False}, "coaching_area_id", "invalid"),
        ({"case_id": 999999}, "case_id", "unknown_id"),
        ({"case_id": "CASE-1001"}, "case_id", "invalid"),
        ({"evaluated_at": "2026-12-01T12:00:01Z"}, "evaluated_at", "in_future"),
        ({"evaluated_at": "2027-01-01T00:00:00+01:00"}, "evaluated_at", "in_future"),
        ({"evaluated_at": "2026-11-30T14:05:00"}, "evaluated_at", "invalid"),
        ({"evaluated_at": "1764500000"}, "evaluated_at", "invalid"),
        ({"evaluated_at": 1764500000}, "evaluated_at", "invalid"),
        ({"evaluated_at": "yesterday"}, "evaluated_at", "invalid"),
        ({"evaluated_at": "2026-02-30T10:00:00Z"}, "evaluated_at", "invalid"),
        ({"evaluated_at": "0001-01-01T00:00:00+01:00"}, "evaluated_at", "out_of_range"),
    ],
)
def test_each_field_rule_names_the_item_and_field_and_nothing_is_stored(
    org, as_user, arrivals, changes, field, code
):
    body = {"items": [item(org, 1), item(org, 2), item(org, 3, **changes)]}
    r = as_user("admin").post("/evaluations", body)
    assert_problem(r, 422, "validation_failed", [(f"items[2].{field}", code)])
    assert stored() == []
    assert arrivals == []


def test_a_user_who_is_not_an_agent_is_refused(org, as_user):
    r = as_user("admin").post("/evaluations", {"items": [item(org, 1, agent_id=org.cora.pk)]})
    body = assert_problem(r, 422, "validation_failed", [("items[0].agent_id", "invalid")])
    assert "Cora Coach" in body["errors"][0]["message"] or "cora" in body["errors"][0]["message"]


def test_every_problem_of_every_item_is_listed(org, as_user):
    body = {
        "items": [
            item(org, 1, score=200, agent_id=999999),
            item(org, 2),
            "not an object",
            item(org, 1),
            {"source_id": "qa-9"},
        ]
    }
    r = as_user("admin").post("/evaluations", body)
    assert_problem(
        r,
        422,
        "validation_failed",
        [
            ("items[0].score", "out_of_range"),
            ("items[0].agent_id", "unknown_id"),
            ("items[2]", "invalid"),
            ("items[3].source_id", "duplicate"),
            ("items[4].agent_id", "required"),
            ("items[4].coaching_area_id", "required"),
            ("items[4].score", "required"),
            ("items[4].evaluated_at", "required"),
        ],
    )
    assert stored() == []


def test_a_refused_batch_leaves_stored_evaluations_as_they_were(org, as_user):
    client = as_user("admin")
    client.post("/evaluations", {"items": [item(org, 1)]})
    before = stored()
    r = client.post("/evaluations", {"items": [item(org, 1, score=10), item(org, 2, score=-5)]})
    assert r.status_code == 422
    assert stored() == before


@pytest.mark.parametrize(("count", "code"), [(0, "required"), (1001, "too_long")])
def test_batch_size_limits(org, as_user, count, code):
    r = as_user("admin").post("/evaluations", {"items": [item(org, n) for n in range(count)]})
    assert_problem(r, 422, "validation_failed", [("items", code)])
    assert stored() == []


def test_a_thousand_items_are_accepted_in_a_constant_number_of_queries(org, as_user):
    client = as_user("admin")
    client.get("/me")  # token bookkeeping out of the way

    def post(n: int) -> int:
        body = {"items": [item(org, i, score=i % 101) for i in range(n)]}
        with CaptureQueriesContext(connection) as ctx:
            r = client.post("/evaluations", body)
        assert r.status_code == 200, r.content
        return len(ctx.captured_queries)

    few = post(3)
    many = post(1000)
    assert many == few  # one query per kind of reference, one INSERT per 1,000 rows
    assert Evaluation.objects.filter(source_id__startswith="qa-").count() == 1000


@pytest.mark.parametrize("who", ["sam", "cora", "alice", "nora"])
def test_without_the_import_permission_it_is_403(org, as_user, who):
    r = as_user(who).post("/evaluations", {"items": [item(org, 1)]})
    assert_problem(r, 403, "permission_denied")
    assert stored() == []


def test_anonymous_is_401(org, as_user):
    r = as_user(None).post("/evaluations", {"items": [item(org, 1)]})
    assert_problem(r, 401, "not_authenticated")
    assert as_user(None).get("/evaluations").status_code == 401


def test_an_integration_token_of_a_user_holding_the_permission_may_send(org):
    from django.contrib.auth.models import Permission

    bot = User.objects.create_user("qa.tool", password="x")
    bot.user_permissions.add(Permission.objects.get(codename=Perm.IMPORT_EVALUATIONS.value))
    _, raw = token_issue(user=bot, name="qa tool")
    r = ApiClient(raw).post("/evaluations", {"items": [item(org, 1)]})
    assert r.status_code == 200, r.content
    assert r.json() == {"created": 1, "updated": 0}
    # ... and read back what it sent.
    assert ApiClient(raw).get("/evaluations").json()["count"] == 1


def test_the_body_must_be_an_object_with_a_list(org, as_user):
    client = as_user("admin")
    assert_problem(client.post("/evaluations", raw="[1]"), 400, "malformed_request")
    assert_problem(client.post("/evaluations", {"items": "x"}), 400, "malformed_request")
    assert_problem(
        client.post("/evaluations", {}), 422, "validation_failed", [("items", "required")]
    )


# --- the list -------------------------------------------------------------------------------------
def _seed(org, as_user) -> None:
    empathy, compliance = org.areas["Empathy"].pk, org.areas["Compliance"].pk
    items = [
        item(org, 1, evaluated_at="2026-11-01T10:00:00Z"),
        item(org, 2, evaluated_at="2026-11-02T10:00:00Z", coaching_area_id=compliance),
        item(org, 3, evaluated_at="2026-11-03T10:00:00Z", agent_id=org.dan.pk, case_id=None),
        item(org, 4, evaluated_at="2026-11-04T10:00:00Z", agent_id=org.bob.pk),
        item(org, 5, evaluated_at="2026-11-05T10:00:00Z", coaching_area_id=empathy),
    ]
    assert as_user("admin").post("/evaluations", {"items": items}).status_code == 200


def _ids(r) -> list[str]:
    assert r.status_code == 200, r.content
    return [e["source_id"] for e in r.json()["items"] if e["source_id"].startswith("qa-")]


def test_the_list_is_newest_first_with_the_item_shape(org, as_user):
    Evaluation.objects.all().delete()  # the demo's own
    _seed(org, as_user)
    r = as_user("sam").get("/evaluations?limit=2")
    body = r.json()
    assert body["count"] == 5
    assert [e["source_id"] for e in body["items"]] == ["qa-5", "qa-4"]
    first = body["items"][0]
    assert first == {
        "id": Evaluation.objects.get(source_id="qa-5").pk,
        "source_id": "qa-5",
        "agent": {
            "id": org.alice.pk,
            "username": "alice.agent",
            "display_name": "Alice Agent",
            "is_active": True,
        },
        "coaching_area": {"id": org.areas["Empathy"].pk, "name": "Empathy"},
        "score": 80,
        "evaluated_at": "2026-11-05T10:00:00Z",
        "case": {"id": org.case1001.pk, "number": "CASE-1001"},
        "received_at": "2026-12-01T12:00:00Z",
    }
    assert _ids(as_user("sam").get("/evaluations?limit=2&offset=2")) == ["qa-3", "qa-2"]
    dan = as_user("sam").get(f"/evaluations?agent={org.dan.pk}").json()["items"]
    assert dan[0]["case"] is None


def test_the_list_filters(org, as_user):
    _seed(org, as_user)
    client = as_user("cora")
    compliance = org.areas["Compliance"].pk
    assert _ids(client.get(f"/evaluations?agent={org.alice.pk}")) == ["qa-5", "qa-2", "qa-1"]
    assert _ids(client.get(f"/evaluations?coaching_area_id={compliance}")) == ["qa-2"]
    assert _ids(client.get(f"/evaluations?agent={org.alice.pk}&coaching_area_id={compliance}")) == [
        "qa-2"
    ]
    window = "from=2026-11-02T10:00:00%2B00:00&to=2026-11-04T10:00:00Z"
    assert _ids(client.get(f"/evaluations?{window}")) == ["qa-3", "qa-2"]
    assert_problem(
        client.get("/evaluations?from=2026-11-02T10:00:00"),
        422,
        "validation_failed",
        [("from", "invalid")],
    )


def test_an_agent_lists_only_their_own(org, as_user):
    _seed(org, as_user)
    alice = as_user("alice")
    assert _ids(alice.get("/evaluations")) == ["qa-5", "qa-2", "qa-1"]
    assert _ids(alice.get(f"/evaluations?agent={org.dan.pk}")) == []
    assert _ids(as_user("nora").get("/evaluations")) == []


@pytest.mark.parametrize("who", ["sam", "alice", "admin"])
def test_the_list_query_count_is_pinned(org, as_user, who):
    client = as_user(who)
    client.get("/me")

    def count(path: str) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            r = client.get(path)
        assert r.status_code == 200, r.content
        return len(ctx.captured_queries), len(r.json()["items"])

    _seed(org, as_user)
    small, n_small = count("/evaluations?limit=1")
    large, n_large = count("/evaluations?limit=100")
    assert n_small == 1 and n_large >= 3
    assert small == 4, small  # token, user and permissions, page, count
    assert large == 3, large  # the whole list on one page: no count
