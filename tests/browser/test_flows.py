"""Every flow of the spec, end to end in Chromium: suggest from the three places, edit, delete,
schedule, decline by coach and by trainee, expiry, validation errors and permissions."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from coaching import services
from coaching.models import CancelReason, CoachingSession, Origin, State
from coaching.rules import SessionFields
from directory.parties import PartyRef
from notifications.models import Notification

from .conftest import PHONE, check_a11y, go, mark_page, pick, same_page, settled, snap

pytestmark = pytest.mark.browser


def suggest(org, **kw):
    fields = dict(
        title="Empathy on refunds",
        coach=PartyRef.of(org.cora),
        trainees=[PartyRef.of(org.alice)],
        coaching_area_id=org.areas["Empathy"].pk,
    )
    now = kw.pop("now", None)
    fields.update(kw)
    return services.session_suggest(actor=org.sam, fields=SessionFields(**fields), now=now)


def open_dialog(page, name: str):
    page.get_by_role("link", name=name).first.click()
    dialog = page.locator("#modal[open]")
    expect(dialog).to_be_visible()
    settled(page)
    return dialog


def test_login_and_logout_through_the_form(new_page, org):
    page = new_page()
    go(page, "/")
    expect(page).to_have_url(page.base + "/login/?next=/")
    page.get_by_label("Username").fill("sam.supervisor")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("correct username and password")
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_test_id("user-name")).to_have_text("Sam Supervisor")
    expect(page.get_by_role("link", name="Notifications, 0 unread")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_suggest_from_homepage(new_page, org):
    page = new_page(org.sam)
    go(page, "/")
    mark_page(page)
    dialog = open_dialog(page, "Suggest Session")
    expect(page.get_by_label("Title")).to_be_focused()
    page.get_by_label("Title").fill("Refund tone")
    pick(page, "f-coach", "Cora", "Cora Coach")
    pick(page, "f-trainees", "Ali", "Alice Agent")
    pick(page, "f-trainees", "Tier", "Tier 1")
    page.get_by_label("Coaching Areas").select_option(label="Empathy")
    expiry = page.get_by_label("Expiry Time").input_value()
    assert expiry  # prefilled
    pick(page, "f-cases", "1001", "CASE-1001")
    snap(page, "supervisor-home-form-open")
    dialog.get_by_role("button", name="Suggest Session").click()
    expect(page.locator("#modal[open]")).to_have_count(0)
    card = page.locator('[data-section="authored"] .session-card', has_text="Refund tone")
    expect(card).to_be_visible()
    expect(
        card.locator(".card-actions").get_by_role("link", name=re.compile(r"^Edit"))
    ).to_be_visible()
    expect(page.locator("#toast")).to_contain_text("Suggested")
    assert same_page(page)
    s = CoachingSession.objects.get(title="Refund tone")
    assert s.origin == Origin.HOMEPAGE and s.coach_user == org.cora
    assert {t.username for t in s.trainee_users.all()} == {"alice.agent"}
    assert [g.name for g in s.trainee_groups.all()] == ["Tier 1"]
    assert [c.number for c in s.reference_cases.all()] == ["CASE-1001"]
    assert Notification.objects.filter(recipient=org.cora, session=s).count() == 1


def test_suggest_from_agent_page(new_page, org):
    page = new_page(org.sam)
    go(page, f"/agents/{org.alice.pk}/")
    mark_page(page)
    open_dialog(page, "Suggest Session")
    trainees = page.locator('[data-field="trainees"] [data-chips] li')
    expect(trainees).to_have_count(1)
    expect(trainees).to_contain_text("Alice Agent")
    page.get_by_label("Title").fill("Hold etiquette")
    pick(page, "f-coach", "Carl", "Carl Coach")
    page.get_by_label("Coaching Areas").select_option(label="Call Handling")
    page.locator("#modal").get_by_role("button", name="Suggest Session").click()
    widget = page.locator("#coaching-widget")
    expect(widget.locator(".session-card", has_text="Hold etiquette")).to_be_visible()
    assert same_page(page)
    s = CoachingSession.objects.get(title="Hold etiquette")
    assert s.origin == Origin.AGENT_ANALYTICS and list(s.trainee_users.all()) == [org.alice]


def test_suggest_from_case_page(new_page, org):
    page = new_page(org.sam)
    go(page, f"/cases/{org.case1001.pk}/")
    mark_page(page)
    open_dialog(page, "Suggest Session")
    trainees = page.locator('[data-field="trainees"] [data-chips] li')
    expect(trainees).to_have_count(3)
    for name in ("Alice Agent", "Bob Agent", "Audrey Auditor"):
        expect(trainees.filter(has_text=name)).to_have_count(1)
    expect(page.locator('[data-field="reference_case_ids"] [data-chips] li')).to_have_text(
        "CASE-1001"
    )
    # Prefill is a starting point: drop Bob.
    page.get_by_role("button", name="Remove Bob Agent").click()
    page.get_by_label("Title").fill("Double charge review")
    pick(page, "f-coach", "Coaching", "Coaching Team")
    page.get_by_label("Coaching Areas").select_option(label="Compliance")
    page.locator("#modal").get_by_role("button", name="Suggest Session").click()
    expect(
        page.locator("#coaching-widget .session-card", has_text="Double charge review")
    ).to_be_visible()
    assert same_page(page)
    s = CoachingSession.objects.get(title="Double charge review")
    assert s.origin == Origin.CASE_ANALYTICS and s.coach_group == org.coaching_team
    assert {u.username for u in s.trainee_users.all()} == {"alice.agent", "audrey.auditor"}
    assert list(s.reference_cases.all()) == [org.case1001]


def test_validation_errors_are_shown_next_to_fields(new_page, org):
    page = new_page(org.sam)
    go(page, "/")
    dialog = open_dialog(page, "Suggest Session")
    page.get_by_label("Expiry Time").fill("")
    submit = dialog.get_by_role("button", name="Suggest Session")
    submit.click()
    expect(page.locator("#f-title-error")).to_have_text("Enter a title.")
    expect(page.locator("#f-coach-error")).to_contain_text("Pick a coach")
    expect(page.locator("#f-trainees-error")).to_have_text("Pick at least one trainee.")
    expect(page.locator("#f-area-error")).to_have_text("Pick a coaching area.")
    expect(page.locator("#f-expires-error")).to_have_text("Enter an expiry time.")
    expect(page.get_by_label("Title")).to_be_focused()  # the first field in error
    snap(page, "form-errors")
    check_a11y(page, "form-errors")

    page.get_by_label("Title").fill("Kept as typed")
    page.get_by_label("Coaching Areas").select_option(label="Empathy")
    page.get_by_label("Expiry Time").fill("2001-01-01T10:00")
    pick(page, "f-coach", "Sam", "Sam Supervisor")
    pick(page, "f-trainees", "Sam Only", "Sam Only")
    pick(page, "f-trainees", "Empty", "Empty Group")
    submit.click()
    expect(page.locator("#f-coach-error")).to_contain_text(
        "Sam Supervisor suggested this session and cannot also be its coach."
    )
    settled(page)
    expect(page.locator("#f-trainees-error")).to_contain_text(
        "The group Sam Only has only Sam Supervisor"
    )
    expect(page.locator("#f-trainees-error")).to_contain_text(
        "The group Empty Group has no active members."
    )
    expect(page.locator("#f-expires-error")).to_have_text("The expiry time must be in the future.")
    expect(page.get_by_label("Title")).to_have_value("Kept as typed")
    expect(page.get_by_label("Coaching Areas")).to_have_value(str(org.areas["Empathy"].pk))

    page.get_by_role("button", name="Remove Sam Supervisor").click()
    pick(page, "f-coach", "Sam Only", "Sam Only")
    page.get_by_role("button", name="Remove Sam Only").last.click()
    page.get_by_role("button", name="Remove Empty Group").click()
    pick(page, "f-trainees", "Sam Sup", "Sam Supervisor")
    submit.click()
    expect(page.locator("#f-coach-error")).to_contain_text(
        "The group Sam Only has only Sam Supervisor, who suggested this session, so it cannot be the coach."
    )
    settled(page)
    expect(page.locator("#f-trainees-error")).to_contain_text(
        "Sam Supervisor suggested this session and cannot also be a trainee."
    )

    page.locator('[data-field="coach"]').get_by_role("button", name="Remove Sam Only").click()
    page.get_by_role("button", name="Remove Sam Supervisor").click()
    pick(page, "f-coach", "Cora", "Cora Coach")
    pick(page, "f-trainees", "Cora", "Cora Coach")
    submit.click()
    expect(page.locator("#f-trainees-error")).to_contain_text(
        "Cora Coach cannot be both the coach and a trainee."
    )
    assert CoachingSession.objects.count() == 0


def test_edit_and_delete_by_author(new_page, org):
    s = suggest(org, title="First draft")
    page = new_page(org.sam)
    go(page, "/")
    card = page.locator('[data-section="authored"] .session-card', has_text="First draft")
    card.locator(".card-actions").get_by_role("link", name=re.compile(r"^Edit")).click()
    expect(page.locator("#modal[open]")).to_be_visible()
    expect(page.get_by_label("Title")).to_have_value("First draft")
    expect(page.locator('[data-field="coach"] [data-chips] li')).to_have_text("Cora Coach")
    page.get_by_label("Title").fill("Second draft")
    page.locator("#modal").get_by_role("button", name="Save Changes").click()
    card = page.locator('[data-section="authored"] .session-card', has_text="Second draft")
    expect(card).to_be_visible()

    card.locator(".card-actions").get_by_role("link", name=re.compile(r"^Delete")).click()
    dialog = page.locator("#modal[open]")
    expect(dialog).to_contain_text("Delete this suggestion?")
    dialog.get_by_role("button", name="Keep it").click()
    expect(page.locator("#modal[open]")).to_have_count(0)
    s.refresh_from_db()
    assert s.state == State.SUGGESTED
    card.locator(".card-actions").get_by_role("link", name=re.compile(r"^Delete")).click()
    page.locator("#modal[open]").get_by_role("button", name="Delete suggestion").click()
    expect(
        page.locator('[data-section="authored"] .session-card', has_text="Second draft")
    ).to_have_count(0)
    # No longer open: folded away under the past suggestions, loaded when opened.
    past = page.locator('[data-section="authored-past"]')
    past.locator("summary").click()
    expect(past.locator(".session-card", has_text="Second draft")).to_contain_text("Deleted")
    s.refresh_from_db()
    assert (s.state, s.cancel_reason) == (State.CANCELED, CancelReason.DELETED_BY_SUPERVISOR)

    go(page, f"/sessions/{s.pk}/")
    history = page.locator("#history-title").locator("xpath=..")
    expect(history).to_contain_text("Sam Supervisor edited")
    expect(history).to_contain_text("Second draft")
    expect(history).to_contain_text("Sam Supervisor deleted")
    snap(page, "session-detail-history")
    check_a11y(page, "session-detail")

    coach = new_page(org.cora)
    go(coach, "/notifications/")
    expect(
        coach.locator(".notification", has_text="Suggested Coaching Session has been canceled.")
    ).to_be_visible()


def test_coach_schedules_and_author_is_notified(new_page, org):
    s = suggest(org, title="Needs a slot", reference_case_ids=[org.case1001.pk])
    page = new_page(org.cora)
    go(page, "/")
    section = page.locator('[data-section="coach"]')
    expect(page.locator("#sec-coach")).to_contain_text("Suggested Coaching Sessions")
    snap(page, "coach-suggested-sessions")
    check_a11y(page, "coach-home")
    section.locator(".session-card", has_text="Needs a slot").locator(".card-actions").get_by_role(
        "link", name=re.compile(r"^Schedule")
    ).click()
    dialog = page.locator("#modal[open]")
    expect(dialog.get_by_role("heading", name="Schedule Session")).to_be_visible()
    expect(page.get_by_label("Title")).to_have_value("Needs a slot")
    expect(page.locator('[data-field="trainees"] [data-chips] li')).to_have_text("Alice Agent")
    expect(page.locator('[data-field="reference_case_ids"] [data-chips] li')).to_have_text(
        "CASE-1001"
    )
    snap(page, "coach-schedule-form")
    check_a11y(page, "schedule-form")
    dialog.get_by_role("button", name="Schedule").click()
    expect(page.locator("#f-starts-error")).to_have_text("Enter the session's date and time.")
    settled(page)
    when = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    page.get_by_label("Date and time").fill(when)
    page.get_by_label("Duration (minutes)").fill("45")
    page.get_by_label("Location").fill("Coaching room 2")
    page.locator("#modal").get_by_role("button", name="Schedule").click()
    expect(page.locator("#modal[open]")).to_have_count(0)
    expect(section.locator(".session-card", has_text="Needs a slot")).to_have_count(0)
    s.refresh_from_db()
    assert (s.state, s.duration_minutes, s.location) == (State.SCHEDULED, 45, "Coaching room 2")

    author = new_page(org.sam)
    go(author, "/")
    expect(author.get_by_role("link", name="Notifications, 1 unread")).to_be_visible()
    author.get_by_role("link", name="Notifications, 1 unread").click()
    note = author.locator(
        ".notification", has_text="Cora Coach has scheduled a session based on your suggestion."
    )
    expect(note).to_contain_text("Needs a slot")
    snap(author, "notifications")
    check_a11y(author, "notifications")
    note.get_by_role("link").click()
    expect(author).to_have_url(author.base + f"/sessions/{s.pk}/")
    expect(author.locator("h1")).to_contain_text("Scheduled")
    expect(author.get_by_role("link", name="Notifications, 0 unread")).to_be_visible()


def test_coach_declines_with_reason(new_page, org):
    s = suggest(org, title="Decline me")
    page = new_page(org.cora)
    go(page, "/")
    page.locator('[data-section="coach"] .session-card', has_text="Decline me").locator(
        ".card-actions"
    ).get_by_role("link", name=re.compile(r"^Decline")).click()
    dialog = page.locator("#modal[open]")
    expect(dialog.get_by_role("heading", name="Decline suggested session")).to_be_visible()
    expect(page.get_by_label("Reason")).to_be_focused()
    snap(page, "decline-dialog")
    check_a11y(page, "decline-dialog")
    dialog.get_by_role("button", name="Decline").click()
    expect(page.locator("#f-reason-error")).to_have_text("Enter a reason for declining.")
    settled(page)
    page.get_by_label("Reason").fill("Fully booked this month")
    page.locator("#modal").get_by_role("button", name="Decline").click()
    expect(page.locator("#modal[open]")).to_have_count(0)
    expect(
        page.locator('[data-section="coach"] .session-card', has_text="Decline me")
    ).to_have_count(0)
    s.refresh_from_db()
    assert s.cancel_reason == CancelReason.DECLINED_BY_COACH
    assert Notification.objects.get(recipient=org.sam).message == (
        "Coaching Session has been canceled as Cora Coach has declined the suggested session "
        "because of Fully booked this month."
    )


def test_trainee_declines_and_no_longer_sees_it(new_page, org):
    s = suggest(org, title="Alice can decline")
    page = new_page(org.alice)
    go(page, "/")
    card = page.locator('[data-section="trainee"] .session-card', has_text="Alice can decline")
    expect(
        card.locator(".card-actions").get_by_role("link", name=re.compile(r"^Schedule"))
    ).to_have_count(0)
    snap(page, "agent-home")
    check_a11y(page, "agent-home")
    card.locator(".card-actions").get_by_role("link", name=re.compile(r"^Decline")).click()
    page.get_by_label("Reason").fill("On leave")
    page.locator("#modal").get_by_role("button", name="Decline").click()
    expect(
        page.locator('[data-section="trainee"] .session-card', has_text="Alice can decline")
    ).to_have_count(0)
    s.refresh_from_db()
    assert s.cancel_reason == CancelReason.DECLINED_BY_TRAINEE
    recipients = set(
        Notification.objects.filter(session=s)
        .exclude(kind="session_suggested")
        .values_list("recipient__username", flat=True)
    )
    assert recipients == {"sam.supervisor", "cora.coach"}
    coach = new_page(org.cora)
    go(coach, "/notifications/")
    expect(coach.locator(".notification").first).to_contain_text(
        "Alice Agent has declined the suggested session because of On leave."
    )


def test_expiry_is_seen_by_author_and_coach(new_page, org, run_worker):
    past = timezone.now() - timedelta(days=20)
    s = suggest(org, title="Never scheduled", now=past, expires_at=past + timedelta(days=5))
    run_worker()
    s.refresh_from_db()
    assert s.cancel_reason == CancelReason.EXPIRED
    author = new_page(org.sam)
    go(author, "/")
    past = author.locator('[data-section="authored-past"]')
    past.locator("summary").focus()
    author.keyboard.press("Enter")  # the disclosure opens from the keyboard too
    expect(past.locator(".session-card", has_text="Never scheduled")).to_contain_text("Expired")
    go(author, "/notifications/")
    expect(author.locator(".notification").first).to_contain_text("not scheduled and has expired")
    coach = new_page(org.cora)
    go(coach, "/")
    expect(coach.locator('[data-section="coach"]')).not_to_contain_text("Never scheduled")
    go(coach, "/notifications/")
    expect(coach.locator(".notification", has_text="has expired")).to_contain_text(
        "Never scheduled"
    )


def test_permissions_hide_what_they_must(new_page, org):
    s = suggest(org, title="Sam's idea")
    nora = new_page(org.nora)
    go(nora, "/")
    expect(nora.get_by_role("link", name="Suggest Session")).to_have_count(0)
    expect(nora.locator("[data-section]")).to_have_count(0)
    expect(nora.get_by_test_id("no-view-suggestions")).to_be_visible()
    go(nora, f"/agents/{org.alice.pk}/")
    expect(nora.get_by_role("heading", name="You may not open this page")).to_be_visible()
    snap(nora, "forbidden-403")
    check_a11y(nora, "forbidden-403")
    go(nora, f"/sessions/{s.pk}/")
    expect(nora.get_by_role("heading", name="We could not find that")).to_be_visible()

    coach = new_page(org.cora)
    go(coach, f"/agents/{org.alice.pk}/")
    expect(coach.locator("#coaching-widget")).to_contain_text("Sam's idea")
    expect(coach.get_by_role("link", name="Suggest Session")).to_have_count(0)

    sue = new_page(org.sue)
    go(sue, f"/agents/{org.alice.pk}/")
    card = sue.locator(".session-card", has_text="Sam's idea")
    expect(card).to_be_visible()
    expect(
        card.locator(".card-actions").get_by_role("link", name=re.compile(r"^Edit"))
    ).to_have_count(0)
    expect(
        card.locator(".card-actions").get_by_role("link", name=re.compile(r"^Delete"))
    ).to_have_count(0)

    alice = new_page(org.alice)
    go(alice, f"/agents/{org.bob.pk}/")
    expect(alice.get_by_role("heading", name="You may not open this page")).to_be_visible()
    go(alice, f"/agents/{org.alice.pk}/")
    expect(alice.locator("#coaching-widget")).to_contain_text("Sam's idea")
    expect(alice.get_by_role("link", name="Suggest Session")).to_have_count(0)


def test_keyboard_only_dialog_and_combobox(new_page, org):
    page = new_page(org.sam)
    go(page, "/")
    opener = page.get_by_role("link", name="Suggest Session")
    opener.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#modal[open]")).to_be_visible()
    expect(page.get_by_label("Title")).to_be_focused()
    page.keyboard.type("Keyboard only")
    page.keyboard.press("Tab")
    coach = page.locator("#f-coach")
    expect(coach).to_be_focused()
    page.keyboard.type("Co")
    expect(coach).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("ArrowDown")
    active = coach.get_attribute("aria-activedescendant")
    assert active and page.locator(f"#{active}").get_attribute("aria-selected") == "true"
    page.keyboard.press("ArrowDown")
    assert coach.get_attribute("aria-activedescendant") != active
    page.keyboard.press("Escape")  # closes the list, not the dialog
    expect(coach).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#modal[open]")).to_be_visible()
    page.keyboard.type("ra")  # "Cora"
    expect(page.locator("#f-coach-listbox [role=option]").first).to_contain_text("Cora Coach")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.locator('[data-field="coach"] [data-chips] li')).to_have_text("Cora Coach")
    expect(page.locator("#modal[open]")).to_be_visible()  # Enter picked, did not submit
    page.keyboard.press("Escape")
    expect(page.locator("#modal[open]")).to_have_count(0)
    expect(opener).to_be_focused()


def test_phone_width(new_page, org):
    suggest(org, title="Phone card")
    page = new_page(org.sam, viewport=PHONE)
    go(page, "/")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    snap(page, "phone-supervisor-home")
    check_a11y(page, "phone-home")
    open_dialog(page, "Suggest Session")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    box = page.locator("#modal").bounding_box()
    assert box["width"] <= PHONE["width"]
    snap(page, "phone-form", full_page=False)
    page.keyboard.press("Escape")
    go(page, f"/agents/{org.alice.pk}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    snap(page, "phone-agent-analytics")


def test_dialog_sent_after_the_sign_in_ended_resumes_after_signing_in(new_page, org):
    page = new_page(org.sam)
    go(page, f"/agents/{org.alice.pk}/")
    open_dialog(page, "Suggest Session")
    page.get_by_label("Title").fill("Written before lunch")
    pick(page, "f-coach", "Cora", "Cora Coach")
    pick(page, "f-trainees", "Tier", "Tier 1")
    page.get_by_label("Coaching Areas").select_option(label="Empathy")
    # The sign-in ends while the dialog is open (expired, or signed out in another tab).
    page.context.clear_cookies(name="sessionid")
    page.locator("#modal").get_by_role("button", name="Suggest Session").click()
    expect(page).to_have_url(page.base + f"/login/?next=/agents/{org.alice.pk}/")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert not CoachingSession.objects.filter(title="Written before lunch").exists()
    page.get_by_label("Username").fill("sam.supervisor")
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Log in").click()
    # Back on the page, the same dialog, as it was left.
    expect(page).to_have_url(page.base + f"/agents/{org.alice.pk}/")
    dialog = page.locator("#modal[open]")
    expect(dialog).to_be_visible()
    expect(page.get_by_label("Title")).to_have_value("Written before lunch")
    expect(page.get_by_label("Coaching Areas")).to_have_value(str(org.areas["Empathy"].pk))
    coach = page.locator('[data-field="coach"] [data-chips] li')
    expect(coach).to_have_text(re.compile("Cora Coach"))
    trainees = page.locator('[data-field="trainees"] [data-chips] li')
    expect(trainees).to_have_count(2)  # Alice (prefilled) and Tier 1
    expect(page.locator("#toast")).to_contain_text("as you left it")
    dialog.get_by_role("button", name="Suggest Session").click()
    expect(page.locator("#modal[open]")).to_have_count(0)
    s = CoachingSession.objects.get(title="Written before lunch")
    assert s.origin == Origin.AGENT_ANALYTICS and s.coach_user == org.cora
    assert list(s.trainee_users.all()) == [org.alice]
    assert [g.name for g in s.trainee_groups.all()] == ["Tier 1"]


def test_show_more_loads_the_next_cards_in_place_from_the_keyboard(new_page, org):
    for i in range(12):
        suggest(org, title=f"Waiting {i:02}")
    page = new_page(org.cora)
    go(page, "/")
    coach = page.locator('[data-section="coach"]')
    expect(coach.locator("h3 .count")).to_have_text("12")
    expect(coach.locator(".session-card")).to_have_count(10)
    more = coach.get_by_role("link", name=re.compile(r"^Show 2 more"))
    more.focus()
    page.keyboard.press("Enter")
    expect(coach.locator(".session-card")).to_have_count(12)
    expect(coach.get_by_role("link", name=re.compile(r"^Show \d+ more"))).to_have_count(0)
    # Focus moves to the first new card, and the status line says what happened.
    expect(page.locator(":focus")).to_have_text(re.compile(r"^Waiting \d\d$"))
    expect(page.locator("[data-widget-status]")).to_have_text("12 sessions shown.")
    check_a11y(page, "coach-home-show-more")
