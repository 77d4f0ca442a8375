"""The session engine (`core.sessions`): the same sessions as Django's database engine."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore as DjangoStore
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from core.sessions import SessionStore

pytestmark = pytest.mark.django_db


def test_the_engine_is_in_use_and_a_signed_in_session_reads_back(org):
    assert settings.SESSION_ENGINE == "core.sessions"
    client = Client()
    client.force_login(org.sam)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    store = SessionStore(key)
    data = store.load()
    assert data == DjangoStore(key).load()
    assert data["_auth_user_id"] == str(org.sam.pk)
    assert store.session_key == key
    response = client.get("/")
    assert response.status_code == 200 and "Log out" in response.text


def test_an_expired_or_unknown_session_is_empty_and_its_key_dropped(org):
    client = Client()
    client.force_login(org.sam)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(1))
    expired = SessionStore(key)
    assert expired.load() == {} and expired.session_key is None
    unknown = SessionStore("x" * 32)
    assert unknown.load() == {} and unknown.session_key is None
    response = client.get("/")  # signed out: to the login page
    assert response.status_code == 302 and "login" in response["Location"]


def test_a_session_saved_by_this_engine_is_read_by_django_s_and_back(org):
    mine = SessionStore()
    mine["note"] = "é and <b>"
    mine.create()
    assert DjangoStore(mine.session_key).load()["note"] == "é and <b>"
    theirs = DjangoStore()
    theirs["n"] = 3
    theirs.create()
    assert SessionStore(theirs.session_key).load() == {"n": 3}
