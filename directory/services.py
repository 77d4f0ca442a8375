"""Changes to the directory made through the product (the admin site makes the others)."""

from __future__ import annotations

from django.db import transaction

from core.db import retry_on_conflict
from core.errors import FieldCode, FieldError, NotFound, PermissionDenied, ValidationFailed
from directory.models import User
from directory.permissions import is_qm_admin


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
