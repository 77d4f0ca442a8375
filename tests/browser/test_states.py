"""Accessibility in the states people reach, not only the calm ones: unread notifications (1 and
99+), a busy coach (more cards than a section shows), the longest title, long reasons, locations
and case subjects, every form dialog with its validation errors, empty states, a canceled and a
scheduled session page, an agent's page with its tables. Each state is checked

- at 1280 px: axe-core (no serious or critical violation), a keyboard walk (every control reached
  with Tab, each a real link/button/field with a visible focus ring of 3:1 that nothing clips or
  covers, nothing that reacts only to the pointer) and the reflow check below;
- at 640 px, which is a 1280 px window at 200% zoom (WCAG 1.4.4 / 1.4.10): no sideways
  scrolling, nothing cut off, past the viewport or overlapping;
- at 375 px (a phone): axe-core, the reflow check, the keyboard walk, and Shift+Tab back up the
  page, where the sticky top bar could hide the focus (2.4.11).

Screenshots of every state at each width go to artifacts/screenshots/state-*.png."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from coaching import services
from coaching.models import CoachingSession
from coaching.rules import LOCATION_MAX, REASON_MAX, TITLE_MAX, PartyRef, SessionFields
from coaching.widget import PAGE_SIZE
from directory.models import Case, Evaluation
from notifications.services import unread_count

from .a11y import keyboard_problems, reflow_problems
from .conftest import DESKTOP, PHONE, check_a11y, go, settled, snap

pytestmark = pytest.mark.browser

ZOOMED = {"width": DESKTOP["width"] // 2, "height": DESKTOP["height"] // 2}  # 200% zoom

# The longest title the form takes, with a word longer than a phone is wide (a pasted wiki page
# name) so that nothing relies on titles breaking at spaces.
LONG_TITLE = (
    "Billing disputes on premium broadband: empathy first, then the refund limits and the "
    "callback promise, as in KnowledgeBaseArticleBillingDisputeResolutionPlaybookSection4Refunds"
)
LONG_TITLE = (LONG_TITLE + " and the follow-up call script for repeat callers")[:TITLE_MAX].strip()
LONG_REASON = (
    "The agents on this team are on the new-product training all of next week, and the week "
    "after that the whole floor moves to the winter rota; "
) * 8
LONG_SUBJECT = (
    "Customer disputes the roaming charges on the last three invoices and asks for the "
    "RoamingPassEuropePlusUnlimitedDataAddOn to be applied retroactively; "
) * 3
LONG_SUBJECT = LONG_SUBJECT[: Case._meta.get_field("subject").max_length].strip()
LONG_LOCATION = ("Training room 4.12, fourth floor, east wing of the Riverside building, " * 3)[
    :LOCATION_MAX
]


def _suggest(org, author, title, **kw):
    return services.session_suggest(
        actor=author,
        fields=SessionFields(
            title=title,
            coach=PartyRef.of(kw.get("coach", org.cora)),
            trainees=[PartyRef.of(t) for t in kw.get("trainees", [org.alice])],
            coaching_area_id=org.areas[kw.get("area", "Empathy")].pk,
            reference_case_ids=[c.pk for c in kw.get("cases", ())],
        ),
    )


def seed(org) -> dict[str, Any]:
    """A coach with far more open suggestions than her section shows (and so 99+ unread
    notifications), a supervisor with exactly one unread, and the extremes of every text."""
    areas = list(org.areas)
    busy = 100
    for i in range(busy):
        _suggest(
            org,
            org.sam if i % 2 else org.sue,
            f"Follow-up on the QA review, week {i + 1}",
            area=areas[i % len(areas)],
        )
    long = _suggest(
        org,
        org.sam,
        LONG_TITLE,
        trainees=[org.alice, org.bob, org.dan, org.tier1],
        cases=[org.case1001, org.case1002],
    )
    scheduled = _suggest(org, org.sam, LONG_TITLE[:120].strip(), trainees=[org.tier1])
    services.session_schedule(
        actor=org.cora,
        session_id=scheduled.pk,
        starts_at=timezone.now() + timedelta(days=3, hours=2),
        duration_minutes=360,
        location=LONG_LOCATION,
    )
    canceled = _suggest(org, org.sue, LONG_TITLE[:150].strip(), cases=[org.case1001])
    services.session_decline(
        actor=org.cora, session_id=canceled.pk, reason=LONG_REASON[:REASON_MAX]
    )
    # QA scores for Alice on cases with the longest subjects, for the chart and the table.
    now = timezone.now()
    for i in range(4):
        case = Case.objects.create(
            number=f"CASE-{3000 + i}",
            subject=LONG_SUBJECT,
            opened_at=now - timedelta(days=20 - i),
        )
        Evaluation.objects.bulk_create(
            Evaluation(
                case=case,
                agent=org.alice,
                coaching_area=area,
                score=55 + 10 * i + n,
                evaluated_at=now - timedelta(days=19 - i),
                evaluator=org.audrey,
            )
            for n, area in enumerate(org.areas.values())
        )
    # The states the issue names, as the data now stands.
    assert unread_count(org.sam) == 1  # Cora scheduled his suggestion
    assert unread_count(org.cora) > 99
    assert unread_count(org.carl) == 0
    return {"long": long, "scheduled": scheduled, "canceled": canceled}


class Checker:
    """Runs every check on a state and gathers the problems, so one test reports them all."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.states = 0

    def _add(self, name: str, problems: list[str]) -> None:
        self.problems += [f"{name}: {p}" for p in problems]

    def state(self, page: Any, name: str, *, dialog: bool = False) -> None:
        scope = "#modal[open]" if dialog else None
        page.set_viewport_size(DESKTOP)
        check_a11y(page, f"state-{name}")
        snap(page, f"state-{name}", full_page=not dialog)
        self._add(name, reflow_problems(page, scope))
        page.evaluate("window.scrollTo(0, 0)")
        reached, problems = keyboard_problems(page, scope)
        self._add(name, problems)
        assert reached, f"{name}: Tab reached no control"

        page.set_viewport_size(ZOOMED)
        page.evaluate("window.scrollTo(0, 0)")
        self._add(f"{name} at 200% zoom", reflow_problems(page, scope))
        snap(page, f"state-{name}-zoom200", full_page=False)

        # The walk again on the phone (focus rings in stacked tables, the wrapped navigation), then
        # back up the page, where the sticky top bar could hide the focus.
        page.set_viewport_size(PHONE)
        page.evaluate("window.scrollTo(0, 0)")
        self._add(f"{name} at 375 px", reflow_problems(page, scope))
        check_a11y(page, f"state-{name}-phone")
        snap(page, f"state-{name}-phone", full_page=False)
        page.evaluate("document.activeElement && document.activeElement.blur()")
        _, problems = keyboard_problems(page, scope, back=15)
        self._add(f"{name} at 375 px", problems)
        page.set_viewport_size(DESKTOP)
        self.states += 1

    def done(self) -> None:
        assert not self.problems, f"{len(self.problems)} problems:\n" + "\n".join(self.problems)


