"""Statements compiled once per shape (`core.shapes`): the rows of a bound statement are the rows
of the queryset built per request, for every viewer and filter; a shape refuses what it cannot
bind safely; `SHAPES_VERIFY` catches a builder that breaks the rules."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.db.models import Q, signals
from django.test import override_settings
from django.utils import timezone

from coaching import selectors
from coaching.models import CoachingSession, State
from coaching.widget import SECTIONS
from core.shapes import ARM_LIMIT, KEYS_KEPT, Args, Shape, instances
from directory.models import User
from directory.permissions import load_viewer

from .helpers import ref, schedule, suggest

pytestmark = pytest.mark.django_db


def viewer(user: User) -> User:
    fresh = User.objects.get(pk=user.pk)
    load_viewer(fresh)
    return fresh


@pytest.fixture
def spread(org):
    now = timezone.now()
    suggest(org, title="direct", expires_at=now + timedelta(days=20))
    suggest(
        org,
        title="group coach",
        coach=ref(org.coaching_team),
        trainees=[ref(org.tier1)],
        reference_case_ids=[org.case1001.pk],
    )
    suggest(org, actor=org.sue, title="sue", coach=ref(org.carl), trainees=[ref(org.dan)])
    schedule(org.cora, suggest(org, title="scheduled", trainees=[ref(org.alice)]))
    suggest(org, title="past", expires_at=now + timedelta(minutes=5))
    return org


def _orm(user: User, now, **options) -> list[int]:
    """The list as the queryset built per request gives it."""
    args = Args(
        viewer=user,
        options={
            "suggested_by_me": options.get("suggested_by_me", False),
            "coach_me": options.get("coach_me", False),
            "state": options.get("state"),
        },
        ids={"trainee": options.get("trainee"), "case": options.get("case")},
        times={"now": now},
    )
    return list(selectors._sessions_listed(args).values_list("pk", flat=True))


FILTERS = [
    {},
    {"suggested_by_me": True},
    {"coach_me": True},
    {"coach_me": True, "state": State.SUGGESTED},
    {"state": State.CANCELED},
    {"state": State.SCHEDULED, "suggested_by_me": True},
]


@override_settings(SHAPES_VERIFY=False)  # compared here by hand, against the ORM's own rows
def test_bound_rows_are_the_querysets_rows_for_every_viewer_and_filter(spread):
    org = spread
    later = timezone.now() + timedelta(minutes=10)  # "past" has expired by then, unrecorded
    people = [org.sam, org.sue, org.cora, org.carl, org.alice, org.bob, org.dan, org.nora]
    checked = 0
    for person, filters in itertools.product(people, FILTERS):
        for extra in ({}, {"trainee": org.alice.pk}, {"trainee": person.pk}, {"case": 1}):
            options = {**filters, **extra}
            if "case" in options:
                options["case"] = org.case1001.pk
            user = viewer(person)
            expected = _orm(user, later, **options)
            bound = selectors.sessions_listed(user, now=later, **_api_args(options))
            got = [s.pk for s in bound.rows(limit=100, offset=0)]
            assert got == expected, (person.username, options)
            assert bound.count() == len(expected)
            checked += bool(expected)
    assert checked > 20  # most combinations list something


def _api_args(options: dict) -> dict:
    return {
        "suggested_by_me": options.get("suggested_by_me", False),
        "coach_me": options.get("coach_me", False),
        "state": options.get("state"),
        "trainee": options.get("trainee"),
        "case": options.get("case"),
    }


def test_rows_are_whole_sessions_as_the_orm_loads_them(spread):
    user = viewer(spread.sam)
    bound = selectors.sessions_listed(user, now=timezone.now())
    assert bound.cached
    rows = bound.rows(limit=100, offset=0)
    assert len(rows) == 5
    for s in rows:
        orm = CoachingSession.objects.get(pk=s.pk)
        for f in CoachingSession._meta.concrete_fields:
            assert getattr(s, f.attname) == getattr(orm, f.attname), f.name
        assert s._state.adding is False and s._state.db == "default"


def test_page_limit_and_offset_are_parameters_and_the_count_follows(spread):
    user = viewer(spread.sam)
    now = timezone.now()
    everything = _orm(user, now)
    first = selectors.sessions_listed(user, now=now)
    items, total = first.page(limit=2, offset=0)
    assert [s.pk for s in items] == everything[:2] and total == len(everything)
    items, total = first.page(limit=2, offset=4)
    assert [s.pk for s in items] == everything[4:6] and total == len(everything)
    assert "LIMIT" not in first.sql  # one statement for every page


def test_one_compilation_serves_every_viewer_of_the_same_kind(spread):
    org = spread
    shape = selectors.SESSIONS_LISTED
    shape._compiled.clear()
    now = timezone.now()
    for person in (org.cora, org.carl):  # coaches alike: same permissions, one group each
        user = viewer(person)
        user._memo_group_ids = frozenset({org.coaching_team.pk})
        assert selectors.sessions_listed(user, now=now, coach_me=True).cached
    assert len(shape._compiled) == 1
    selectors.sessions_listed(viewer(org.sam), now=now, coach_me=True)  # other permissions
    assert len(shape._compiled) == 2


def _derived(a: Args):
    return CoachingSession.objects.filter(expires_at__gt=a.times["now"] - timedelta(hours=1))


def _following(a: Args):
    # Reads an input's value against a constant: what `options` are for.
    if a.ids["x"] is not None and a.ids["x"] > 10**12:
        return CoachingSession.objects.filter(title="never")
    return CoachingSession.objects.filter(id__gte=a.ids["x"])


def test_a_value_derived_from_an_input_is_never_frozen(spread):
    shape = Shape("test.derived", CoachingSession, _derived)
    user = viewer(spread.sam)
    now = timezone.now() + timedelta(minutes=10)
    bound = shape.bind(viewer=user, times={"now": now})
    assert not bound.cached  # built per request instead
    assert {s.pk for s in bound.rows(limit=100, offset=0)} == set(
        CoachingSession.objects.filter(expires_at__gt=now - timedelta(hours=1)).values_list(
            "pk", flat=True
        )
    )
    assert shape.bind(viewer=user, times={"now": now}).cached is False  # remembered as refused


def test_verification_catches_a_builder_that_reads_an_input_against_a_constant(spread):
    shape = Shape("test.following", CoachingSession, _following)
    user = viewer(spread.sam)
    with override_settings(SHAPES_VERIFY=True), pytest.raises(AssertionError, match="differs"):
        shape.bind(viewer=user, ids={"x": ("n", 1)})


def test_equal_inputs_share_a_stand_in(spread):
    org = spread
    seen: list[tuple[int, int | None]] = []

    def build(a: Args):
        seen.append((a.viewer.pk, a.ids["trainee"]))
        if a.viewer.pk == a.ids["trainee"]:
            return CoachingSession.objects.filter(Q(suggested_by=a.viewer))
        return CoachingSession.objects.filter(coach_user=a.viewer)

    shape = Shape("test.equal", CoachingSession, build)
    user = viewer(org.sam)
    same = shape.bind(viewer=user, ids={"trainee": ("user", org.sam.pk)})
    other = shape.bind(viewer=user, ids={"trainee": ("user", org.alice.pk)})
    assert same.cached and other.cached and same.sql != other.sql
    assert [v == t for v, t in seen[:2]] == [True, True]  # both stand-in builds saw "the same"
    assert len(shape._compiled) == 2


def test_the_cache_keeps_a_bounded_number_of_keys(spread):
    shape = Shape("test.bounded", CoachingSession, lambda a: CoachingSession.objects.all())
    user = viewer(spread.sam)
    for n in range(KEYS_KEPT + 5):
        shape.bind(viewer=user, options={"n": n})
    assert len(shape._compiled) == KEYS_KEPT


def test_instances_are_what_from_db_makes(spread):
    row = CoachingSession.objects.order_by("pk").values_list(
        *[f.attname for f in CoachingSession._meta.concrete_fields]
    )[0]
    names = [f.attname for f in CoachingSession._meta.concrete_fields]
    ours = instances(CoachingSession, "default", names, [row])[0]
    django = CoachingSession.from_db("default", names, row)
    assert ours.__dict__.keys() == django.__dict__.keys()
    for name in names:
        assert getattr(ours, name) == getattr(django, name)
    assert (ours._state.adding, ours._state.db) == (False, "default")
    assert ours.pk == django.pk and ours == django
    # A subset: the rest deferred, as from_db leaves it.
    part = instances(User, None, ["id", "display_name"], [(spread.sam.pk, "Sam")])[0]
    assert (
        part.get_deferred_fields()
        == User.from_db(None, ["id", "display_name"], [spread.sam.pk, "Sam"]).get_deferred_fields()
    )
    assert part.username == spread.sam.username  # a deferred field loads when read


def test_instances_go_through_init_where_someone_listens(spread):
    seen = []

    def listener(sender, instance, **kwargs):
        seen.append(instance.pk)

    signals.post_init.connect(listener, sender=User)
    try:
        instances(User, None, ["id", "display_name"], [(spread.sam.pk, "Sam")])
    finally:
        signals.post_init.disconnect(listener, sender=User)
    assert seen == [spread.sam.pk]


def test_a_builder_must_return_whole_rows_of_its_model(spread):
    shape = Shape(
        "test.joined",
        CoachingSession,
        lambda a: CoachingSession.objects.select_related("coach_user"),
    )
    with pytest.raises(TypeError, match="whole"):
        shape.bind(viewer=viewer(spread.sam))


def test_a_shape_of_values_gives_the_querysets_tuples_converted(spread):
    """Rows of `values_list` (a joined column, times that SQLite returns as text): the tuples
    the queryset itself gives, for every recipient, both filters and every page."""
    from notifications.models import Notification
    from notifications.services import INBOX, INBOX_COLUMNS, INBOX_FIELDS

    Notification.objects.filter(pk__in=Notification.objects.values("pk")[:3]).update(
        read_at=timezone.now()
    )
    names = list(INBOX_FIELDS.values())
    seen = 0
    for person, unread_only in itertools.product(
        [spread.cora, spread.carl, spread.sam, spread.alice], [False, True]
    ):
        user = viewer(person)
        qs = Notification.objects.filter(recipient=user).order_by("-created_at", "-id")
        if unread_only:
            qs = qs.filter(read_at__isnull=True)
        bound = INBOX.bind(viewer=user, options={"unread_only": unread_only})
        assert bound.cached, (person.username, unread_only)
        for limit, offset in [(100, 0), (2, 0), (2, 1), (1, 50)]:
            rows = bound.rows(limit=limit, offset=offset)
            assert rows == list(qs.values_list(*names)[offset : offset + limit])
            seen += len(rows)
        assert bound.count() == qs.count()
    assert seen > 0
    row = INBOX.bind(viewer=viewer(spread.cora), options={"unread_only": False}).rows(
        limit=1, offset=0
    )[0]
    assert row[INBOX_COLUMNS.index("created_at")].tzinfo is not None  # a time, not its text


def test_a_shape_of_flat_values_or_a_slice_is_refused(spread):
    for name, build in [
        ("test.flat", lambda a: CoachingSession.objects.values_list("pk", flat=True)),
        ("test.dicts", lambda a: CoachingSession.objects.values("pk")),
        ("test.sliced", lambda a: CoachingSession.objects.values_list("pk")[:5]),
    ]:
        with pytest.raises(TypeError, match="whole"):
            Shape(name, CoachingSession, build).bind(viewer=viewer(spread.sam))


def test_every_widget_section_binds_from_its_compiled_shape(spread):
    """No section derives a value from an input (it would be built per request, silently)."""
    from coaching.widget import _sections

    org = spread
    seen = set()
    for person in (org.sam, org.cora, org.alice, org.admin):
        for s in _sections(viewer(person)):
            assert s.sessions.cached, (person.username, s.key)
            seen.add(s.key)
        for s in _sections(viewer(person), agent=org.alice):
            assert s.sessions.cached, (person.username, s.key)
        for s in _sections(viewer(person), case=org.case1001):
            assert s.sessions.cached, (person.username, s.key)
    assert len(seen) == 8


def test_counts_of_several_statements_in_one_query(spread, django_assert_num_queries):
    from core.shapes import counts

    org = spread
    now = timezone.now()
    user = viewer(org.sam)
    bounds = [
        selectors.sessions_listed(user, now=now),
        selectors.sessions_listed(user, now=now, coach_me=True),
        selectors.sessions_listed(user, now=now, state=State.SCHEDULED),
    ]
    nobody = viewer(org.nora)  # no View Suggestions: matches nothing, costs no query
    bounds.append(selectors.sessions_listed(nobody, now=now))
    with django_assert_num_queries(1):
        totals = counts(bounds)
    assert totals == [len(_orm(user, now)), len(_orm(user, now, coach_me=True)), 1, 0]


def test_a_union_all_of_whole_rows_binds_and_pages_as_the_or_it_replaces(spread):
    """The coach's sections are a UNION ALL of the sessions coached directly and through a
    group (`selectors.coached`): the same rows, order, pages and count as `coach_q`'s OR."""
    org = spread
    now = timezone.now()
    since = selectors.possibly_running_since(now)
    sections = [
        (selectors.sessions_to_coach, selectors.open_q(now), ("expires_at", "id")),
        (
            lambda user, now: selectors.sessions_scheduled_to_coach(user, now, since=since),
            Q(state=State.SCHEDULED, starts_at__gt=since),
            ("starts_at", "id"),
        ),
    ]
    listed = 0
    for person in (org.cora, org.carl, org.sam, org.alice):
        user = viewer(person)
        for i, (build, condition, order) in enumerate(sections):
            shape = Shape(f"test.coached.{i}", CoachingSession, lambda a, b=build: b(a.viewer, now))
            bound = shape.bind(viewer=user)
            assert bound.cached and "UNION ALL" in bound.sql
            expected = list(
                selectors.sessions_visible_to(user, now)
                .filter(selectors.coach_q(user), condition)
                .order_by(*order)
                .values_list("pk", flat=True)
            )
            assert [s.pk for s in bound.rows(limit=100, offset=0)] == expected, person.username
            assert bound.count() == len(expected)
            items, total = bound.page(limit=1, offset=1)
            assert [s.pk for s in items] == expected[1:2] and total == len(expected)
            # Each arm is cut at the page's end (`_arms_cut`): every page still the OR's.
            assert bound.sql.count("LIMIT %s") == bound.sql.count("UNION ALL") + 1
            for offset in range(len(expected) + 2):
                assert [s.pk for s in bound.rows(limit=2, offset=offset)] == (
                    expected[offset : offset + 2]
                ), (person.username, offset)
            assert [s.pk for s in bound.all()] == expected
            listed += len(expected)
    assert listed >= 4  # direct and group-coached sessions among them


