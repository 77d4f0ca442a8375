"""The coaching rules page in Chromium: a QM Admin creates, edits and deletes a rule with the
keyboard and the dialogs; axe-clean and reflowing at 375 px; nobody else sees the link."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from qa.models import CoachingRule

from ..qa.helpers import rule
from .a11y import keyboard_problems, reflow_problems
from .conftest import PHONE, check_a11y, go, pick, settled, snap

pytestmark = pytest.mark.browser


def test_a_qm_admin_creates_edits_and_deletes_a_rule(new_page, org):
    page = new_page(org.admin)
    go(page, "/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Rules").click()
    expect(page.get_by_role("heading", name="Coaching rules")).to_be_visible()
    expect(page.get_by_text("No coaching rules yet.")).to_be_visible()
    check_a11y(page, "rules-empty")

    opener = page.get_by_role("link", name="New rule")
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("#modal[open]")
    expect(dialog).to_be_visible()
    settled(page)
    expect(page.get_by_label("Name")).to_be_focused()
    count, problems = keyboard_problems(page, "#modal")
    assert not problems, problems
    assert count >= 9
    # Errors first: each beside its field, the first in error focused.
    page.get_by_label("Threshold score").fill("150")
    dialog.get_by_role("button", name="Create rule").click()
    expect(page.locator("#r-name-error")).to_have_text("Enter a name.")
    expect(page.locator("#r-threshold-error")).to_contain_text("between 0 and 100")
    expect(page.locator("#r-coach-error")).to_contain_text("Pick a coach")
    expect(page.get_by_label("Name")).to_be_focused()
    check_a11y(page, "rule-form-errors")
    snap(page, "rule-form-errors")

    page.get_by_label("Name").fill("Compliance slip")
    page.get_by_label("Coaching Area").select_option(label="Compliance")
    page.get_by_label("Threshold score").fill("65")
    pick(page, "r-coach", "Coaching", "Coaching Team")
    dialog.get_by_role("button", name="Create rule").click()
    expect(page.locator("#modal[open]")).to_have_count(0)
    expect(page.locator("#toast")).to_contain_text("Created the coaching rule “Compliance slip”.")
    row = page.get_by_role("row", name="Compliance slip")
    expect(row).to_contain_text("Average below 65 over the last 5 evaluations (at least 3)")
    expect(row).to_contain_text("Coaching Team")
    rule = CoachingRule.objects.get()
    assert (rule.coach_group, rule.threshold) == (org.coaching_team, 65)

    row.get_by_role("link", name="Edit “Compliance slip”").click()
    expect(page.locator("#modal[open]")).to_be_visible()
    settled(page)
    page.get_by_label("Active").uncheck()
    page.get_by_label("Evaluations averaged").fill("8")
    page.locator("#modal[open]").get_by_role("button", name="Save changes").click()
    expect(page.locator("#modal[open]")).to_have_count(0)
    expect(row).to_contain_text("Paused")
    expect(row).to_contain_text("over the last 8 evaluations")

    row.get_by_role("link", name="Delete “Compliance slip”").click()
    expect(page.locator("#modal[open]")).to_be_visible()
    check_a11y(page, "rule-delete")
    page.locator("#modal[open]").get_by_role("button", name="Delete rule").click()
    expect(page.locator("#modal[open]")).to_have_count(0)
    expect(page.get_by_text("No coaching rules yet.")).to_be_visible()
    assert not CoachingRule.objects.exists()


def test_the_rules_page_at_phone_width(new_page, org):
    rule(org)
    rule(org, name="Team", coach_user=None, coach_group=org.coaching_team, active=False)
    page = new_page(org.admin, viewport=PHONE)
    go(page, "/rules/")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert not reflow_problems(page)
    check_a11y(page, "phone-rules")
    snap(page, "phone-rules")
    page.get_by_role("link", name="Edit “Empathy dip”").click()
    expect(page.locator("#modal[open]")).to_be_visible()
    settled(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert not reflow_problems(page, "#modal")
    check_a11y(page, "phone-rule-form")
    snap(page, "phone-rule-form", full_page=False)


def test_nobody_else_sees_the_link(new_page, org):
    page = new_page(org.sam)
    go(page, "/")
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Rules")
    ).to_have_count(0)
    go(page, "/rules/")
    expect(page.get_by_text("Only a QM Admin may see and change coaching rules.")).to_be_visible()
