"""Browser tests: Playwright driving Debian's Chromium against pytest-django's live server.

One browser for the whole session, a fresh context (cookies) per test, login by session cookie.
A missing Chromium skips these tests with the reason, except in CI (CI=true) where it fails them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IN_CI = os.environ.get("CI") == "true"
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "artifacts" / "screenshots"
AXE_DIR = ROOT / "artifacts" / "axe"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 375, "height": 760}


def _chromium_missing() -> str | None:
    if not os.path.exists(CHROMIUM) or not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set $CHROMIUM)"
    return None


@pytest.fixture(autouse=True)
def _require_chromium() -> None:
    reason = _chromium_missing()
    if reason:
        if IN_CI:
            pytest.fail(f"browser tests need Chromium in CI: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if _chromium_missing():
        yield None
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class PageProblems:
    """JavaScript errors and CSP violations seen while a test ran; each test ends with none."""

    def __init__(self) -> None:
        self.items: list[str] = []

    # htmx reports a request it aborted itself (a newer one replaced it, or its element left the
    # page: the duplicate warning asked again as the person kept typing) as these two errors;
    # a failed request still shows as `htmx:sendError`, `htmx:responseError`, `htmx:timeout`.
    ABORTED = ("htmx:afterRequest, ", "htmx:sendAbort, ")

    def console(self, msg: Any) -> None:
        text = msg.text
        if text.startswith(self.ABORTED):
            return
        if msg.type == "error" and (
            "Content Security Policy" in text or "Refused to" in text or "htmx" in text.lower()
        ):
            self.items.append(f"{text} at {msg.location}")

    def error(self, err: Any) -> None:
        self.items.append(f"page error: {err}")


@pytest.fixture
def new_page(browser, live_server) -> Iterator[Callable[..., Any]]:
    """`new_page(user, viewport=DESKTOP)` -> a Playwright page signed in as `user` (or anonymous
    with user=None), its base URL in `page.base`."""
    contexts = []
    problems = PageProblems()

    def make(user=None, viewport: dict[str, int] | None = None):
        context = browser.new_context(viewport=viewport or DESKTOP, locale="en-GB")
        context.set_default_timeout(8000)
        if user is not None:
            client = Client()
            client.force_login(user)
            context.add_cookies(
                [
                    {
                        "name": "sessionid",
                        "value": client.cookies["sessionid"].value,
                        "url": live_server.url,
                    }
                ]
            )
        contexts.append(context)
        page = context.new_page()
        page.on("console", problems.console)
        page.on("pageerror", problems.error)
        page.base = live_server.url
        return page

    yield make
    for context in contexts:
        context.close()
    assert not problems.items, "JavaScript errors or CSP violations:\n" + "\n".join(problems.items)


def go(page: Any, path: str) -> None:
    page.goto(page.base + path)


def snap(page: Any, name: str, *, full_page: bool = True) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    # caret="initial": hiding the caret makes Playwright leave style attributes on inputs, which
    # htmx would then copy while settling (and the CSP rightly refuses).
    page.screenshot(path=str(path), full_page=full_page, caret="initial")
    return path


def check_a11y(page: Any, name: str) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now; fail on any serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    violations = results.response["violations"]
    AXE_DIR.mkdir(parents=True, exist_ok=True)
    (AXE_DIR / f"{name}.json").write_text(json.dumps(violations, indent=2))
    bad = [v for v in violations if v.get("impact") in ("serious", "critical")]
    report = "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} -> "
        + "; ".join(n["target"][0] if n["target"] else "?" for n in v["nodes"][:5])
        for v in bad
    )
    assert not bad, f"axe found serious/critical problems on {name}:\n{report}"
    return violations


def pick(page: Any, field_id: str, query: str, option: str) -> None:
    """Use a typeahead: type, wait for the server's matches, click the one named `option`."""
    box = page.locator(f"#{field_id}")
    box.fill("")
    box.press_sequentially(query, delay=20)
    match = page.locator(f"#{field_id}-listbox [role=option]", has_text=option).first
    match.wait_for(state="visible")
    match.click()
    chips = page.locator(f"#{field_id}").locator(
        "xpath=ancestor::*[@data-picker][1]//li[@data-token]"
    )
    chips.filter(has_text=option).first.wait_for(state="visible")


def settled(page: Any) -> None:
    """Wait until the open dialog has taken the focus. Once an htmx swap settles, the page moves
    the focus into the new content (the first field in error, or the first field); keys pressed
    or text typed before that moment could land in the field it leaves."""
    from playwright.sync_api import expect

    expect(page.locator("#modal[open] :focus")).to_have_count(1)


def mark_page(page: Any) -> None:
    """Tag the loaded document; `same_page` later tells whether the browser reloaded it."""
    page.evaluate("window.__noReload = 'yes'")


def same_page(page: Any) -> bool:
    return page.evaluate("window.__noReload") == "yes"


def text_of(locator: Any) -> str:
    return re.sub(r"\s+", " ", locator.inner_text()).strip()
