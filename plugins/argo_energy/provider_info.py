"""Provider metadata: registers the ``eniscope`` connection type with Airflow.

Declared through the ``apache_airflow_provider`` entry point in pyproject.toml (plugins cannot add
connection types). The form is declarative (``conn-fields`` / ``ui-field-behaviour``, Airflow 3.2+),
so the API server shows it without importing the hook; the Test button calls
``EniscopeHook.test_connection`` (enable it with ``AIRFLOW__CORE__TEST_CONNECTION=Enabled``).
"""

from __future__ import annotations

_OPTIONAL_NUMBERS = {
    "connect_timeout": ("Connect timeout (s)", "Seconds to wait for a TCP connection. Default 10."),
    "read_timeout": ("Read timeout (s)", "Seconds the server may stay silent during one socket read. Default 60."),
    "request_deadline": (
        "Request deadline (s)",
        "Wall-clock limit of one whole request, body included; a slower answer counts as a timeout "
        "and is retried. Default 120.",
    ),
    "max_response_mb": (
        "Max response size (MiB)",
        "Larger answers are refused as malformed after reading at most this much. Default 20.",
    ),
    "max_retries": ("Max retries", "Retries after the first attempt for timeouts, 429 and 5xx. Default 4."),
    "retry_wait_max": ("Max retry wait (s)", "Cap of the exponential backoff and of Retry-After. Default 60."),
    "requests_per_second": (
        "Requests per second",
        "The account's request budget, shared by every task on every worker (Eniscope limits the "
        "account, not a process): set it at or just below the account's limit (0 = unlimited). Default 5.",
    ),
    "burst": (
        "Burst",
        "Requests that may go back to back after a quiet spell (the bucket size, >= 1). Keep it at 1 "
        "unless the account's limit allows bursts. Default 1.",
    ),
    "budget_max_wait": (
        "Max wait for the budget (s)",
        "A request that would wait longer than this for its turn fails the attempt as transient, and "
        "the task's retry comes back later. Default 120.",
    ),
}


def get_provider_info() -> dict:
    conn_fields: dict = {
        "api_key": {
            "label": "API key",
            "description": "The X-Eniscope-API key issued by Best.Energy support (stored encrypted).",
            "schema": {"type": ["string", "null"], "format": "password"},
        },
    }
    for name, (label, description) in _OPTIONAL_NUMBERS.items():
        conn_fields[name] = {
            "label": label,
            "description": description,
            "schema": {"type": ["number", "null"], "minimum": 0},
        }
    conn_fields["budget_backend"] = {
        "label": "Budget store",
        "description": (
            "Where the shared request budget lives: postgres (the warehouse, default; table "
            "eniscope_request_budget of migration V008), redis, or process (each task paces itself: "
            "only for a single task at a time)."
        ),
        "schema": {"type": ["string", "null"], "enum": ["postgres", "redis", "process", None]},
    }
    conn_fields["budget_conn_id"] = {
        "label": "Budget connection id",
        "description": "Connection of the budget store. Default energy_db (postgres) or redis_default (redis).",
        "schema": {"type": ["string", "null"]},
    }
    conn_fields["allow_insecure_http"] = {
        "label": "Allow plain http",
        "description": (
            "The base URL must be https unless it is this machine (127.0.0.0/8, ::1, localhost). "
            "Tick only for a simulator on a private test network: credentials would travel unencrypted."
        ),
        "schema": {"type": ["boolean", "null"]},
    }
    return {
        "package-name": "argo-energy-airflow",
        "name": "Argo Energy (Eniscope)",
        "description": "Eniscope Core API hook of the Argo Energy data platform.",
        "versions": ["0.1.0"],
        "connection-types": [
            {
                "hook-class-name": "argo_energy.eniscope.hook.EniscopeHook",
                "hook-name": "Eniscope Core API",
                "connection-type": "eniscope",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {"host": "Base URL", "login": "Account email", "password": "Password"},
                    "placeholders": {
                        "host": "https://core.eniscope.com",
                        "login": "api@your-organisation.com",
                        "password": "plain password (the hook sends its MD5 as the API requires)",
                    },
                },
                "conn-fields": conn_fields,
            }
        ],
    }
