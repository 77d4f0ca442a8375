"""Many rows of one model in one INSERT, without Django's per-row, per-field work.

`bulk_create` builds a model instance per row and prepares every field of every row on its way
to the database (`pre_save`, `get_db_prep_save`): for the 50 notifications of a suggestion to a
50-member coach group that was about half of the writing's CPU, for values that are mostly the
same in every row. Here each column's values are prepared by the field's own
`get_db_prep_save`, once per distinct value, and PostgreSQL receives one array per column
(`INSERT ... SELECT * FROM unnest(...)`, the statement Django itself sends for `bulk_create`,
the same text whatever the number of rows). Other databases get `bulk_create`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connections
from django.db.models import Field, Model


def insert_rows(
    model: type[Model],
    fields: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    using: str = "default",
) -> list[int | None]:
    """Insert `rows` (one value per name in `fields`, in that order) and return their primary
    keys in the same order (None where a backend returns none). A concrete field not named takes
    its default, which must not be callable (a callable default is evaluated per row by Django;
    name the field instead)."""
    if not rows:
        return []
    meta = model._meta
    named: list[Field[Any, Any]] = [meta.get_field(name) for name in fields]  # type: ignore[misc]
    given = {f.attname for f in named}
    rest = [f for f in meta.concrete_fields if not f.primary_key and f.attname not in given]
    for f in rest:
        if f.has_default() and callable(f.default):
            raise TypeError(f"insert_rows({meta.label}): give {f.name}, its default is callable")
    conn = connections[using]
    if conn.vendor != "postgresql":
        objs = model._default_manager.db_manager(using).bulk_create(
            [model(**{f.attname: v for f, v in zip(named, row, strict=True)}) for row in rows]
        )
        return [o.pk for o in objs]
    columns: list[list[Any]] = []
    for i, f in enumerate(named):
        prepared: dict[Any, Any] = {}
        column = []
        for row in rows:
            value = row[i]
            try:
                db_value = prepared[value]
            except KeyError:
                db_value = prepared[value] = f.get_db_prep_save(value, conn)
            except TypeError:  # unhashable (a JSON value): prepared each time
                db_value = f.get_db_prep_save(value, conn)
            column.append(db_value)
        columns.append(column)
    qn = conn.ops.quote_name
    table = meta.db_table
    pk = meta.pk
    assert pk is not None
    names = ", ".join(qn(_column(f)) for f in [*named, *rest])
    arrays = ", ".join(f"%s::{f.db_type(conn)}[]" for f in named)
    constants = "".join(f", %s::{f.db_type(conn)}" for f in rest)
    sql = (
        f"INSERT INTO {qn(table)} ({names}) "
        f"SELECT u.*{constants} FROM unnest({arrays}) AS u RETURNING {qn(_column(pk))}"
    )
    params = [*(f.get_db_prep_save(f.get_default(), conn) for f in rest), *columns]
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        return [r[0] for r in cursor.fetchall()]


def _column(f: Field[Any, Any]) -> str:
    column = f.column
    assert column is not None, f"{f} has no column"
    return column
