"""Types every API router shares: ids, text, times, paging, and the problem+json schema."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

import pydantic_core
from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpResponse
from ninja import Query
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from core.errors import ErrorCode, FieldCode
from core.paging import paged

# Database keys are 64-bit; a larger number would overflow the driver instead of finding nothing.
MAX_ID = 2**63 - 1
MAX_OFFSET = 2**62
DEFAULT_LIMIT, MAX_LIMIT = 20, 100

# In paths and query strings (text by nature).
Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def _json_number(value: object) -> object:
    # In a JSON body an integer is a JSON number ("5" and true are the wrong type, 400); 5.0 is
    # the same integer to JSON Schema, so it is accepted.
    if isinstance(value, str | bool):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


BodyInt = Annotated[int, BeforeValidator(_json_number)]
BodyId = Annotated[int, BeforeValidator(_json_number), Field(ge=1, le=MAX_ID)]


def _clean_text(value: str) -> str:
    # No database stores lone surrogates (a JSON body may still carry them as escapes).
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("text_encoding", "Text is not valid Unicode.") from None
    return value


# PostgreSQL refuses NUL in text, so the schema excludes it (422 `invalid`, not a 500).
Text = Annotated[str, Field(pattern=r"^[^\x00]*$"), AfterValidator(_clean_text)]


# ISO 8601 date and time (the offset is checked by the rules, which name the field: 422).
ISO_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}(:?\d{2})?)?"
)


def _time_text(value: object) -> object:
    # JSON has no time type: a time is an ISO 8601 string, never a number of seconds (pydantic
    # would read "1893456000" as Unix seconds).
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not ISO_TIME.fullmatch(value):
        raise PydanticCustomError(
            "datetime_type",
            "Give the time as an ISO 8601 string with its offset, e.g. 2030-03-04T10:00:00+01:00.",
        )
    return value


def _input_time(value: datetime) -> datetime:
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except (OverflowError, ValueError):
            raise PydanticCustomError(
                "out_of_range", "The time is outside the supported range."
            ) from None
    return value


ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _date_text(value: object) -> object:
    # A day is written YYYY-MM-DD; pydantic would also read "0" as 1970-01-01 (Unix seconds).
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
        raise PydanticCustomError("date_type", "Give the day as YYYY-MM-DD, e.g. 2030-03-04.")
    return value


# A day sent by the client (a query parameter such as a report's period).
InputDate = Annotated[date, BeforeValidator(_date_text)]


# A time sent by the client; a missing offset is reported by the services' rules (422 `invalid`).
InputTime = Annotated[datetime, BeforeValidator(_time_text), AfterValidator(_input_time)]


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


def json_time(value: datetime) -> str:
    """A time as every answer writes it, the way ninja's renderer (Django's JSON encoder) does:
    in UTC, ISO 8601, the milliseconds cut (none for a whole second), `Z`. The `Time` fields'
    serializer (`answer`) and the JSON-ready answers (`answer_json`) both write it so."""
    if value.tzinfo is not UTC:
        value = _utc(value)
    return value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")[:-6] + "Z"


# Every time in an answer is in UTC.
Time = Annotated[
    datetime,
    AfterValidator(_utc),
    PlainSerializer(json_time, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]


class Out(BaseModel):
    """An answer's schema. Plain pydantic reading dicts or model attributes: ninja's `Schema`
    wraps every nested object in a Django attribute getter first, a cost paid per field of
    every item of every list."""

    model_config = ConfigDict(from_attributes=True)


JSON_CONTENT_TYPE = "application/json; charset=utf-8"


def answer(schema: type[Out], data: Any, status: int = 200) -> HttpResponse:
    """`data` validated by `schema` and written by pydantic's own serializer: the bytes ninja
    would answer (the same schema, the same times), at less than half its cost. Ninja dumps the
    validated answer to Python objects and encodes those again with `json` (a Python call per
    time); a list of sessions spent more on that than on its queries. The operation still
    declares `schema` for its 200, which the OpenAPI document shows."""
    body = schema.model_validate(data).model_dump_json()
    return HttpResponse(body, status=status, content_type=JSON_CONTENT_TYPE)


_NO_MILLISECONDS = re.compile(rb'(:\d\d)\.000Z"')


def to_the_millisecond(body: bytes) -> bytes:
    """An answer with `.000Z` times written as whole seconds. A time 1 to 999 microseconds past
    the second is written `.000Z` (Django's encoder, `json_time`), and read back it is the whole
    second, which is written without a fraction: compared after a round trip, the two are one."""
    return _NO_MILLISECONDS.sub(rb'\1Z"', body)


def answer_json(schema: type[Out], data: Any, status: int = 200) -> HttpResponse:
    """`data` already in JSON terms, written as it is: objects as dicts in `schema`'s field
    order, times by `json_time`, choices as their values. For the lists, where validating each
    item (every field of every nested object read through `from_attributes`) and serializing
    it again cost more than building it. The bytes are those `answer` would write from the same
    data: with `ANSWERS_VERIFY` (on under `TESTING`) every call is checked against them (to the
    millisecond: `to_the_millisecond`), so the whole test suite holds each answer to its schema
    and its field order."""
    body = pydantic_core.to_json(data)
    if settings.ANSWERS_VERIFY:
        expected = schema.model_validate(data).model_dump_json().encode()
        if to_the_millisecond(body) != to_the_millisecond(expected):
            raise AssertionError(
                f"{schema.__name__} written from JSON-ready data differs from its schema's "
                f"rendering:\n{body.decode()}\n{expected.decode()}"
            )
    return HttpResponse(body, status=status, content_type=JSON_CONTENT_TYPE)


class FieldErrorOut(Out):
    field: str = Field(description="The field (dotted path for nested values) that is violated.")
    code: FieldCode = Field(description="Which rule the value breaks.")
    message: str


class Problem(Out):
    """RFC 9457 problem details; served as `application/problem+json`."""

    type: str
    title: str
    status: int
    detail: str
    code: ErrorCode = Field(description="What went wrong; the API's description lists when each.")
    errors: list[FieldErrorOut]


def problems(*statuses: int) -> dict[int, Any]:
    return {status: Problem for status in statuses}


def page(qs: QuerySet[Any], *, limit: int, offset: int) -> tuple[list[Any], int]:
    """One page of an ordered queryset and the total (`core.paging.paged`)."""
    return paged(lambda n, skip: list(qs[skip : skip + n]), qs.count, limit=limit, offset=offset)


LIMIT_DESCRIPTION = f"Page size (default {DEFAULT_LIMIT}, at most {MAX_LIMIT})."
OFFSET_DESCRIPTION = "How many items to skip."
# Every list's `limit` and `offset` query parameters.
Limit = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=LIMIT_DESCRIPTION)
Offset = Query(0, ge=0, le=MAX_OFFSET, description=OFFSET_DESCRIPTION)
SEARCH_MAX = 100  # as in the pages' search boxes
SEARCH_DESCRIPTION = f"Case-insensitive text to look for (at most {SEARCH_MAX} characters)."