@pytest.mark.postgres_only
def test_a_page_of_a_busy_coachs_union_reads_only_its_end_of_each_arm(spread):
    """A coach with 2,000 open suggestions: the page of 10 at offset 10 reads about 20 rows of
    each arm along its index, not all of them (PostgreSQL does not cut a UNION ALL's arms under
    its ORDER BY ... LIMIT by itself)."""
    import json

    from django.db import connection

    org = spread
    template = CoachingSession.objects.filter(coach_user=org.cora).first()
    values = {
        f.attname: getattr(template, f.attname)
        for f in CoachingSession._meta.concrete_fields
        if not f.primary_key
    }
    now = timezone.now()
    CoachingSession.objects.bulk_create(
        CoachingSession(
            **{
                **values,
                "state": State.SUGGESTED,
                "expires_at": now + timedelta(days=1, minutes=i),
                "calendar_uid": None,
            }
        )
        for i in range(2000)
    )
    user = viewer(org.cora)
    bound = SECTIONS["coach"].bind(viewer=user, times={"now": now})
    expected = list(
        selectors.sessions_visible_to(user, now)
        .filter(selectors.coach_q(user), selectors.open_q(now))
        .order_by("expires_at", "id")
        .values_list("pk", flat=True)
    )
    assert [s.pk for s in bound.rows(limit=10, offset=10)] == expected[10:20]
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {CoachingSession._meta.db_table}")
        cursor.execute(
            f"EXPLAIN (ANALYZE, FORMAT JSON) {bound.sql} LIMIT %s OFFSET %s",
            [20 if p is ARM_LIMIT else p for p in bound.params] + [10, 10],
        )
        plan = cursor.fetchone()[0]
    plan = plan if isinstance(plan, list) else json.loads(plan)

    def nodes(node):
        yield node
        for child in node.get("Plans", []):
            yield from nodes(child)

    read = max(n["Actual Rows"] for n in nodes(plan[0]["Plan"]))
    assert len(expected) > 2000 and read <= 25, json.dumps(plan, indent=1)


