"""One redaction function for every error text that leaves a task: stored rows, XCom and alerts.

``redact(text)`` applies two layers:

1. Airflow's secrets masker (every value Airflow was told is secret: connection passwords, sensitive
   extras such as the Eniscope ``api_key``, and whatever the hook registered with ``mask_secret``).
   It is reached through ``airflow.sdk.log``, the module whose ``mask_secret`` Airflow documents for
   task code; its internal home is only a fallback.
2. Patterns for credentials the masker was never told about: the Eniscope API key header, tokens,
   ``Basic``/``Bearer`` authorisation values, ``key=value`` secrets and passwords in URLs and DSNs.

``masker_available()`` says whether layer 1 exists in this Airflow; alerts omit the error line
rather than send it with only the patterns applied (``alert_error``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import cache

log = logging.getLogger(__name__)

REPLACEMENT = "***"
WITHHELD = "error text withheld (Airflow's secrets masker is unavailable); see the task log"

# Names of secret fields (not secrets).
_SECRET_KEYS = "|".join((
    r"x-eniscope-api", r"x-eniscope-token", r"api[_-]?key", r"apikey", r"access[_-]?token",
    r"auth[_-]?token", r"token", r"secret", r"client[_-]?secret", r"passw(?:or)?d", r"pwd", r"authorization",
))
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Basic/Bearer <value> (case-sensitive: "basic meter" is not a credential)
    (re.compile(r"\b(Basic|Bearer)\s+[A-Za-z0-9+/=._~-]{6,}"), rf"\1 {REPLACEMENT}"),
    # scheme://user:password@host (URLs, SQLAlchemy and libpq URIs)
    (re.compile(r"\b([a-z][a-z0-9+.-]*://[^\s:/@]*):[^\s@/]+@", re.IGNORECASE), rf"\1:{REPLACEMENT}@"),
    # key=value, key: value, "key": "value", X-Eniscope-API: value (headers, query strings, DSNs, JSON)
    (
        re.compile(
            rf"""(?P<key>["']?\b(?:{_SECRET_KEYS})\b["']?\s*[:=]\s*)(?P<quote>["']?)(?!\*\*\*)[^\s"'&,;}}]+""",
            re.IGNORECASE,
        ),
        rf"\g<key>\g<quote>{REPLACEMENT}",
    ),
)


@cache
def _masker() -> Callable[[str], object] | None:
    """Airflow's ``redact``: the public ``airflow.sdk.log`` first, its internal home second."""
    try:
        from airflow.sdk.log import redact as masker
    except Exception:
        try:
            from airflow.sdk._shared.secrets_masker import redact as masker
        except Exception:
            return None
    return masker


def masker_available() -> bool:
    """Whether Airflow's secrets masker can be reached in this installation."""
    return _masker() is not None


def redact_patterns(text: str) -> str:
    """``text`` with the credential patterns replaced (layer 2 only; pure)."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact(text: str) -> str:
    """``text`` with every known secret and every credential pattern replaced by ``***``."""
    masker = _masker()
    if masker is not None:
        try:
            text = str(masker(text))
        except Exception:  # a masker failure must not leave the patterns unapplied
            log.warning("Airflow's secrets masker failed; applying the credential patterns only")
    return redact_patterns(text)


def redact_optional(text: str | None) -> str | None:
    """``redact`` for a nullable column: None stays None."""
    return None if text is None else redact(text)


def alert_error(text: str) -> str:
    """The error line an alert may carry: redacted, or ``WITHHELD`` when the masker is unavailable."""
    return redact(text) if masker_available() else WITHHELD
