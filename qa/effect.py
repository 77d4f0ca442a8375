"""The effect of coaching on QA scores (decisions.md, "Effect of coaching"; definitions in
docs/effect.md).

For a completed session and each of its trainee users: *before* = the last N evaluations in the
session's coaching area dated strictly before its start, *after* = the first N dated strictly
after it was completed (N = `settings.QA_EFFECT_WINDOW`, default 5); the change (delta) is
after.mean - before.mean, and null while either side has fewer than `MIN_SIDE` (3) evaluations.

The windows are computed set-based, in one statement for any number of (agent, moment) pairs, with
window functions that SQLite and PostgreSQL both have: for each pair, its agent's evaluations in
the area are numbered in time order (the (area, agent, time) index gives that order), and the
pair's two windows are the N rows ending at "how many came before the start" and the N rows after
"how many came up to the completion".

The statistics (mean, a 95 % confidence interval of a mean of deltas) are plain functions, without
SciPy: the t distribution's critical values are a table (docs/effect.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from statistics import median
from typing import Any, Literal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from coaching.models import AttendeeRole, CoachingSession, SessionAttendee, State
from coaching.selectors import sessions_visible_to
from core.shapes import Args, Shape
from core.timeutils import zone
from directory.models import CoachingArea, Evaluation, User
from directory.permissions import Role, is_qm_admin
from directory.policies import may_view_agent_page
from directory.selectors import role_names

from .models import EffectWindow

MIN_SIDE = 3  # evaluations each side needs before a change is shown (decisions.md)
CI_MIN = 2  # deltas a confidence interval needs

GroupBy = Literal["coach", "coaching_area"]


def window() -> int:
    """N: how many evaluations each side of a session counts."""
    return int(getattr(settings, "QA_EFFECT_WINDOW", 5))


# --- statistics --------------------------------------------------------------------------------
# Two-sided 95 % critical values of Student's t (the 0.975 quantile) by degrees of freedom, as in
# every statistics textbook's table. Between the rows the smaller df's value is used (slightly
# wider, never narrower, than exact); beyond 120 the normal value 1.96.
T_975: dict[int, float] = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    11: 2.201,
    12: 2.179,
    13: 2.160,
    14: 2.145,
    15: 2.131,
    16: 2.120,
    17: 2.110,
    18: 2.101,
    19: 2.093,
    20: 2.086,
    21: 2.080,
    22: 2.074,
    23: 2.069,
    24: 2.064,
    25: 2.060,
    26: 2.056,
    27: 2.052,
    28: 2.048,
    29: 2.045,
    30: 2.042,
    40: 2.021,
    60: 2.000,
    120: 1.980,
}
Z_975 = 1.960


def t_critical_95(df: int) -> float:
    """The two-sided 95 % critical value of t with `df` degrees of freedom (df >= 1)."""
    if df < 1:
        raise ValueError("degrees of freedom must be at least 1")
    if df > 120:
        return Z_975
    return T_975[max(k for k in T_975 if k <= df)]


def mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def change(before: Sequence[float], after: Sequence[float]) -> float | None:
    """after.mean - before.mean, or None while either side has fewer than `MIN_SIDE`."""
    if len(before) < MIN_SIDE or len(after) < MIN_SIDE:
        return None
    return sum(after) / len(after) - sum(before) / len(before)


def ci95_from_sums(n: int, total: float, squares: float) -> tuple[float, float] | None:
    """The 95 % confidence interval of a mean from its count, sum and sum of squares (what SQL
    aggregates in one pass): mean ± t(n-1) · s / √n, s the sample standard deviation. None below
    `CI_MIN` values."""
    if n < CI_MIN:
        return None
    m = total / n
    variance = max(0.0, (squares - n * m * m) / (n - 1))  # max: rounding below zero
    half = t_critical_95(n - 1) * math.sqrt(variance / n)
    return (m - half, m + half)


def ci95(values: Sequence[float]) -> tuple[float, float] | None:
    """The 95 % confidence interval of the mean of `values` (t distribution)."""
    return ci95_from_sums(len(values), sum(values), sum(v * v for v in values))


# --- the windows, in SQL -----------------------------------------------------------------------
def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _db_time(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _windows_sql(pairs_sql: str, n: int) -> str:
    """A CTE chain over `pairs(k, agent_id, area_id, before_t, after_t, ...)` ending in
    `d(k, agent_id, nb, sb, na, sa, delta)`: per pair, the count and sum of the scores in its
    before window (the last `n` evaluations dated < before_t) and its after window (the first
    `n` dated > after_t), and the change (null below `MIN_SIDE` on either side). A pair whose
    agent has no evaluation in the area has no row."""
    ev = _q(Evaluation._meta.db_table)
    return f"""
    pairs AS ({pairs_sql}),
    ranked AS (
        SELECT p.k, p.agent_id, e.score,
            ROW_NUMBER() OVER w AS rn,
            SUM(CASE WHEN e.evaluated_at < p.before_t THEN 1 ELSE 0 END) OVER p_all AS cb,
            SUM(CASE WHEN e.evaluated_at <= p.after_t THEN 1 ELSE 0 END) OVER p_all AS ca
        FROM pairs p
        JOIN {ev} e ON e.coaching_area_id = p.area_id AND e.agent_id = p.agent_id
        WINDOW w AS (PARTITION BY p.k, p.agent_id ORDER BY e.evaluated_at, e.id),
               p_all AS (PARTITION BY p.k, p.agent_id)
    ),
    win AS (
        SELECT k, agent_id,
            SUM(CASE WHEN rn > cb - {n} AND rn <= cb THEN 1 ELSE 0 END) AS nb,
            SUM(CASE WHEN rn > cb - {n} AND rn <= cb THEN score ELSE 0 END) AS sb,
            SUM(CASE WHEN rn > ca AND rn <= ca + {n} THEN 1 ELSE 0 END) AS na,
            SUM(CASE WHEN rn > ca AND rn <= ca + {n} THEN score ELSE 0 END) AS sa
        FROM ranked
        WHERE (rn > cb - {n} AND rn <= cb) OR (rn > ca AND rn <= ca + {n})
        GROUP BY k, agent_id
    ),
    d AS (
        SELECT k, agent_id, nb, sb, na, sa,
            CASE WHEN nb >= {MIN_SIDE} AND na >= {MIN_SIDE}
                 THEN 1.0 * sa / na - 1.0 * sb / nb END AS delta
        FROM win
    )"""


def _trainee_pairs_sql(where: str, *, group: str = "NULL", join: str = "") -> str:
    """The (session, trainee user) pairs of completed sessions matching `where` (on `s`): the
    invitation list, groups expanded when the session was scheduled (who was coached); `group`
    is the report's grouping key (column `g`), `join` what it needs."""
    s, a = _q(CoachingSession._meta.db_table), _q(SessionAttendee._meta.db_table)
    return (
        f"SELECT s.id AS k, a.user_id AS agent_id, s.coaching_area_id AS area_id, "
        f"s.starts_at AS before_t, s.completed_at AS after_t, {group} AS g FROM {s} s "
        f"JOIN {a} a ON a.session_id = s.id AND a.role = '{AttendeeRole.TRAINEE}' {join}"
        f"WHERE s.state = '{State.COMPLETED}' AND {where}"
    )


