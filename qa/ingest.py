"""Evaluations in, from the API and the CSV import alike: a batch is checked item by item and field
by field (`check_batch`, the one copy of the rules), then upserted by the QA tool's id
(`upsert`), all or nothing; the rules engine hears of the (agent, area) pairs once it committed.

Set-based: whatever the batch size, checking costs one query per kind of reference (users,
coaching areas, cases) and writing two (the ids already stored, one INSERT ... ON CONFLICT per
thousand rows)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Annotated, Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from pydantic import BaseModel, Field, StringConstraints, TypeAdapter, ValidationError

from config.api_common import MAX_ID, InputTime, Text
from core.db import retry_on_conflict
from core.errors import FieldCode, FieldError, PermissionDenied, ValidationFailed
from directory.models import Case, CoachingArea, Evaluation, User
from directory.permissions import Role
from qa import engine
from qa.evaluations import may_import_evaluations

ITEMS_MAX = 1000
SCORE_MIN, SCORE_MAX = 0, 100
SOURCE_ID_MAX = 100  # Evaluation.source_id
NAME_MAX = 150  # a username, a coaching area's name, a case number fit
WRITE_BATCH = 1000  # rows per INSERT (SQLite's and PostgreSQL's parameter limits)
PAIRS_CHUNK = 1000  # (agent, area) pairs per call of the rules engine

RefId = Annotated[int, Field(strict=True, ge=1, le=MAX_ID)]
Score = Annotated[int, Field(strict=True, ge=SCORE_MIN, le=SCORE_MAX)]
# (pydantic takes no number for a string, so text needs no strict mode.)
SourceId = Annotated[
    Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=SOURCE_ID_MAX)
]
Name = Annotated[Text, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX)]


class EvaluationIn(BaseModel):
    """One QA evaluation as the QA tool sends it. Integers are JSON integers (a string, a number
    with a fraction or a boolean is the wrong type)."""

    source_id: SourceId = Field(
        description=f"The QA tool's own id of the evaluation (1-{SOURCE_ID_MAX} characters); "
        "sending it again updates the stored evaluation."
    )
    agent_id: RefId = Field(description="The evaluated user; must hold the Agent role.")
    coaching_area_id: RefId = Field(description="A coaching area (in use or not).")
    score: Score = Field(description=f"{SCORE_MIN}-{SCORE_MAX}.")
    evaluated_at: InputTime = Field(
        description="When it was evaluated: ISO 8601 with its offset, not in the future."
    )
    case_id: RefId | None = Field(None, description="The evaluated case, if any.")


class EvaluationRowIn(EvaluationIn):
    """A row of the CSV import: each reference by id or by its name (both given: they must name
    the same thing)."""

    agent_id: RefId | None = None  # type: ignore[assignment]  # by id or by username
    agent_username: Name | None = None
    coaching_area_id: RefId | None = None  # type: ignore[assignment]  # by id or by name
    coaching_area: Name | None = None
    case: Name | None = Field(None, description="The case's number.")


# (reference, its id field, its name field): the name field only in CSV rows.
REFERENCES = (
    ("agent", "agent_id", "agent_username"),
    ("coaching_area", "coaching_area_id", "coaching_area"),
    ("case", "case_id", "case"),
)
REQUIRED_REFERENCES = ("agent", "coaching_area")


def _adapters(model: type[BaseModel]) -> dict[str, tuple[TypeAdapter[Any], bool]]:
    """Each field's own validator, so that one bad field still lets the others be checked."""
    return {
        # A field's type with its constraints, as a type of its own (mypy sees a special form).
        name: (TypeAdapter(Annotated[info.annotation, info]), info.is_required())  # type: ignore[arg-type]
        for name, info in model.model_fields.items()
    }


ADAPTERS: dict[type[BaseModel], dict[str, tuple[TypeAdapter[Any], bool]]] = {
    EvaluationIn: _adapters(EvaluationIn),
    EvaluationRowIn: _adapters(EvaluationRowIn),
}

# pydantic's error types that are "out of the declared bounds" rather than "the wrong type".
BOUND_CODES: dict[str, FieldCode] = {
    "missing": FieldCode.REQUIRED,
    "string_too_short": FieldCode.REQUIRED,
    "too_short": FieldCode.REQUIRED,
    "string_too_long": FieldCode.TOO_LONG,
    "too_long": FieldCode.TOO_LONG,
    "greater_than_equal": FieldCode.OUT_OF_RANGE,
    "less_than_equal": FieldCode.OUT_OF_RANGE,
    "out_of_range": FieldCode.OUT_OF_RANGE,
}


