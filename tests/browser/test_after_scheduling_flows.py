"""After scheduling, end to end in Chromium: a clash and "schedule anyway", a free time picked with
the keyboard, reschedule, cancel, complete with notes, a trainee's acknowledgement, who reads the
notes, the profile's working hours and calendar address; axe on each, and at 375 px."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from coaching import services
from coaching.models import CancelReason, CoachingSession, SessionAttendee, State
from coaching.rules import SessionFields
from directory.parties import PartyRef

from .conftest import PHONE, check_a11y, go, snap

pytestmark = pytest.mark.browser


def scheduled(org, title: str, *, start, trainees=None, minutes: int = 60, coach=None):
    """A session Sam suggested and Cora scheduled (an hour before `start`, so it may lie in the
    past)."""
    s = services.session_suggest(
        actor=org.sam,
        fields=SessionFields(
            title=title,
            coach=PartyRef.of(coach or org.cora),
            trainees=[PartyRef.of(t) for t in (trainees or [org.alice])],
            coaching_area_id=org.areas["Empathy"].pk,
        ),
        now=start - timedelta(days=2),
    )
    return services.session_schedule(
        actor=coach or org.cora,
        session_id=s.pk,
        starts_at=start,
        duration_minutes=minutes,
        location="Room 4",
        now=start - timedelta(hours=1),
    )


def card(page, section: str, title: str):
    return page.locator(f'[data-section="{section}"] .session-card', has_text=title)


def local(moment) -> str:
    return moment.astimezone(timezone.get_default_timezone()).strftime("%Y-%m-%dT%H:%M")


def test_reschedule_meets_a_clash_then_takes_a_free_time(new_page, org):
    base = (timezone.now() + timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
    move = scheduled(org, "Move me", start=base)
    scheduled(org, "In the way", start=base + timedelta(days=1), trainees=[org.bob])
    page = new_page(org.cora)
    go(page, "/")
    expect(page.locator("#sec-coach-scheduled")).to_contain_text("Scheduled Coaching Sessions")
    card(page, "coach-scheduled", "Move me").get_by_role(
        "link", name=re.compile(r"^Reschedule")
    ).click()
    dialog = page.locator("#modal[open]")
    expect(dialog.get_by_role("heading", name="Reschedule session")).to_be_visible()
    expect(page.get_by_label("Date and time")).to_have_value(local(base))
    expect(dialog.locator("[data-free-slots] .slot").first).to_be_visible()
    check_a11y(page, "reschedule-dialog")
    snap(page, "coach-reschedule-dialog", full_page=False)
    # Onto Cora's other session: refused, the clash named, "schedule anyway" offered.
    page.get_by_label("Date and time").fill(local(base + timedelta(days=1, minutes=30)))
    dialog.get_by_role("button", name="Reschedule").click()
    conflicts = page.locator("[data-testid=conflicts]")
    expect(conflicts).to_contain_text("Cora Coach has “In the way”")
    check_a11y(page, "reschedule-conflict")
    move.refresh_from_db()
    assert move.starts_at == base
    # A free time, picked with the keyboard: the field takes it and says so.
    slot = page.locator("#modal [data-free-slots] .slot").first
    slot.focus()
    page.keyboard.press("Enter")
    picked = slot.get_attribute("data-slot")
    expect(page.get_by_label("Date and time")).to_have_value(picked)
    expect(page.locator("[data-slot-status]")).to_contain_text("Date and time set to")
    page.locator("#modal").get_by_role("button", name="Reschedule").click()
    expect(page.locator("#modal[open]")).to_have_count(0)
    move.refresh_from_db()
    assert local(move.starts_at) == picked and move.calendar_sequence == 1


def test_schedule_anyway_when_the_coach_is_busy(new_page, org):
    base = (timezone.now() + timedelta(days=4)).replace(hour=9, minute=0, second=0, microsecond=0)
    scheduled(org, "Already there", start=base, trainees=[org.bob])
    s = services.session_suggest(
        actor=org.sam,
        fields=SessionFields(
            title="Squeeze in",
            coach=PartyRef.of(org.cora),
            trainees=[PartyRef.of(org.dan)],
            coaching_area_id=org.areas["Empathy"].pk,
        ),
    )
    page = new_page(org.cora)
    go(page, f"/sessions/{s.pk}/schedule/")
    page.get_by_label("Date and time").fill(local(base))
    page.get_by_label("Duration (minutes)").fill("30")
    page.get_by_role("button", name="Schedule", exact=True).click()
    expect(page.locator("[data-testid=conflicts]")).to_contain_text("Already there")
    page.get_by_label(re.compile("Schedule anyway")).check()
    page.get_by_role("button", name="Schedule", exact=True).click()
    expect(page.locator("h1")).to_contain_text("Squeeze in")
    s.refresh_from_db()
    assert s.state == State.SCHEDULED and s.starts_at == base


def test_coach_cancels_with_a_reason(new_page, org):
    start = (timezone.now() + timedelta(days=2)).replace(second=0, microsecond=0)
    s = scheduled(org, "Call it off", start=start)
    page = new_page(org.cora)
    go(page, "/")
    card(page, "coach-scheduled", "Call it off").get_by_role(
        "link", name=re.compile(r"^Cancel")
    ).click()
    dialog = page.locator("#modal[open]")
    expect(dialog.get_by_role("heading", name="Cancel scheduled session")).to_be_visible()
    expect(page.get_by_label("Reason")).to_be_focused()
    check_a11y(page, "cancel-dialog")
    dialog.get_by_role("button", name="Cancel session").click()
    expect(page.locator("#f-reason-error")).to_have_text("Enter a reason for canceling.")
    page.get_by_label("Reason").fill("The team is on a course")
    page.locator("#modal").get_by_role("button", name="Cancel session").click()
    expect(page.locator("#modal[open]")).to_have_count(0)
    expect(card(page, "coach-scheduled", "Call it off")).to_have_count(0)
    s.refresh_from_db()
    assert (s.state, s.cancel_reason) == (State.CANCELED, CancelReason.CANCELED_BY_COACH)


def test_complete_acknowledge_and_who_reads_the_notes(new_page, org):
    start = (timezone.now() - timedelta(minutes=30)).replace(second=0, microsecond=0)
    s = scheduled(org, "Held today", start=start, trainees=[org.tier1])
    page = new_page(org.cora)
    go(page, "/")
    card(page, "coach-scheduled", "Held today").get_by_role(
        "link", name=re.compile(r"^Complete")
    ).click()
    dialog = page.locator("#modal[open]")
    expect(dialog.get_by_role("heading", name="Complete session")).to_be_visible()
    check_a11y(page, "complete-dialog")
    dialog.get_by_role("button", name="Complete").click()
    expect(page.locator("#f-notes-error")).to_have_text("Enter the session's notes.")
    page.get_by_label("Notes").fill("Practised the opening line together.")
    page.get_by_label("Action items").fill("Use the greeting script\n\nListen to two calls")
    page.locator("#modal").get_by_role("button", name="Complete").click()
    expect(page.locator("#modal[open]")).to_have_count(0)
    s.refresh_from_db()
    assert s.state == State.COMPLETED
    assert s.action_items == ["Use the greeting script", "Listen to two calls"]

    alice = new_page(org.alice)
    go(alice, "/")
    waiting = card(alice, "acknowledge", "Held today")
    expect(alice.locator("#sec-acknowledge")).to_contain_text("Waiting for Your Acknowledgement")
    check_a11y(alice, "agent-home-acknowledge")
    waiting.get_by_role("link", name=re.compile(r"^Acknowledge")).click()
    dialog = alice.locator("#modal[open]")
    expect(dialog.locator("[data-testid=completion-notes]")).to_contain_text(
        "Practised the opening line together."
    )
    check_a11y(alice, "acknowledge-dialog")
    alice.get_by_label("Comment").fill("Thanks, useful.")
    dialog.get_by_role("button", name="Acknowledge").click()
    expect(alice.locator("#modal[open]")).to_have_count(0)
    expect(card(alice, "acknowledge", "Held today")).to_have_count(0)
    row = SessionAttendee.objects.get(session=s, user=org.alice)
    assert row.acknowledged_at is not None and row.acknowledgement_comment == "Thanks, useful."

    go(alice, f"/sessions/{s.pk}/")
    completion = alice.locator("[data-testid=completion]")
    expect(completion).to_contain_text("Listen to two calls")
    expect(completion).to_contain_text("Acknowledged Alice Agent")
    expect(completion).to_contain_text("Waiting Bob Agent")
    check_a11y(alice, "session-completed")
    snap(alice, "session-completed")

    audrey = new_page(org.audrey)
    go(audrey, f"/sessions/{s.pk}/")
    expect(audrey.locator("[data-testid=notes-hidden]")).to_be_visible()
    expect(audrey.locator("[data-testid=completion]")).not_to_contain_text("opening line")
    assert CoachingSession.objects.get(pk=s.pk).state == State.COMPLETED


def test_agent_homepage_and_dialogs_at_phone_width(new_page, org):
    start = (timezone.now() + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    scheduled(org, "Tomorrow with Cora", start=start)
    alice = new_page(org.alice, viewport=PHONE)
    go(alice, "/")
    expect(card(alice, "upcoming", "Tomorrow with Cora")).to_be_visible()
    assert alice.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    check_a11y(alice, "phone-agent-home")
    snap(alice, "phone-agent-home")
    cora = new_page(org.cora, viewport=PHONE)
    go(cora, "/")
    card(cora, "coach-scheduled", "Tomorrow with Cora").get_by_role(
        "link", name=re.compile(r"^Reschedule")
    ).click()
    expect(cora.locator("#modal[open]")).to_be_visible()
    assert cora.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert cora.locator("#modal").bounding_box()["width"] <= PHONE["width"]
    check_a11y(cora, "phone-reschedule")


def test_profile_working_hours_and_calendar_address(new_page, org):
    page = new_page(org.cora)
    go(page, "/")
    page.get_by_role("link", name="Cora Coach").click()
    expect(page.locator("h1")).to_have_text("Your profile")
    check_a11y(page, "profile")
    page.get_by_label("Monday").fill("17:00-09:00")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#f-day-mon-error")).to_contain_text(
        "Monday: 17:00-09:00 ends before it starts."
    )
    page.get_by_label("Monday").fill("08:00-12:00, 13:00-16:00")
    page.locator("#f-time-zone").select_option("Europe/Berlin")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Your time zone and working hours are saved.")).to_be_visible()
    old = page.get_by_test_id("feed-url").input_value()
    page.get_by_role("button", name="Make a new address").click()
    expect(page.get_by_test_id("feed-url")).not_to_have_value(old)
    org.cora.refresh_from_db()
    assert org.cora.working_hours["mon"] == [["08:00", "12:00"], ["13:00", "16:00"]]
    assert org.cora.time_zone == "Europe/Berlin"
