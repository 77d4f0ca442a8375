"""Many rows in one INSERT (`core.inserts.insert_rows`): the rows are those `bulk_create` writes
for the same values, their keys come back in order, and a field left out takes its default."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from core.inserts import insert_rows
from notifications.models import EmailStatus, Kind, Notification

from .helpers import suggest

pytestmark = pytest.mark.django_db

FIELDS = ("recipient", "kind", "message", "session", "created_at", "email_status")


def columns(pk: int) -> dict[str, object]:
    row: dict[str, object] = dict(Notification.objects.filter(pk=pk).values().get())
    row.pop("id")
    return row


def test_rows_are_those_bulk_create_writes_and_keys_come_back_in_order(org):
    session = suggest(org)
    now = timezone.now()
    people = [org.cora, org.sam, org.alice, org.cora]
    messages = ["plain", "quotes \" and ' and ; -- ", "ünïcödé “texts”", ""]
    with transaction.atomic():
        ids = insert_rows(
            Notification,
            FIELDS,
            [
                (p.pk, Kind.SESSION_SUGGESTED, m, session.pk, now + timedelta(seconds=i), "pending")
                for i, (p, m) in enumerate(zip(people, messages, strict=True))
            ],
        )
        reference = Notification.objects.bulk_create(
            [
                Notification(
                    recipient_id=p.pk,
                    kind=Kind.SESSION_SUGGESTED,
                    message=m,
                    session_id=session.pk,
                    created_at=now + timedelta(seconds=i),
                    email_status="pending",
                )
                for i, (p, m) in enumerate(zip(people, messages, strict=True))
            ]
        )
    assert len(ids) == 4 and all(ids) and len(set(ids)) == 4
    for pk, ref, person, message in zip(ids, reference, people, messages, strict=True):
        row = columns(pk)
        assert row["recipient_id"] == person.pk and row["message"] == message
        assert row == columns(ref.pk)
    written = Notification.objects.get(pk=ids[2])
    assert written.kind == "session_suggested" and written.email_status == EmailStatus.PENDING
    assert (
        written.read_at is None and written.email_attempts == 0 and written.email_last_error == ""
    )
    assert written.created_at == now + timedelta(seconds=2)


def test_nothing_to_insert_writes_nothing(org):
    before = Notification.objects.count()
    assert insert_rows(Notification, FIELDS, []) == []
    assert Notification.objects.count() == before


def test_a_field_with_a_callable_default_must_be_given(org):
    session = suggest(org)
    before = Notification.objects.count()
    with pytest.raises(TypeError, match="created_at"):
        insert_rows(
            Notification,
            ("recipient", "kind", "message", "session"),
            [(org.cora.pk, Kind.SESSION_SUGGESTED, "x", session.pk)],
        )
    assert Notification.objects.count() == before


def test_a_row_that_breaks_a_constraint_writes_none_of_them(org):
    session = suggest(org)
    before = Notification.objects.count()
    now = timezone.now()
    with pytest.raises(Exception), transaction.atomic():  # noqa: B017, PT011 - backends differ
        insert_rows(
            Notification,
            FIELDS,
            [
                (org.cora.pk, Kind.SESSION_SUGGESTED, "ok", session.pk, now, "pending"),
                (None, Kind.SESSION_SUGGESTED, "no recipient", session.pk, now, "pending"),
            ],
        )
    assert Notification.objects.count() == before
