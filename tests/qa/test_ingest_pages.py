"""Evaluations without a case (the QA tool may send none) on the Agent and Case Analytics pages."""

from __future__ import annotations

from django.test import Client
from django.utils import timezone

from directory.models import Evaluation


def test_the_agent_page_lists_an_evaluation_without_a_case(org):
    Evaluation.objects.create(
        source_id="qa-caseless",
        agent=org.alice,
        coaching_area=org.areas["Empathy"],
        score=41,
        evaluated_at=timezone.now(),
        case=None,
    )
    client = Client()
    client.force_login(org.sam)
    r = client.get(f"/agents/{org.alice.pk}/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "No case" in html
    assert ">41<" in html
    # The case page still lists only its own evaluations.
    r = client.get(f"/cases/{org.case1001.pk}/")
    assert r.status_code == 200
    assert ">41<" not in r.content.decode()
