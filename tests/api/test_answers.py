"""`config.api_common.answer`: the hot reads write their answers with pydantic's own serializer;
the bytes must read exactly as ninja's renderer would write them for the same schema."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from ninja.responses import NinjaJSONEncoder

from coaching import api as coaching_api
from coaching import services
from config import api_common
from directory.parties import PartyRef
from notifications import api as notifications_api
from notifications.models import Notification
from tests.api.conftest import suggest

# Django's JSON encoder: milliseconds (none when the time has none), UTC as `Z`.
DJANGO_TIME = re.compile(r'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3})?Z"')
ANY_TIME = re.compile(r'"\d{4}-\d\d-\d\dT\d\d:\d\d[^"]*"')


def as_ninja_writes(schema: Any, data: Any) -> dict[str, Any]:
    """What ninja answers for `data` under `schema`: validated, dumped to Python, encoded by
    its JSON renderer."""
    dumped = schema.model_validate(data).model_dump()
    return json.loads(json.dumps(dumped, cls=NinjaJSONEncoder))


@pytest.fixture
def ninja_wrote(monkeypatch) -> list[dict[str, Any]]:
    """Ninja's rendering of the very data each `answer` call was given (not of the answer read
    back: the answer keeps milliseconds, so a time of 11.000412 written as `11.000Z` would
    read back as a whole second)."""
    wrote: list[dict[str, Any]] = []

    def spy(schema: Any, data: Any, status: int = 200):
        wrote.append(as_ninja_writes(schema, data))
        return api_common.answer(schema, data, status)

    monkeypatch.setattr(coaching_api, "answer", spy)
    monkeypatch.setattr(notifications_api, "answer", spy)
    return wrote


def sessions_in_every_state(org) -> None:
    now = timezone.now()
    suggest(
        org,
        title="Suggested, a group and cases",
        trainees=[PartyRef.of(org.alice), PartyRef.of(org.tier1)],
        reference_case_ids=[org.case1001.pk, org.case1002.pk],
    )
    scheduled = suggest(org, title="Scheduled")
    services.session_schedule(
        actor=org.cora,
        session_id=scheduled.pk,
        starts_at=(now + timedelta(days=2)).replace(microsecond=123456),
        duration_minutes=45,
        location="Room 4",
    )
    held = suggest(org, title="Completed and acknowledged")
    at = now + timedelta(hours=1)
    services.session_schedule(actor=org.cora, session_id=held.pk, starts_at=at, duration_minutes=30)
    later = at + timedelta(minutes=40)
    services.session_complete(
        actor=org.cora, session_id=held.pk, notes="n", action_items=["a"], now=later
    )
    services.session_acknowledge(actor=org.alice, session_id=held.pk, comment="ok", now=later)
    declined = suggest(org, title="Declined")
    services.session_decline(actor=org.cora, session_id=declined.pk, reason="Not now")


def test_session_list_and_detail_read_as_ninja_writes_them(org, as_user, ninja_wrote):
    sessions_in_every_state(org)
    for name in ("sam", "cora", "alice"):
        client = as_user(name)
        r = client.get("/coaching-sessions")
        assert r.status_code == 200 and r["Content-Type"] == "application/json; charset=utf-8"
        body = r.json()
        assert len(body["items"]) >= 3
        assert body == ninja_wrote[-1]
        text = r.content.decode()
        assert ANY_TIME.findall(text) and ANY_TIME.findall(text) == DJANGO_TIME.findall(text)
        assert '.123Z"' in text or name == "alice"  # the start's microseconds cut to millis
        for item in body["items"]:
            one = client.get(f"/coaching-sessions/{item['id']}")
            assert one.status_code == 200 and one["ETag"] == f'"{item["version"]}"'
            assert one.json() == ninja_wrote[-1] == item


def test_notifications_read_as_ninja_writes_them(org, as_user, ninja_wrote):
    sessions_in_every_state(org)
    as_user("cora").post("/notifications/read-all")
    suggest(org, title="Unread")
    r = as_user("cora").get("/notifications")
    body = r.json()
    assert r.status_code == 200 and body["count"] >= 4 and body["unread_count"] == 1
    assert {i["read_at"] is None for i in body["items"]} == {True, False}
    assert body == ninja_wrote[-1]
    text = r.content.decode()
    assert ANY_TIME.findall(text) == DJANGO_TIME.findall(text)


def test_times_under_a_millisecond_and_whole_seconds_read_as_ninja_writes_them(
    org, as_user, ninja_wrote
):
    """A time 412 microseconds past the second is written `.000Z`, a whole second with no
    fraction: Django's encoder, both ways."""
    suggest(org, title="One")
    suggest(org, title="Two")
    mine = Notification.objects.filter(recipient=org.cora).order_by("pk")
    first, second = list(mine.values_list("pk", flat=True))[:2]
    whole = timezone.now().replace(microsecond=0)
    mine.filter(pk=first).update(created_at=whole - timedelta(seconds=5), read_at=whole)
    mine.filter(pk=second).update(created_at=whole.replace(microsecond=412), read_at=None)
    r = as_user("cora").get("/notifications")
    text = r.content.decode()
    assert r.status_code == 200 and r.json() == ninja_wrote[-1]
    assert whole.strftime('"%Y-%m-%dT%H:%M:%SZ"') in text
    assert whole.strftime('"%Y-%m-%dT%H:%M:%S.000Z"') in text
    assert ANY_TIME.findall(text) == DJANGO_TIME.findall(text)
