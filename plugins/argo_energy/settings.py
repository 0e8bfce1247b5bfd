"""Names the deployment is configured by, once: connection ids, Variables, pools and DAG ids.

Also the parsing of what operators type into Variables and params (``ParamError`` and the id-list
parsers) and the three small accessors every task needs: read a Variable, look up a connection
that may be absent, and fail a task without retries. Alerts, report, validation and ingestion
import from here; nothing here imports them. Airflow is imported lazily (no work at parse time).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowFailException

# --- Airflow connections -------------------------------------------------------------------------
ENISCOPE_CONN_ID = "eniscope_default"  # the Eniscope Core API account (connection type ``eniscope``)
ENERGY_CONN_ID = "energy_db"  # the warehouse, as the role ingestion writes with
# The warehouse as its owner: migrations and view builds (DDL). Optional: when the connection is
# absent, owner_conn_id() falls back to ENERGY_CONN_ID (one role doing everything, as before).
OWNER_CONN_ID = "energy_db_owner"
READONLY_CONN_ID = "energy_db_readonly"  # the warehouse, read-only (the weekly report)
SMTP_CONN_ID = "smtp_default"  # alert and report e-mail
SLACK_CONN_ID = "slack_default"  # alert and report Slack webhook

# --- Airflow pools -------------------------------------------------------------------------------
ENISCOPE_POOL = "eniscope_api"  # every task that calls the Eniscope API

# --- Airflow Variables ---------------------------------------------------------------------------
SITES_VARIABLE = "eniscope_sites"  # JSON list of organisation ids; unset = every site with channels
BACKFILL_MAX_DAYS_VARIABLE = "eniscope_backfill_max_days"
# JSON overrides of the readings' plausibility limits (ingest/limits.py), e.g. {"power_kw": {"max": 20000}}
PLAUSIBILITY_LIMITS_VARIABLE = "eniscope_plausibility_limits"
VALIDATION_IGNORE_VARIABLE = "validation_ignore_channel_ids"
ALERT_EMAILS_VARIABLE = "alert_emails"
ALERTS_MUTED_VARIABLE = "alerts_muted"
REPORT_BUSINESS_HOURS_VARIABLE = "report_business_hours"
REPORT_EMAILS_VARIABLE = "report_emails"
REPORT_BASE_PATH_VARIABLE = "report_base_path"
# "true" lets the report read through ENERGY_CONN_ID (the writer) when READONLY_CONN_ID is absent;
# unset, the report refuses the writer credential and stops with a message naming both.
REPORT_ALLOW_WRITER_CONN_VARIABLE = "report_allow_writer_conn"
# Most readings_rejected rows stored per window (a positive integer); the rest are only counted.
REJECTS_PER_WINDOW_VARIABLE = "eniscope_max_rejects_per_window"

# --- DAG ids -------------------------------------------------------------------------------------
DAILY_SYNC_DAG_ID = "eniscope_daily_sync"
BACKFILL_DAG_ID = "eniscope_historical_backfill"
VALIDATION_DAG_ID = "eniscope_validation"
REPORT_DAG_ID = "eniscope_weekly_report"


class ParamError(ValueError):
    """A run parameter or a Variable is invalid; the message names the problem."""


def get_variable(name: str) -> Any:
    """The Variable ``name``, or None when it is not set."""
    from airflow.sdk import Variable

    return Variable.get(name, default=None)


def connection_or_none(conn_id: str) -> Connection | None:
    """The Airflow connection ``conn_id``, or None when it is not defined."""
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        return None


def owner_conn_id() -> str:
    """``OWNER_CONN_ID`` when that connection is defined, else ``ENERGY_CONN_ID`` (checked at call time)."""
    return OWNER_CONN_ID if connection_or_none(OWNER_CONN_ID) is not None else ENERGY_CONN_ID


def owner_conn_template() -> str:
    """``owner_conn_id()`` as a Jinja expression for a templated ``conn_id`` (decided at run time, not parse time)."""
    return f"{{{{ '{OWNER_CONN_ID}' if conn.get('{OWNER_CONN_ID}') else '{ENERGY_CONN_ID}' }}}}"


def parse_flag(raw: Any, name: str) -> bool:
    """A yes/no Variable: unset is False; ``true/false``, ``yes/no``, ``1/0`` (any case); else ``ParamError``."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return False
    text = str(raw).strip().lower()
    if text in ("true", "yes", "1", "on"):
        return True
    if text in ("false", "no", "0", "off"):
        return False
    raise ParamError(f"Variable {name} must be true or false, got {raw!r}")


def parse_positive_int(raw: Any, name: str) -> int | None:
    """A positive whole-number Variable; None when unset; ``ParamError`` otherwise."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    text = str(raw).strip()
    if not text.isdigit() or int(text) < 1:
        raise ParamError(f"Variable {name} must be a positive whole number, got {raw!r}")
    return int(text)


def rejects_per_window() -> int | None:
    """Variable ``REJECTS_PER_WINDOW_VARIABLE`` (None: the warehouse default); a bad value fails the task."""
    try:
        return parse_positive_int(get_variable(REJECTS_PER_WINDOW_VARIABLE), REJECTS_PER_WINDOW_VARIABLE)
    except ParamError as exc:
        raise fail(exc) from None


def fail(message: str | Exception) -> AirflowFailException:
    """An exception that fails the task at once: a bad parameter cannot get better with a retry."""
    from airflow.sdk.exceptions import AirflowFailException

    return AirflowFailException(str(message))


def _id_list(name: str, value: Any, problems: list[str]) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, str | int):
        return [value]
    if isinstance(value, list | tuple):
        return list(value)
    problems.append(f"{name} must be a list of ids, got {value!r}")
    return []


def parse_site_ids(value: Any, problems: list[str], name: str = "site_ids") -> tuple[str, ...]:
    """Organisation ids as strings (the API and the warehouse key them as text)."""
    out: list[str] = []
    for item in _id_list(name, value, problems):
        text = str(item).strip() if isinstance(item, str | int) and not isinstance(item, bool) else ""
        if not text:
            problems.append(f"{name} contains an invalid id {item!r}")
        elif text not in out:
            out.append(text)
    return tuple(out)


def parse_channel_ids(value: Any, problems: list[str], name: str = "channel_ids") -> tuple[int, ...]:
    """Channel ids as integers, in order, without repeats; problems are appended, not raised."""
    out: list[int] = []
    for item in _id_list(name, value, problems):
        if isinstance(item, int) and not isinstance(item, bool):
            number = item
        elif isinstance(item, str) and item.strip().isdigit():
            number = int(item.strip())
        else:
            problems.append(f"{name} contains {item!r}, which is not a channel id (an integer)")
            continue
        if number not in out:
            out.append(number)
    return tuple(out)


def parse_sites_variable(raw: str | None) -> tuple[str, ...] | None:
    """Variable ``eniscope_sites``: a JSON list of organisation ids; unset or empty means all sites."""
    if raw is None or not str(raw).strip():
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ParamError(
            f'Variable {SITES_VARIABLE} is not JSON ({exc.msg}); expected e.g. ["23271"]'
        ) from None
    if not isinstance(value, list):
        raise ParamError(f'Variable {SITES_VARIABLE} must be a JSON list of ids, e.g. ["23271"], got {raw!r}')
    problems: list[str] = []
    ids = parse_site_ids(value, problems, name=f"Variable {SITES_VARIABLE}")
    if problems:
        raise ParamError("; ".join(problems))
    return ids or None