def open_dialog_by_keyboard(page: Any, link: Any) -> Any:
    link.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#modal[open]")
    expect(dialog).to_be_visible()
    settled(page)
    return dialog


def submit_by_keyboard(page: Any, dialog: Any, button: str) -> None:
    dialog.get_by_role("button", name=button, exact=True).focus()
    page.keyboard.press("Enter")


def close_by_keyboard(page: Any, opener: Any) -> None:
    page.keyboard.press("Escape")
    expect(page.locator("#modal[open]")).to_have_count(0)
    expect(opener).to_be_focused()  # focus goes back where it was


def test_pages_in_the_states_people_reach(new_page, org):
    data = seed(org)
    check = Checker()

    coach = new_page(org.cora)
    go(coach, "/")
    bell = coach.locator("#bell")
    expect(bell).to_have_attribute("aria-label", f"Notifications, {unread_count(org.cora)} unread")
    expect(bell.locator(".bell-count")).to_have_text("99+")
    section = coach.locator('[data-section="coach"]')
    expect(section.locator(".session-card")).to_have_count(PAGE_SIZE)
    open_count = CoachingSession.objects.filter(coach_user=org.cora, state="suggested").count()
    expect(section).to_contain_text(f"{open_count - PAGE_SIZE} not shown yet")
    count = section.locator("h3 .count")
    expect(count).to_have_text(str(open_count))  # the true count, however many
    expect(count).to_have_attribute("aria-label", f"{open_count} sessions")
    check.state(coach, "coach-busy-99-unread")

    go(coach, "/notifications/")
    expect(coach.locator(".notification.unread").first).to_be_visible()
    check.state(coach, "coach-notifications-99-unread")

    sam = new_page(org.sam)
    go(sam, "/")
    expect(sam.locator("#bell .bell-count")).to_have_text("1")
    expect(sam.get_by_role("link", name="Notifications, 1 unread")).to_be_visible()
    check.state(sam, "supervisor-busy-1-unread")

    go(sam, f"/sessions/{data['long'].pk}/")
    expect(sam.locator("h1")).to_contain_text(LONG_TITLE)
    check.state(sam, "session-longest-title")
    go(sam, f"/sessions/{data['scheduled'].pk}/")
    expect(sam.locator("h1")).to_contain_text("Scheduled")
    check.state(sam, "session-scheduled")
    go(sam, f"/sessions/{data['canceled'].pk}/")
    expect(sam.locator("h1")).to_contain_text("Declined")
    check.state(sam, "session-canceled")

    # An agent's page: the chart, its table opened, the cases table, and a busy aside.
    go(sam, f"/agents/{org.alice.pk}/")
    table_toggle = sam.get_by_text("Show the scores as a table")
    table_toggle.focus()
    sam.keyboard.press("Enter")
    expect(sam.locator("details.chart-table table")).to_be_visible()
    expect(sam.locator("#coaching-widget .session-card")).to_have_count(PAGE_SIZE)
    check.state(sam, "agent-analytics-busy")

    carl = new_page(org.carl)
    go(carl, "/")
    expect(carl.locator(".widget .empty").first).to_be_visible()
    check.state(carl, "coach-empty")
    go(carl, "/notifications/")
    expect(carl.get_by_text("No notifications yet")).to_be_visible()
    check.state(carl, "notifications-empty")
    check.done()
    assert check.states == 9


