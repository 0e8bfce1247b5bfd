"""The checks a common-sql check operator expresses, made to record their result.

``SQLTableCheckOperator`` (duplicates, voltage band), ``SQLColumnCheckOperator`` (value ranges) and
``SQLCheckOperator`` (mv_hourly_usage staleness) keep their own check logic and OpenLineage
facets; the recording mixin turns "the check did not hold" into a ``fail`` row of
``validation_results`` with the channels and days (from the check's details query) instead of a
task failure, exactly like the Python checks. A database error still fails the task (retried).

Window: these operators take no bound parameters, so their ``partition_clause`` is written in
``execute`` from the run's ``as_of`` (``tasks.run_info``: the data interval's end, or ``run_after``
for a run without a logical date: manual, REST ``logical_date: null``, asset-triggered) and the
validated integer ``lookback_days``; nothing user-typed reaches the SQL text, and no template
names a context key that such a run lacks.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from airflow.providers.common.sql.operators.sql import (
    SQLCheckOperator,
    SQLColumnCheckOperator,
    SQLTableCheckOperator,
)

from argo_energy.dag_defaults import task_timeout
from argo_energy.settings import ENERGY_CONN_ID
from argo_energy.sitetime import SLOT_SECONDS
from argo_energy.validation.checks import CHECKS_BY_NAME, VOLTAGE_MAX_V, VOLTAGE_MIN_V
from argo_energy.validation.config import ValidationConfig
from argo_energy.validation.results import FAIL, PASS, CheckResult
from argo_energy.validation.scope import data_window
from argo_energy.validation.store import RunInfo
from argo_energy.validation.tasks import (
    CheckFailed,
    connect,
    execute_check,
    run_config,
    run_info,
)
from argo_energy.warehouse.connection import hook_params

if TYPE_CHECKING:
    from airflow.sdk import Context

# Placeholder until execute() knows the run: window_clause() replaces it (see the module docstring).
WINDOW_CLAUSE = "FALSE /* window bound in execute() */"


def window_clause(as_of: datetime, lookback_days: int) -> str:
    """``[as_of - lookback_days, as_of)`` on ``"timestamp"``; both values typed (a datetime, an int)."""
    if not isinstance(lookback_days, int) or isinstance(lookback_days, bool):
        raise TypeError(f"lookback_days must be an int, got {lookback_days!r}")
    stamp = as_of.astimezone(UTC).isoformat()
    return (f"\"timestamp\" >= TIMESTAMPTZ '{stamp}' - make_interval(days => {lookback_days})"
            f" AND \"timestamp\" < TIMESTAMPTZ '{stamp}'")
# The metering slot of sitetime.SLOT on the UTC epoch grid, as the SQL check statements bin it.
SLOT_BIN = f"date_bin('{SLOT_SECONDS} seconds', \"timestamp\", TIMESTAMPTZ '2000-01-01 00:00:00+00')"


_Op = TypeVar("_Op", bound="_RecordedCheck")


class _RecordedCheck:
    """Mixin for a common-sql check operator: record pass/fail like the Python checks do."""

    check_name: str

    def _raise_exception(self, exception_string: str) -> NoReturn:
        raise CheckFailed(exception_string)

    def bind(self, run: RunInfo, cfg: ValidationConfig) -> None:
        """Set the window from the run (not Jinja); operators with bound parameters set those too.

        The table and column operators build ``sql`` from ``partition_clause`` in ``__init__``, so
        the placeholder is replaced in the built statement too: setting ``partition_clause`` alone
        left ``WHERE FALSE`` in the query and every such check passed on zero rows.
        """
        if hasattr(self, "partition_clause"):  # the table and column checks
            clause = window_clause(run.as_of, cfg.lookback_days)
            sql = getattr(self, "sql")  # noqa: B009
            if not isinstance(sql, str) or WINDOW_CLAUSE not in sql:
                raise RuntimeError(f"{self.check_name}: the check statement has no window placeholder to bind")
            setattr(self, "partition_clause", clause)  # noqa: B010
            setattr(self, "sql", sql.replace(WINDOW_CLAUSE, clause))  # noqa: B010

    def execute(self, context: Context) -> dict[str, Any]:
        run, cfg = run_info(context), run_config(context)
        self.bind(run, cfg)
        spec = CHECKS_BY_NAME[self.check_name]
        window = data_window(run.as_of, cfg.mv_compare_days if self.check_name == "mv_staleness"
                             else cfg.lookback_days)

        def judge() -> CheckResult:
            try:
                super(_RecordedCheck, self).execute(context)  # type: ignore[misc]
            except CheckFailed as failed:
                findings = spec.details(conn, cfg, run.as_of) if spec.details else []
                reason = next((line for line in str(failed).splitlines() if line.strip()), "check failed")
                return CheckResult(
                    self.check_name, spec.severity, FAIL,
                    message=f"{spec.summary}: does not hold ({len(findings)} finding(s)); operator said: {reason}",
                    failed_count=len(findings), findings=tuple(findings),
                    window_start=window[0], window_end=window[1],
                )
            return CheckResult(self.check_name, spec.severity, PASS, message=spec.summary,
                               window_start=window[0], window_end=window[1])

        with closing(connect(ENERGY_CONN_ID, "check")) as conn:
            result = execute_check(conn, run, cfg, self.check_name, judge)
        return {"check": result.check_name, "status": result.status, "failed_count": result.failed_count}


# Each concrete class defines __init__ itself: Airflow's operator metaclass wraps (default_args,
# partial/expand support) only an __init__ found in the class body, never one inherited from a mixin.


class RecordedTableCheckOperator(_RecordedCheck, SQLTableCheckOperator):
    """``SQLTableCheckOperator`` that records its result in ``validation_results``."""

    def __init__(self, *, check_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check_name = check_name


class RecordedColumnCheckOperator(_RecordedCheck, SQLColumnCheckOperator):
    """``SQLColumnCheckOperator`` that records its result in ``validation_results``."""

    def __init__(self, *, check_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check_name = check_name


class RecordedSQLCheckOperator(_RecordedCheck, SQLCheckOperator):
    """``SQLCheckOperator`` that records its result; its parameters are bound from the run."""

    def __init__(self, *, check_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check_name = check_name

    def bind(self, run: RunInfo, cfg: ValidationConfig) -> None:
        self.parameters = {"as_of": run.as_of, "days": cfg.mv_compare_days}


def _check(cls: Callable[..., _Op], name: str, kwargs: dict[str, Any], **definition: Any) -> _Op:
    """An operator for check ``name``: task ``check_<name>`` on ``energy_db`` unless overridden."""
    kwargs.setdefault("task_id", f"check_{name}")
    kwargs.setdefault("conn_id", ENERGY_CONN_ID)
    kwargs.setdefault("hook_params", hook_params("check"))
    kwargs.setdefault("execution_timeout", task_timeout("check"))
    return cls(check_name=name, **definition, **kwargs)


def duplicates_check(table: str = "readings", **kwargs: Any) -> RecordedTableCheckOperator:
    """One reading per (channel, timestamp) and per (channel, 15-minute slot) in the window."""
    return _check(RecordedTableCheckOperator, "duplicates", kwargs, table=table, partition_clause=WINDOW_CLAUSE,
                  checks={
                      "unique_channel_timestamp": {
                          "check_statement": 'COUNT(*) = COUNT(DISTINCT (channel_id, "timestamp"))'},
                      "one_reading_per_slot": {
                          "check_statement": f"COUNT(*) = COUNT(DISTINCT (channel_id, {SLOT_BIN}))"},
                  })


def value_ranges_check(table: str = "readings", **kwargs: Any) -> RecordedColumnCheckOperator:
    """No negative energy or power; power factor within [-1, 1] (NULL = not measured, not judged)."""
    return _check(RecordedColumnCheckOperator, "value_ranges", kwargs, table=table,
                  partition_clause=WINDOW_CLAUSE,
                  column_mapping={
                      "energy_kwh": {"min": {"geq_to": 0}},
                      "power_kw": {"min": {"geq_to": 0}},
                      "power_factor": {"min": {"geq_to": -1}, "max": {"leq_to": 1}},
                  })


def voltage_band_check(table: str = "readings", **kwargs: Any) -> RecordedTableCheckOperator:
    """Voltage within the band while the channel draws power (0 V at 0 kW is an outage, not a fault)."""
    out_of_band = f"power_kw > 0 AND (voltage_v < {VOLTAGE_MIN_V:g} OR voltage_v > {VOLTAGE_MAX_V:g})"
    return _check(RecordedTableCheckOperator, "voltage_band", kwargs, table=table,
                  partition_clause=WINDOW_CLAUSE,
                  checks={"voltage_in_band_under_load": {
                      "check_statement": f"COUNT(*) FILTER (WHERE {out_of_band}) = 0"}})


def mv_staleness_check(**kwargs: Any) -> RecordedSQLCheckOperator:
    """mv_hourly_usage equals a fresh hourly aggregate of the clean readings over mv_compare_days."""
    return _check(RecordedSQLCheckOperator, "mv_staleness", kwargs, sql="validation/mv_staleness.sql")


# The checks that a common-sql operator runs, by check name: factory of task ``check_<name>``.
OPERATOR_CHECKS: dict[str, Callable[..., SQLCheckOperator | SQLColumnCheckOperator | SQLTableCheckOperator]] = {
    "duplicates": duplicates_check,
    "value_ranges": value_ranges_check,
    "voltage_band": voltage_band_check,
    "mv_staleness": mv_staleness_check,
}
