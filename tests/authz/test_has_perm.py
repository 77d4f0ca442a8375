"""`has_perm` answered from the signed-in user's loaded permissions equals Django's own answer
through every backend, for every kind of user."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from directory.models import User
from directory.permissions import Perm, has_perm, load_viewer

pytestmark = pytest.mark.django_db


def test_the_loaded_answer_is_djangos_for_every_user_and_permission(org):
    inactive = User.objects.get(pk=org.sue.pk)
    inactive.is_active = False
    inactive.save()
    root = User.objects.create_superuser("root.test", "root@example.com", "x", is_active=True)
    asleep = User.objects.create_superuser("root.asleep", "asleep@example.com", "x")
    asleep.is_active = False
    asleep.save()
    direct = User.objects.create_user("direct.test", "d@example.com", "x")
    direct.user_permissions.add(
        Permission.objects.get(
            codename=Perm.IMPORT_EVALUATIONS.value, content_type__app_label="coaching"
        )
    )
    granted = 0
    for user in [*User.objects.all(), root, asleep, direct]:
        loaded = User.objects.get(pk=user.pk)
        load_viewer(loaded)
        for perm in Perm:
            expected = User.objects.get(pk=user.pk).has_perm(perm.full)
            assert has_perm(loaded, perm) is expected, (user.username, perm)
            granted += expected
    assert granted > 10
