"""The rules API (see ../shared/spec/api-v1.md, additions of 2026-12-01): QM Admins only."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from ninja import Router, Status

from config.api_common import (
    Id,
    Limit,
    Offset,
    page,
    problems,
)
from core.http import AuthenticatedRequest

from . import selectors, services
from .schemas_rules import RuleIn, RuleOut, RulePage, RulePatchIn, rule_out

router = Router(tags=["coaching rules"])


def _denied(request: AuthenticatedRequest) -> None:
    if (refused := services.rule_denial(request.auth)) is not None:
        raise refused


@router.get("", response={200: RulePage, **problems(400, 401, 403, 422)})
def list_rules(
    request: AuthenticatedRequest, limit: int = Limit, offset: int = Offset
) -> dict[str, Any]:
    """Every coaching rule, by name."""
    _denied(request)
    items, count = page(selectors.rules_listed(), limit=limit, offset=offset)
    return {"items": [rule_out(r) for r in items], "count": count}


@router.post("", response={201: RuleOut, **problems(400, 401, 403, 422)})
def create_rule(request: AuthenticatedRequest, payload: RuleIn) -> Status[dict[str, Any]]:
    """A new rule; it runs on the next arriving evaluation of its area and in the daily sweep."""
    rule = services.rule_create(actor=request.auth, fields=payload.fields())
    return Status(201, rule_out(services.access_rule(request.auth, rule.pk)))


@router.get("/{id}", response={200: RuleOut, **problems(400, 401, 403, 404, 422)})
def get_rule(request: AuthenticatedRequest, id: Id) -> dict[str, Any]:
    return rule_out(services.access_rule(request.auth, id))


@router.patch("/{id}", response={200: RuleOut, **problems(400, 401, 403, 404, 422)})
def edit_rule(request: AuthenticatedRequest, id: Id, payload: RulePatchIn) -> dict[str, Any]:
    """Fields left out keep their value. The suggestions already made stay as they are."""
    services.rule_update(actor=request.auth, rule_id=id, fields=payload.fields())
    return rule_out(services.access_rule(request.auth, id))


@router.delete("/{id}", response={204: None, **problems(400, 401, 403, 404, 422)})
def delete_rule(request: AuthenticatedRequest, id: Id) -> HttpResponse:
    """The rule goes; the suggestions it made stay (they carry its name)."""
    services.rule_delete(actor=request.auth, rule_id=id)
    return HttpResponse(status=204)
