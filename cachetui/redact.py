"""Every secret this process holds, and a function that blanks them out of any text.

A registry's error body can quote the request's ``Authorization`` header, a token server can
echo a refresh token, a proxy can print a URL with a password: text from outside is not trusted to
be clean. Whoever loads a credential calls :func:`remember`; every error message passes through
:func:`redact` (``CachetuiError.__str__``) before it can be printed, logged or shown in the TUI.
The encoded forms a secret travels in (Basic ``user:password`` base64, plain base64 of the secret,
URL and JSON escapes) are blanked too.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from typing import Final
from urllib.parse import quote, quote_plus

MASK: Final = "[redacted]"
MIN_LENGTH: Final = 4
"""Shorter "secrets" (an empty or one-letter password) would blank ordinary words."""

_lock = threading.Lock()
_forms: set[str] = set()
_pattern: re.Pattern[str] | None = None


def _encoded_forms(secret: str) -> set[str]:
    raw = secret.encode()
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1],
             base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    # Unpadded base64 too: a secret inside a longer encoded string keeps its prefix's form.
    forms |= {form.rstrip("=") for form in list(forms)}
    return {form for form in forms if len(form) >= MIN_LENGTH}


def remember(*secrets: str | None) -> None:
    """Blank ``secrets`` (and their encoded forms) from all text redacted from now on."""
    global _pattern
    new: set[str] = set()
    for secret in secrets:
        if secret and len(secret) >= MIN_LENGTH:
            new |= _encoded_forms(secret)
    with _lock:
        if new <= _forms:
            return
        _forms.update(new)
        ordered = sorted(_forms, key=len, reverse=True)  # longest first: no partial leftovers
        _pattern = re.compile("|".join(re.escape(form) for form in ordered))


def remember_login(username: str | None, password: str | None) -> None:
    """A user name and password as they travel in ``Authorization: Basic``."""
    if password:
        basic = f"{username or ''}:{password}"
        remember(password, basic)
        remember(base64.b64encode(basic.encode()).decode())


def redact(text: str) -> str:
    """``text`` with every remembered secret replaced by ``[redacted]``."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


def forget_all() -> None:
    """For tests: start from a process that holds nothing."""
    global _pattern
    with _lock:
        _forms.clear()
        _pattern = None
