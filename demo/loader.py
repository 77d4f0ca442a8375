"""The demo organisation of `shared/spec/demo-org.md`. Loading it twice changes nothing."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils import timezone

from coaching.models import CoachingSession
from coaching.rules import SessionFields
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
from directory.parties import PartyRef
from directory.permissions import ROLE_PERMISSIONS, Role
from qa.effect import refresh_effect_windows

PASSWORD = "demo"

USERS: list[tuple[str, str, list[Role], bool]] = [
    # username, display name, roles, superuser
    ("admin", "Quinn Admin", [Role.QM_ADMIN], True),
    ("sam.supervisor", "Sam Supervisor", [Role.SUPERVISOR], False),
    ("sue.supervisor", "Sue Supervisor", [Role.SUPERVISOR], False),
    ("cora.coach", "Cora Coach", [Role.COACH], False),
    ("carl.coach", "Carl Coach", [Role.COACH], False),
    ("alice.agent", "Alice Agent", [Role.AGENT], False),
    ("bob.agent", "Bob Agent", [Role.AGENT], False),
    ("dan.agent", "Dan Agent", [Role.AGENT], False),
    ("audrey.auditor", "Audrey Auditor", [Role.AUDITOR], False),
    ("nora.noperm", "Nora Noperm", [], False),
]

GROUPS: dict[str, list[str]] = {
    "Coaching Team": ["cora.coach", "carl.coach"],
    "Tier 1": ["alice.agent", "bob.agent"],
    "Sam Only": ["sam.supervisor"],
    "Empty Group": [],
}

AREAS = ["Empathy", "Product Knowledge", "Compliance", "Call Handling"]

CASES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "CASE-1001": (
        "Billing dispute escalated after a double charge",
        [
            ("alice.agent", ParticipantRole.AGENT),
            ("bob.agent", ParticipantRole.AGENT),
            ("audrey.auditor", ParticipantRole.AUDITOR),
        ],
    ),
    "CASE-1002": (
        "Cancellation request with retention offer",
        [("dan.agent", ParticipantRole.AGENT), ("audrey.auditor", ParticipantRole.AUDITOR)],
    ),
}

SUBJECTS = [
    "Password reset did not arrive",
    "Upgrade to the family plan",
    "Late delivery complaint",
    "Refund for a damaged item",
    "Roaming charges abroad",
    "Address change before delivery",
    "Loyalty points missing",
    "Router keeps disconnecting",
    "Invoice copy requested",
    "Contract renewal questions",
    "Card blocked after travel",
    "Wrong size ordered",
]

GENERATED_CASES = 40
DEMO_SEED = 20261128


def ensure_roles() -> dict[Role, Group]:
    groups = {}
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role.value)
        wanted = set(
            Permission.objects.filter(
                content_type__app_label="coaching", codename__in=[p.value for p in perms]
            )
        )
        if set(group.permissions.all()) != wanted:
            group.permissions.set(wanted)
        groups[role] = group
    return groups


def load(*, say: Callable[[str], None] = lambda _m: None, extras: bool = True) -> dict[str, int]:
    """Create or complete the demo organisation. Returns how many rows of each kind it added.

    `extras=False` loads only what demo-org.md lists by name (the tests' fixture): no generated
    cases, evaluations or sample sessions."""
    added = {
        "users": 0,
        "groups": 0,
        "areas": 0,
        "cases": 0,
        "evaluations": 0,
        "sessions": 0,
        "rules": 0,
    }
    with transaction.atomic():
        roles = ensure_roles()
        say("roles and permissions ready")
        users: dict[str, User] = {}
        for username, display, user_roles, superuser in USERS:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User(
                    username=username,
                    display_name=display,
                    first_name=display.split()[0],
                    last_name=display.split()[-1],
                    email=f"{username}@demo.example",
                    is_staff=superuser,
                    is_superuser=superuser,
                )
                user.set_password(PASSWORD)
                user.save()
                added["users"] += 1
            user.groups.set([roles[r] for r in user_roles])
            users[username] = user
        say(f"{len(users)} users")

        for name, members in GROUPS.items():
            group, created = UserGroup.objects.get_or_create(name=name)
            added["groups"] += created
            for username in members:
                UserGroupMembership.objects.get_or_create(group=group, user=users[username])
        for name in AREAS:
            added["areas"] += CoachingArea.objects.get_or_create(name=name)[1]
        say(f"{len(GROUPS)} user groups, {len(AREAS)} coaching areas")

        added["cases"], added["evaluations"] = _cases_and_evaluations(
            users, generated=GENERATED_CASES if extras else 0
        )
        say(f"cases and evaluations (+{added['cases']} cases, +{added['evaluations']} evaluations)")

    # Sample sessions go through the services so they carry their audit trail and notifications.
    if extras and not CoachingSession.objects.filter(title__startswith="Demo: ").exists():
        added["sessions"] = _sample_sessions(users)
    say(f"sample coaching sessions (+{added['sessions']})")
    if extras:
        added["rules"] = _coaching_rules(users)
        say(f"coaching rules (+{added['rules']})")
    refresh_effect_windows()  # the evaluations above were written directly, not ingested
    return added


def _cases_and_evaluations(users: dict[str, User], *, generated: int) -> tuple[int, int]:
    rng = random.Random(DEMO_SEED)
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    areas = list(CoachingArea.objects.filter(name__in=AREAS).order_by("name"))
    agents = ["alice.agent", "bob.agent", "dan.agent"]
    specs: dict[str, tuple[str, list[tuple[str, str]]]] = dict(CASES)
    for i in range(generated):
        number = f"CASE-{1003 + i}"
        picked = rng.sample(agents, k=rng.choice([1, 1, 2]))
        parts: list[tuple[str, str]] = [(a, ParticipantRole.AGENT) for a in picked]
        if rng.random() < 0.6:
            parts.append(("audrey.auditor", ParticipantRole.AUDITOR))
        specs[number] = (rng.choice(SUBJECTS), parts)

    # Each agent has a typical level per area, so the charts tell a story (Dan struggles with
    # Compliance, Alice with Empathy early on and improving).
    level = {
        ("alice.agent", "Empathy"): 62,
        ("alice.agent", "Compliance"): 88,
        ("bob.agent", "Product Knowledge"): 70,
        ("dan.agent", "Compliance"): 58,
    }
    new_cases = new_evals = 0
    for index, (number, (subject, parts)) in enumerate(sorted(specs.items())):
        opened = now - timedelta(days=88 - index * 2, hours=rng.randint(0, 10))
        case, created = Case.objects.get_or_create(
            number=number,
            defaults={
                "subject": subject,
                "opened_at": opened,
                "channel": rng.choice(["voice", "chat", "email"]),
            },
        )
        new_cases += created
        for username, role in parts:
            CaseParticipant.objects.get_or_create(
                case=case, user=users[username], defaults={"role": role}
            )
        if not generated or case.evaluations.exists():
            continue
        for username, role in parts:
            if role != ParticipantRole.AGENT:
                continue
            for area in areas:
                base = level.get((username, area.name), 78)
                trend = index * (0.4 if username == "alice.agent" else 0.1)
                score = max(0, min(100, round(base + trend + rng.gauss(0, 7))))
                Evaluation.objects.create(
                    source_id=f"demo-{case.number}-{username}-{area.pk}",
                    case=case,
                    agent=users[username],
                    coaching_area=area,
                    score=score,
                    evaluated_at=case.opened_at + timedelta(hours=rng.randint(2, 30)),
                    evaluator=users["audrey.auditor"],
                )
                new_evals += 1
    return new_cases, new_evals


def _sample_sessions(users: dict[str, User]) -> int:
    from coaching import services

    now = timezone.now()
    area = {a.name: a.pk for a in CoachingArea.objects.all()}
    group = {g.name: g for g in UserGroup.objects.all()}
    case = {c.number: c.pk for c in Case.objects.filter(number__in=["CASE-1001", "CASE-1002"])}
    u = users

    def suggest(
        author: str,
        title: str,
        coach: User | UserGroup,
        trainees: list[User | UserGroup],
        area_name: str,
        cases: list[int],
        origin: str,
        at: timedelta,
        expires: timedelta | None = None,
    ) -> CoachingSession:
        when = now - at
        return services.session_suggest(
            actor=u[author],
            fields=SessionFields(
                title=f"Demo: {title}",
                coach=PartyRef.of(coach),
                trainees=[PartyRef.of(t) for t in trainees],
                coaching_area_id=area[area_name],
                expires_at=(when + expires) if expires else None,
                reference_case_ids=cases,
            ),
            origin=origin,
            now=when,
        )

    count = 0
    # Open suggestions, for each homepage.
    suggest(
        "sam.supervisor",
        "Empathy on billing disputes",
        u["cora.coach"],
        [u["alice.agent"]],
        "Empathy",
        [case["CASE-1001"]],
        "case_analytics",
        timedelta(days=2),
    )
    suggest(
        "sam.supervisor",
        "Retention offers by the book",
        group["Coaching Team"],
        [u["dan.agent"]],
        "Compliance",
        [case["CASE-1002"]],
        "agent_analytics",
        timedelta(days=1),
    )
    suggest(
        "sue.supervisor",
        "Tier 1 product refresher",
        u["carl.coach"],
        [group["Tier 1"]],
        "Product Knowledge",
        [],
        "homepage",
        timedelta(hours=5),
    )
    count += 3
    # Scheduled.
    s = suggest(
        "sue.supervisor",
        "Call handling under pressure",
        u["cora.coach"],
        [u["bob.agent"]],
        "Call Handling",
        [case["CASE-1001"]],
        "homepage",
        timedelta(days=6),
    )
    services.session_schedule(
        actor=u["cora.coach"],
        session_id=s.pk,
        starts_at=now + timedelta(days=3, hours=2),
        duration_minutes=45,
        location="Coaching room 2",
        now=now - timedelta(days=5),
    )
    count += 1
    # Canceled, one of each reason.
    s = suggest(
        "sam.supervisor",
        "Greeting script",
        u["carl.coach"],
        [u["bob.agent"]],
        "Call Handling",
        [],
        "homepage",
        timedelta(days=10),
    )
    services.session_delete(actor=u["sam.supervisor"], session_id=s.pk, now=now - timedelta(days=9))
    s = suggest(
        "sue.supervisor",
        "Upsell wording",
        u["cora.coach"],
        [u["dan.agent"]],
        "Product Knowledge",
        [],
        "homepage",
        timedelta(days=8),
    )
    services.session_decline(
        actor=u["cora.coach"],
        session_id=s.pk,
        reason="Dan already attended this module last week",
        now=now - timedelta(days=7),
    )
    s = suggest(
        "sam.supervisor",
        "Hold music etiquette",
        u["carl.coach"],
        [u["alice.agent"]],
        "Call Handling",
        [],
        "homepage",
        timedelta(days=4),
    )
    services.session_decline(
        actor=u["alice.agent"],
        session_id=s.pk,
        reason="I am on leave for the next two weeks",
        now=now - timedelta(days=3),
    )
    s = suggest(
        "sue.supervisor",
        "Data protection basics",
        u["carl.coach"],
        [u["dan.agent"]],
        "Compliance",
        [],
        "homepage",
        timedelta(days=40),
        expires=timedelta(days=30),
    )
    services.session_expire(session_id=s.pk, now=now - timedelta(days=10))
    count += 4
    # After scheduling: an upcoming session for an agent's homepage, one canceled by the coach,
    # and held ones with notes, action items and acknowledgements (one still waiting for Bob's,
    # one for Dan's).
    s = suggest(
        "sam.supervisor",
        "Closing the call warmly",
        u["carl.coach"],
        [u["alice.agent"]],
        "Call Handling",
        [],
        "agent_analytics",
        timedelta(days=3),
    )
    services.session_schedule(
        actor=u["carl.coach"],
        session_id=s.pk,
        starts_at=_at(now + timedelta(days=1), 10),
        duration_minutes=30,
        location="Teams call",
        now=now - timedelta(days=2),
    )
    s = suggest(
        "sue.supervisor",
        "Escalation paths",
        u["carl.coach"],
        [u["dan.agent"]],
        "Compliance",
        [case["CASE-1002"]],
        "case_analytics",
        timedelta(days=12),
    )
    services.session_schedule(
        actor=u["carl.coach"],
        session_id=s.pk,
        starts_at=_at(now + timedelta(days=5), 14),
        duration_minutes=60,
        location="Coaching room 1",
        now=now - timedelta(days=11),
    )
    services.session_cancel(
        actor=u["carl.coach"],
        session_id=s.pk,
        reason="the compliance training next week covers it",
        now=now - timedelta(days=1),
    )
    held = now - timedelta(days=6)
    s = suggest(
        "sam.supervisor",
        "Refund empathy follow-up",
        u["cora.coach"],
        [group["Tier 1"]],
        "Empathy",
        [case["CASE-1001"]],
        "case_analytics",
        timedelta(days=14),
    )
    services.session_schedule(
        actor=u["cora.coach"],
        session_id=s.pk,
        starts_at=_at(held, 9),
        duration_minutes=45,
        location="Coaching room 2",
        now=now - timedelta(days=13),
    )
    services.session_complete(
        actor=u["cora.coach"],
        session_id=s.pk,
        notes=(
            "Listened to the CASE-1001 recording together. Alice and Bob named the moment the "
            "customer felt unheard and practised acknowledging the problem before the policy."
        ),
        action_items=[
            "Acknowledge the customer's problem in the first sentence",
            "Offer the refund options before explaining the policy",
        ],
        now=_at(held, 10),
    )
    services.session_acknowledge(
        actor=u["alice.agent"],
        session_id=s.pk,
        comment="Thanks, the opening line already works better.",
        now=_at(held + timedelta(days=1), 8),
    )
    s = suggest(
        "sue.supervisor",
        "Compliance wording for cancellations",
        u["carl.coach"],
        [u["dan.agent"]],
        "Compliance",
        [],
        "homepage",
        timedelta(days=9),
    )
    services.session_schedule(
        actor=u["carl.coach"],
        session_id=s.pk,
        starts_at=_at(now - timedelta(days=2), 15),
        duration_minutes=30,
        location="Teams call",
        now=now - timedelta(days=8),
    )
    services.session_complete(
        actor=u["carl.coach"],
        session_id=s.pk,
        notes="Went through the cancellation script; Dan will use the checklist on every call.",
        action_items=["Use the cancellation checklist"],
        now=_at(now - timedelta(days=2), 16),
    )
    count += 4
    count += _coaching_with_effect(users, now)
    return count


def _coaching_with_effect(users: dict[str, User], now: datetime) -> int:
    """Sessions held a month or more ago, amid the generated evaluations, so the session page,
    the agent's page and the coaching-effect report show a change before and after on first run
    (Alice's Empathy is improving, Dan's Compliance flat, Bob's Product Knowledge as it comes)."""
    from coaching import services

    area = {a.name: a.pk for a in CoachingArea.objects.all()}
    held = [
        ("sam.supervisor", "cora.coach", "alice.agent", "Empathy", "Empathy in refund calls", 46),
        ("sue.supervisor", "carl.coach", "dan.agent", "Compliance", "Compliance checklist", 40),
        ("sam.supervisor", "carl.coach", "bob.agent", "Product Knowledge", "Plan comparisons", 52),
    ]
    for author, coach, trainee, area_name, title, days_ago in held:
        start = _at(now - timedelta(days=days_ago), 9)
        session = services.session_suggest(
            actor=users[author],
            fields=SessionFields(
                title=f"Demo: {title}",
                coach=PartyRef.of(users[coach]),
                trainees=[PartyRef.of(users[trainee])],
                coaching_area_id=area[area_name],
            ),
            origin="agent_analytics",
            now=start - timedelta(days=5),
        )
        services.session_schedule(
            actor=users[coach],
            session_id=session.pk,
            starts_at=start,
            duration_minutes=45,
            location="Coaching room 1",
            allow_conflicts=True,
            now=start - timedelta(days=4),
        )
        services.session_complete(
            actor=users[coach],
            session_id=session.pk,
            notes=f"Worked through {area_name.lower()} examples from recent calls.",
            action_items=["Use the checklist from the session on every call"],
            now=start + timedelta(minutes=45),
        )
    return len(held)


def _at(day: datetime, hour: int) -> datetime:
    """That day at `hour`:00 UTC (a weekday morning or afternoon in the demo's zone)."""
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


# Two coaching rules. On the first load the first one fires for Dan, whose recent Call Handling
# scores average about 76 (a rule-made suggestion for the Coaching Team); the second would fire
# for Dan's Compliance scores too, but he already has an open Compliance session, so it skips him.
DEMO_RULES = [
    ("Call handling below 80", "Call Handling", 80, 5, 3, ("group", "Coaching Team"), 14),
    ("Compliance below 70", "Compliance", 70, 5, 3, ("user", "cora.coach"), 21),
]


def _coaching_rules(users: dict[str, User]) -> int:
    """The demo's coaching rules, each run once when it is created (so a second load changes
    nothing). Returns how many rules were added."""
    from qa.engine import run_rule
    from qa.models import CoachingRule

    added = 0
    for name, area, threshold, window, least, (kind, coach), days in DEMO_RULES:
        if CoachingRule.objects.filter(name=name).exists():
            continue
        rule = CoachingRule.objects.create(
            name=name,
            coaching_area=CoachingArea.objects.get(name=area),
            threshold=threshold,
            window=window,
            min_evaluations=least,
            coach_user=users[coach] if kind == "user" else None,
            coach_group=UserGroup.objects.get(name=coach) if kind == "group" else None,
            expires_in_days=days,
        )
        run_rule(rule.pk)
        added += 1
    return added
