"""The MIME form of a notice e-mail, and an SMTP backend that reads each address once.

A notification's e-mail is one plain-text part with a few headers. Django writes every message
with the standard library's current e-mail API, which parses each header when it is set and
again when it is written, and its SMTP backend parses the sender's and each recipient's address
for every message: together 1.9 ms of CPU per notice, half of what a delivery worker spends on
one. A notice is written here with the library's older API (compat32), which stores what it is
given: 0.5 ms for the same bytes on the wire. Anything else (alternatives, attachments: the
calendar invitations) goes through Django as before.
"""

from __future__ import annotations

import email.policy
from email._policybase import Compat32
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, getaddresses, make_msgid
from functools import lru_cache
from typing import Any

from django.core.mail import EmailMessage
from django.core.mail.backends import smtp
from django.core.mail.utils import DNS_NAME

_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP  # readable in any client's source view; ASCII stays as it is


def _one_line(value: object) -> str:
    # A header value never spans lines on its own (an injected header would); folding is the
    # writer's job.
    return " ".join(str(value).splitlines())


def _header(value: object) -> Any:  # str | Header: what `Message.__setitem__` stores
    line = _one_line(str(value))
    return line if line.isascii() else Header(line, _UTF8)


class _NoticePolicy(Compat32):
    """compat32, except that an ASCII header that needs no folding is written as it is: the
    library wraps every header in a `Header` to fold it, which cost more than the rest of the
    message. No folding is needed when the line fits in 78 characters, nor for a value with no
    space to fold at (a Message-ID), which fits in the 998 every line must."""

    def _fold(self, name: str, value: Any, sanitize: bool) -> str:
        if isinstance(value, str) and value.isascii():
            width = len(name) + 2 + len(value)
            if width <= (self.max_line_length or 78) or (width <= 998 and " " not in value):
                return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)  # type: ignore[misc]


_NOTICE_POLICY = _NoticePolicy()


@lru_cache(maxsize=4096)
def _address_header(address: str) -> str:
    """`Name <local@domain>` with a non-ASCII name encoded, the domain in IDNA."""
    ((name, addr),) = getaddresses([_one_line(address)]) or [("", "")]
    local, _, domain = addr.rpartition("@")
    if domain and not domain.isascii():
        addr = f"{local}@{domain.encode('idna').decode('ascii')}"
    return formataddr((name, addr), charset=_UTF8)


class NoticeEmail(EmailMessage):
    """An `EmailMessage` for a plain-text notice: the same headers and body, written cheaply."""

    def message(self, *, policy: Any = email.policy.default) -> Any:
        if self.attachments or self.cc or self.reply_to:
            return super().message(policy=policy)
        msg: Message = MIMEText(self.body, "plain", _UTF8)  # type: ignore[arg-type]
        msg["Subject"] = _header(self.subject)
        msg["From"] = _address_header(str(self.extra_headers.get("From", self.from_email)))
        if self.to:
            msg["To"] = ", ".join(_address_header(a) for a in self.to)
        names = {name.lower() for name in self.extra_headers}
        if "date" not in names:
            msg["Date"] = formatdate(usegmt=True)
        if "message-id" not in names:
            msg["Message-ID"] = make_msgid(domain=DNS_NAME)
        for name, value in self.extra_headers.items():
            if name.lower() == "bcc":
                raise ValueError('Bcc is not a valid email header. Use the "bcc" argument.')
            if name.lower() not in {"from", "to", "cc", "reply-to"}:
                msg[name] = _header(value)
        # Written with the caller's line ending (CRLF on the wire) and line length.
        msg.policy = _NOTICE_POLICY.clone(
            linesep=policy.linesep, max_line_length=policy.max_line_length
        )
        return msg


@lru_cache(maxsize=65536)
def _prepared(address: str, force_ascii: bool) -> str:
    return smtp.EmailBackend.prep_address(None, address, force_ascii)  # type: ignore[arg-type]


class EmailBackend(smtp.EmailBackend):
    """Django's SMTP backend; each address's envelope form is worked out once per process (the
    sender is the same on every message, a recipient gets many)."""

    def prep_address(self, address: Any, force_ascii: bool = True) -> str:
        return _prepared(str(address), force_ascii)
