"""The product's permissions and roles. Codes are an enum, never loose strings."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import models

from core.memo import memo
from directory.models import User


class Perm(models.TextChoices):
    VIEW_SUGGESTIONS = "view_suggestions", "View Suggestions"
    CREATE_SUGGESTIONS = "create_suggestions", "Create Suggestions"
    VIEW_ANALYTICS = "view_analytics", "View Analytics"
    IMPORT_EVALUATIONS = "import_evaluations", "Import Evaluations"

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
    Role.QM_ADMIN: (
        Perm.VIEW_SUGGESTIONS,
        Perm.CREATE_SUGGESTIONS,
        Perm.VIEW_ANALYTICS,
        Perm.IMPORT_EVALUATIONS,
    ),
    Role.SUPERVISOR: (Perm.VIEW_SUGGESTIONS, Perm.CREATE_SUGGESTIONS, Perm.VIEW_ANALYTICS),
    Role.COACH: (Perm.VIEW_SUGGESTIONS, Perm.VIEW_ANALYTICS),
    Role.AGENT: (Perm.VIEW_SUGGESTIONS,),
    Role.AUDITOR: (Perm.VIEW_SUGGESTIONS, Perm.VIEW_ANALYTICS),
}


def load_viewer(user: Any) -> None:
    """Everything one request asks about its signed-in user, in one query: their permissions
    (direct and through roles), role names and user groups, kept on the user object.

    Django's permission check, the QM Admin check, the role names and the user-group ids would
    each cost a query (four per request, before any work); a page asks all of them. The caches
    are Django's own (`_user_perm_cache`, `_group_perm_cache`, `_perm_cache`) and the request's
    `memo`s (role names, QM Admin, user-group ids), so every later check is answered from memory."""
    if not getattr(user, "is_authenticated", False) or getattr(user, "_viewer_loaded", False):
        return
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    from directory.models import UserGroupMembership

    qn = connection.ops.quote_name
    model = User
    perm, ct = qn(Permission._meta.db_table), qn(ContentType._meta.db_table)
    user_perms = model.user_permissions.through._meta.db_table
    user_roles = model.groups.through._meta.db_table
    role, role_perms = qn(Group._meta.db_table), qn(Group.permissions.through._meta.db_table)
    code = f"{ct}.app_label || '.' || {perm}.codename"
    sql = (
        f"SELECT 'u', {code} FROM {perm} JOIN {ct} ON {ct}.id = {perm}.content_type_id "
        f"JOIN {qn(user_perms)} up ON up.permission_id = {perm}.id WHERE up.user_id = %s "
        f"UNION ALL SELECT 'g', {code} FROM {perm} JOIN {ct} ON {ct}.id = {perm}.content_type_id "
        f"JOIN {role_perms} rp ON rp.permission_id = {perm}.id "
        f"JOIN {qn(user_roles)} ur ON ur.group_id = rp.group_id WHERE ur.user_id = %s "
        f"UNION ALL SELECT 'r', {role}.name FROM {role} "
        f"JOIN {qn(user_roles)} ur ON ur.group_id = {role}.id WHERE ur.user_id = %s "
        f"UNION ALL SELECT 'm', CAST(m.group_id AS VARCHAR(20)) "
        f"FROM {qn(UserGroupMembership._meta.db_table)} m WHERE m.user_id = %s"
    )
    facts: dict[str, set[str]] = {"u": set(), "g": set(), "r": set(), "m": set()}
    with connection.cursor() as cursor:
        cursor.execute(sql, [user.pk] * 4)
        for kind, value in cursor.fetchall():
            facts[kind].add(value)
    if not user.is_superuser:  # a superuser's check never reaches the backend
        user._user_perm_cache = facts["u"]
        user._group_perm_cache = facts["g"]
        user._perm_cache = facts["u"] | facts["g"]
    roles = frozenset(facts["r"])
    memo(user, "role_names", lambda: roles)
    memo(user, "is_qm_admin", lambda: Role.QM_ADMIN in roles)
    memo(user, "group_ids", lambda: frozenset(int(g) for g in facts["m"]))
    user._viewer_loaded = True


# The backends whose answers `has_perm` knows: the throttle grants nothing, the model backend
# what `_perm_cache` holds.
_KNOWN_BACKENDS = (
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
)


def has_perm(user: User | AnonymousUser, perm: Perm) -> bool:
    """Django's `user.has_perm`, answered from `load_viewer`'s cache for the signed-in user
    without the walk through every backend (a list asks it for each session it shows)."""
    if not user.is_authenticated:
        return False
    cache = getattr(user, "_perm_cache", None)
    if (
        cache is not None
        and getattr(user, "_viewer_loaded", False)
        and tuple(settings.AUTHENTICATION_BACKENDS) == _KNOWN_BACKENDS
    ):
        return user.is_active and (user.is_superuser or perm.full in cache)
    return user.has_perm(perm.full)


def is_qm_admin(user: User | AnonymousUser) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    # A lambda, not the bound `.exists` of a queryset: that would build the query on every call,
    # answered from memory or not (twice per session in a list).
    return memo(user, "is_qm_admin", lambda: user.groups.filter(name=Role.QM_ADMIN).exists())