@dataclass(frozen=True, slots=True)
class ItemError:
    index: int  # in the batch
    field: str  # "" for the item as a whole
    code: FieldCode
    message: str


@dataclass(frozen=True, slots=True)
class EvaluationRow:
    source_id: str
    agent_id: int
    coaching_area_id: int
    score: int
    evaluated_at: datetime
    case_id: int | None


@dataclass
class Checked:
    rows: list[tuple[int, EvaluationRow]] = field(default_factory=list)  # (index, row), valid ones
    errors: list[ItemError] = field(default_factory=list)


@dataclass
class Upserted:
    created: int = 0
    updated: int = 0
    # (agent id, area id) pairs whose evaluations changed: those of the rows written, and
    # `moved_from`: the earlier pair of an evaluation now sent for another agent or area.
    pairs: set[tuple[int, int]] = field(default_factory=set)
    moved_from: set[tuple[int, int]] = field(default_factory=set)


def _item_label(index: int) -> str:
    return f"items[{index}]"


def check_batch(
    items: Sequence[object],
    *,
    by_name: bool = False,
    now: datetime | None = None,
    label: Callable[[int], str] = _item_label,
) -> Checked:
    """Every item checked, every problem reported (several per item if need be): the types and
    bounds, the time (with offset, not in the future), no source id twice, and the references
    (the agent exists and holds the Agent role; the coaching area and the case exist).
    `by_name` (CSV rows) also takes a username, an area's name and a case number. `label` names
    another item in a message (the duplicate's first occurrence)."""
    now = now or timezone.now()
    adapters = ADAPTERS[EvaluationRowIn if by_name else EvaluationIn]
    checked = Checked()
    values: list[dict[str, Any] | None] = []
    invalid: set[int] = set()
    first_of: dict[str, int] = {}
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            checked.errors.append(
                ItemError(index, "", FieldCode.INVALID, "Each evaluation must be a JSON object.")
            )
            values.append(None)
            continue
        parsed, errors = _parse(index, item, adapters, now)
        source_id = parsed.get("source_id")
        if source_id is not None:
            if source_id in first_of:
                errors.append(
                    ItemError(
                        index,
                        "source_id",
                        FieldCode.DUPLICATE,
                        f"The source id {source_id!r} is also given in "
                        f"{label(first_of[source_id])}.",
                    )
                )
            else:
                first_of[source_id] = index
        checked.errors.extend(errors)
        values.append(parsed)
        if errors:
            invalid.add(index)
    resolved = _resolve(values, checked.errors, by_name)
    for index, refs in resolved.items():
        good = values[index]
        if index in invalid or good is None:
            continue
        checked.rows.append(
            (
                index,
                EvaluationRow(
                    source_id=good["source_id"],
                    agent_id=refs["agent"],
                    coaching_area_id=refs["coaching_area"],
                    score=good["score"],
                    evaluated_at=good["evaluated_at"],
                    case_id=refs.get("case"),
                ),
            )
        )
    return checked


def _parse(
    index: int,
    item: Mapping[Any, Any],
    adapters: dict[str, tuple[TypeAdapter[Any], bool]],
    now: datetime,
) -> tuple[dict[str, Any], list[ItemError]]:
    parsed: dict[str, Any] = {}
    errors: list[ItemError] = []
    for name, (adapter, required) in adapters.items():
        raw = item.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if required:
                errors.append(ItemError(index, name, FieldCode.REQUIRED, f"Give {name}."))
            continue
        try:
            parsed[name] = adapter.validate_python(raw)
        except ValidationError as exc:
            error = exc.errors()[0]
            code = BOUND_CODES.get(error["type"], FieldCode.INVALID)
            errors.append(ItemError(index, name, code, error["msg"]))
    at = parsed.get("evaluated_at")
    if at is not None:
        if timezone.is_naive(at):
            errors.append(
                ItemError(
                    index,
                    "evaluated_at",
                    FieldCode.INVALID,
                    "Give evaluated_at with its offset, e.g. 2026-11-30T14:05:00+01:00.",
                )
            )
            del parsed["evaluated_at"]
        elif at > now:
            errors.append(
                ItemError(
                    index, "evaluated_at", FieldCode.IN_FUTURE, "evaluated_at is in the future."
                )
            )
    for ref, id_field, name_field in REFERENCES:
        given = id_field in item and item[id_field] is not None
        given = given or (name_field in adapters and item.get(name_field) is not None)
        if ref in REQUIRED_REFERENCES and not given and id_field not in {e.field for e in errors}:
            alternative = f" or {name_field}" if name_field in adapters else ""
            errors.append(
                ItemError(index, id_field, FieldCode.REQUIRED, f"Give {id_field}{alternative}.")
            )
    return parsed, errors


