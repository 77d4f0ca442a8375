"""The daily sweep runs every active rule once per day, however many sweepers run; and the
operators' `run_rules`."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone

from coaching import services
from qa import engine

from .helpers import made_by_rules, rule, scores

pytestmark = pytest.mark.django_db


def sweep() -> str:
    out = io.StringIO()
    call_command("sweep", stdout=out)
    return out.getvalue()


def test_two_sweepers_on_one_day_run_each_rule_once(org):
    area = org.areas["Empathy"]
    r = rule(org)
    other = rule(org, name="Compliance", coaching_area=org.areas["Compliance"])
    rule(org, name="Off", active=False)
    scores(org.alice, area, [10, 10, 10])
    with time_machine.travel(timezone.now().replace(hour=1)):
        first = sweep()
        assert "2 coaching rule(s) swept today, 1 suggestion(s) made" in first
        r.refresh_from_db()
        assert r.swept_on == timezone.now().date() and r.last_run_at is not None
        ran_at = r.last_run_at
        # The second sweeper the same day (another machine, or the next pass) finds them taken.
        assert "coaching rule" not in sweep()
        assert engine.sweep_rules() == []
    r.refresh_from_db()
    assert r.last_run_at == ran_at
    other.refresh_from_db()
    assert other.swept_on == r.swept_on


def test_the_next_day_the_sweep_runs_again_and_makes_what_is_missing(org):
    area = org.areas["Empathy"]
    r = rule(org)
    scores(org.alice, area, [10, 10, 10])
    start = timezone.now().replace(hour=1)
    with time_machine.travel(start):
        sweep()
        [made] = made_by_rules()
        services.session_delete(actor=org.admin, session_id=made.pk)
        scores(org.bob, area, [10, 10, 10], days_ago=1)
        sweep()  # the same day: nothing
        assert len(made_by_rules()) == 1
    with time_machine.travel(start + timedelta(days=1)):
        assert "1 coaching rule(s) swept today, 2 suggestion(s) made" in sweep()
    r.refresh_from_db()
    assert r.suggestions_created == 3


def test_the_claim_is_one_conditional_update(org):
    r = rule(org)
    today = timezone.now().date()
    assert engine.claim_daily_sweep(r.pk, today) is True
    assert engine.claim_daily_sweep(r.pk, today) is False
    assert engine.claim_daily_sweep(r.pk, today + timedelta(days=1)) is True


def test_run_rules_reports_progress_and_makes_only_the_missing_ones(org):
    area = org.areas["Empathy"]
    r = rule(org)
    scores(org.alice, area, [10, 10, 10])
    out = io.StringIO()
    call_command("run_rules", "--rule", str(r.pk), stdout=out)
    assert "rule 1 (Empathy dip):" in out.getvalue().replace(f"rule {r.pk} ", "rule 1 ")
    assert "1 below the threshold, 1 suggestion(s) made, 0 already had an open session" in (
        out.getvalue()
    )
    out = io.StringIO()
    call_command("run_rules", stdout=out)
    assert "run_rules: 0 suggestion(s) made" in out.getvalue()
    assert len(made_by_rules()) == 1


def test_run_rules_refuses_an_unknown_or_inactive_rule(org):
    off = rule(org, active=False)
    with pytest.raises(CommandError, match="no coaching rule with id 999"):
        call_command("run_rules", "--rule", "999", stdout=io.StringIO())
    with pytest.raises(CommandError, match="is not active"):
        call_command("run_rules", "--rule", str(off.pk), stdout=io.StringIO())
