"""A notice e-mail written by `NoticeEmail` reads, in any mail client, as the message Django would
have written: the same headers and text, non-ASCII encoded, nothing injected; the SMTP backend's
cached envelope addresses are Django's own and still refuse what Django refuses."""

from __future__ import annotations

import email.policy
from email import message_from_bytes
from email.message import EmailMessage as ParsedMessage

import pytest
from django.core.mail import EmailMessage
from django.core.mail.backends import smtp

from notifications.notice_mail import EmailBackend, NoticeEmail

SMTP = email.policy.SMTP

CASES = [
    {
        "subject": "Sam Supervisor suggested a coaching session. - Refund calls",
        "body": "Hello Carl Coach,\n\nOpen it: http://x/sessions/1/\n",
        "from_email": "Coaching <coaching@localhost>",
        "to": ["carl.coach@demo.example"],
    },
    {
        "subject": "Zoë Ångström suggested a coaching session. - Réclamations « urgentes » 🎧",
        "body": "Bonjour Zoë,\n\nÇa commence à 9 h — à bientôt.\n",
        "from_email": "Coaching Qualité <qualite@localhost>",
        "to": ["zoe@exämple.fr"],
    },
    {
        "subject": "A very long ASCII subject line " * 6,
        "body": "x" * 2000 + "\n.\nA line with a lone dot above.\n",
        "from_email": "coaching@localhost",
        "to": ["a@example.com", "B Person <b@example.com>"],
    },
]


def parsed(msg: EmailMessage) -> ParsedMessage:
    return message_from_bytes(msg.message(policy=SMTP).as_bytes(), policy=email.policy.default)


def build(cls: type[EmailMessage], case: dict, **headers: str) -> EmailMessage:
    return cls(**case, headers={"Message-ID": "<notification-7@coaching.local>", **headers})


@pytest.mark.parametrize("case", CASES, ids=["ascii", "non-ascii", "long"])
def test_a_notice_reads_as_djangos_message(case):
    ours, theirs = parsed(build(NoticeEmail, case)), parsed(build(EmailMessage, case))
    for name in ("Subject", "From", "To", "Message-ID", "MIME-Version"):
        assert str(ours[name]) == str(theirs[name]), name
    assert ours.get_content_type() == "text/plain"
    assert ours.get_content_charset() == "utf-8"
    assert ours.get_content().replace("\r\n", "\n") == theirs.get_content().replace("\r\n", "\n")
    assert ours["Date"] is not None and ours["Date"].datetime is not None
    assert str(ours["Subject"]) == " ".join(case["subject"].splitlines())


def test_on_the_wire_every_line_ends_in_crlf_and_fits_998():
    raw = build(NoticeEmail, CASES[2]).message(policy=SMTP).as_bytes()
    lines = raw.split(b"\r\n")
    assert b"\n" not in b"".join(lines)
    assert max(map(len, lines)) <= 998
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert max(map(len, head)) <= 78 or all(
        b" " not in line.strip() for line in head if len(line) > 78
    )


def test_a_title_with_a_line_break_injects_no_header():
    case = {**CASES[0], "subject": "Hi - Refunds\r\nBcc: victim@example.com\nX-Evil: 1"}
    msg = parsed(build(NoticeEmail, case))
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert str(msg["Subject"]) == "Hi - Refunds Bcc: victim@example.com X-Evil: 1"


def test_a_bcc_header_is_refused_as_django_refuses_it():
    with pytest.raises(ValueError, match="Bcc"):
        build(NoticeEmail, CASES[0], Bcc="x@example.com").message()


def test_a_message_with_an_attachment_is_djangos_own():
    msg = build(NoticeEmail, CASES[0])
    msg.attach("a.txt", "hello", "text/plain")
    out = parsed(msg)
    assert out.get_content_type() == "multipart/mixed"
    assert [p.get_filename() for p in out.iter_attachments()] == ["a.txt"]


@pytest.mark.parametrize(
    "address",
    ["coaching@localhost", "Coaching Qualité <qualite@localhost>", "zoe@exämple.fr", "webmaster"],
)
def test_envelope_addresses_are_djangos(address):
    # Neither reads its settings to work out an address: no connection settings needed.
    backend, django = object.__new__(EmailBackend), object.__new__(smtp.EmailBackend)
    assert backend.prep_address(address) == django.prep_address(address)
    assert backend.prep_address(address) == django.prep_address(address)  # cached the 2nd time


@pytest.mark.parametrize(
    "address", ["a@b.example\nBcc: c@d.example", "a@b, c@d", "zoë@example.com"]
)
def test_envelope_addresses_django_refuses_are_refused(address):
    backend = object.__new__(EmailBackend)
    for _ in range(2):
        with pytest.raises(ValueError):
            backend.prep_address(address)
