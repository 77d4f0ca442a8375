"""A list's query compiled once per process for each shape, then run with each request's values.

Django builds a list's queryset and compiles it to SQL on every request: for the session lists
that is the larger part of the request's own work (the filters, the visibility union, the
ordering, the COUNT), although the SQL differs between two requests of the same kind only in
its parameters. A `Shape` builds and compiles it once per *key* and then only binds values.

Correct by construction, not by care:

- A builder takes its inputs as `Args` (the viewer, ids, sets of ids, times) and nothing else.
  On first use of a key it runs twice, with two different sets of stand-in values for every
  input; both must give the same SQL text, and each parameter must either be equal in both (a
  constant of the query) or be one stand-in (an input, bound per request). A parameter derived
  from an input (the current time minus six hours), or SQL that follows an input's value, makes
  the shape refuse that key: it is then built per request, as any other query is.
- Stand-ins keep equality and order within a domain (two inputs with the same user id get the
  same stand-in; the smaller id the smaller one), and the key carries that pattern, so a builder
  that asks "is the viewer the trainee?" decides as it would with the real ids.
- The viewer's facts that a builder reads (active, permissions, roles, number of groups) are in
  the key; the stand-in viewer is a copy of the viewer with stand-in id and group ids.
- A look-up that no viewer changes (a user by id, an agent's scores once the page is allowed)
  binds with `viewer=None`: its builder gets no viewer, and the key no viewer's facts.
- With `SHAPES_VERIFY` (on under `TESTING`), every bound statement is compared with a fresh
  build from the real values, so the whole test suite checks each shape it reaches.

The page is cut with LIMIT/OFFSET parameters, and the COUNT is the same rows without their
order, so neither the page nor its position adds a key.

A builder returns whole rows of its model (instances, as the ORM loads them) or, where a list
answers a few columns, `values_list(...)` of them, joined columns included: the page is then
tuples, through the columns' converters as the ORM applies them (SQLite returns times as text),
and no model instance is made (the notifications API's page, `notifications.services.INBOX`).
"""

from __future__ import annotations

import copy
import functools
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import CharField, Expression, Model, QuerySet, signals
from django.db.models.base import ModelState

from core.paging import paged

# Far from any real id (64-bit keys) and from each other.
_ID_BASES = (9_100_000_000_000_000_000, 9_200_000_000_000_000_000)
_TIME_BASES = (datetime(2991, 1, 1, tzinfo=UTC), datetime(2993, 1, 1, tzinfo=UTC))
KEYS_KEPT = 512


