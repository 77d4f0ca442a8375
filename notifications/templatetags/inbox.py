"""The notifications page's rows, written in Python (`core.markup`): a page holds 30, and the
template engine spent about a quarter of a millisecond on each (three `{% url %}`, two `date`
filters, a `{% csrf_token %}`), more than the rest of the page together."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from core.markup import SHORT, csrf_field, esc, time_element, url_with_id
from notifications.models import Notification

register = template.Library()


def render_row(n: Notification, csrf: str) -> str:
    message = esc(n.message)
    unread = n.read_at is None
    hint = '<span class="visually-hidden">Unread. </span>' if unread else ""
    out = [
        f'    <li class="notification{" unread" if unread else ""}" data-notification-id="{n.pk}">\n'
        '      <span class="dot" aria-hidden="true"></span>\n'
        '      <div class="notification-body">\n'
        '        <p class="notification-message">'
        f'<a href="{url_with_id("notification_open", n.pk)}">{message}</a></p>\n'
        '        <p class="notification-meta">'
        f"{hint}“{esc(n.session.title)}” · {time_element(n.created_at, SHORT)}</p>\n"
        "      </div>\n"
    ]
    if unread:
        read = url_with_id("notification_read", n.pk)
        out.append(
            f'      <form method="post" action="{read}" hx-post="{read}" '
            'hx-target="#notification-list" hx-swap="outerHTML">\n'
            f'        {csrf}<button type="submit" class="btn btn-quiet btn-sm">Mark as read'
            f'<span class="visually-hidden">: {message}</span></button>\n'
            "      </form>\n"
        )
    out.append("    </li>\n")
    return "".join(out)


@register.simple_tag(takes_context=True)
def notification_rows(context: dict[str, Any], notifications: Iterable[Notification]) -> SafeString:
    csrf = csrf_field(context.get("csrf_token", ""))
    return mark_safe("".join(render_row(n, csrf) for n in notifications))  # noqa: S308 - escaped
