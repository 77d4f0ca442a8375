"""The evaluations API (see ../shared/spec/api-v1.md, additions of 2026-12-01)."""

from __future__ import annotations

from typing import Annotated, Any

from ninja import Query, Router
from pydantic import Field, WithJsonSchema

from coaching.schemas import CaseRefOut
from config.api_common import Id, InputTime, Limit, Offset, Out, Time, page, problems
from core.http import AuthenticatedRequest
from directory.schemas import CoachingAreaOut, UserOut
from qa.evaluations import evaluations_list
from qa.ingest import ITEMS_MAX, EvaluationIn, evaluations_ingest

router = Router(tags=["evaluations"])


class EvaluationBatchIn(Out):
    # Typed for the documentation only: each item is checked by `qa.ingest.check_batch`, so that a
    # value of the wrong type is a 422 naming the item (`items[2].score`), as every other problem.
    items: Annotated[
        list[Any],
        WithJsonSchema(
            {
                "type": "array",
                "minItems": 1,
                "maxItems": ITEMS_MAX,
                "items": EvaluationIn.model_json_schema(),
            }
        ),
    ] = Field(description=f"1-{ITEMS_MAX} evaluations, stored all or none.")


class IngestOut(Out):
    created: int = Field(description="Source ids not stored before.")
    updated: int = Field(description="Source ids already stored, now replaced by the new values.")


class EvaluationOut(Out):
    id: int
    source_id: str
    agent: UserOut
    coaching_area: CoachingAreaOut
    score: int
    evaluated_at: Time
    case: CaseRefOut | None
    received_at: Time = Field(description="When this version of it was stored.")


class EvaluationPage(Out):
    items: list[EvaluationOut]
    count: int


@router.post("", response={200: IngestOut, **problems(400, 401, 403, 422)})
def ingest_evaluations(request: AuthenticatedRequest, payload: EvaluationBatchIn) -> dict[str, int]:
    """Store 1-1000 QA evaluations, all or none (permission Import Evaluations). A source id
    already stored is updated (idempotent: a retried request changes nothing more). Any problem
    is a 422 `validation_failed` naming the item and field (`items[2].score`), including a value
    of the wrong type and an unparseable time; `evaluated_at` in the future has code
    `in_future`; an unknown agent, area or case `unknown_id`; a user without the Agent role
    `invalid`; a source id twice in one request `duplicate`."""
    result = evaluations_ingest(actor=request.auth, items=payload.items)
    return {"created": result.created, "updated": result.updated}


AgentFilter = Query(None, description="Only this agent's evaluations (user id).")
AreaFilter = Query(None, description="Only this coaching area's.")
From = Query(None, alias="from", description="Evaluated at or after (ISO 8601 with offset).")
To = Query(None, description="Evaluated before (ISO 8601 with offset).")


@router.get("", response={200: EvaluationPage, **problems(400, 401, 422)})
def list_evaluations(
    request: AuthenticatedRequest,
    agent: Id | None = AgentFilter,
    coaching_area_id: Id | None = AreaFilter,
    from_: InputTime | None = From,
    to: InputTime | None = To,
    limit: int = Limit,
    offset: int = Offset,
) -> dict[str, Any]:
    """Evaluations, newest first: every agent's with View Analytics (or as QM Admin, or holding
    Import Evaluations), one's own otherwise."""
    qs = evaluations_list(
        request.auth, agent_id=agent, coaching_area_id=coaching_area_id, start=from_, end=to
    )
    items, count = page(qs, limit=limit, offset=offset)
    return {"items": items, "count": count}
