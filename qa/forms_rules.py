"""The rules page's form text into the services' input (no rules: those are `qa.rules`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict

from core.errors import FieldCode, FieldError
from directory.parties import PartyRef

from .models import CoachingRule
from .rules import RuleFields, validate_rule_fields

RULE_FIELDS = (
    "name",
    "coaching_area_id",
    "threshold",
    "window",
    "min_evaluations",
    "coach",
    "expires_in_days",
)
NUMBERS = {
    "coaching_area_id": "Pick a coaching area.",
    "threshold": "Enter the threshold as a whole number from 0 to 100.",
    "window": "Enter the number of evaluations as a whole number.",
    "min_evaluations": "Enter the minimum as a whole number.",
    "expires_in_days": "Enter the number of days as a whole number.",
}


@dataclass
class RuleForm:
    data: dict[str, Any]
    fields: RuleFields
    errors: list[FieldError] = field(default_factory=list)


def _number(raw: str, name: str, errors: list[FieldError]) -> int | None:
    """A whole number, or None when blank (the rules then say it is required)."""
    text = raw.strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 9:
        errors.append(FieldError(name, FieldCode.INVALID, NUMBERS[name]))
        return None
    return int(text)


def parse_rule_form(post: QueryDict) -> RuleForm:
    """What the QM Admin typed, and what it means (a blank number is None: the rules say it is
    required)."""
    errors: list[FieldError] = []
    data: dict[str, Any] = {name: post.get(name, "") for name in RULE_FIELDS}
    data["active"] = post.get("active") == "on"
    numbers = {name: _number(data[name], name, errors) for name in NUMBERS}
    coach = None
    if data["coach"]:
        try:
            coach = PartyRef.parse(data["coach"])
        except ValueError:
            errors.append(FieldError("coach", FieldCode.INVALID, "Pick a coach from the list."))
    fields = RuleFields(
        name=data["name"],
        coaching_area_id=numbers["coaching_area_id"],
        threshold=numbers["threshold"],
        window=numbers["window"],
        min_evaluations=numbers["min_evaluations"],
        coach=coach,
        expires_in_days=numbers["expires_in_days"],
        active=data["active"],
    )
    return RuleForm(data=data, fields=fields, errors=errors)


def values_of(rule: CoachingRule | None) -> dict[str, Any]:
    """The form's starting values: the rule's, or a new rule's defaults."""
    if rule is None:
        return {
            "name": "",
            "coaching_area_id": "",
            "threshold": "70",
            "window": "5",
            "min_evaluations": "3",
            "coach": "",
            "expires_in_days": "14",
            "active": True,
        }
    return {
        "name": rule.name,
        "coaching_area_id": str(rule.coaching_area_id),
        "threshold": str(rule.threshold),
        "window": str(rule.window),
        "min_evaluations": str(rule.min_evaluations),
        "coach": PartyRef.of(rule.coach).token,
        "expires_in_days": str(rule.expires_in_days),
        "active": rule.active,
    }


def with_rule_errors(form: RuleForm, *, current: CoachingRule | None) -> list[FieldError]:
    """When the form cannot go to the service (a value did not parse), still show every error
    at once: what did not parse, then the rules' errors for the other fields."""
    _, rule_errors = validate_rule_fields(form.fields, current=current, complete=True)
    parsed = {e.field for e in form.errors}
    return form.errors + [e for e in rule_errors if e.field not in parsed]