def test_every_form_dialog_with_its_errors(new_page, org):
    data = seed(org)
    check = Checker()
    sam = new_page(org.sam)

    # Suggest, sent empty (the expiry cleared too): every field in error.
    go(sam, "/")
    opener = sam.get_by_role("link", name="Suggest Session")
    dialog = open_dialog_by_keyboard(sam, opener)
    expect(sam.get_by_label("Title")).to_be_focused()
    sam.get_by_label("Expiry Time").fill("")
    submit_by_keyboard(sam, dialog, "Suggest Session")
    expect(dialog.locator(".field-error")).to_have_count(5)
    expect(sam.get_by_label("Title")).to_be_focused()  # the first field in error
    check.state(sam, "dialog-suggest-errors", dialog=True)
    close_by_keyboard(sam, opener)

    # Edit the longest-titled suggestion: one character too many, an expiry in the past.
    go(sam, f"/sessions/{data['long'].pk}/")
    opener = sam.locator(".page-actions").get_by_role("link", name="Edit")
    dialog = open_dialog_by_keyboard(sam, opener)
    expect(sam.get_by_label("Title")).to_have_value(LONG_TITLE)
    sam.get_by_label("Title").fill(LONG_TITLE + "!" * (TITLE_MAX + 1 - len(LONG_TITLE)))
    sam.get_by_label("Expiry Time").fill("2001-01-01T10:00")
    submit_by_keyboard(sam, dialog, "Save Changes")
    expect(sam.locator("#f-title-error")).to_contain_text(f"at most {TITLE_MAX}")
    expect(sam.locator("#f-expires-error")).to_contain_text("in the future")
    expect(sam.get_by_label("Title")).to_be_focused()
    check.state(sam, "dialog-edit-errors", dialog=True)
    close_by_keyboard(sam, opener)

    # Schedule without a date, with no duration and a location one character too long.
    cora = new_page(org.cora)
    go(cora, f"/sessions/{data['long'].pk}/")
    opener = cora.locator(".page-actions").get_by_role("link", name="Schedule")
    dialog = open_dialog_by_keyboard(cora, opener)
    cora.get_by_label("Duration (minutes)").fill("")
    cora.get_by_label("Location").fill("x" * (LOCATION_MAX + 1))
    submit_by_keyboard(cora, dialog, "Schedule")
    expect(cora.locator("#f-starts-error")).to_be_visible()
    expect(cora.locator("#f-duration-error")).to_be_visible()
    expect(cora.locator("#f-location-error")).to_be_visible()
    expect(cora.get_by_label("Date and time")).to_be_focused()  # the first field in error
    check.state(cora, "dialog-schedule-errors", dialog=True)
    close_by_keyboard(cora, opener)

    # Decline without a reason.
    opener = cora.locator(".page-actions").get_by_role("link", name="Decline")
    dialog = open_dialog_by_keyboard(cora, opener)
    submit_by_keyboard(cora, dialog, "Decline")
    expect(cora.locator("#f-reason-error")).to_be_visible()
    expect(cora.get_by_label("Reason")).to_be_focused()
    check.state(cora, "dialog-decline-errors", dialog=True)
    close_by_keyboard(cora, opener)
    check.done()
    assert check.states == 4


