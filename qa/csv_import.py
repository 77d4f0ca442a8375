"""Evaluations from a CSV file (`manage.py import_evaluations`), of any size, in bounded memory.

1. The file is read as a stream, a chunk of rows at a time; each chunk is checked by
   `qa.ingest.check_batch` (the API's rules, with references also by name) and its valid rows go
   to a temporary staging table of this connection. Nothing of the real table is touched yet.
2. Source ids given on two rows are found in the staging table (one query).
3. Any rejected row: nothing is written (with `skip_invalid`: the valid rows are). Otherwise one
   transaction upserts the staged rows (`qa.ingest.upsert`'s statement, set-based); once it has
   committed, the rules engine hears of every (agent, area) pair, in chunks.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from django.db import connection, transaction
from django.utils import timezone

from core.db import retry_on_conflict
from core.errors import FieldCode, FieldError, ValidationFailed
from directory.models import Evaluation
from qa import engine
from qa.ingest import (
    PAIRS_CHUNK,
    UPDATE_FIELDS,
    EvaluationRow,
    EvaluationRowIn,
    ItemError,
    announce,
    check_batch,
)

CHUNK = 5000
COLUMNS = tuple(EvaluationRowIn.model_fields)
INT_COLUMNS = frozenset({"agent_id", "coaching_area_id", "score", "case_id"})
REQUIRED_COLUMNS: tuple[tuple[str, ...], ...] = (
    ("source_id",),
    ("agent_id", "agent_username"),
    ("coaching_area_id", "coaching_area"),
    ("score",),
    ("evaluated_at",),
)
INTEGER = re.compile(r"[+-]?\d{1,19}")
STAGING = "qa_evaluation_import"
STAGED_FIELDS = ["source_id", "agent", "coaching_area", "score", "evaluated_at", "case"]


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # the file's line number (the header is line 1)
    column: str  # "" for the row as a whole
    code: FieldCode
    message: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message} ({self.code})"


@dataclass
class ImportReport:
    rows: int = 0
    rejected_rows: int = 0
    errors: list[RowError] = field(default_factory=list)  # the first `max_errors`, by row
    created: int = 0
    updated: int = 0
    written: bool = False


Progress = Callable[[str], None]


def import_csv(
    lines: Iterable[str],
    *,
    skip_invalid: bool = False,
    max_errors: int = 100,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Import a CSV file's rows (an iterable of its lines, e.g. the open file). A bad header is a
    ValidationFailed (field `header`) before anything is read."""
    now = now or timezone.now()
    say = progress or (lambda _: None)
    reader = csv.reader(lines, strict=True)
    header = _header(next(reader, None))
    report = ImportReport()
    _drop_staging()
    _create_staging()
    try:
        _stage(reader, header, report, max_errors=max_errors, say=say, now=now)
        _find_duplicates(report, max_errors=max_errors, remove=skip_invalid)
        report.errors.sort(key=lambda e: (e.row, e.column))
        del report.errors[max_errors:]
        if report.rejected_rows and not skip_invalid:
            return report
        if report.rows > report.rejected_rows:
            _write(report, say=say, now=now)
    finally:
        _drop_staging()
    return report


def _header(cells: list[str] | None) -> list[str]:
    if cells is None:
        raise ValidationFailed([FieldError("header", FieldCode.REQUIRED, "The file is empty.")])
    header = [c.strip().lstrip("\ufeff").lower() for c in cells]
    errors: list[FieldError] = []
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        message = (
            f"Unknown column(s) {', '.join(map(repr, unknown))}; the columns are "
            f"{', '.join(COLUMNS)}."
        )
        errors.append(FieldError("header", FieldCode.INVALID, message))
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        message = f"Column(s) {', '.join(twice)} given twice."
        errors.append(FieldError("header", FieldCode.DUPLICATE, message))
    for choices in REQUIRED_COLUMNS:
        if not any(c in header for c in choices):
            message = f"The header needs the column {' or '.join(choices)}."
            errors.append(FieldError("header", FieldCode.REQUIRED, message))
    if errors:
        raise ValidationFailed(errors)
    return header


