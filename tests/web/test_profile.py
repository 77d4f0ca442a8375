"""The profile page: time zone and working hours saved or refused field by field; the calendar
address shown and replaced."""

from __future__ import annotations

import pytest

from directory import feed_keys
from directory.models import User

pytestmark = pytest.mark.django_db


def test_profile_shows_the_defaults_and_the_feed_address(org, as_user):
    r = as_user(org.cora).get("/profile/")
    assert r.status_code == 200
    html = r.content.decode()
    assert (
        'value="09:00-17:00"' in html
        and 'id="f-day-sat" name="day_sat" type="text" value=""' in html
    )
    assert feed_keys.feed_path(org.cora) in html


def test_saving_working_hours_and_time_zone(org, as_user):
    client = as_user(org.cora)
    data = {"form": "hours", "time_zone": "Europe/Berlin", "day_mon": "8:00-12:00, 13:00 - 17:30"}
    r = client.post("/profile/", data)
    assert r.status_code == 302
    cora = User.objects.get(pk=org.cora.pk)
    assert cora.time_zone == "Europe/Berlin"
    assert cora.working_hours["mon"] == [["08:00", "12:00"], ["13:00", "17:30"]]
    assert cora.working_hours["tue"] == []
    assert "saved" in client.get("/profile/").content.decode()


def test_refused_hours_name_the_day_and_change_nothing(org, as_user):
    r = as_user(org.cora).post(
        "/profile/",
        {"form": "hours", "time_zone": "UTC", "day_tue": "17:00-09:00", "day_wed": "all day"},
    )
    assert r.status_code == 422
    html = r.content.decode()
    assert "Tuesday: 17:00-09:00 ends before it starts." in html
    assert 'id="f-day-wed" name="day_wed" type="text" value="all day"' in html
    assert User.objects.get(pk=org.cora.pk).working_hours["tue"] == [["09:00", "17:00"]]


def test_a_new_calendar_address_replaces_the_old(org, as_user):
    old = feed_keys.feed_path(org.alice)
    assert as_user(org.alice).get(old).status_code == 200
    r = as_user(org.alice).post("/profile/", {"form": "rotate"})
    assert r.status_code == 302
    assert as_user(org.alice).get(old).status_code == 404
    new = feed_keys.feed_path(User.objects.get(pk=org.alice.pk))
    assert new != old and as_user(org.alice).get(new).status_code == 200
