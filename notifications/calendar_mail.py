"""The calendar part of a notification e-mail.

An invitation travels as multipart/alternative: the plain-text notice and the iCalendar message as
`text/calendar; method=REQUEST` (or CANCEL). That is the shape Outlook, Google Calendar and Apple
Mail recognise as an invitation (they show Add/Update/Remove instead of an attachment). Django
writes `text/calendar` alternatives without the `method` parameter, so this message adds it.
"""

from __future__ import annotations

import email.policy
from email.message import EmailMessage as PyEmailMessage
from typing import Any

from django.core.mail import EmailMessage, EmailMultiAlternatives

ICS_MIMETYPE = "text/calendar"


class CalendarEmail(EmailMultiAlternatives):
    def __init__(self, *args: Any, calendar_method: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calendar_method = calendar_method

    def message(self, *, policy: Any = email.policy.default) -> PyEmailMessage:
        msg = super().message(policy=policy)
        for part in msg.walk():
            if part.get_content_type() == ICS_MIMETYPE:
                part.set_param("method", self.calendar_method)
        return msg


def with_calendar(msg: EmailMessage, *, ics: str, method: str) -> EmailMessage:
    """`msg` with the iCalendar text as its calendar alternative."""
    out = CalendarEmail(
        subject=msg.subject,
        body=msg.body,
        from_email=msg.from_email,
        to=msg.to,
        headers=msg.extra_headers,
        calendar_method=method,
    )
    out.attach_alternative(ics, ICS_MIMETYPE)
    return out
