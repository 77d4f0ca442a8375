"""A large contact-center organisation for the scale benchmarks (`manage.py generate_large_org`).

Rows are written straight into the tables, in batches: `COPY` on PostgreSQL, multi-row
`executemany` elsewhere. Primary keys are assigned here (the sequences are reset afterwards), so no
row has to be read back. Everything runs in one transaction: a failed run leaves nothing behind.

The rows respect the models' constraints and the product's rules: an author is never coach or
trainee of their own suggestion, a coach is never a trainee, groups have 5-50 members, a canceled
session has exactly one reason, a scheduled one has a time, notifications go to the people the
services would have notified (groups expanded to active members, never the actor).

Generated users have an unusable password, so the command does not need DEBUG: nobody can log in
as them until an admin sets a password.
"""

from __future__ import annotations

import json
import random
import resource
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.utils import timezone

from coaching.messaging import render
from coaching.models import (
    Action,
    AttendeeRole,
    CancelReason,
    CoachingSession,
    Origin,
    SessionAttendee,
    SessionEvent,
    SessionReferenceCase,
    SessionTraineeGroup,
    SessionTraineeUser,
    State,
)
from demo.loader import SUBJECTS as DEMO_SUBJECTS
from demo.loader import ensure_roles
from directory.models import (
    Case,
    CaseParticipant,
    CoachingArea,
    Evaluation,
    ParticipantRole,
    User,
    UserGroup,
    UserGroupMembership,
)
from directory.permissions import Role
from directory.working_hours import default_working_hours
from notifications.models import EmailStatus, Kind, Notification

USERNAME_PREFIX = "lo."
MARKER_USERNAME = "lo.admin.000001"  # written first; its presence means "already generated"
BATCH = 20_000

FIRST = [
    "Aaliyah",
    "Aaron",
    "Abdul",
    "Ada",
    "Adam",
    "Adrian",
    "Aisha",
    "Alan",
    "Alba",
    "Alex",
    "Alice",
    "Amara",
    "Amir",
    "Ana",
    "Andrea",
    "Andrei",
    "Anna",
    "Anne",
    "Anton",
    "Ari",
    "Arjun",
    "Ava",
    "Beatriz",
    "Ben",
    "Bianca",
    "Bilal",
    "Bruno",
    "Carla",
    "Carlos",
    "Chen",
    "Chloe",
    "Clara",
    "Daniel",
    "Dara",
    "David",
    "Diego",
    "Elena",
    "Eli",
    "Emma",
    "Erik",
    "Esra",
    "Eva",
    "Farah",
    "Felix",
    "Fatima",
    "Grace",
    "Hana",
    "Hugo",
    "Ines",
    "Ivan",
    "Jamal",
    "Jana",
    "Javier",
    "Jin",
    "Joao",
    "John",
    "Jonas",
    "Julia",
    "Kai",
    "Karim",
    "Kate",
    "Kenji",
    "Lara",
    "Leila",
    "Leo",
    "Lina",
    "Lucas",
    "Luca",
    "Maya",
    "Marco",
    "Maria",
    "Mateo",
    "Mei",
    "Mia",
    "Milan",
    "Nadia",
    "Nina",
    "Noah",
    "Olga",
    "Omar",
    "Paul",
    "Priya",
    "Rafael",
    "Rana",
    "Rosa",
    "Sam",
    "Sara",
    "Sofia",
    "Tariq",
    "Theo",
    "Tom",
    "Vera",
    "Wei",
    "Yara",
    "Yusuf",
    "Zoe",
]
LAST = [
    "Adams",
    "Ahmed",
    "Alvarez",
    "Andersen",
    "Bauer",
    "Becker",
    "Brown",
    "Castro",
    "Chen",
    "Costa",
    "Cruz",
    "Dubois",
    "Fischer",
    "Garcia",
    "Gomez",
    "Gonzalez",
    "Hansen",
    "Hoffmann",
    "Ibrahim",
    "Ivanova",
    "Jansen",
    "Jones",
    "Kaya",
    "Khan",
    "Kim",
    "Kowalski",
    "Lee",
    "Lopez",
    "Martin",
    "Meyer",
    "Moreau",
    "Muller",
    "Nakamura",
    "Nguyen",
    "Novak",
    "Olsen",
    "Patel",
    "Perez",
    "Peters",
    "Rossi",
    "Santos",
    "Schmidt",
    "Silva",
    "Singh",
    "Smith",
    "Suzuki",
    "Tanaka",
    "Taylor",
    "Wagner",
    "Wang",
    "Weber",
    "Wilson",
    "Wong",
    "Yilmaz",
    "Zhang",
]
CITIES = [
    "Amsterdam",
    "Austin",
    "Berlin",
    "Bogota",
    "Cairo",
    "Dublin",
    "Krakow",
    "Lagos",
    "Lisbon",
    "Madrid",
    "Manila",
    "Porto",
    "Toronto",
]
TIME_ZONES = [
    "UTC",
    "Europe/Berlin",
    "Europe/Lisbon",
    "America/New_York",
    "America/Bogota",
    "Asia/Manila",
    "Africa/Lagos",
]
AREAS = [
    "Empathy",
    "Product Knowledge",
    "Compliance",
    "Call Handling",
    "First Contact Resolution",
    "Upselling",
    "Data Protection",
    "Tone and Language",
]
SUBJECTS = [
    *DEMO_SUBJECTS,
    "Billing dispute after a double charge",
    "Cancellation request with retention offer",
    "Technician appointment rescheduled",
    "Porting a number from another carrier",
]
TITLES = [
    "{area}: {subject}",
    "{area} refresher",
    "Listen back: {subject}",
    "{area} on difficult calls",
    "Follow-up on {subject}",
]
LOCATIONS = ["Coaching room 1", "Coaching room 2", "Video call", "Team lead desk", "Training lab"]