def _cells(header: list[str], cells: list[str]) -> dict[str, object]:
    """A row as the values the API would carry: digits in an integer column are a number, empty
    cells are absent, anything else stays text (and is the wrong type where a number is due)."""
    values: dict[str, object] = {}
    for name, cell in zip(header, cells, strict=False):
        cell = cell.strip()
        if not cell:
            continue
        values[name] = int(cell) if name in INT_COLUMNS and INTEGER.fullmatch(cell) else cell
    return values


def _stage(
    reader: Iterator[list[str]],
    header: list[str],
    report: ImportReport,
    *,
    max_errors: int,
    say: Progress,
    now: datetime,
) -> None:
    started = time.monotonic()
    while True:
        chunk: list[dict[str, object]] = []
        line_numbers: list[int] = []
        too_long: list[RowError] = []
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue  # a blank line
            line = reader.line_num  # type: ignore[attr-defined]  # csv.reader's
            if len(cells) > len(header):
                too_long.append(
                    RowError(line, "", FieldCode.INVALID, "The row has more cells than the header.")
                )
            chunk.append(_cells(header, cells))
            line_numbers.append(line)
            if len(chunk) == CHUNK:
                break
        if not chunk:
            break
        checked = check_batch(chunk, by_name=True, now=now, label=partial(_row_label, line_numbers))
        errors = [_row_error(e, line_numbers) for e in checked.errors] + too_long
        bad_lines = {e.row for e in errors}
        report.rows += len(chunk)
        report.rejected_rows += len(bad_lines)
        room = max_errors - len(report.errors)
        if room > 0:
            report.errors.extend(sorted(errors, key=lambda e: e.row)[:room])
        _insert_staged(
            [(line_numbers[i], row) for i, row in checked.rows if line_numbers[i] not in bad_lines]
        )
        rate = report.rows / max(time.monotonic() - started, 1e-6)
        say(f"read {report.rows:,} rows ({rate:,.0f} rows/s), {report.rejected_rows:,} rejected")


def _row_label(line_numbers: list[int], index: int) -> str:
    return f"row {line_numbers[index]}"


def _row_error(error: ItemError, line_numbers: list[int]) -> RowError:
    return RowError(line_numbers[error.index], error.field, error.code, error.message)


# --- the staging table (temporary: this connection's own, gone with it) --------------------------
def _create_staging() -> None:
    time_type = Evaluation._meta.get_field("evaluated_at").db_type(connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {STAGING} (row_number INTEGER PRIMARY KEY, "
            "source_id VARCHAR(100) NOT NULL, agent_id BIGINT NOT NULL, "
            "coaching_area_id BIGINT NOT NULL, score SMALLINT NOT NULL, "
            f"evaluated_at {time_type} NOT NULL, case_id BIGINT NULL)"
        )


def _drop_staging() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGING}")


def _insert_staged(rows: list[tuple[int, EvaluationRow]]) -> None:
    if not rows:
        return
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {STAGING} VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    line,
                    r.source_id,
                    r.agent_id,
                    r.coaching_area_id,
                    r.score,
                    adapt(r.evaluated_at),
                    r.case_id,
                )
                for line, r in rows
            ],
        )


DUPLICATES = (
    f"FROM {STAGING} s JOIN (SELECT source_id, MIN(row_number) AS first_row FROM {STAGING} "
    "GROUP BY source_id HAVING COUNT(*) > 1) d "
    "ON d.source_id = s.source_id AND s.row_number > d.first_row"
)


