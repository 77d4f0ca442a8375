"""Reads of coaching rules (QM Admins only: the services' `rule_denial` is checked first)."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import CoachingRule


def rules_listed() -> QuerySet[CoachingRule]:
    """Every rule by name, with its area and coach loaded in the same query."""
    return CoachingRule.objects.select_related(
        "coaching_area", "coach_user", "coach_group"
    ).order_by("name", "id")
