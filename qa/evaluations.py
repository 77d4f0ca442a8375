"""Who may send and who may read evaluations, and the reads (selectors) of the evaluations API."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.utils import timezone

from core.errors import FieldCode, FieldError, ValidationFailed
from directory.models import Evaluation, User
from directory.permissions import Perm, has_perm
from directory.policies import sees_all_analytics


def may_import_evaluations(user: User | AnonymousUser) -> bool:
    """QM Admins, and an integration's token of a user holding Import Evaluations."""
    return user.is_active and has_perm(user, Perm.IMPORT_EVALUATIONS)


def evaluations_visible_to(viewer: User) -> QuerySet[Evaluation]:
    """What the analytics pages show: every agent's evaluations with View Analytics (or as QM
    Admin), one's own without. Whoever sends evaluations may read them back."""
    qs = Evaluation.objects.all()
    if not viewer.is_active:
        return qs.none()
    if sees_all_analytics(viewer) or may_import_evaluations(viewer):
        return qs
    return qs.filter(agent=viewer)


def evaluations_list(
    viewer: User,
    *,
    agent_id: int | None = None,
    coaching_area_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> QuerySet[Evaluation]:
    """Newest first. Filtered by agent: the index (agent, time); by area: (area, time); both:
    (area, agent, time); neither: (time). `start` and `end` must carry their offset."""
    naive = [
        FieldError(name, FieldCode.INVALID, f"Give `{name}` with its offset.")
        for name, value in (("from", start), ("to", end))
        if value is not None and timezone.is_naive(value)
    ]
    if naive:
        raise ValidationFailed(naive)
    qs = evaluations_visible_to(viewer)
    if agent_id is not None:
        qs = qs.filter(agent_id=agent_id)
    if coaching_area_id is not None:
        qs = qs.filter(coaching_area_id=coaching_area_id)
    if start is not None:
        qs = qs.filter(evaluated_at__gte=start)
    if end is not None:
        qs = qs.filter(evaluated_at__lt=end)
    return qs.select_related("agent", "coaching_area", "case").order_by("-evaluated_at", "-id")