PAIRS_PER_STATEMENT = 400  # (agent, area) pairs or sessions per refresh statement


def _refresh(scope_pairs: str, scope_rows: str, params: list[Any]) -> None:
    ew = _q(EffectWindow._meta.db_table)
    sql = f"""
    WITH {_windows_sql(_trainee_pairs_sql(scope_pairs), window())}
    INSERT INTO {ew} (session_id, agent_id, coaching_area_id, starts_at,
        before_n, before_sum, after_n, after_sum, delta)
    SELECT d.k, d.agent_id, p.area_id, p.before_t, d.nb, d.sb, d.na, d.sa, d.delta
    FROM d JOIN pairs p ON p.k = d.k AND p.agent_id = d.agent_id
    WHERE 1 = 1
    ON CONFLICT (session_id, agent_id) DO UPDATE SET
        coaching_area_id = excluded.coaching_area_id, starts_at = excluded.starts_at,
        before_n = excluded.before_n, before_sum = excluded.before_sum,
        after_n = excluded.after_n, after_sum = excluded.after_sum, delta = excluded.delta
    """
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {ew} WHERE {scope_rows}", params)
        cursor.execute(sql, params)


def _any_pair(agent: str, area: str, n: int) -> str:
    return "(" + " OR ".join([f"({agent} = %s AND {area} = %s)"] * n) + ")"


