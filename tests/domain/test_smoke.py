from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from coaching import services
from coaching.models import CancelReason, State
from coaching.rules import SessionFields
from core.errors import ValidationFailed
from directory.parties import PartyRef
from notifications.models import Notification


def fields(org, **kw):
    base = dict(
        title="Empathy on refunds",
        coach=PartyRef.of(org.cora),
        trainees=[PartyRef.of(org.alice)],
        coaching_area_id=org.areas["Empathy"].pk,
    )
    base.update(kw)
    return SessionFields(**base)


def test_suggest_then_schedule_notifies_author_and_invites_trainees(org, run_worker, mailoutbox):
    s = services.session_suggest(actor=org.sam, fields=fields(org))
    assert s.state == State.SUGGESTED
    assert list(Notification.objects.values_list("recipient__username", "message")) == [
        ("cora.coach", "Sam Supervisor suggested a coaching session.")
    ]
    services.session_schedule(
        actor=org.cora,
        session_id=s.pk,
        starts_at=timezone.now() + timedelta(days=1),
        duration_minutes=30,
    )
    s.refresh_from_db()
    assert s.state == State.SCHEDULED and s.version == 2
    run_worker()
    assert sorted(m.to[0] for m in mailoutbox) == [
        "alice.agent@demo.example",  # the invitation
        "cora.coach@demo.example",  # the suggestion
        "sam.supervisor@demo.example",  # scheduled
    ]


def test_supervisor_cannot_be_coach(org):
    with pytest.raises(ValidationFailed) as e:
        services.session_suggest(actor=org.sam, fields=fields(org, coach=PartyRef.of(org.sam)))
    assert [(x.field, x.code) for x in e.value.errors] == [("coach", "supervisor_cannot_be_coach")]


def test_trainee_decline_cancels(org):
    s = services.session_suggest(actor=org.sam, fields=fields(org))
    services.session_decline(actor=org.alice, session_id=s.pk, reason="On leave")
    s.refresh_from_db()
    assert (s.state, s.cancel_reason) == (State.CANCELED, CancelReason.DECLINED_BY_TRAINEE)
