"""The stylesheet's colours against WCAG 2.2 AA, computed from static/css/app.css itself, so a
later colour change cannot quietly break a pairing (tests/contrast.py has the pairings)."""

from __future__ import annotations

import re

import pytest

from tests import contrast


def test_the_arithmetic_matches_wcag_examples() -> None:
    white, black = (255.0, 255.0, 255.0, 1.0), (0.0, 0.0, 0.0, 1.0)
    assert contrast.ratio(white, black) == pytest.approx(21.0)
    assert contrast.ratio(white, white) == pytest.approx(1.0)
    # #767676 is the lightest grey that reaches 4.5:1 on white; #777777 does not.
    assert contrast.ratio(contrast._parse("#767676"), white) >= 4.5
    assert contrast.ratio(contrast._parse("#777777"), white) < 4.5
    # Half-transparent black over white is #808080 (rounded).
    assert contrast.hex_of(contrast.over(contrast._parse("rgba(0,0,0,.5)"), white)) == "#808080"


def test_the_old_unread_count_would_be_caught() -> None:
    """White on #e5484d (the old unread count) is 3.91:1, below 4.5:1."""
    rules = contrast.stylesheet()
    rules[".bell-count"] = {**rules[".bell-count"], "background": "#e5484d"}
    badge = next(p for p in contrast.PAIRINGS if p.where.startswith("Unread count"))
    result = contrast.check(badge, rules)
    assert f"{result.ratio:.2f}" == "3.91" and not result.ok


def test_the_reader_sees_every_rule_of_the_stylesheet() -> None:
    """A rule the reader skipped would escape every check below."""
    css = re.sub(r"/\*.*?\*/", "", contrast.CSS.read_text(), flags=re.S)
    heads = {" ".join(h.split()) for h in re.findall(r"([^{}]+)\{", css)}
    keys = set(contrast.stylesheet())
    missed = [h for h in heads if not h.startswith("@") and not any(k.endswith(h) for k in keys)]
    assert not missed and len(keys) > 200


def test_every_pairing_meets_its_minimum() -> None:
    low = [
        f"{r.pairing.where}: {r.fg} on {r.bg} is {r.ratio:.2f}:1, needs {r.pairing.need:g}:1"
        for r in contrast.results()
        if not r.ok
    ]
    assert not low, "\n".join(low)


def test_every_colour_in_the_stylesheet_is_paired_or_said_to_be_decorative() -> None:
    missing = contrast.unclassified()
    assert not missing, (
        "colours with no contrast pairing in tests/contrast.py (add a Pairing, or a DECORATIVE "
        "entry saying why it carries no information):\n" + "\n".join(missing)
    )
    assert not contrast.unused_tokens()
    rules = contrast.stylesheet()
    stale = [(sel, prop) for sel, prop in contrast.DECORATIVE if prop not in rules.get(sel, {})]
    assert not stale, f"DECORATIVE names rules app.css no longer has: {stale}"


def test_the_documented_table_is_the_computed_one() -> None:
    text = contrast.DOC.read_text()
    start = text.index(contrast.TABLE_START) + len(contrast.TABLE_START)
    documented = text[start : text.index(contrast.TABLE_END)].strip()
    assert documented == contrast.table(contrast.results()), (
        "docs/accessibility.md is out of date: run .venv/bin/python -m tests.contrast"
    )