def refresh_effect_windows(
    *,
    session_ids: Iterable[int] | None = None,
    pairs: Iterable[tuple[int, int]] | None = None,
) -> None:
    """Recompute the stored windows (`EffectWindow`) set-based, from the evaluations as they are
    now: of the completed sessions `session_ids`, of every completed session's trainees among the
    (agent id, coaching area id) `pairs` (in that area), or, with neither, of everything. The one
    way those rows are written (completion, arrivals, `manage.py effect_windows`, the demo and the
    benchmark), so they cannot come from another computation. Idempotent: it replaces the rows of
    its scope (a pair without evaluations keeps none); two at once for the same pairs both leave
    the rows of the evaluations committed before their statements ran."""
    with transaction.atomic():
        if session_ids is None and pairs is None:
            _refresh("1 = 1", "1 = 1", [])
            return
        ids = sorted(set(session_ids or ()))
        for start in range(0, len(ids), PAIRS_PER_STATEMENT):
            chunk = ids[start : start + PAIRS_PER_STATEMENT]
            marks = ", ".join(["%s"] * len(chunk))
            _refresh(f"s.id IN ({marks})", f"session_id IN ({marks})", chunk)
        touched = sorted(set(pairs or ()))
        for start in range(0, len(touched), PAIRS_PER_STATEMENT):
            chunk_pairs = touched[start : start + PAIRS_PER_STATEMENT]
            flat = [v for pair in chunk_pairs for v in pair]
            n = len(chunk_pairs)
            _refresh(
                _any_pair("a.user_id", "s.coaching_area_id", n),
                _any_pair("agent_id", "coaching_area_id", n),
                flat,
            )


def stale_effect_windows() -> list[tuple[int, int]]:
    """The (session id, trainee id) pairs whose stored windows differ from a recomputation now
    (missing, extra or other values), in order: empty when the table is what
    `refresh_effect_windows` would write. For `manage.py effect_windows --check` and the tests;
    it reads every completed session's evaluations, as the report did before the table."""
    sql = f"WITH {_windows_sql(_trainee_pairs_sql('1 = 1'), window())} SELECT * FROM d"
    with connection.cursor() as cursor:
        cursor.execute(sql)
        fresh = {
            (k, agent): _values(nb, sb, na, sa, delta)
            for k, agent, nb, sb, na, sa, delta in cursor.fetchall()
        }
    stored = {
        (w[0], w[1]): _values(*w[2:])
        for w in EffectWindow.objects.values_list(
            "session_id", "agent_id", "before_n", "before_sum", "after_n", "after_sum", "delta"
        )
    }
    return sorted(k for k in fresh.keys() | stored.keys() if fresh.get(k) != stored.get(k))


def _values(*row: Any) -> tuple[Any, ...]:
    *counts, delta = row
    return (*(int(c) for c in counts), None if delta is None else round(float(delta), 9))


@dataclass(frozen=True)
class Side:
    mean: float | None
    n: int


@dataclass(frozen=True)
class TraineeEffect:
    trainee: User
    before: Side
    after: Side
    delta: float | None


def _side(count: Any, total: Any) -> Side:
    n = int(count or 0)
    return Side(mean=(float(total) / n) if n else None, n=n)