def test_skip_link_and_the_coach_typeahead_by_keyboard(new_page, org):
    """The two custom keyboard behaviours a walk with Tab cannot prove: the skip link moves the
    focus, and the combobox picks with the arrow keys, at 200% zoom where the list must fit."""
    page = new_page(org.sam, viewport=ZOOMED)
    go(page, "/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    assert page.evaluate("document.querySelector('main').contains(document.activeElement)")

    opener = page.get_by_role("link", name="Suggest Session")
    open_dialog_by_keyboard(page, opener)
    page.keyboard.press("Tab")
    expect(page.locator("#f-coach")).to_be_focused()
    page.keyboard.type("co")
    options = page.locator("#f-coach-listbox [role=option]")
    expect(options.first).to_be_visible()
    page.keyboard.press("ArrowDown")
    expect(options.first).to_have_attribute("aria-selected", "true")
    problems = reflow_problems(page, "#modal[open]")
    snap(page, "state-typeahead-zoom200", full_page=False)
    page.keyboard.press("Enter")
    chip = page.locator('[data-field="coach"] [data-chips] li')
    expect(chip).to_have_count(1)
    expect(page.locator("#f-coach")).to_be_focused()
    assert re.search(r"Coach", chip.inner_text())
    assert not problems, "\n".join(problems)


def test_the_focus_survives_changes_and_a_quick_reopening(new_page, org):
    """Whatever the keyboard user acted on goes away (a declined card, a notification marked as
    read): the focus lands on the refreshed region's heading, not at the top of the page. And a
    dialog opened again before the previous one's close event has run still gives the focus back
    to the control that opened it."""
    for title in ("Refund tone, by keyboard", "Open me twice"):
        _suggest(org, org.sam, title)
    cora = new_page(org.cora)
    go(cora, "/")
    card = cora.locator('[data-section="coach"] .session-card', has_text="Refund tone, by keyboard")
    dialog = open_dialog_by_keyboard(cora, card.get_by_role("link", name=re.compile("^Decline")))
    cora.keyboard.type("Fully booked")
    submit_by_keyboard(cora, dialog, "Decline")
    expect(cora.locator("#modal[open]")).to_have_count(0)
    expect(card).to_have_count(0)
    expect(cora.locator("#coaching-widget-title")).to_be_focused()

    other = cora.locator('[data-section="coach"] .session-card', has_text="Open me twice")
    schedule = other.get_by_role("link", name=re.compile("^Schedule"))
    decline = other.get_by_role("link", name=re.compile("^Decline"))
    open_dialog_by_keyboard(cora, schedule)
    # Escape, then Enter on another card's Decline, faster than the close event comes.
    decline.evaluate(
        "(link) => { document.getElementById('modal').close(); link.focus(); link.click(); }"
    )
    expect(cora.locator("#modal[open]")).to_contain_text("Decline suggested session")
    settled(cora)
    close_by_keyboard(cora, decline)
    # The slowest order, made certain: the old dialog's close event arrives only once the new
    # content is swapped in and before it settles (on a busy machine the answer can come first).
    open_dialog_by_keyboard(cora, schedule)
    decline.evaluate(
        """(link) => {
          const modal = document.getElementById('modal');
          modal.addEventListener('close', (evt) => {
            evt.stopImmediatePropagation();
            document.addEventListener('htmx:afterSwap',
              () => modal.dispatchEvent(new Event('close')), { once: true });
          }, { capture: true, once: true });
          modal.close(); link.focus(); link.click();
        }"""
    )
    expect(cora.locator("#modal[open]")).to_contain_text("Decline suggested session")
    settled(cora)
    close_by_keyboard(cora, decline)

    go(cora, "/notifications/")
    first = cora.locator(".notification.unread").first
    first.get_by_role("button", name=re.compile("^Mark as read")).focus()
    cora.keyboard.press("Enter")
    expect(cora.locator("#toast")).to_contain_text("Marked as read.")
    expect(cora.locator("#notification-list-title")).to_be_focused()


def test_dialogs_after_scheduling_with_their_errors(new_page, org):
    """Reschedule onto a clash, cancel without a reason, complete without notes, acknowledge with
    a comment one character too long: each dialog by keyboard, checked like the others."""
    now = timezone.now().replace(second=0, microsecond=0)

    def held(title: str, start, trainees):
        s = services.session_suggest(
            actor=org.sam,
            fields=SessionFields(
                title=title,
                coach=PartyRef.of(org.cora),
                trainees=[PartyRef.of(t) for t in trainees],
                coaching_area_id=org.areas["Empathy"].pk,
            ),
            now=start - timedelta(days=1),
        )
        return services.session_schedule(
            actor=org.cora,
            session_id=s.pk,
            starts_at=start,
            duration_minutes=60,
            location="Room 4",
            now=start - timedelta(hours=2),
        )

    later = held("Move me onto a clash", now + timedelta(days=2), [org.alice])
    held("In the way", now + timedelta(days=3), [org.bob])
    done = held("Held an hour ago", now - timedelta(hours=1), [org.tier1])
    check = Checker()
    cora = new_page(org.cora)

    go(cora, f"/sessions/{later.pk}/")
    opener = cora.locator(".page-actions").get_by_role("link", name="Reschedule")
    dialog = open_dialog_by_keyboard(cora, opener)
    when = (now + timedelta(days=3, minutes=30)).astimezone(timezone.get_default_timezone())
    cora.get_by_label("Date and time").fill(when.strftime("%Y-%m-%dT%H:%M"))
    submit_by_keyboard(cora, dialog, "Reschedule")
    expect(dialog.locator("[data-testid=conflicts]")).to_contain_text("In the way")
    check.state(cora, "dialog-reschedule-clash", dialog=True)
    close_by_keyboard(cora, opener)

    opener = cora.locator(".page-actions").get_by_role("link", name="Cancel session")
    dialog = open_dialog_by_keyboard(cora, opener)
    submit_by_keyboard(cora, dialog, "Cancel session")
    expect(cora.locator("#f-reason-error")).to_be_visible()
    expect(cora.get_by_label("Reason")).to_be_focused()
    check.state(cora, "dialog-cancel-errors", dialog=True)
    close_by_keyboard(cora, opener)

    go(cora, f"/sessions/{done.pk}/")
    opener = cora.locator(".page-actions").get_by_role("link", name="Complete")
    dialog = open_dialog_by_keyboard(cora, opener)
    submit_by_keyboard(cora, dialog, "Complete")
    expect(cora.locator("#f-notes-error")).to_be_visible()
    check.state(cora, "dialog-complete-errors", dialog=True)
    close_by_keyboard(cora, opener)

    services.session_complete(actor=org.cora, session_id=done.pk, notes="Practised openings.")
    alice = new_page(org.alice)
    go(alice, f"/sessions/{done.pk}/")
    opener = alice.locator(".page-actions").get_by_role("link", name="Acknowledge")
    dialog = open_dialog_by_keyboard(alice, opener)
    alice.get_by_label("Comment").fill("x" * 1001)
    submit_by_keyboard(alice, dialog, "Acknowledge")
    expect(alice.locator("#f-comment-error")).to_contain_text("at most 1000")
    check.state(alice, "dialog-acknowledge-errors", dialog=True)
    close_by_keyboard(alice, opener)
    go(alice, f"/sessions/{done.pk}/")
    check.state(alice, "session-completed")
    check.done()
    assert check.states == 5
