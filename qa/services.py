"""Every change to a coaching rule (QM Admins only). The engine's own bookkeeping (last run,
sweep claim, counter) is in `qa.engine`."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.db import retry_on_conflict
from core.errors import FieldCode, FieldError, NotFound, PermissionDenied, ValidationFailed
from directory.models import User
from directory.permissions import is_qm_admin

from .models import CoachingRule
from .rules import RuleFields, coach_group, coach_user, validate_rule_fields

REFUSAL = "Only a QM Admin may see and change coaching rules."


def rule_denial(user: User) -> PermissionDenied | None:
    """Who may see and change coaching rules: QM Admins (decisions.md)."""
    return None if is_qm_admin(user) else PermissionDenied(REFUSAL)


def _check(actor: User) -> None:
    if (refused := rule_denial(actor)) is not None:
        raise refused


def access_rule(actor: User, rule_id: int, *, for_update: bool = False) -> CoachingRule:
    _check(actor)
    qs = CoachingRule.objects.select_related("coaching_area", "coach_user", "coach_group")
    if for_update:
        qs = qs.select_for_update(of=("self",))
    rule = qs.filter(pk=rule_id).first()
    if rule is None:
        raise NotFound("There is no such coaching rule.")
    return rule


def _name_taken(name: str) -> ValidationFailed:
    msg = f"There is already a coaching rule named {name}."
    return ValidationFailed([FieldError("name", FieldCode.DUPLICATE, msg)])


@retry_on_conflict
def rule_create(*, actor: User, fields: RuleFields, now: datetime | None = None) -> CoachingRule:
    now = now or timezone.now()
    _check(actor)
    resolved, errors = validate_rule_fields(fields)
    if errors:
        raise ValidationFailed(errors)
    rule = CoachingRule(
        name=resolved.name,
        coaching_area=resolved.coaching_area,
        threshold=resolved.threshold,
        window=resolved.window,
        min_evaluations=resolved.min_evaluations,
        coach_user=coach_user(resolved.coach),
        coach_group=coach_group(resolved.coach),
        expires_in_days=resolved.expires_in_days,
        active=resolved.active,
        created_at=now,
        updated_at=now,
    )
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError:  # the same name, saved meanwhile by someone else
        raise _name_taken(resolved.name) from None
    return rule


@retry_on_conflict
def rule_update(
    *,
    actor: User,
    rule_id: int,
    fields: RuleFields,
    complete: bool = False,
    now: datetime | None = None,
) -> CoachingRule:
    """`complete`: every field is given (the page's form); otherwise one left out keeps its
    value (the API's PATCH)."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            rule = access_rule(actor, rule_id, for_update=True)
            resolved, errors = validate_rule_fields(fields, current=rule, complete=complete)
            if errors:
                raise ValidationFailed(errors)
            rule.name = resolved.name
            rule.coaching_area = resolved.coaching_area  # type: ignore[assignment]
            rule.threshold = resolved.threshold
            rule.window = resolved.window
            rule.min_evaluations = resolved.min_evaluations
            rule.coach_user = coach_user(resolved.coach)
            rule.coach_group = coach_group(resolved.coach)
            rule.expires_in_days = resolved.expires_in_days
            rule.active = resolved.active
            rule.updated_at = now
            rule.save()
    except IntegrityError:
        raise _name_taken(fields.name or "") from None
    return rule


@retry_on_conflict
def rule_delete(*, actor: User, rule_id: int) -> None:
    """The rule goes; the suggestions it made stay (they carry its name)."""
    with transaction.atomic():
        access_rule(actor, rule_id, for_update=True).delete()