def _stored(w: EffectWindow | None) -> tuple[Side, Side, float | None]:
    """A stored pair's sides and change (no row: no evaluations in the area at all)."""
    if w is None:
        return Side(mean=None, n=0), Side(mean=None, n=0), None
    return _side(w.before_n, w.before_sum), _side(w.after_n, w.after_sum), w.delta


def session_effect(session: CoachingSession, viewer: User) -> list[TraineeEffect]:
    """Per trainee user of a completed session (empty otherwise), the trainees whose analytics
    `viewer` may open (their own scores, for an agent), by name. Two queries."""
    if session.state != State.COMPLETED:
        return []
    trainees = [
        a.user
        for a in SessionAttendee.objects.filter(session=session, role=AttendeeRole.TRAINEE)
        .select_related("user")
        .order_by("user__display_name", "user_id")
        if may_view_agent_page(viewer, a.user)
    ]
    if not trainees:
        return []
    rows = {w.agent_id: w for w in EffectWindow.objects.filter(session=session, agent__in=trainees)}
    effects = []
    for user in trainees:
        w = rows.get(user.pk)
        before, after, delta = _stored(w)
        effects.append(TraineeEffect(trainee=user, before=before, after=after, delta=delta))
    return effects


@dataclass(frozen=True)
class AgentSessionEffect:
    session_id: int
    title: str
    coaching_area: str
    starts_at: datetime
    completed_at: datetime
    before: Side
    after: Side
    delta: float | None


AGENT_SESSIONS_SHOWN = 20


def _agent_held(a: Args) -> QuerySet[CoachingSession]:
    agent_id = a.ids["agent"]
    assert agent_id is not None
    return (
        sessions_visible_to(a.viewer, a.times["now"])
        .filter(
            state=State.COMPLETED,
            id__in=SessionAttendee.objects.filter(
                user_id=agent_id, role=AttendeeRole.TRAINEE
            ).values("session_id"),
        )
        .order_by("-starts_at", "-id")
    )


# The agent's completed sessions, compiled once per kind of viewer (`core.shapes`).
AGENT_HELD = Shape("qa.agent_held", CoachingSession, _agent_held)
# Their stored before/after pairs for the agent: those of the page of sessions above (the same
# statement as a subquery, so the page's ids need not be a list of parameters of its own).
AGENT_WINDOWS = Shape(
    "qa.agent_windows",
    EffectWindow,
    lambda a: EffectWindow.objects.filter(
        agent_id=a.ids["agent"],
        session_id__in=_agent_held(a).values("id")[: _limit(a)],
    ).order_by(),
)


def _limit(a: Args) -> int:
    limit = a.options["limit"]
    if not isinstance(limit, int):
        raise TypeError("the page of sessions needs its size")
    return limit


# Coaching areas' names (a few dozen rows, all of them).
AREA_NAMES = Shape(
    "qa.area_names",
    CoachingArea,
    lambda a: CoachingArea.objects.order_by("id").values_list("id", "name"),
)


def agent_session_effects(
    viewer: User, agent: User, limit: int = AGENT_SESSIONS_SHOWN, *, now: datetime | None = None
) -> list[AgentSessionEffect]:
    """The agent's completed sessions (as a trainee) that `viewer` may see, the latest first,
    with their change: for the Agent Analytics page, whose viewer may see the agent's scores
    already. Three queries."""
    inputs: dict[str, Any] = {
        "viewer": viewer,
        "ids": {"agent": ("user", agent.pk)},
        "times": {"now": now or timezone.now()},
    }
    held: list[CoachingSession] = AGENT_HELD.bind(**inputs).rows(limit=limit, offset=0)
    if not held:
        return []
    areas = dict(AREA_NAMES.bind(viewer=None).all())
    windows = AGENT_WINDOWS.bind(**inputs, options={"limit": limit}).all()
    rows = {w.session_id: w for w in windows}
    out = []
    for s in held:
        before, after, delta = _stored(rows.get(s.pk))
        if s.starts_at is None or s.completed_at is None:  # a completed session has both
            continue
        out.append(
            AgentSessionEffect(
                session_id=s.pk,
                title=s.title,
                coaching_area=areas[s.coaching_area_id],
                starts_at=s.starts_at,
                completed_at=s.completed_at,
                before=before,
                after=after,
                delta=delta,
            )
        )
    return out


