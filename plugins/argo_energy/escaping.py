"""Escaping of text that came from outside (names typed in the Eniscope portal) at each sink. Pure.

Names reach Slack, CSV files opened in spreadsheets, matplotlib charts, HTML and email headers.
Each sink has its own rule (HTML uses ``html.escape`` at the point of rendering):

* ``clean_text``: control characters (a CR/LF splits an email header or a CSV row) and bidi
  overrides (text shown in another order than it reads) removed; applied when names enter the
  system (``eniscope.parsing``) and again to an email subject;
* ``slack_mrkdwn``: ``& < >`` as entities, so ``<!channel>`` or ``<https://evil|Re-enter password>``
  stay text (Slack: "Escaping text");
* ``csv_cell``: a cell that a spreadsheet would read as a formula (``= + - @``, tab, CR, other
  control characters first) gets a leading ``'`` (OWASP "CSV Injection");
* ``mathtext``: ``$`` escaped so that matplotlib draws the text literally instead of parsing math
  (an unbalanced or unknown ``$\\command$`` raises at save time).
"""

from __future__ import annotations

import re

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def clean_text(value: str) -> str:
    """``value`` without control characters and bidi overrides, runs of white space as one space."""
    return " ".join(CONTROL.sub(" ", value).split())


def slack_mrkdwn(value: object) -> str:
    """Text for a Slack mrkdwn message: ``&``, ``<`` and ``>`` as the entities Slack expects."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def csv_cell(value: str) -> str:
    """A text cell a spreadsheet will not execute: a leading ``'`` before a formula trigger."""
    stripped = value.lstrip(" ")
    if stripped and (stripped.startswith(_FORMULA_START) or CONTROL.match(stripped)):
        return "'" + value
    return value


def mathtext(value: str) -> str:
    """Text matplotlib draws as written: every ``$`` escaped (no mathtext parsing)."""
    return value.replace("$", r"\$")