def _find_duplicates(report: ImportReport, *, max_errors: int, remove: bool) -> None:
    """A source id on several rows: each row after the first is rejected."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE INDEX {STAGING}_source ON {STAGING} (source_id)")
        cursor.execute(f"SELECT COUNT(*) {DUPLICATES}")
        (count,) = cursor.fetchone()
        if not count:
            return
        report.rejected_rows += count
        cursor.execute(
            f"SELECT s.row_number, s.source_id, d.first_row {DUPLICATES} "
            "ORDER BY s.row_number LIMIT %s",
            [max_errors],
        )
        for line, source_id, first in cursor.fetchall():
            message = f"The source id {source_id!r} is also given in row {first}."
            report.errors.append(RowError(line, "source_id", FieldCode.DUPLICATE, message))
        if remove:
            cursor.execute(
                f"DELETE FROM {STAGING} WHERE row_number IN (SELECT s.row_number {DUPLICATES})"
            )


def _write(report: ImportReport, *, say: Progress, now: datetime) -> None:
    say(f"writing {report.rows - report.rejected_rows:,} rows in one transaction")
    started = time.monotonic()
    _upsert_staged(report, now=now)
    report.written = True
    say(f"wrote {report.created + report.updated:,} rows in {time.monotonic() - started:.1f}s")


@retry_on_conflict
def _upsert_staged(report: ImportReport, *, now: datetime) -> None:
    """`qa.ingest.upsert`, set-based, in one transaction (run again whole if it loses a
    deadlock): the database copies the staging table into the evaluations with
    INSERT ... SELECT ... ON CONFLICT (source_id) DO UPDATE, in source-id order. No row passes
    through Python, which would cost more than the database's own work."""
    ev = Evaluation._meta.db_table
    column = {f.name: str(f.column) for f in Evaluation._meta.concrete_fields}
    staged = ", ".join(column[f] for f in STAGED_FIELDS)
    updates = ", ".join(f"{column[f]} = excluded.{column[f]}" for f in UPDATE_FIELDS)
    with transaction.atomic(), connection.cursor() as cursor:
        known = f"FROM {STAGING} s JOIN {ev} e ON e.source_id = s.source_id"
        cursor.execute(f"SELECT COUNT(*) FROM {STAGING}")
        (staged_rows,) = cursor.fetchone()
        cursor.execute(f"SELECT COUNT(*) {known}")
        (report.updated,) = cursor.fetchone()
        report.created = staged_rows - report.updated
        # An evaluation sent for another agent or area: the rules look at the old pair too.
        cursor.execute(
            f"SELECT DISTINCT e.agent_id, e.coaching_area_id {known} "
            "WHERE e.agent_id <> s.agent_id OR e.coaching_area_id <> s.coaching_area_id"
        )
        moved = {(int(a), int(b)) for a, b in cursor.fetchall()}
        # (SQLite needs the WHERE to read ON CONFLICT as the upsert, not as a join's ON.)
        cursor.execute(
            f"INSERT INTO {ev} ({staged}, {column['received_at']}) "
            f"SELECT {staged}, %s FROM {STAGING} WHERE 1 = 1 ORDER BY source_id "
            f"ON CONFLICT (source_id) DO UPDATE SET {updates}",
            [connection.ops.adapt_datetimefield_value(now)],
        )
        pairs = _staged_pairs()
        _announce_all(pairs, moved)  # the task rows commit with the rows, as in `ingest`


def _staged_pairs() -> list[tuple[int, int]]:
    """The distinct (agent, area) pairs of the file, read before the staging table is dropped:
    at most one per agent and area, whatever the file's length."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT agent_id, coaching_area_id FROM {STAGING} "
            "ORDER BY agent_id, coaching_area_id"
        )
        return [(int(a), int(b)) for a, b in cursor.fetchall()]


def _announce_all(pairs: list[tuple[int, int]], moved: set[tuple[int, int]]) -> None:
    for start in range(0, len(pairs), PAIRS_CHUNK):
        engine.evaluations_arrived(pairs[start : start + PAIRS_CHUNK])
    announce(moved - set(pairs))