# --- the report --------------------------------------------------------------------------------
def may_view_report(viewer: User) -> bool:
    """Supervisors and QM Admins (decisions.md, "Effect of coaching")."""
    if not viewer.is_authenticated or not viewer.is_active:
        return False
    return is_qm_admin(viewer) or Role.SUPERVISOR in role_names(viewer)


@dataclass
class ReportRow:
    key_id: int
    name: str
    sessions: int = 0
    trainees: int = 0
    n: int = 0
    total: float = 0.0
    squares: float = 0.0
    per_area: dict[int, int] = field(default_factory=dict)  # deltas per area: the baseline mix
    baseline_mean_delta: float | None = None
    baseline_agents: int = 0

    @property
    def mean_delta(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def ci95(self) -> tuple[float, float] | None:
        return ci95_from_sums(self.n, self.total, self.squares)


@dataclass(frozen=True)
class Baseline:
    area_id: int
    reference: datetime  # the un-coached agents' pseudo-start: the median coached start
    agents: int  # agents with a change
    mean_delta: float | None


@dataclass
class Report:
    group_by: GroupBy
    start: datetime
    end: datetime
    rows: list[ReportRow]
    baselines: dict[int, Baseline]


def period_bounds(first: date, last: date, tz_name: str | None = None) -> tuple[datetime, datetime]:
    """[first 00:00, the day after `last` 00:00) in the viewer's zone."""
    tz = zone(tz_name)
    start = datetime.combine(first, time.min, tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def _references(start: datetime, end: datetime) -> dict[int, datetime]:
    """Per coaching area, the median start of its completed sessions in the period: the moment the
    baseline's windows are taken around. One query (one row per session in the period)."""
    rows = (
        CoachingSession.objects.filter(
            state=State.COMPLETED, starts_at__gte=start, starts_at__lt=end
        )
        .order_by()
        .values_list("coaching_area_id", "starts_at")
    )
    by_area: dict[int, list[float]] = {}
    for area_id, at in rows:
        if at is not None:  # a completed session has a start
            by_area.setdefault(area_id, []).append(at.timestamp())
    return {a: datetime.fromtimestamp(median(ts), tz=UTC) for a, ts in sorted(by_area.items())}


def _coached(group_by: GroupBy, start: datetime, end: datetime) -> list[ReportRow]:
    """The coached side, aggregated per group and per (group, area) in one statement."""
    a, u = _q(SessionAttendee._meta.db_table), _q(User._meta.db_table)
    area_t, s = _q(CoachingArea._meta.db_table), _q(CoachingSession._meta.db_table)
    ew = _q(EffectWindow._meta.db_table)
    if group_by == "coach":
        # The person who held it: the coach user, or the member of the coach group who took it
        # (the coach on the invitation list).
        group = "c.user_id"
        coach = f"JOIN {a} c ON c.session_id = w.session_id AND c.role = '{AttendeeRole.COACH}' "
        names = f"SELECT id, display_name AS label FROM {u}"
    else:
        group, coach = "w.coaching_area_id", ""
        names = f"SELECT id, name AS label FROM {area_t}"
    sql = f"""
    WITH keyed AS (
        SELECT {group} AS g, w.coaching_area_id AS area_id, w.session_id AS k, w.agent_id, w.delta
        FROM {ew} w JOIN {s} s ON s.id = w.session_id AND s.state = '{State.COMPLETED}' {coach}
        WHERE w.delta IS NOT NULL AND w.starts_at >= %s AND w.starts_at < %s
    )
    SELECT 't', g, NULL, COUNT(DISTINCT k), COUNT(DISTINCT agent_id), COUNT(*),
        SUM(delta), SUM(delta * delta), NULL
    FROM keyed GROUP BY g
    UNION ALL
    SELECT 'a', g, area_id, NULL, NULL, COUNT(*), NULL, NULL, NULL FROM keyed GROUP BY g, area_id
    UNION ALL
    SELECT 'n', n.id, NULL, NULL, NULL, NULL, NULL, NULL, n.label
    FROM ({names} WHERE id IN (SELECT g FROM keyed)) n
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [_db_time(start), _db_time(end)])
        result = cursor.fetchall()
    rows: dict[int, ReportRow] = {}
    names_by_id: dict[int, str] = {}
    for kind, g, area_id, sessions, trainees, n, total, squares, name in result:
        if kind == "n":
            names_by_id[g] = name
        elif kind == "t":
            row = rows.setdefault(g, ReportRow(key_id=g, name=""))
            row.sessions, row.trainees, row.n = int(sessions), int(trainees), int(n)
            row.total, row.squares = float(total), float(squares)
        else:
            rows.setdefault(g, ReportRow(key_id=g, name="")).per_area[area_id] = int(n)
    for row in rows.values():
        row.name = names_by_id.get(row.key_id, "")
    return sorted(rows.values(), key=lambda r: (r.name.lower(), r.key_id))


def baseline_cap() -> int:
    """How many un-coached agents per area the baseline reads at most (a deterministic sample
    beyond that; docs/effect.md)."""
    return int(getattr(settings, "QA_EFFECT_BASELINE_AGENTS", 2000))


def _baselines(
    references: dict[int, datetime], start: datetime, end: datetime, cap: int
) -> dict[int, Baseline]:
    """Per area, the un-coached agents' change around the area's reference moment: agents with
    an evaluation in the area in the period and no scheduled or completed session in that area
    (as a trainee) starting in the period. Two statements: who (a fixed sample beyond `cap`
    agents per area), then their windows."""
    if not references:
        return {}
    ev, s = _q(Evaluation._meta.db_table), _q(CoachingSession._meta.db_table)
    a = _q(SessionAttendee._meta.db_table)
    ref_values = ", ".join(["(%s, %s)"] * len(references))
    ref_params: list[Any] = []
    for area_id, at in references.items():
        ref_params += [area_id, _db_time(at)]
    # Beyond `cap` agents evaluated in an area, a fixed pseudo-random subset of them (by a
    # multiplicative hash of the id: the same agents on every call) stands for them all; the
    # un-coached of those count (left out in the second statement, over the exact list).
    areas = ", ".join(str(int(area_id)) for area_id in references)
    in_period = "e.evaluated_at >= %s AND e.evaluated_at < %s"
    order = "(e.agent_id * 2654435761) %% 4294967296, e.agent_id"
    if connection.vendor == "postgresql":
        # Per area, its agents evaluated in the period (one range of the (area, agent, time)
        # index), grouped, and the first `cap` by hash (a top-N sort, never a sort of all).
        who_sql = f"""
        SELECT r.area_id, w.agent_id FROM unnest(ARRAY[{areas}]::bigint[]) r(area_id)
        CROSS JOIN LATERAL (
            SELECT e.agent_id FROM {ev} e
            WHERE e.coaching_area_id = r.area_id AND {in_period}
            GROUP BY e.agent_id ORDER BY {order} LIMIT {int(cap)}
        ) w
        """
    else:  # the same agents, numbered per area (SQLite has no LATERAL)
        who_sql = f"""
        WITH sampled AS (
            SELECT e.coaching_area_id AS area_id, e.agent_id, ROW_NUMBER() OVER (
                PARTITION BY e.coaching_area_id ORDER BY {order}
            ) AS pick
            FROM {ev} e WHERE e.coaching_area_id IN ({areas}) AND {in_period}
            GROUP BY e.coaching_area_id, e.agent_id
        )
        SELECT area_id, agent_id FROM sampled WHERE pick <= {int(cap)}
        """
    with connection.cursor() as cursor:
        cursor.execute(who_sql, [_db_time(start), _db_time(end)])
        agents = [(int(area_id), int(agent_id)) for area_id, agent_id in cursor.fetchall()]
    found: dict[int, tuple[int, float]] = {}
    if agents:
        # The sample as a list (read from the database just now): an exact row count for the
        # planner, which then probes each agent's invitations and evaluations through their
        # indexes. On PostgreSQL two arrays (a VALUES list of thousands of rows costs more to
        # plan than to run), elsewhere literal integers (no parameter limit whatever the cap).
        # The reference moment is both sides' edge.
        if connection.vendor == "postgresql":
            who = "SELECT * FROM unnest(%s::bigint[], %s::bigint[])"
            who_params: list[Any] = [[w[0] for w in agents], [w[1] for w in agents]]
        else:
            who = "VALUES " + ", ".join(f"({int(g)}, {int(u)})" for g, u in agents)
            who_params = []
        pairs = f"""
            SELECT w.area_id AS k, w.agent_id, w.area_id, r.at AS before_t, r.at AS after_t
            FROM who w JOIN ref r ON r.area_id = w.area_id
            WHERE NOT EXISTS (
                SELECT 1 FROM {a} x JOIN {s} xs ON xs.id = x.session_id
                WHERE x.user_id = w.agent_id AND x.role = '{AttendeeRole.TRAINEE}'
                  AND x.starts_at >= %s AND x.starts_at < %s
                  AND xs.coaching_area_id = w.area_id
                  AND xs.state IN ('{State.SCHEDULED}', '{State.COMPLETED}'))"""
        sql = f"""
        WITH ref(area_id, at) AS (VALUES {ref_values}),
        who(area_id, agent_id) AS ({who}),
        {_windows_sql(pairs, window())}
        SELECT k, COUNT(delta), AVG(delta) FROM d WHERE delta IS NOT NULL GROUP BY k
        """
        params = [*ref_params, *who_params, _db_time(start), _db_time(end)]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            found = {k: (int(n), float(m)) for k, n, m in cursor.fetchall()}
    return {
        area_id: Baseline(
            area_id=area_id,
            reference=at,
            agents=found.get(area_id, (0, 0.0))[0],
            mean_delta=found[area_id][1] if area_id in found else None,
        )
        for area_id, at in references.items()
    }


def coaching_effect_report(*, group_by: GroupBy, start: datetime, end: datetime) -> Report:
    """The report over completed sessions whose start lies in [start, end) and that have a
    change, per coach or per coaching area, each beside its baseline. Four queries, whatever
    the number of agents, sessions and evaluations.

    A coach's baseline is the areas' baselines weighted by the coach's changes in each area (the
    same mix of areas as the coach's sessions); its agent count is the sum over those areas."""
    references = _references(start, end)
    rows = _coached(group_by, start, end)
    baselines = _baselines(references, start, end, baseline_cap())
    for row in rows:
        weight = total = 0.0
        agents = 0
        for area_id, n in row.per_area.items():
            b = baselines.get(area_id)
            if b is None:
                continue
            agents += b.agents
            if b.mean_delta is not None:
                weight += n
                total += n * b.mean_delta
        row.baseline_agents = agents
        row.baseline_mean_delta = total / weight if weight else None
    return Report(group_by=group_by, start=start, end=end, rows=rows, baselines=baselines)


CSV_HEADER = (
    "group_by",
    "key_id",
    "key_name",
    "sessions",
    "trainees",
    "mean_delta",
    "ci95_low",
    "ci95_high",
    "baseline_mean_delta",
    "baseline_agents",
)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def csv_rows(report: Report) -> Iterable[list[str]]:
    yield list(CSV_HEADER)
    for row in report.rows:
        ci = row.ci95
        yield [
            report.group_by,
            str(row.key_id),
            row.name,
            str(row.sessions),
            str(row.trainees),
            _num(row.mean_delta),
            _num(ci[0] if ci else None),
            _num(ci[1] if ci else None),
            _num(row.baseline_mean_delta),
            str(row.baseline_agents),
        ]
