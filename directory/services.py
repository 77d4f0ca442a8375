"""Changes to the directory made through the product (the admin site makes the others)."""

from __future__ import annotations

from zoneinfo import available_timezones

from django.db import transaction

from core.db import retry_on_conflict
from core.errors import FieldCode, FieldError, NotFound, PermissionDenied, ValidationFailed
from directory.models import User, new_feed_key
from directory.permissions import is_qm_admin
from directory.working_hours import clean_working_hours


@retry_on_conflict
def user_deactivate(*, actor: User, user_id: int) -> User:
    """Remove a user from the directory: they can no longer sign in or be picked, while history
    keeps their name. Their suggestions stay as they are (decisions.md). QM Admin only.
    Deactivating someone already inactive changes nothing."""
    if not is_qm_admin(actor):
        raise PermissionDenied("Only a QM Admin may remove users from the directory.")
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id).first()
        if user is None:
            raise NotFound(f"There is no user with id {user_id}.")
        if user.pk == actor.pk:
            raise ValidationFailed(
                [FieldError("id", FieldCode.INVALID, "You cannot remove yourself.")]
            )
        if user.is_active:
            user.is_active = False
            user.save(update_fields=["is_active"])
    return user


def profile_set_working_hours(*, actor: User, days: object, time_zone: str | None = None) -> User:
    """Store the user's own working hours (and time zone, when given). Each range and day is
    checked (`working_hours.clean_working_hours`); a refused change stores nothing."""
    hours, errors = clean_working_hours(days)
    if time_zone is not None and time_zone not in available_timezones():
        errors.append(
            FieldError("time_zone", FieldCode.INVALID, f"{time_zone!r} is not a known time zone.")
        )
    if errors:
        raise ValidationFailed(errors)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=actor.pk)
        user.working_hours = hours
        fields = ["working_hours"]
        if time_zone is not None:
            user.time_zone = time_zone
            fields.append("time_zone")
        user.save(update_fields=fields)
    return user


def calendar_feed_rotate(*, actor: User) -> User:
    """A new secret for the user's calendar feed: the old URL stops working at once."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=actor.pk)
        user.calendar_feed_key = new_feed_key()
        user.save(update_fields=["calendar_feed_key"])
    return user
