"""The product's permissions and roles. Codes are an enum, never loose strings."""

from __future__ import annotations

from enum import StrEnum

from django.contrib.auth.models import AnonymousUser
from django.db import models

from core.memo import memo
from directory.models import User


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


def has_perm(user: User | AnonymousUser, perm: Perm) -> bool:
    return user.is_authenticated and user.has_perm(perm.full)


def is_qm_admin(user: User | AnonymousUser) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return memo(user, "is_qm_admin", user.groups.filter(name=Role.QM_ADMIN).exists)