class _Slot:
    """A parameter bound per request: the `index`th input value."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    def __repr__(self) -> str:
        return f"<slot {self.index}>"


@dataclass
class Args:
    """What a builder may read: the viewer (real or stand-in) and the named inputs."""

    viewer: Any
    options: dict[str, Hashable] = field(default_factory=dict)
    ids: dict[str, int | None] = field(default_factory=dict)
    times: dict[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    count_sql: str
    params: tuple[Any, ...]  # constants and _Slots
    count_params: tuple[Any, ...]
    converters: list[Any] | None  # rows of values (`values_list`): their columns' converters


class Written(Expression):
    """A constant of the code (a state's name) written into the statement as a literal, not
    bound as a parameter. PostgreSQL plans a statement prepared with parameters once for every
    value ("generic plan"): it cannot then use a partial index (`WHERE state = 'scheduled'`) nor
    its statistics of how many rows have that state, because the state could be any value. Only
    plain names are accepted (letters, digits, underscores), so nothing needs quoting."""

    def __init__(self, value: str) -> None:
        super().__init__(output_field=CharField())
        if not _PLAIN.fullmatch(value):
            raise ValueError(f"not a plain name to write into SQL: {value!r}")
        self.value = value

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        return f"'{self.value}'", ()


_PLAIN = re.compile(r"[A-Za-z0-9_]+")


def written(value: str) -> Written:
    return Written(str(value))


def _compile(
    qs: QuerySet[Any], alias: str
) -> tuple[str, tuple[Any, ...], str, tuple[Any, ...], list[Any] | None]:
    """The page's and the count's SQL, and for rows of values their columns' converters;
    EmptyResultSet where the query can match nothing (a viewer who may see no session), as
    Django's compiler tells it."""
    compiler = qs.query.get_compiler(using=alias)
    cut = _arms_cut(qs, alias)
    sql, params = cut if cut is not None else compiler.as_sql()
    converters = None
    if _rows_of(qs) == "values":
        found = compiler.get_converters([c[0] for c in compiler.select])
        converters = [(i, fns, expr) for i, (fns, expr) in sorted(found.items())]
    inner, count_params = qs.order_by().values("pk").query.get_compiler(using=alias).as_sql()
    return sql, tuple(params), f"SELECT COUNT(*) FROM ({inner}) c", tuple(count_params), converters


class _ArmLimit:
    """Where each arm of an ordered UNION ALL is cut (`_arms_cut`): at the page's end, its
    offset plus its limit, put in when the page is asked for."""

    def __repr__(self) -> str:
        return "ARM_LIMIT"


ARM_LIMIT = _ArmLimit()
_NO_LIMIT = 2**62  # every row (`Bound.all`): an integer both databases take


def _arms_cut(qs: QuerySet[Any], alias: str) -> tuple[str, list[Any]] | None:
    """An ordered UNION ALL of whole rows with each arm ordered and cut at the page's end, then
    ordered again: `SELECT * FROM (arm ORDER BY o LIMIT n) UNION ALL ... ORDER BY o`. PostgreSQL
    does not merge the arms' ordered index scans under one ORDER BY ... LIMIT: it reads every
    row of every arm (a busy coach's 600 open suggestions) and sorts them for a page of 10;
    cut, each arm reads at most offset + limit rows along its index and the sort is of those.
    None for anything else (another combination, an ordering by other than field names)."""
    q = qs.query
    if _rows_of(qs) != "model" or not q.combinator or not q.order_by:
        return None
    meta = qs.model._meta
    terms = []
    for term in q.order_by:
        if not isinstance(term, str) or term.startswith("?"):
            return None
        name = term.removeprefix("-")
        field = meta.pk if name == "pk" else meta.get_field(name)
        if not getattr(field, "concrete", False) or getattr(field, "column", None) is None:
            return None
        terms.append((field.column, term.startswith("-")))
    conn = connections[alias]
    quote = conn.ops.quote_name
    order = ", ".join(f"{quote(column)} {'DESC' if desc else 'ASC'}" for column, desc in terms)
    parts: list[str] = []
    params: list[Any] = []
    for i, arm in enumerate(q.combined_queries):
        arm_qs: QuerySet[Any] = QuerySet(model=qs.model, query=arm.clone()).order_by(*q.order_by)
        try:
            arm_sql, arm_params = arm_qs.query.get_compiler(using=alias).as_sql()
        except EmptyResultSet:
            continue  # as Django's union leaves out an arm that matches nothing
        parts.append(f"SELECT * FROM ({arm_sql} LIMIT %s) {quote(f'shape_arm{i}')}")
        params += [*arm_params, ARM_LIMIT]
    if not parts:
        raise EmptyResultSet
    return f"{' UNION ALL '.join(parts)} ORDER BY {order}", params


def _cut_at(params: list[Any], end: int) -> list[Any]:
    return [end if p is ARM_LIMIT else p for p in params]


def _rows_of(qs: QuerySet[Any]) -> str | None:
    """ "model": rows whose columns are the model's concrete fields in order, as `from_db` takes
    them, from one query or a UNION ALL of such queries (`coaching.selectors.coached`);
    "values": tuples of the named columns (`values_list`, not flat); None for anything else
    (annotations, related rows, a slice, another combination), which a shape does not bind."""
    q = qs.query
    kind = qs._iterable_class.__name__
    if q.combinator:
        plain = q.combinator == "union" and q.combinator_all and not _sliced(q)
        if plain and kind == "ModelIterable" and not q.values_select:
            arms = [_query_rows_of(arm, kind) for arm in q.combined_queries]
            if all(
                arm == "model" and a.model is qs.model
                for arm, a in zip(arms, q.combined_queries, strict=True)
            ):
                return "model"
        return None
    return _query_rows_of(q, kind)


def _query_rows_of(q: Any, kind: str) -> str | None:
    if q.select_related or q.annotations or q.extra or _sliced(q) or q.combinator:
        return None
    if (
        kind == "ModelIterable"
        and q.deferred_loading == (frozenset(), True)
        and not q.values_select
    ):
        return "model"
    if kind == "ValuesListIterable" and q.values_select:
        return "values"
    return None


def _sliced(q: Any) -> bool:
    return bool(q.low_mark != 0 or q.high_mark is not None)


@dataclass
class Bound:
    """One request's statement: the page and the count of a shape, with its values."""

    model: type[Model]
    alias: str
    sql: str
    params: list[Any]
    count_sql: str
    count_params: list[Any]
    cached: bool
    empty: bool = False  # the query can match nothing: no statement is sent
    converters: list[Any] | None = None  # rows of values: tuples, through these converters

    def rows(self, *, limit: int, offset: int) -> list[Any]:
        """A page: model instances, or tuples for a shape of values (`values_list`)."""
        if self.empty:
            return []
        return self._made(
            self._fetch(
                f"{self.sql} LIMIT %s OFFSET %s",
                [*_cut_at(self.params, offset + limit), limit, offset],
            )
        )

    def all(self) -> list[Any]:
        """Every row, for a look-up whose rows are few by nature (a user's roles or groups)."""
        if self.empty:
            return []
        return self._made(self._fetch(self.sql, _cut_at(self.params, _NO_LIMIT)))

    def count(self) -> int:
        if self.empty:
            return 0
        with connections[self.alias].cursor() as cursor:
            cursor.execute(self.count_sql, self.count_params)
            return int(cursor.fetchone()[0])

    def page(self, *, limit: int, offset: int) -> tuple[list[Any], int]:
        """The page and the total in one statement: the COUNT rides on each row of the page (one
        round trip, not two). A page past the end has no row to carry it: then the total is
        `core.paging.paged`'s (the page tells it, else a COUNT)."""
        if self.empty:
            return [], 0
        rows = self._fetch(
            f"SELECT {_PAGE_ALIAS}.*, ({self.count_sql}) "
            f"FROM ({self.sql} LIMIT %s OFFSET %s) {_PAGE_ALIAS}",
            [*self.count_params, *_cut_at(self.params, offset + limit), limit, offset],
        )
        if not rows:
            return paged(lambda n, skip: [], self.count, limit=limit, offset=offset)
        total = int(rows[0][-1])
        return self._made([row[:-1] for row in rows]), total

    def _fetch(self, sql: str, params: list[Any]) -> list[Any]:
        with connections[self.alias].cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    def _made(self, rows: list[Any]) -> list[Any]:
        conn = connections[self.alias]
        if self.converters is not None:
            converters = self.converters
            return [_convert(row, converters, conn) for row in rows] if converters else rows
        return instances(
            self.model, self.alias, _fields(self.model), converted(self.model, conn, rows)
        )


_PAGE_ALIAS = "shape_page"


def instances(
    model: type[Model], alias: str | None, names: tuple[str, ...] | list[str], rows: list[Any]
) -> list[Any]:
    """`model.from_db(alias, names, row)` for each row, without its `__init__`: the attributes
    set as `__init__` sets them from positional values (a field left out reads as deferred).
    `from_db` itself where the model has init signals' listeners or its own `from_db`."""
    if (
        signals.pre_init.has_listeners(model)
        or signals.post_init.has_listeners(model)
        or model.from_db.__func__ is not Model.from_db.__func__  # type: ignore[attr-defined]
    ):
        return [model.from_db(alias, list(names), row) for row in rows]
    new = model.__new__
    out = []
    for row in rows:
        obj = new(model)
        state = ModelState()
        state.adding = False
        state.db = alias
        obj.__dict__["_state"] = state
        obj.__dict__.update(zip(names, row, strict=True))
        out.append(obj)
    return out


def converted(model: type[Model], conn: Any, rows: list[Any]) -> list[Any]:
    """Rows of the model's concrete columns (in field order, maybe more columns after them) as
    Django's compiler hands them to `from_db`: through the backend's and the fields' converters
    (SQLite returns times as text, booleans as 0/1; PostgreSQL's driver converts)."""
    converters = _converters(model, conn.alias)
    if not converters:
        return rows
    return [_convert(row, converters, conn) for row in rows]


@functools.cache
def _fields(model: type[Model]) -> tuple[str, ...]:
    """The model's columns as a plain query selects them (`_rows_of`: "model"), in order."""
    return tuple(f.attname for f in model._meta.concrete_fields)


@functools.cache
def _converters(model: type[Model], alias: str) -> list[Any]:
    """The backend's and the fields' converters (SQLite returns times as text, booleans as 0/1;
    PostgreSQL converts in the driver), per column, as Django's compiler applies them."""
    conn = connections[alias]
    out = []
    opts = model._meta
    for i, f in enumerate(opts.concrete_fields):
        col = f.get_col(opts.db_table)
        fns = conn.ops.get_db_converters(col) + f.get_db_converters(conn)
        if fns:
            out.append((i, fns, col))
    return out


def _convert(row: tuple[Any, ...], converters: list[Any], conn: Any) -> tuple[Any, ...]:
    values = list(row)
    for i, fns, col in converters:
        v = values[i]
        for fn in fns:
            v = fn(v, col, conn)
        values[i] = v
    return tuple(values)


@dataclass(frozen=True)
class _Asked:
    """One request's inputs to `Shape.bind`."""

    viewer: Any
    options: dict[str, Hashable]
    ids: dict[str, tuple[str, int | None]]
    times: dict[str, datetime]
    using: str


class Shape:
    """`build(args) -> QuerySet` compiled once per key (at most KEYS_KEPT kept per process)."""

    def __init__(
        self, name: str, model: type[Model], build: Callable[[Args], QuerySet[Any]]
    ) -> None:
        self.name = name
        self.model = model
        self.build = build
        self._compiled: OrderedDict[Hashable, _Compiled | None] = OrderedDict()
        self._lock = threading.Lock()

    # --- binding ---------------------------------------------------------------------------
    def bind(
        self,
        *,
        viewer: Any,
        options: Mapping[str, Hashable] | None = None,
        ids: Mapping[str, tuple[str, int | None]] | None = None,
        times: Mapping[str, datetime] | None = None,
        using: str = "default",
    ) -> Bound:
        """The statement for these inputs. `options` are what decides the query's structure
        (which filters are given, a state: part of the key, given to the builder as they are);
        `ids` name each id with its domain ("user", "case"), None where not given; `times` are
        bound like ids."""
        options = dict(options or {})
        ids = dict(ids or {})
        times = dict(times or {})
        asked = _Asked(viewer, options, ids, times, using)
        group_ids = getattr(viewer, "_memo_group_ids", None) if viewer is not None else ()
        values, pattern = _inputs(viewer, group_ids, ids, times)
        key = tuple(sorted(options.items()))
        facts = (_viewer_facts(viewer), group_ids is None)
        full_key = (key, connections[using].vendor, using, facts, pattern)
        with self._lock:
            known = full_key in self._compiled
            compiled = self._compiled.get(full_key)
            if known:
                self._compiled.move_to_end(full_key)
        if not known:
            compiled = self._learn(asked, group_ids, pattern)
            with self._lock:
                self._compiled[full_key] = compiled
                while len(self._compiled) > KEYS_KEPT:
                    self._compiled.popitem(last=False)
        if compiled is None:
            return self._fresh(asked)
        conn = connections[using]
        actual = [_adapt(v, conn) for v in values]
        bound = Bound(
            model=self.model,
            alias=using,
            sql=compiled.sql,
            params=[actual[p.index] if isinstance(p, _Slot) else p for p in compiled.params],
            count_sql=compiled.count_sql,
            count_params=[
                actual[p.index] if isinstance(p, _Slot) else p for p in compiled.count_params
            ],
            cached=True,
            converters=compiled.converters,
        )
        if getattr(settings, "SHAPES_VERIFY", False):
            self._verify(bound, asked)
        return bound

    def _fresh(self, asked: _Asked) -> Bound:
        using = asked.using
        args = Args(
            viewer=asked.viewer,
            options=asked.options,
            ids={k: v for k, (_, v) in asked.ids.items()},
            times=dict(asked.times),
        )
        qs = self.build(args)
        if qs.model is not self.model or _rows_of(qs) is None:
            raise TypeError(
                f"shape {self.name}: the builder must return whole {self.model}s or their values"
            )
        try:
            sql, params, count_sql, count_params, converters = _compile(qs, using)
        except EmptyResultSet:
            return Bound(self.model, using, "", [], "", [], False, empty=True)
        return Bound(
            model=self.model,
            alias=using,
            sql=sql,
            params=list(params),
            count_sql=count_sql,
            count_params=list(count_params),
            cached=False,
            converters=converters,
        )

    def _verify(self, bound: Bound, asked: _Asked) -> None:
        fresh = self._fresh(asked)
        if (fresh.sql, fresh.params, fresh.count_sql, fresh.count_params) != (
            bound.sql,
            bound.params,
            bound.count_sql,
            bound.count_params,
        ):
            raise AssertionError(
                f"shape {self.name}: the compiled statement differs from a fresh build\n"
                f"bound: {bound.sql} {bound.params}\nfresh: {fresh.sql} {fresh.params}"
            )

    # --- learning a key --------------------------------------------------------------------
    def _learn(self, asked: _Asked, group_ids: Any, pattern: tuple[Any, ...]) -> _Compiled | None:
        viewer, using = asked.viewer, asked.using
        if viewer is not None and (
            group_ids is None or not getattr(viewer, "is_authenticated", False)
        ):
            return None  # the viewer's groups would be a subquery of their id: not a stand-in
        conn = connections[using]
        builds = []
        for variant in (0, 1):
            stand_ins = _stand_ins(pattern, variant)
            args, slots = self._stand_in_args(asked, pattern, stand_ins, conn)
            qs = self.build(args)
            if qs.model is not self.model or _rows_of(qs) is None:
                return None
            try:
                builds.append((_compile(qs, using), slots))
            except EmptyResultSet:
                return None  # nothing to bind: answered without a query each time
        (sql_a, params_a, count_a, cparams_a, converters), slots_a = builds[0]
        (sql_b, params_b, count_b, cparams_b, _), slots_b = builds[1]
        if sql_a != sql_b or count_a != count_b:
            return None
        params = _slotted(params_a, params_b, slots_a, slots_b)
        count_params = _slotted(cparams_a, cparams_b, slots_a, slots_b)
        if params is None or count_params is None:
            return None
        return _Compiled(
            sql=sql_a,
            count_sql=count_a,
            params=params,
            count_params=count_params,
            converters=converters,
        )

    def _stand_in_args(
        self, asked: _Asked, pattern: tuple[Any, ...], stand_ins: list[Any], conn: Any
    ) -> tuple[Args, dict[Any, int]]:
        """Args with stand-ins, and which parameter value (raw or as the backend adapts it)
        stands for which input."""
        slots: dict[Any, int] = {}
        for i, v in enumerate(stand_ins):
            slots[_hashable(v)] = i
            slots[_hashable(_adapt(v, conn))] = i
        viewer_slot, group_slots, id_slots, time_slots = pattern[:4]
        double = None
        if asked.viewer is not None:
            double = copy.copy(asked.viewer)
            double.pk = stand_ins[viewer_slot]
            double._memo_group_ids = frozenset(stand_ins[s] for s in group_slots)
        args = Args(
            viewer=double,
            options=asked.options,
            ids={
                name: (stand_ins[s] if s is not None else None)
                for name, s in zip(asked.ids, id_slots, strict=True)
            },
            times={name: stand_ins[s] for name, s in zip(asked.times, time_slots, strict=True)},
        )
        return args, slots


def _viewer_facts(viewer: Any) -> tuple[Any, ...]:
    """What of the viewer a builder may read besides their id and groups (`load_viewer`)."""
    return (
        type(viewer),
        bool(getattr(viewer, "is_authenticated", False)),
        bool(getattr(viewer, "is_active", False)),
        bool(getattr(viewer, "is_superuser", False)),
        frozenset(getattr(viewer, "_perm_cache", None) or ()),
        getattr(viewer, "_memo_role_names", None),
        getattr(viewer, "_memo_is_qm_admin", None),
    )


def _hashable(value: Any) -> Any:
    return (type(value), value)


def _adapt(value: Any, conn: Any) -> Any:
    if isinstance(value, datetime):
        return conn.ops.adapt_datetimefield_value(value)
    return value


def _inputs(
    viewer: Any,
    group_ids: Any,
    ids: dict[str, tuple[str, int | None]],
    times: dict[str, datetime],
) -> tuple[list[Any], tuple[Any, ...]]:
    """The input values in slot order, and the pattern: for each input its slot, slots ranked
    within a domain so that equal values share one and order is kept."""
    entries: list[tuple[str, Any]] = [("user", viewer.pk)] if viewer is not None else []
    entries += [("group", g) for g in sorted(group_ids or ())]
    entries += [(domain, v) for domain, v in ids.values() if v is not None]
    entries += [("time", t) for t in times.values()]
    distinct = sorted(set(entries), key=lambda e: (e[0], e[1]))
    slot_of = {e: i for i, e in enumerate(distinct)}
    # Ranks within the domain, for the stand-ins: (domain, rank) per slot.
    ranks: list[tuple[str, int]] = []
    seen: dict[str, int] = {}
    for domain, _ in distinct:
        ranks.append((domain, seen.get(domain, 0)))
        seen[domain] = seen.get(domain, 0) + 1
    pattern = (
        slot_of[("user", viewer.pk)] if viewer is not None else None,
        tuple(slot_of[("group", g)] for g in sorted(group_ids or ())),
        tuple(slot_of[(d, v)] if v is not None else None for d, v in ids.values()),
        tuple(slot_of[("time", t)] for t in times.values()),
        tuple(ranks),
    )
    return [v for _, v in distinct], pattern


def _stand_ins(pattern: tuple[Any, ...], variant: int) -> list[Any]:
    """One stand-in per slot, all distinct; slots are sorted by domain and value, so within a
    domain the smaller value has the smaller stand-in."""
    out: list[Any] = []
    for i, (domain, _) in enumerate(pattern[4]):
        if domain == "time":
            out.append(_TIME_BASES[variant] + timedelta(microseconds=i))
        else:
            out.append(_ID_BASES[variant] + i)
    return out


def _slotted(
    a: tuple[Any, ...], b: tuple[Any, ...], slots_a: dict[Any, int], slots_b: dict[Any, int]
) -> tuple[Any, ...] | None:
    """Each parameter as a constant (equal in both builds) or a slot (a stand-in in both, the
    same input); None if one is neither: a value derived from an input."""
    if len(a) != len(b):
        return None
    out: list[Any] = []
    for pa, pb in zip(a, b, strict=True):
        ka, kb = _hashable_or_none(pa), _hashable_or_none(pb)
        sa = slots_a.get(ka) if ka is not None else None
        sb = slots_b.get(kb) if kb is not None else None
        if sa is not None or sb is not None:
            if sa != sb:
                return None
            out.append(_Slot(sa))  # type: ignore[arg-type]
        elif pa == pb and type(pa) is type(pb):
            out.append(pa)
        else:
            return None
    return tuple(out)


def _hashable_or_none(value: Any) -> Any:
    try:
        hash(value)
    except TypeError:
        return None
    return _hashable(value)


def counts(bounds: list[Bound]) -> list[int]:
    """The total of each bound statement, in one query (a page shows several sections, each with
    its true count): `SELECT (count 1), (count 2), ...`; none for those that match nothing."""
    live = [b for b in bounds if not b.empty]
    totals: dict[int, int] = {}
    if live:
        sql = "SELECT " + ", ".join(f"({b.count_sql})" for b in live)
        params = [p for b in live for p in b.count_params]
        with connections[live[0].alias].cursor() as cursor:
            cursor.execute(sql, params)
            totals = {id(b): int(n) for b, n in zip(live, cursor.fetchone(), strict=True)}
    return [totals.get(id(b), 0) for b in bounds]
