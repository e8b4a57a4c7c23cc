"""How to reach a customer: the e-mail address, checked once for every way it enters (order
placement, "notify me" sign-ups).

An address is stored and mailed to, so it must be one: a syntax check by ``email-validator``
(no DNS look-up: that is I/O, and a valid address of a domain that is down is still the
customer's). It refuses what a bare ``"@" in value`` let through: line breaks (a ``Bcc:``
header smuggled into the ``To:`` line), markup such as ``<script>``, NUL characters, quoted
local parts and special-use domains (``.test``, ``.local``, ``localhost``).
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

MAX_EMAIL_LENGTH = 320


def normalise_email(raw: str) -> str | None:
    """The address, checked (syntax only: no DNS) and lower-cased; None when it is not one."""
    value = raw.strip()
    if not value or len(value) > MAX_EMAIL_LENGTH:
        return None
    try:
        checked = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return None
    email = checked.normalized.lower()
    return email if len(email) <= MAX_EMAIL_LENGTH else None
