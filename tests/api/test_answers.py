"""`config.api_common.answer` and `answer_json`: the hot reads write their answers with pydantic's
own serializer, or straight from JSON-ready data; the bytes must read exactly as ninja's renderer
would write them for the same schema."""

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
    its JSON renderer; read to the millisecond (`read`)."""
    dumped = schema.model_validate(data).model_dump()
    return json.loads(
        api_common.to_the_millisecond(json.dumps(dumped, cls=NinjaJSONEncoder).encode())
    )


def read(r: Any) -> dict[str, Any]:
    """An answer read to the millisecond: a time of 11.000412 is written `11.000Z` both by
    Django's encoder and by `answer_json`, and JSON-ready data that carries it as text (what
    `answer_json` writes) reads back as the whole second."""
    return json.loads(api_common.to_the_millisecond(r.content))


@pytest.fixture
def ninja_wrote(monkeypatch) -> list[dict[str, Any]]:
    """Ninja's rendering of the very data each `answer` / `answer_json` call was given (not of
    the answer read back)."""
    wrote: list[dict[str, Any]] = []

    def spying(write: Any) -> Any:
        def spy(schema: Any, data: Any, status: int = 200):
            wrote.append(as_ninja_writes(schema, data))
            return write(schema, data, status)

        return spy

    monkeypatch.setattr(coaching_api, "answer_json", spying(api_common.answer_json))
    monkeypatch.setattr(notifications_api, "answer", spying(api_common.answer))
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
        body = read(r)
        assert len(body["items"]) >= 3
        assert body == ninja_wrote[-1]
        text = r.content.decode()
        assert ANY_TIME.findall(text) and ANY_TIME.findall(text) == DJANGO_TIME.findall(text)
        assert '.123Z"' in text or name == "alice"  # the start's microseconds cut to millis
        for item in body["items"]:
            one = client.get(f"/coaching-sessions/{item['id']}")
            assert one.status_code == 200 and one["ETag"] == f'"{item["version"]}"'
            assert read(one) == ninja_wrote[-1] == item


def test_notifications_read_as_ninja_writes_them(org, as_user, ninja_wrote):
    sessions_in_every_state(org)
    as_user("cora").post("/notifications/read-all")
    suggest(org, title="Unread")
    r = as_user("cora").get("/notifications")
    body = r.json()
    assert r.status_code == 200 and body["count"] >= 4 and body["unread_count"] == 1
    assert {i["read_at"] is None for i in body["items"]} == {True, False}
    assert read(r) == ninja_wrote[-1]
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
    assert r.status_code == 200 and read(r) == ninja_wrote[-1]
    assert whole.strftime('"%Y-%m-%dT%H:%M:%SZ"') in text
    assert whole.strftime('"%Y-%m-%dT%H:%M:%S.000Z"') in text
    assert ANY_TIME.findall(text) == DJANGO_TIME.findall(text)


def test_json_time_writes_as_djangos_encoder(settings):
    from datetime import UTC, datetime
    from datetime import timezone as tz

    from django.core.serializers.json import DjangoJSONEncoder

    encoder = DjangoJSONEncoder()
    for value in (
        datetime(2030, 3, 4, 5, 6, 7, tzinfo=UTC),
        datetime(2030, 3, 4, 5, 6, 7, 412, tzinfo=UTC),
        datetime(2030, 3, 4, 5, 6, 7, 999999, tzinfo=UTC),
    ):
        assert api_common.json_time(value) == encoder.default(value)
    berlin = datetime(2030, 3, 4, 6, 6, 7, 123456, tzinfo=tz(timedelta(hours=1)))
    assert api_common.json_time(berlin) == "2030-03-04T05:06:07.123Z"  # answers are in UTC


def test_answer_json_is_held_to_its_schema_under_verify(settings):
    from coaching.schemas import AreaOut, ScheduleOut

    settings.ANSWERS_VERIFY = True
    good = api_common.answer_json(AreaOut, {"id": 1, "name": "Empathy"}, 201)
    assert good.status_code == 201 and good.content == b'{"id":1,"name":"Empathy"}'
    with pytest.raises(AssertionError, match="AreaOut"):
        api_common.answer_json(AreaOut, {"name": "Empathy", "id": 1})  # not the schema's order
    schedule = {"starts_at": "2030-03-04T05:06:07+00:00", "duration_minutes": 30}
    with pytest.raises(AssertionError, match="ScheduleOut"):  # a time not as answers write it
        api_common.answer_json(ScheduleOut, {**schedule, "location": "", "scheduled_by": None})
    settings.ANSWERS_VERIFY = False
    unchecked = api_common.answer_json(AreaOut, {"name": "Empathy", "id": 1})
    assert unchecked.content == b'{"name":"Empathy","id":1}'


def test_answer_json_compares_sub_millisecond_times_as_read_back(org, as_user, settings):
    """A session created 412 microseconds past the second: written `.000Z` (as Django's encoder
    writes it), which the check's round trip reads as the whole second; not a difference."""
    from coaching.models import CoachingSession

    session = suggest(org, title="Sub-millisecond")
    at = timezone.now().replace(microsecond=412)
    CoachingSession.objects.filter(pk=session.pk).update(created_at=at)
    settings.ANSWERS_VERIFY = True
    r = as_user("sam").get(f"/coaching-sessions/{session.pk}")
    assert r.status_code == 200
    assert r.json()["created_at"] == at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
