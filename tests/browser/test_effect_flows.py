"""Data-driven coaching in Chromium: the duplicate warning appears in the suggestion dialog as
trainees and area are picked (announced politely, the focus left where it was), and the
coaching-effect report page (axe, keyboard, 375 px)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from coaching.models import CoachingSession
from tests.qa.effect_helpers import days, held, scores, series

from .a11y import keyboard_problems, reflow_problems
from .conftest import PHONE, check_a11y, go, mark_page, pick, same_page, settled
from .test_flows import open_dialog, suggest

pytestmark = pytest.mark.browser


def test_duplicate_warning_while_suggesting(new_page, org):
    existing = suggest(org, title="Refund empathy")  # Alice, Empathy
    page = new_page(org.sam)
    go(page, "/")
    mark_page(page)
    dialog = open_dialog(page, "Suggest Session")
    region = dialog.locator("#f-similar")
    expect(region).to_have_attribute("aria-live", "polite")
    page.get_by_label("Title").fill("Empathy again")
    pick(page, "f-coach", "Carl", "Carl Coach")
    pick(page, "f-trainees", "Tier", "Tier 1")  # a group: its members are checked
    expect(region).to_be_empty()  # no area yet: no warning
    page.get_by_label("Coaching Areas").focus()
    page.get_by_label("Coaching Areas").select_option(label="Empathy")
    expect(region).to_contain_text(
        "Alice Agent already has an open session in Empathy: Refund empathy"
    )
    expect(region.get_by_role("link", name="Refund empathy")).to_have_attribute(
        "href", f"/sessions/{existing.pk}/"
    )
    # The focus stays on the select the person just used.
    expect(page.get_by_label("Coaching Areas")).to_be_focused()
    check_a11y(page, "suggest-dialog-duplicate-warning")
    # Another area: the warning goes away; back to Empathy and removing the group: gone too.
    page.get_by_label("Coaching Areas").select_option(label="Compliance")
    expect(region).to_be_empty()
    page.get_by_label("Coaching Areas").select_option(label="Empathy")
    expect(region).to_contain_text("Refund empathy")
    dialog.get_by_role("button", name="Remove Tier 1").click()
    expect(region).to_be_empty()
    pick(page, "f-trainees", "Ali", "Alice Agent")
    expect(region).to_contain_text("Alice Agent already has an open session")
    expect(page.locator("#f-trainees")).to_be_focused()
    # The person may go ahead.
    dialog.get_by_role("button", name="Suggest Session").click()
    expect(page.locator("#modal[open]")).to_have_count(0)
    assert CoachingSession.objects.filter(title="Empathy again").exists()
    assert same_page(page)


def test_duplicate_warning_from_the_agent_page(new_page, org):
    suggest(org, title="Refund empathy")
    page = new_page(org.sam)
    go(page, f"/agents/{org.alice.pk}/")
    dialog = open_dialog(page, "Suggest Session")
    settled(page)
    page.get_by_label("Coaching Areas").select_option(label="Empathy")
    expect(dialog.locator("#f-similar")).to_contain_text("Alice Agent already has an open session")


START = datetime(2026, 3, 10, 10, tzinfo=UTC)


def test_report_page(new_page, org):
    empathy = org.areas["Empathy"]
    held(author=org.sam, coach=org.cora, trainees=[org.alice], area=empathy, starts_at=START)
    scores(org.alice, empathy, series(START - days(3), days(1), [60, 62, 61]))
    scores(org.alice, empathy, series(START + days(1), days(1), [70, 75, 72]))
    held(author=org.sam, coach=org.carl, trainees=[org.bob], area=empathy, starts_at=START)
    scores(org.bob, empathy, series(START - days(3), days(1), [70, 70, 71]))
    scores(org.bob, empathy, series(START + days(1), days(1), [69, 73, 70]))
    scores(org.dan, empathy, series(START - days(3), days(1), [60, 60, 60]))
    scores(org.dan, empathy, series(START + days(1), days(1), [62, 63, 61]))
    page = new_page(org.sam)
    go(page, "/")
    page.get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Effect of coaching", level=1)).to_be_visible()
    page.get_by_label("From").fill("2026-03-01")
    page.get_by_label("To (included)").fill("2026-03-31")
    page.get_by_label("Group by").select_option(label="Coach")
    page.get_by_role("button", name="Show").click()
    table = page.get_by_test_id("effect-table")
    expect(table.get_by_role("rowheader", name="Cora Coach")).to_be_visible()
    expect(
        page.get_by_role("img", name="Mean change in QA score per coach, with the baseline")
    ).to_be_visible()
    expect(page.get_by_role("link", name="Download CSV")).to_have_attribute(
        "href",
        "/api/v1/reports/coaching-effect?group_by=coach&from=2026-03-01&to=2026-03-31&format=csv",
    )
    # The legend's keys stay small, the form's three fields side by side (a rule meant for the
    # chart once stretched each key to the card's width, and the form stacked its fields).
    for key in page.locator(".chart-legend svg").all():
        box = key.bounding_box()
        assert box and box["width"] <= 16 and box["height"] <= 16, box
    tops = {round(page.locator(f"#{i}").bounding_box()["y"]) for i in ("r-from", "r-to", "r-group")}
    assert len(tops) == 1, tops
    check_a11y(page, "report-coaching-effect")
    page.locator("main h1").focus()
    reached, problems = keyboard_problems(page)
    assert not problems and reached >= 5
    phone = new_page(org.sam, viewport=PHONE)
    go(phone, "/reports/coaching-effect/?from=2026-03-01&to=2026-03-31&group_by=coach")
    assert not reflow_problems(phone)
    check_a11y(phone, "report-coaching-effect-375")
    go(phone, "/reports/coaching-effect/?from=2025-03-01&to=2025-03-31")
    expect(phone.get_by_test_id("effect-empty")).to_be_visible()
    check_a11y(phone, "report-coaching-effect-empty")
