"""Statement and lock timeouts of warehouse sessions, per statement kind. Pure, no I/O.

Every warehouse session is opened for one kind of work and bounded accordingly, so that one stuck
statement or one lock wait cannot hold a task (and its pool slot) forever:

========= ================= ============ ===================================================
kind      statement_timeout lock_timeout used by
========= ================= ============ ===================================================
write     5min              1min         readings writes, metadata upserts, status, bookkeeping
refresh   30min             2min         ``REFRESH MATERIALIZED VIEW CONCURRENTLY``
migration 15min             30s          migrations and view builds (DDL: a long lock wait
                                         would queue every reader behind the DDL's lock)
check     10min             30s          validation checks
read      10min             30s          the weekly report (read-only snapshot)
========= ================= ============ ===================================================

Connection extra ``timeouts`` overrides them per kind, e.g.
``{"timeouts": {"refresh": {"statement_timeout": "1h"}, "write": {"lock_timeout": "10s"}}}``.
Values are PostgreSQL durations: an integer (milliseconds) or an integer with ``ms``, ``s``,
``min``, ``h`` or ``d``; ``0`` disables the bound (not recommended).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

Kind = Literal["write", "refresh", "migration", "check", "read"]
KINDS: tuple[Kind, ...] = ("write", "refresh", "migration", "check", "read")
EXTRA_KEY = "timeouts"  # connection extra holding the per-kind overrides
SETTINGS = ("statement_timeout", "lock_timeout")
_DURATION = re.compile(r"^\d+(ms|s|min|h|d)?$")


class TimeoutConfigError(ValueError):
    """The connection extra ``timeouts`` is malformed; the message names the bad entry."""


@dataclass(frozen=True, slots=True)
class SessionTimeouts:
    """The two bounds of one session, as PostgreSQL duration strings."""

    statement_timeout: str
    lock_timeout: str

    def options(self) -> str:
        """The libpq ``options`` string that sets both at connect time (no extra round trip)."""
        return f"-c statement_timeout={self.statement_timeout} -c lock_timeout={self.lock_timeout}"


DEFAULTS: dict[str, SessionTimeouts] = {
    "write": SessionTimeouts("5min", "1min"),
    "refresh": SessionTimeouts("30min", "2min"),
    "migration": SessionTimeouts("15min", "30s"),
    "check": SessionTimeouts("10min", "30s"),
    "read": SessionTimeouts("10min", "30s"),
}


def _duration(kind: str, name: str, value: Any) -> str:
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if not _DURATION.match(text):
        raise TimeoutConfigError(
            f"connection extra {EXTRA_KEY}.{kind}.{name} = {value!r} is not a PostgreSQL duration "
            "(an integer of milliseconds, or e.g. '30s', '5min', '1h')"
        )
    return text


def timeouts_for(kind: str, extra: Mapping[str, Any] | None = None) -> SessionTimeouts:
    """The timeouts of ``kind``: the defaults, overridden by connection extra ``timeouts``."""
    if kind not in DEFAULTS:
        raise TimeoutConfigError(f"unknown statement kind {kind!r}; expected one of {', '.join(KINDS)}")
    chosen = DEFAULTS[kind]
    overrides = (extra or {}).get(EXTRA_KEY)
    if overrides is None:
        return chosen
    if not isinstance(overrides, Mapping):
        raise TimeoutConfigError(f"connection extra {EXTRA_KEY} must be an object by kind, got {overrides!r}")
    unknown = sorted(set(overrides) - set(KINDS))
    if unknown:
        raise TimeoutConfigError(f"connection extra {EXTRA_KEY} names unknown kind(s) {unknown}")
    mine = overrides.get(kind) or {}
    if not isinstance(mine, Mapping) or set(mine) - set(SETTINGS):
        raise TimeoutConfigError(
            f"connection extra {EXTRA_KEY}.{kind} must be an object with {' and/or '.join(SETTINGS)}, got {mine!r}"
        )
    return replace(chosen, **{name: _duration(kind, name, value) for name, value in mine.items()})


def session_options(kind: str, extra: Mapping[str, Any] | None = None) -> str:
    """libpq ``options`` of a ``kind`` session: the connection's own ``options`` extra, then ours."""
    own = str((extra or {}).get("options") or "").strip()
    ours = timeouts_for(kind, extra).options()
    return f"{own} {ours}" if own else ours