@dataclass
class Sizes:
    agents: int = 50_000
    groups: int = 3_000
    cases: int = 300_000
    sessions: int = 200_000
    seed: int = 20261128

    @property
    def supervisors(self) -> int:
        return max(3, self.agents // 50)

    @property
    def coaches(self) -> int:
        return max(5, self.agents // 40)

    @property
    def auditors(self) -> int:
        return max(2, self.agents // 100)

    @property
    def admins(self) -> int:
        return 2


class AlreadyGenerated(Exception):
    pass


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def is_generated() -> bool:
    return User.objects.filter(username=MARKER_USERNAME).exists()


# --- writing ---------------------------------------------------------------------------------
@dataclass
class Writer:
    say: Callable[[str], None]
    batch: int = BATCH
    counts: dict[str, int] = field(default_factory=dict)
    written: list[type[models.Model]] = field(default_factory=list)

    def next_id(self, model: type[models.Model]) -> int:
        top = model._default_manager.aggregate(m=models.Max("pk"))["m"]
        return (top or 0) + 1

    def write(
        self, label: str, model: type[models.Model], attnames: Sequence[str], rows: Iterable[tuple]
    ) -> int:
        """Write `rows` (tuples in `attnames` order, id included) in batches, saying each batch."""
        meta = model._meta
        table = connection.ops.quote_name(meta.db_table)
        fields = [meta.get_field(a) for a in attnames]
        columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)  # type: ignore[union-attr]
        json_at = [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
        postgres = connection.vendor == "postgresql"
        if not postgres:
            dt_at = [i for i, f in enumerate(fields) if isinstance(f, models.DateTimeField)]
            uuid_at = [i for i, f in enumerate(fields) if isinstance(f, models.UUIDField)]
            insert = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
        total = 0
        started = time.perf_counter()
        iterator: Iterator[tuple] = iter(rows)
        while True:
            chunk = list(islice(iterator, self.batch))
            if not chunk:
                break
            if json_at:
                chunk = [
                    tuple(json.dumps(v) if i in json_at else v for i, v in enumerate(r))
                    for r in chunk
                ]
            with connection.cursor() as cursor:
                if postgres:
                    raw = cursor.cursor  # the psycopg cursor, for COPY
                    with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                        for row in chunk:
                            copy.write_row(row)
                else:
                    adapt = connection.ops.adapt_datetimefield_value
                    if dt_at:
                        chunk = [
                            tuple(adapt(v) if i in dt_at else v for i, v in enumerate(r))
                            for r in chunk
                        ]
                    if uuid_at:  # SQLite keeps UUIDs as 32 hex digits
                        chunk = [
                            tuple(v.hex if i in uuid_at and v else v for i, v in enumerate(r))
                            for r in chunk
                        ]
                    cursor.executemany(insert, chunk)
            total += len(chunk)
            elapsed = time.perf_counter() - started
            self.say(
                f"  {label}: {total:,} rows ({total / max(elapsed, 1e-9):,.0f} rows/s, "
                f"peak RSS {peak_rss_mib():,.0f} MiB)"
            )
        self.counts[label] = self.counts.get(label, 0) + total
        if model not in self.written:
            self.written.append(model)
        return total

    def reset_sequences(self) -> None:
        sql = connection.ops.sequence_reset_sql(no_style(), self.written)
        if sql:
            with connection.cursor() as cursor:
                for statement in sql:
                    cursor.execute(statement)


# --- the organisation ------------------------------------------------------------------------
@dataclass
class Org:
    """What later phases need to know about earlier ones, as plain lists of ints (cheap)."""

    now: datetime
    admins: list[int] = field(default_factory=list)
    supervisors: list[int] = field(default_factory=list)
    coaches: list[int] = field(default_factory=list)
    agents: list[int] = field(default_factory=list)
    agent_set: set[int] = field(default_factory=set)
    auditors: list[int] = field(default_factory=list)
    name: dict[int, str] = field(default_factory=dict)
    inactive: set[int] = field(default_factory=set)
    coach_groups: list[int] = field(default_factory=list)
    teams: list[int] = field(default_factory=list)
    members: dict[int, list[int]] = field(default_factory=dict)  # coach groups and teams
    case_first: int = 0
    case_count: int = 0
    case_trainees: list[tuple[int, ...]] = field(default_factory=list)
    areas: list[int] = field(default_factory=list)
    area_names: dict[int, str] = field(default_factory=dict)


def _skewed(rng: random.Random, items: Sequence[int]) -> int:
    """Pick with a long tail: a few people (the first ones) are much busier than the rest."""
    return items[int(len(items) * rng.random() ** 2)]


def generate(sizes: Sizes, *, say: Callable[[str], None] = print) -> dict[str, int]:
    if is_generated():
        raise AlreadyGenerated(
            "A large organisation is already in this database (user "
            f"{MARKER_USERNAME} exists); nothing was written. Use a fresh database to generate "
            "another one."
        )
    rng = random.Random(sizes.seed)
    writer = Writer(say=say)
    started = time.perf_counter()
    with transaction.atomic():
        roles = ensure_roles()
        org = Org(now=timezone.now().replace(microsecond=0))
        for name in AREAS:
            area, _ = CoachingArea.objects.get_or_create(name=name)
            org.areas.append(area.pk)
            org.area_names[area.pk] = name
        _users(sizes, org, rng, writer, {r: g.pk for r, g in roles.items()})
        _groups(sizes, org, rng, writer)
        _cases(sizes, org, rng, writer)
        _sessions(sizes, org, rng, writer)
        writer.reset_sequences()
        # Fresh statistics, so the planner sees the large tables as large (SQLite has none at
        # all until ANALYZE runs, and then guesses badly between the state and id indexes).
        say("  analyzing tables")
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                for model in writer.written:
                    cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
            elif connection.vendor == "sqlite":
                cursor.execute("ANALYZE")
    elapsed = time.perf_counter() - started
    rows = sum(writer.counts.values())
    say(
        f"done: {rows:,} rows in {elapsed:,.1f} s ({rows / elapsed:,.0f} rows/s), "
        f"peak RSS {peak_rss_mib():,.0f} MiB"
    )
    return writer.counts


def _users(
    sizes: Sizes, org: Org, rng: random.Random, writer: Writer, role_ids: dict[Role, int]
) -> None:
    say = writer.say
    say("phase 1/4: users and roles")
    password = make_password(None)  # unusable: nobody logs in as a generated user
    first_id = writer.next_id(User)
    plan = [
        (Role.QM_ADMIN, "admin", sizes.admins, org.admins),
        (Role.SUPERVISOR, "supervisor", sizes.supervisors, org.supervisors),
        (Role.COACH, "coach", sizes.coaches, org.coaches),
        (Role.AUDITOR, "auditor", sizes.auditors, org.auditors),
        (Role.AGENT, "agent", sizes.agents, org.agents),
    ]
    joined = org.now - timedelta(days=400)
    user_rows: list[tuple] = []
    role_rows: list[tuple] = []
    next_id = first_id
    for role, word, count, bucket in plan:
        for i in range(1, count + 1):
            uid = next_id
            next_id += 1
            first, last = rng.choice(FIRST), rng.choice(LAST)
            display = f"{first} {last}"
            username = f"{USERNAME_PREFIX}{word}.{i:06d}"
            # Agents leave: 2% are deactivated (their history stays).
            active = role != Role.AGENT or rng.random() >= 0.02
            if not active:
                org.inactive.add(uid)
            bucket.append(uid)
            org.name[uid] = display
            user_rows.append(
                (
                    uid,
                    password,
                    None,
                    False,
                    username,
                    first,
                    last,
                    f"{username}@largeorg.example",
                    False,
                    active,
                    joined,
                    display,
                    rng.choice(TIME_ZONES),
                    rng.random() < 0.8,
                    WORKING_HOURS,
                    f"gen-{uid}-{rng.getrandbits(64):016x}",
                )
            )
            role_rows.append((role_ids[role],))
    writer.write(
        "users",
        User,
        [
            "id",
            "password",
            "last_login",
            "is_superuser",
            "username",
            "first_name",
            "last_name",
            "email",
            "is_staff",
            "is_active",
            "date_joined",
            "display_name",
            "time_zone",
            "email_notifications",
            "working_hours",
            "calendar_feed_key",
        ],
        user_rows,
    )
    through = User.groups.through
    rid = writer.next_id(through)
    writer.write(
        "role assignments",
        through,
        ["id", "user_id", "group_id"],
        ((rid + i, first_id + i, r[0]) for i, r in enumerate(role_rows)),
    )


def _groups(sizes: Sizes, org: Org, rng: random.Random, writer: Writer) -> None:
    """Agent teams (80%), coach pools (10%, 5-20 coaches), quality circles (10%, agents and
    auditors). Every group has 5-50 members."""
    writer.say("phase 2/4: user groups and memberships")
    gid = writer.next_id(UserGroup)
    n_coach = max(2, sizes.groups // 10)
    n_circle = max(1, sizes.groups // 10)
    n_team = max(2, sizes.groups - n_coach - n_circle)
    group_rows: list[tuple] = []
    member_rows: list[tuple[int, int]] = []
    agents = org.agents[:]
    rng.shuffle(agents)
    cursor = 0

    def add(kind: str, index: int, members: list[int]) -> int:
        nonlocal gid
        pk = gid
        gid += 1
        city = CITIES[index % len(CITIES)]
        group_rows.append(
            (pk, f"{kind} {city} {index:05d}", f"{kind} of the {city} site.", org.now)
        )
        member_rows.extend((pk, u) for u in members)
        return pk

    for i in range(1, n_team + 1):
        # Teams first take agents in turn, so nearly every agent is in a team.
        size = rng.randint(5, 50)
        members = agents[cursor : cursor + size]
        cursor += size
        if len(members) < size:
            members = rng.sample(org.agents, size)
            cursor = len(agents)
        pk = add("Team", i, members)
        org.teams.append(pk)
        org.members[pk] = members
    for i in range(1, n_coach + 1):
        members = rng.sample(org.coaches, min(len(org.coaches), rng.randint(5, 20)))
        pk = add("Coaches", i, members)
        org.coach_groups.append(pk)
        org.members[pk] = members
    for i in range(1, n_circle + 1):
        size = rng.randint(5, 50)
        members = rng.sample(org.agents, size - 1) + [rng.choice(org.auditors)]
        add("Quality circle", i, members)
    writer.write("user groups", UserGroup, ["id", "name", "description", "created_at"], group_rows)
    mid = writer.next_id(UserGroupMembership)
    writer.write(
        "memberships",
        UserGroupMembership,
        ["id", "group_id", "user_id"],
        ((mid + i, g, u) for i, (g, u) in enumerate(member_rows)),
    )


def _cases(sizes: Sizes, org: Org, rng: random.Random, writer: Writer) -> None:
    """Cases of the past year with 1-3 participants (1-2 agents, often an auditor), and the
    evaluations of most of them."""
    writer.say("phase 3/4: cases, participants, evaluations")
    first = writer.next_id(Case)
    org.case_first, org.case_count = first, sizes.cases
    participants: list[tuple[int, int, str]] = []
    opened: list[datetime] = []
    year = 365 * 24 * 3600

    def case_rows() -> Iterator[tuple]:
        for i in range(sizes.cases):
            cid = first + i
            at = org.now - timedelta(seconds=rng.randrange(year))
            opened.append(at)
            agents = rng.sample(org.agents, 1 if rng.random() < 0.75 else 2)
            people: list[tuple[int, str]] = [(a, ParticipantRole.AGENT) for a in agents]
            if len(people) < 3 and rng.random() < 0.4:
                people.append((rng.choice(org.auditors), ParticipantRole.AUDITOR))
            participants.extend((cid, u, r) for u, r in people)
            org.case_trainees.append(tuple(u for u, _ in people))
            yield (
                cid,
                f"LO-{i + 1:07d}",
                rng.choice(SUBJECTS),
                rng.choice(("voice", "voice", "chat", "email")),
                at,
            )

    writer.write("cases", Case, ["id", "number", "subject", "channel", "opened_at"], case_rows())
    pid = writer.next_id(CaseParticipant)
    writer.write(
        "case participants",
        CaseParticipant,
        ["id", "case_id", "user_id", "role"],
        ((pid + i, c, u, r) for i, (c, u, r) in enumerate(participants)),
    )
    participants.clear()
    eid = writer.next_id(Evaluation)

    def evaluation_rows() -> Iterator[tuple]:
        nonlocal eid
        for i, people in enumerate(org.case_trainees):
            if rng.random() >= 0.6:
                continue
            for uid in people:
                if uid not in org.agent_set:
                    continue
                for area in rng.sample(org.areas, rng.randint(1, 2)):
                    yield (
                        eid,
                        f"gen-{eid}",
                        first + i,
                        uid,
                        area,
                        max(0, min(100, round(rng.gauss(78, 10)))),
                        opened[i] + timedelta(hours=rng.randint(2, 48)),
                        rng.choice(org.auditors),
                    )
                    eid += 1

    org.agent_set = set(org.agents)
    writer.write(
        "evaluations",
        Evaluation,
        [
            "id",
            "source_id",
            "case_id",
            "agent_id",
            "coaching_area_id",
            "score",
            "evaluated_at",
            "evaluator_id",
        ],
        evaluation_rows(),
    )


SESSION_FIELDS = [
    "id",
    "title",
    "state",
    "coach_user_id",
    "coach_group_id",
    "coaching_area_id",
    "expires_at",
    "suggested_by_id",
    "suggested_by_name",
    "origin",
    "starts_at",
    "duration_minutes",
    "location",
    "scheduled_by_id",
    "scheduled_at",
    "cancel_reason",
    "cancel_note",
    "canceled_by_id",
    "canceled_by_name",
    "canceled_at",
    "completed_at",
    "completed_by_id",
    "completed_by_name",
    "completion_notes",
    "action_items",
    "calendar_uid",
    "calendar_sequence",
    "version",
    "created_at",
    "updated_at",
]
ATTENDEE_FIELDS = [
    "id",
    "session_id",
    "user_id",
    "role",
    "starts_at",
    "ends_at",
    "busy",
    "acknowledged_at",
    "acknowledgement_comment",
]
WORKING_HOURS = default_working_hours()
COMPLETION_NOTES = [
    "Walked through the call together; agreed on a calmer opening.",
    "Reviewed the refund policy and the two cases; the agent will use the checklist.",
    "Listened to the recording and practised the hold procedure.",
]
ACTION_ITEMS = [
    "Use the greeting script on every call",
    "Re-read the refund policy",
    "Ask a colleague to listen to two calls",
    "Summarise the customer's issue before solving it",
]
NOTIFICATION_FIELDS = [
    "id",
    "recipient_id",
    "kind",
    "message",
    "session_id",
    "created_at",
    "read_at",
    "email_status",
    "email_attempts",
    "email_next_attempt_at",
    "email_claimed_at",
    "email_sent_at",
    "email_last_error",
]

DECLINE_REASONS = [
    "already attended this module",
    "on leave for the next two weeks",
    "covered in the team meeting",
    "the case was handled correctly",
]


@dataclass
class _Tables:
    sessions: list[tuple] = field(default_factory=list)
    trainee_users: list[tuple[int, int]] = field(default_factory=list)
    trainee_groups: list[tuple[int, int]] = field(default_factory=list)
    cases: list[tuple[int, int]] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)
    notifications: list[tuple] = field(default_factory=list)
    attendees: list[tuple] = field(default_factory=list)


class SessionMaker:
    """Builds session rows and everything that hangs off them. Also used by the write benchmarks
    to add due suggestions."""

    def __init__(self, org: Org, rng: random.Random, writer: Writer) -> None:
        self.org, self.rng, self.writer = org, rng, writer
        self.sid = writer.next_id(CoachingSession)
        self.nid = writer.next_id(Notification)
        self.eid = writer.next_id(SessionEvent)

    def recipients(self, coach_user: int | None, coach_group: int | None) -> list[int]:
        if coach_user is not None:
            return [coach_user] if coach_user not in self.org.inactive else []
        assert coach_group is not None
        return [u for u in self.org.members[coach_group] if u not in self.org.inactive]

    def notify(
        self, t: _Tables, sid: int, kind: str, message: str, to: Iterable[int], at: datetime, actor
    ) -> None:
        rng, now = self.rng, self.org.now
        for uid in dict.fromkeys(to):
            if uid == actor or uid in self.org.inactive:
                continue
            old = at < now - timedelta(days=7)
            read_at = (
                at + timedelta(hours=rng.randint(1, 72)) if old and rng.random() < 0.8 else None
            )
            if read_at is not None and read_at > now:
                read_at = None
            sent = rng.random() < 0.8
            t.notifications.append(
                (
                    self.nid,
                    uid,
                    kind,
                    message,
                    sid,
                    at,
                    read_at,
                    EmailStatus.SENT if sent else EmailStatus.SKIPPED,
                    1 if sent else 0,
                    at,
                    at if sent else None,
                    at + timedelta(seconds=rng.randint(1, 90)) if sent else None,
                    "",
                )
            )
            self.nid += 1

    def event(self, t: _Tables, sid: int, at: datetime, actor: int | None, action: str, changes):
        name = self.org.name.get(actor, "") if actor else "System"
        t.events.append((self.eid, sid, at, actor, name, action, changes))
        self.eid += 1

    def make(self, t: _Tables, *, created: datetime, due: bool = False) -> None:
        org, rng, now = self.org, self.rng, self.org.now
        sid = self.sid
        self.sid += 1
        author = _skewed(rng, org.supervisors)
        area = rng.choice(org.areas)
        if rng.random() < 0.85:
            coach_user, coach_group = _skewed(rng, org.coaches), None
        else:
            coach_user, coach_group = None, rng.choice(org.coach_groups)
        roll = rng.random()
        trainee_users: list[int] = []
        trainee_groups: list[int] = []
        cases: list[int] = []
        if roll < 0.25:
            origin = Origin.CASE_ANALYTICS
            ci = rng.randrange(org.case_count)
            trainee_users = list(org.case_trainees[ci])
            cases = [org.case_first + ci]
        elif roll < 0.6:
            origin = Origin.AGENT_ANALYTICS
            trainee_users = [rng.choice(org.agents)]
            if rng.random() < 0.3:
                cases = [org.case_first + rng.randrange(org.case_count)]
        else:
            origin = Origin.HOMEPAGE
            if rng.random() < 0.5:
                trainee_groups = [rng.choice(org.teams)]
            if not trainee_groups or rng.random() < 0.3:
                trainee_users = rng.sample(org.agents, rng.randint(1, 3))
        subject = rng.choice(SUBJECTS).lower()
        title = rng.choice(TITLES).format(area=org.area_names[area], subject=subject)[:200]
        expires = created + timedelta(days=rng.choice((30, 60, 91, 91, 91, 91, 180)))
        if due:
            expires = now - timedelta(minutes=rng.randint(1, 600))
        row: dict[str, Any] = {
            "state": State.SUGGESTED,
            "starts_at": None,
            "duration_minutes": None,
            "location": "",
            "scheduled_by_id": None,
            "scheduled_at": None,
            "cancel_reason": "",
            "cancel_note": "",
            "canceled_by_id": None,
            "canceled_by_name": "",
            "canceled_at": None,
            "completed_at": None,
            "completed_by_id": None,
            "completed_by_name": "",
            "completion_notes": "",
            "action_items": [],
            "calendar_uid": None,
            "version": 1,
            "updated_at": created,
        }
        coach_people = (
            [coach_user] if coach_user is not None else org.members[coach_group]  # type: ignore[index]
        )
        self.event(t, sid, created, author, Action.SUGGESTED, {"title": title})
        self.notify(
            t,
            sid,
            Kind.SESSION_SUGGESTED,
            render(Action.SUGGESTED, author=org.name[author]),
            self.recipients(coach_user, coach_group),
            created,
            author,
        )
        fate = rng.random()
        acted = created + timedelta(hours=rng.randint(1, 24 * 20))
        if due:
            pass
        elif expires <= now and fate < 0.25:
            self._cancel(t, sid, row, CancelReason.EXPIRED, expires, None, "")
            self.event(t, sid, expires, None, Action.EXPIRED, {})
            self.notify(
                t,
                sid,
                Kind.SESSION_EXPIRED,
                render(Action.EXPIRED),
                [*self.recipients(coach_user, coach_group), author],
                expires,
                None,
            )
        elif acted < min(now, expires) and (expires <= now or fate < 0.55):
            kind = rng.random()
            if kind < 0.6:
                coach = rng.choice(coach_people)
                row.update(
                    state=State.SCHEDULED,
                    scheduled_by_id=coach,
                    scheduled_at=acted,
                    starts_at=acted + timedelta(days=rng.randint(1, 14), hours=rng.randint(0, 8)),
                    duration_minutes=rng.choice((30, 45, 60, 90)),
                    location=rng.choice(LOCATIONS),
                    version=2,
                    updated_at=acted,
                )
                self.event(t, sid, acted, coach, Action.SCHEDULED, {})
                self.notify(
                    t,
                    sid,
                    Kind.SESSION_SCHEDULED,
                    render(Action.SCHEDULED, actor=org.name[coach]),
                    [author],
                    acted,
                    coach,
                )
                self._attend(t, sid, row, coach, trainee_users, trainee_groups)
            elif kind < 0.75:
                self._cancel(t, sid, row, CancelReason.DELETED_BY_SUPERVISOR, acted, author, "")
                self.event(t, sid, acted, author, Action.DELETED, {})
                self.notify(
                    t,
                    sid,
                    Kind.SESSION_CANCELED_BY_SUPERVISOR,
                    render(Action.DELETED),
                    self.recipients(coach_user, coach_group),
                    acted,
                    author,
                )
            elif kind < 0.9 or not trainee_users:
                coach = rng.choice(coach_people)
                reason = rng.choice(DECLINE_REASONS)
                self._cancel(t, sid, row, CancelReason.DECLINED_BY_COACH, acted, coach, reason)
                self.event(t, sid, acted, coach, Action.DECLINED_BY_COACH, {"reason": reason})
                self.notify(
                    t,
                    sid,
                    Kind.SESSION_CANCELED_BY_COACH,
                    render(Action.DECLINED_BY_COACH, actor=org.name[coach], reason=reason),
                    [author],
                    acted,
                    coach,
                )
            else:
                trainee = rng.choice(trainee_users)
                reason = rng.choice(DECLINE_REASONS)
                self._cancel(t, sid, row, CancelReason.DECLINED_BY_TRAINEE, acted, trainee, reason)
                self.event(t, sid, acted, trainee, Action.DECLINED_BY_TRAINEE, {"reason": reason})
                self.notify(
                    t,
                    sid,
                    Kind.SESSION_CANCELED_BY_TRAINEE,
                    render(Action.DECLINED_BY_TRAINEE, actor=org.name[trainee], reason=reason),
                    [author, *self.recipients(coach_user, coach_group)],
                    acted,
                    trainee,
                )
        elif expires <= now:
            # Not acted upon in time: the sweep recorded the expiry.
            self._cancel(t, sid, row, CancelReason.EXPIRED, expires, None, "")
            self.event(t, sid, expires, None, Action.EXPIRED, {})
            self.notify(
                t,
                sid,
                Kind.SESSION_EXPIRED,
                render(Action.EXPIRED),
                [*self.recipients(coach_user, coach_group), author],
                expires,
                None,
            )
        t.sessions.append(
            (
                sid,
                title,
                row["state"],
                coach_user,
                coach_group,
                area,
                expires,
                author,
                org.name[author],
                origin,
                row["starts_at"],
                row["duration_minutes"],
                row["location"],
                row["scheduled_by_id"],
                row["scheduled_at"],
                row["cancel_reason"],
                row["cancel_note"],
                row["canceled_by_id"],
                row["canceled_by_name"],
                row["canceled_at"],
                row["completed_at"],
                row["completed_by_id"],
                row["completed_by_name"],
                row["completion_notes"],
                row["action_items"],
                row["calendar_uid"],
                0,
                row["version"],
                created,
                row["updated_at"],
            )
        )
        t.trainee_users.extend((sid, u) for u in trainee_users)
        t.trainee_groups.extend((sid, g) for g in trainee_groups)
        t.cases.extend((sid, c) for c in cases)

    def _attend(
        self,
        t: _Tables,
        sid: int,
        row: dict[str, Any],
        coach: int,
        trainee_users: list[int],
        trainee_groups: list[int],
    ) -> None:
        """The invitation list of a scheduled session; most sessions whose start has passed were
        held and completed, and most of their trainees acknowledged them."""
        org, rng, now = self.org, self.rng, self.org.now
        starts = row["starts_at"]
        ends = starts + timedelta(minutes=row["duration_minutes"])
        row["calendar_uid"] = uuid.UUID(int=rng.getrandbits(128), version=4)
        completed = ends < now and rng.random() < 0.8
        if completed:
            done = min(ends + timedelta(minutes=rng.randint(5, 600)), now)
            row.update(
                state=State.COMPLETED,
                completed_at=done,
                completed_by_id=coach,
                completed_by_name=org.name[coach],
                completion_notes=rng.choice(COMPLETION_NOTES),
                action_items=rng.sample(ACTION_ITEMS, rng.randint(0, 3)),
                version=3,
                updated_at=done,
            )
            self.event(t, sid, done, coach, Action.COMPLETED, {})
        people = [u for u in trainee_users if u not in org.inactive]
        for g in trainee_groups:
            people.extend(u for u in org.members.get(g, []) if u not in org.inactive)
        t.attendees.append((sid, coach, AttendeeRole.COACH, starts, ends, not completed, None, ""))
        for uid in dict.fromkeys(u for u in people if u != coach):
            acked = (
                min(row["completed_at"] + timedelta(hours=rng.randint(1, 72)), now)
                if completed and rng.random() < 0.6
                else None
            )
            t.attendees.append(
                (sid, uid, AttendeeRole.TRAINEE, starts, ends, not completed, acked, "")
            )

    def _cancel(
        self,
        t: _Tables,
        sid: int,
        row: dict[str, Any],
        reason: str,
        at: datetime,
        actor: int | None,
        note: str,
    ) -> None:
        row.update(
            state=State.CANCELED,
            cancel_reason=reason,
            cancel_note=note,
            canceled_by_id=actor,
            canceled_by_name=self.org.name.get(actor, "") if actor else "",
            canceled_at=at,
            version=2,
            updated_at=at,
        )

    def flush(self, t: _Tables) -> None:
        w = self.writer
        w.write("coaching sessions", CoachingSession, SESSION_FIELDS, t.sessions)
        tid = w.next_id(SessionTraineeUser)
        w.write(
            "session trainee users",
            SessionTraineeUser,
            ["id", "session_id", "user_id"],
            ((tid + i, s, u) for i, (s, u) in enumerate(t.trainee_users)),
        )
        gid = w.next_id(SessionTraineeGroup)
        w.write(
            "session trainee groups",
            SessionTraineeGroup,
            ["id", "session_id", "group_id"],
            ((gid + i, s, g) for i, (s, g) in enumerate(t.trainee_groups)),
        )
        cid = w.next_id(SessionReferenceCase)
        w.write(
            "session reference cases",
            SessionReferenceCase,
            ["id", "session_id", "case_id"],
            ((cid + i, s, c) for i, (s, c) in enumerate(t.cases)),
        )
        w.write(
            "session events",
            SessionEvent,
            ["id", "session_id", "at", "actor_id", "actor_name", "action", "changes"],
            t.events,
        )
        w.write("notifications", Notification, NOTIFICATION_FIELDS, t.notifications)
        aid = w.next_id(SessionAttendee)
        w.write(
            "session attendees",
            SessionAttendee,
            ATTENDEE_FIELDS,
            ((aid + i, *row) for i, row in enumerate(t.attendees)),
        )


def _sessions(sizes: Sizes, org: Org, rng: random.Random, writer: Writer) -> None:
    """Sessions of the past year in every state; 0.5% are past their expiry but not yet swept."""
    writer.say("phase 4/4: coaching sessions, trainees, reference cases, events, notifications")
    maker = SessionMaker(org, rng, writer)
    year = 365 * 24 * 3600
    # Built in slices so memory stays flat whatever --sessions says.
    step = 50_000
    for start in range(0, sizes.sessions, step):
        t = _Tables()
        for _ in range(min(step, sizes.sessions - start)):
            created = org.now - timedelta(seconds=rng.randrange(year))
            maker.make(t, created=created, due=rng.random() < 0.005)
        maker.flush(t)


def add_due_suggestions(count: int, *, seed: int = 7, say: Callable[[str], None] = print) -> int:
    """Add `count` open suggestions whose Expiry Time has just passed (for the sweep benchmark),
    with their trainees and 'suggested' notifications. Needs a generated organisation."""
    rng = random.Random(seed)
    writer = Writer(say=say)
    org = load_org()
    with transaction.atomic():
        maker = SessionMaker(org, rng, writer)
        t = _Tables()
        for _ in range(count):
            maker.make(t, created=org.now - timedelta(days=rng.randint(20, 90)), due=True)
        maker.flush(t)
        writer.reset_sequences()
    return count


def load_org() -> Org:
    """Read back what `SessionMaker` needs from a generated organisation."""
    org = Org(now=timezone.now().replace(microsecond=0))
    buckets = {
        "supervisor": org.supervisors,
        "coach": org.coaches,
        "agent": org.agents,
        "auditor": org.auditors,
        "admin": org.admins,
    }
    for pk, username, display, active in User.objects.filter(
        username__startswith=USERNAME_PREFIX
    ).values_list("pk", "username", "display_name", "is_active"):
        buckets[username.split(".")[1]].append(pk)
        org.name[pk] = display
        if not active:
            org.inactive.add(pk)
    for pk, name in UserGroup.objects.values_list("pk", "name"):
        if name.startswith("Coaches "):
            org.coach_groups.append(pk)
        elif name.startswith("Team "):
            org.teams.append(pk)
    for gid, uid in UserGroupMembership.objects.filter(
        group_id__in=org.coach_groups + org.teams
    ).values_list("group_id", "user_id"):
        org.members.setdefault(gid, []).append(uid)
    for pk, name in CoachingArea.objects.filter(name__in=AREAS).values_list("pk", "name"):
        org.areas.append(pk)
        org.area_names[pk] = name
    cases = Case.objects.filter(number__startswith="LO-")
    org.case_first = cases.aggregate(m=models.Min("pk"))["m"] or 0
    org.case_count = cases.count()
    trainees: dict[int, list[int]] = {}
    for cid, uid in CaseParticipant.objects.filter(
        case_id__gte=org.case_first, case_id__lt=org.case_first + org.case_count
    ).values_list("case_id", "user_id"):
        trainees.setdefault(cid, []).append(uid)
    org.case_trainees = [tuple(trainees.get(org.case_first + i, ())) for i in range(org.case_count)]
    return org
