"""The product's permissions and roles. Codes are an enum, never loose strings."""

from __future__ import annotations

from enum import StrEnum

from django.db import models


class Perm(models.TextChoices):
    VIEW_SUGGESTIONS = "view_suggestions", "View Suggestions"
    CREATE_SUGGESTIONS = "create_suggestions", "Create Suggestions"
    VIEW_ANALYTICS = "view_analytics", "View Analytics"

    @property
    def full(self) -> str:
        """The app-qualified name `user.has_perm()` takes."""
        return f"coaching.{self.value}"


class Role(StrEnum):
    """Roles are Django permission groups; a user may hold several."""

    QM_ADMIN = "QM Admin"
    SUPERVISOR = "Supervisor"
    COACH = "Coach"
    AGENT = "Agent"
    AUDITOR = "Auditor"


ROLE_PERMISSIONS: dict[Role, tuple[Perm, ...]] = {
    Role.QM_ADMIN: (Perm.VIEW_SUGGESTIONS, Perm.CREATE_SUGGESTIONS, Perm.VIEW_ANALYTICS),
    Role.SUPERVISOR: (Perm.VIEW_SUGGESTIONS, Perm.CREATE_SUGGESTIONS, Perm.VIEW_ANALYTICS),
    Role.COACH: (Perm.VIEW_SUGGESTIONS, Perm.VIEW_ANALYTICS),
    Role.AGENT: (Perm.VIEW_SUGGESTIONS,),
    Role.AUDITOR: (Perm.VIEW_SUGGESTIONS, Perm.VIEW_ANALYTICS),
}


def has_perm(user: object, perm: Perm) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and user.has_perm(perm.full)  # type: ignore[attr-defined]


def is_qm_admin(user: object) -> bool:
    if not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    if getattr(user, "is_superuser", False):
        return True
    return user.groups.filter(name=Role.QM_ADMIN).exists()  # type: ignore[attr-defined]