def _resolve(
    values: list[dict[str, Any] | None], errors: list[ItemError], by_name: bool
) -> dict[int, dict[str, int]]:
    """The references' ids per item whose references all hold (one query per kind)."""
    wanted: dict[str, tuple[set[int], set[str]]] = {ref: (set(), set()) for ref, _, _ in REFERENCES}
    for parsed in values:
        for ref, id_field, name_field in REFERENCES:
            if parsed is None:
                continue
            if id_field in parsed:
                wanted[ref][0].add(parsed[id_field])
            if by_name and name_field in parsed:
                wanted[ref][1].add(parsed[name_field])
    found = {
        "agent": _lookup(
            User.objects.annotate(
                is_agent=Exists(
                    User.groups.through.objects.filter(
                        user_id=OuterRef("pk"), group__name=Role.AGENT
                    )
                )
            ),
            "username",
            *wanted["agent"],
            extra="is_agent",
        ),
        "coaching_area": _lookup(CoachingArea.objects.all(), "name", *wanted["coaching_area"]),
        "case": _lookup(Case.objects.all(), "number", *wanted["case"]),
    }
    resolved: dict[int, dict[str, int]] = {}
    for index, parsed in enumerate(values):
        if parsed is None:
            continue
        ids: dict[str, int] = {}
        ok = True
        for ref, id_field, name_field in REFERENCES:
            by_id, by_key = found[ref]
            picked: tuple[int, str, bool] | None = None
            if id_field in parsed:
                picked = by_id.get(parsed[id_field])
                if picked is None:
                    errors.append(_unknown(index, ref, f"id {parsed[id_field]}"))
                    ok = False
                    continue
            if by_name and name_field in parsed:
                named = by_key.get(parsed[name_field])
                if named is None:
                    what = f"{KEYS[ref]} {parsed[name_field]!r}"
                    errors.append(_unknown(index, ref, what, field_name=name_field))
                    ok = False
                    continue
                if picked is not None and picked[0] != named[0]:
                    message = (
                        f"{name_field} {parsed[name_field]!r} is not the one {id_field} names."
                    )
                    errors.append(ItemError(index, name_field, FieldCode.INVALID, message))
                    ok = False
                    continue
                picked = named
            if picked is None:
                continue
            if ref == "agent" and not picked[2]:
                used = id_field if id_field in parsed else name_field
                message = (
                    f"{picked[1]} is not an agent (only users with the Agent role are evaluated)."
                )
                errors.append(ItemError(index, used, FieldCode.INVALID, message))
                ok = False
                continue
            ids[ref] = picked[0]
        if ok:
            resolved[index] = ids
    return resolved


NOUNS = {"agent": "user", "coaching_area": "coaching area", "case": "case"}


KEYS = {"agent": "username", "coaching_area": "name", "case": "number"}
ID_FIELDS = {ref: id_field for ref, id_field, _ in REFERENCES}


def _unknown(index: int, ref: str, what: str, *, field_name: str | None = None) -> ItemError:
    message = f"There is no {NOUNS[ref]} with {what}."
    return ItemError(index, field_name or ID_FIELDS[ref], FieldCode.UNKNOWN_ID, message)


def _lookup(
    qs: Any, key: str, ids: set[int], names: set[str], *, extra: str | None = None
) -> tuple[dict[int, tuple[int, str, bool]], dict[str, tuple[int, str, bool]]]:
    """(by id, by name) of the rows asked for, in one query (none when nothing is asked)."""
    if not ids and not names:
        return {}, {}
    rows = qs.filter(Q(pk__in=ids) | Q(**{f"{key}__in": names})).values_list(
        "pk", key, extra or "pk"
    )
    by_id: dict[int, tuple[int, str, bool]] = {}
    by_name: dict[str, tuple[int, str, bool]] = {}
    for pk, name, flag in rows:
        entry = (pk, name, bool(flag))
        by_id[pk] = entry
        by_name[name] = entry
    return by_id, by_name