def test_a_union_that_is_not_all_or_of_parts_of_rows_is_refused(spread):
    mine = CoachingSession.objects.filter(coach_user=spread.cora).order_by()
    theirs = CoachingSession.objects.filter(coach_user=spread.carl).order_by()
    for name, build in [
        ("test.union_distinct", lambda a: mine.union(theirs)),
        ("test.union_values", lambda a: mine.values_list("pk").union(theirs.values_list("pk"))),
    ]:
        with pytest.raises(TypeError, match="whole"):
            Shape(name, CoachingSession, build).bind(viewer=viewer(spread.sam))


def test_states_are_written_into_the_statement_not_bound(spread):
    """A prepared statement's generic plan can use the partial indexes on a state only if the
    state is in its text (`core.shapes.Written`)."""
    from core.shapes import written

    user = viewer(spread.sam)
    bound = selectors.sessions_listed(user, now=timezone.now(), state=State.SCHEDULED)
    assert "'scheduled'" in bound.sql and State.SCHEDULED not in bound.params
    opened = selectors.sessions_listed(user, now=timezone.now(), state=State.SUGGESTED)
    assert "'suggested'" in opened.sql and State.SUGGESTED not in opened.params
    assert [s.pk for s in bound.rows(limit=10, offset=0)] == _orm(
        user, timezone.now(), state=State.SCHEDULED
    )
    # Nor any other constant of the code that a partial index names (the trainee role of
    # `attendee_unacknowledged`: bound, a busy coach's generic plan read their 2,000 attendee
    # rows for the "Acknowledge" count, 1.9 ms where the index answers in 0.1 ms).
    from coaching.models import AttendeeRole
    from coaching.widget import _sections

    constants = {str(v) for v in (*State, *AttendeeRole)}
    org = spread
    for person in (org.sam, org.cora, org.alice, org.admin):
        for scope in ({}, {"agent": org.alice}, {"case": org.case1001}):
            for section in _sections(viewer(person), **scope):
                bound = section.sessions
                leaked = constants & {
                    p for p in bound.params + bound.count_params if isinstance(p, str)
                }
                assert not leaked, (person.username, section.key, leaked)
    for bad in ("it's", "a b", "", "x;--"):
        with pytest.raises(ValueError, match="plain name"):
            written(bad)
