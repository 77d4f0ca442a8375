"""Every page through axe-core (no serious or critical violation), with a screenshot of each
under artifacts/screenshots/, at desktop and phone width."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from coaching import services
from coaching.rules import SessionFields
from directory.models import Case, Evaluation
from directory.parties import PartyRef

from .conftest import PHONE, check_a11y, go, snap

pytestmark = pytest.mark.browser


def seed(org):
    """Scores for the charts and sessions in each state, so the pages look lived in."""
    rng = random.Random(7)
    now = timezone.now()
    level = {"Empathy": 62, "Compliance": 86, "Product Knowledge": 78, "Call Handling": 81}
    subjects = [
        "Refund for a damaged item",
        "Roaming charges abroad",
        "Late delivery complaint",
        "Upgrade to the family plan",
        "Router keeps disconnecting",
        "Invoice copy requested",
    ]
    rows = []
    for agent, lift in ((org.alice, 0.25), (org.bob, 0.05)):
        for i in range(14):
            when = now - timedelta(days=88 - i * 6, hours=rng.randint(0, 8))
            case = Case.objects.create(
                number=f"CASE-{2000 + i * 2 + (agent == org.bob)}",
                subject=rng.choice(subjects),
                opened_at=when - timedelta(hours=3),
            )
            for area, base in level.items():
                score = max(0, min(100, round(base + i * lift * 4 + rng.gauss(0, 5))))
                rows.append(
                    Evaluation(
                        case=case,
                        agent=agent,
                        coaching_area=org.areas[area],
                        score=score,
                        evaluated_at=when,
                        evaluator=org.audrey,
                    )
                )
    Evaluation.objects.bulk_create(rows)

    def suggest(author, title, coach, trainees, area, cases=(), now=None, expires_at=None):
        return services.session_suggest(
            actor=author,
            fields=SessionFields(
                title=title,
                coach=PartyRef.of(coach),
                trainees=[PartyRef.of(t) for t in trainees],
                coaching_area_id=org.areas[area].pk,
                reference_case_ids=[c.pk for c in cases],
                expires_at=expires_at,
            ),
            now=now,
        )

    a = suggest(
        org.sam, "Empathy on billing disputes", org.cora, [org.alice], "Empathy", [org.case1001]
    )
    suggest(
        org.sam,
        "Retention offers by the book",
        org.coaching_team,
        [org.dan],
        "Compliance",
        [org.case1002],
    )
    suggest(org.sue, "Tier 1 product refresher", org.cora, [org.tier1], "Product Knowledge")
    s = suggest(
        org.sue,
        "Call handling under pressure",
        org.cora,
        [org.bob],
        "Call Handling",
        [org.case1001],
    )
    services.session_schedule(
        actor=org.cora,
        session_id=s.pk,
        starts_at=now + timedelta(days=3, hours=2),
        duration_minutes=45,
        location="Coaching room 2",
    )
    d = suggest(org.sam, "Hold music etiquette", org.carl, [org.alice], "Call Handling")
    services.session_decline(actor=org.alice, session_id=d.pk, reason="I am on leave next week")
    past = now - timedelta(days=40)
    suggest(
        org.sam,
        "Data protection basics",
        org.carl,
        [org.dan],
        "Compliance",
        now=past,
        expires_at=past + timedelta(days=30),
    )
    return {"open": a, "scheduled": s}


def test_every_page_passes_axe_and_is_captured(new_page, org, run_worker):
    sessions = seed(org)
    run_worker()

    anon = new_page()
    go(anon, "/login/")
    check_a11y(anon, "login")
    snap(anon, "login")

    pages = [
        (org.sam, "/", "supervisor-home"),
        (org.cora, "/", "coach-home"),
        (org.alice, "/", "agent-home"),
        (org.nora, "/", "no-permission-home"),
        (org.sam, f"/agents/{org.alice.pk}/", "agent-analytics"),
        (org.alice, f"/agents/{org.alice.pk}/", "agent-own-analytics"),
        (org.sam, f"/cases/{org.case1001.pk}/", "case-analytics"),
        (org.sam, f"/sessions/{sessions['scheduled'].pk}/", "session-detail-scheduled"),
        (org.sam, f"/sessions/{sessions['open'].pk}/", "session-detail-open"),
        (org.cora, "/notifications/", "coach-notifications"),
        (org.sam, "/search/agents/?q=a", "search-agents"),
        (org.sam, "/search/cases/?q=CASE", "search-cases"),
        (org.sam, "/sessions/999999/", "not-found-404"),
        (org.sam, "/sessions/new/", "suggest-form-page"),
        (org.cora, f"/sessions/{sessions['open'].pk}/schedule/", "schedule-form-page"),
        (org.cora, f"/sessions/{sessions['scheduled'].pk}/reschedule/", "reschedule-page"),
        (org.cora, f"/sessions/{sessions['scheduled'].pk}/cancel/", "cancel-page"),
        (org.cora, "/profile/", "profile"),
    ]
    by_user: dict[int, object] = {}
    for user, path, name in pages:
        page = by_user.get(user.pk) or by_user.setdefault(user.pk, new_page(user))
        go(page, path)
        check_a11y(page, name)
        snap(page, name)

    chart = by_user[org.sam.pk]
    go(chart, f"/agents/{org.alice.pk}/")
    expect(chart.locator("svg.chart-svg .chart-series")).to_have_count(4)
    chart.get_by_text("Show the scores as a table").click()
    check_a11y(chart, "agent-analytics-table-open")

    # The dialogs, open.
    page = by_user[org.sam.pk]
    go(page, "/")
    page.get_by_role("link", name="Suggest Session").click()
    expect(page.locator("#modal[open]")).to_be_visible()
    page.get_by_label("Title").fill("Compliance refresher for Dan")
    page.locator("#f-coach").press_sequentially("co", delay=20)
    expect(page.locator("#f-coach-listbox [role=option]").first).to_be_visible()
    check_a11y(page, "suggest-dialog-typeahead-open")
    snap(page, "supervisor-home-suggest-dialog", full_page=False)
    for _ in range(3):  # close the matches, clear the text, close the dialog
        page.keyboard.press("Escape")
    expect(page.locator("#modal[open]")).to_have_count(0)
    page.locator(".card-actions a[href*='/delete/']").first.click()
    expect(page.locator("#modal[open]")).to_contain_text("Delete this suggestion?")
    check_a11y(page, "delete-dialog")
    snap(page, "delete-dialog", full_page=False)

    coach = by_user[org.cora.pk]
    go(coach, "/")
    snap(coach, "coach-suggested-section", full_page=False)

    for user, path, name in [
        (org.sam, "/", "phone-supervisor-home-seeded"),
        (org.sam, f"/agents/{org.alice.pk}/", "phone-agent-analytics-seeded"),
        (org.sam, f"/cases/{org.case1001.pk}/", "phone-case-analytics"),
        (org.cora, "/notifications/", "phone-notifications"),
        (org.cora, "/profile/", "phone-profile"),
        (org.cora, f"/sessions/{sessions['open'].pk}/schedule/", "phone-schedule-form"),
    ]:
        phone = new_page(user, viewport=PHONE)
        go(phone, path)
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], name
        check_a11y(phone, name)
        snap(phone, name)