def api_errors(errors: Iterable[ItemError]) -> list[FieldError]:
    """The problems as the API names them: `items[2].score`."""
    return [
        FieldError(f"items[{e.index}]" + (f".{e.field}" if e.field else ""), e.code, e.message)
        for e in errors
    ]


# --- writing -------------------------------------------------------------------------------------
UPDATE_FIELDS = ["agent", "coaching_area", "score", "evaluated_at", "case", "received_at"]


def upsert(rows: Sequence[EvaluationRow], *, now: datetime) -> Upserted:
    """Insert the new source ids, update the known ones (inside the caller's transaction).

    Two writers sending the same new source id at once do not fail: the database's
    INSERT ... ON CONFLICT makes the second wait for the first and then update. Rows are written
    in source-id order, so that overlapping batches take their row locks in one order (no
    deadlock between them). `created`/`updated` count what was stored before this transaction
    began to write; an id that a simultaneous batch created meanwhile counts as created in both."""
    rows = sorted(rows, key=lambda r: r.source_id)
    before = {
        sid: (agent, area)
        for sid, agent, area in Evaluation.objects.filter(
            source_id__in=[r.source_id for r in rows]
        ).values_list("source_id", "agent_id", "coaching_area_id")
    }
    Evaluation.objects.bulk_create(
        [
            Evaluation(
                source_id=r.source_id,
                agent_id=r.agent_id,
                coaching_area_id=r.coaching_area_id,
                score=r.score,
                evaluated_at=r.evaluated_at,
                case_id=r.case_id,
                received_at=now,
            )
            for r in rows
        ],
        batch_size=WRITE_BATCH,
        update_conflicts=True,
        unique_fields=["source_id"],
        update_fields=UPDATE_FIELDS,
    )
    result = Upserted(created=len(rows) - len(before), updated=len(before))
    for r in rows:
        pair = (r.agent_id, r.coaching_area_id)
        result.pairs.add(pair)
        earlier = before.get(r.source_id)
        if earlier is not None and earlier != pair:
            result.moved_from.add(earlier)
    return result


def announce(pairs: Iterable[tuple[int, int]]) -> None:
    """Tell the rules engine, in chunks (it only enqueues), which agents' areas changed. Inside
    the transaction that stored the evaluations (the task rows are written in it)."""
    ordered = iter(sorted(pairs))
    while chunk := list(islice(ordered, PAIRS_CHUNK)):
        engine.evaluations_arrived(chunk)


@dataclass(frozen=True)
class IngestResult:
    created: int
    updated: int


@retry_on_conflict
def evaluations_ingest(
    *, actor: User, items: Sequence[object], now: datetime | None = None
) -> IngestResult:
    """One API batch (1-1000 items): all stored, or none (422 naming each item's problems)."""
    if not may_import_evaluations(actor):
        raise PermissionDenied("You need the Import Evaluations permission to send evaluations.")
    if not items:
        raise ValidationFailed(
            [FieldError("items", FieldCode.REQUIRED, "Send at least one evaluation.")]
        )
    if len(items) > ITEMS_MAX:
        message = f"Send at most {ITEMS_MAX} evaluations per request ({len(items)} were sent)."
        raise ValidationFailed([FieldError("items", FieldCode.TOO_LONG, message)])
    now = now or timezone.now()
    with transaction.atomic():
        checked = check_batch(items, now=now)
        if checked.errors:
            errors = api_errors(sorted(checked.errors, key=lambda e: e.index))
            shown = "; ".join(f"{e.field}: {e.message}" for e in errors[:10])
            more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
            raise ValidationFailed(errors, f"Nothing was stored: {shown}{more}.")
        result = upsert([row for _, row in checked.rows], now=now)
        # In the same transaction: the background work's task rows commit with the evaluations
        # or not at all, so no crash between the two can leave a rule unrun or a stored
        # coaching-effect window stale.
        announce(result.pairs | result.moved_from)
    return IngestResult(created=result.created, updated=result.updated)
