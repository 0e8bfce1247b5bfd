"""What the tasks of ``eniscope_validation`` do; the DAG file only wires these.

Every check task records exactly one row in ``validation_results`` (pass, fail or error) and logs
its findings (channels and days); a finding never fails the check's own task. The ``evaluate``
task is the verdict: it fails the run when an error-severity check failed or a check could not
run, so the failure alert is one message per run that lists what failed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from datetime import UTC, date, datetime
from typing import Any

from argo_energy.settings import (
    BACKFILL_DAG_ID,
    ENERGY_CONN_ID,
    VALIDATION_IGNORE_VARIABLE,
    fail,
    get_variable,
    owner_conn_id,
)
from argo_energy.validation.checks import CHECK_NAMES, CHECKS_BY_NAME
from argo_energy.validation.config import ValidationConfig, config_from_params, parse_channel_id_list
from argo_energy.validation.days import plain_utc
from argo_energy.validation.healing import heal_run_id, plan_heal
from argo_energy.validation.results import ERROR, FAIL, CheckResult, summary_lines
from argo_energy.validation.store import (
    RunInfo,
    confirm_heal_requests,
    ensure_schema,
    forget_heal_requests,
    heal_requests_of,
    load_run_results,
    record_heal_requests,
    record_result,
)
from argo_energy.warehouse.connection import Connection
from argo_energy.warehouse.timeouts import Kind

# Task ids the verdict reads the self-healing outcome from (validation/dag_tasks.py names them so).
PLAN_HEAL_TASK = "plan_heal"
CONFIRM_HEAL_TASK = "confirm_heal"

log = logging.getLogger(__name__)


class CheckFailed(Exception):
    """A SQL check operator's check did not hold (raised instead of its AirflowException)."""


def connect(conn_id: str = ENERGY_CONN_ID, kind: Kind = "check") -> Connection:
    """A warehouse session bounded as a check's (``warehouse.timeouts``)."""
    from argo_energy.warehouse import connect as warehouse_connect

    return warehouse_connect(conn_id, kind)


def run_info(context: Mapping[str, Any]) -> RunInfo:
    """The run's identity and ``as_of``: the data interval's end (a manual run: its run_after)."""
    ti = context["ti"]
    dag_run = context.get("dag_run")
    as_of = context.get("data_interval_end") or getattr(dag_run, "run_after", None) or datetime.now(UTC)
    return RunInfo(dag_id=ti.dag_id, run_id=ti.run_id, as_of=plain_utc(as_of))


def run_config(context: Mapping[str, Any]) -> ValidationConfig:
    """The run's params validated, plus the channels of Variable ``validation_ignore_channel_ids``."""
    problems: list[str] = []
    name = VALIDATION_IGNORE_VARIABLE
    extra = parse_channel_id_list(name, get_variable(name), problems)
    if problems:
        raise fail(f"Variable {name}: " + "; ".join(problems))
    try:
        return config_from_params(context.get("params") or {}, known_checks=CHECK_NAMES, extra_ignored=extra)
    except ValueError as exc:
        raise fail(exc) from exc


def _error_line(exc: BaseException) -> str:
    first = next((line for line in str(exc).splitlines() if line.strip()), "")
    return f"the check could not run: {type(exc).__name__}: {first}"[:500]


def log_result(result: CheckResult) -> None:
    emit = log.warning if result.failed else log.info
    for line in result.log_lines():
        emit("%s", line)


def execute_check(
    conn: Connection, run: RunInfo, cfg: ValidationConfig, name: str, judge: Callable[[], CheckResult]
) -> CheckResult:
    """Run ``judge``, apply the configured severity, record and log the result.

    A check that raises is recorded with status 'error' and the exception propagates, so Airflow
    retries the task (a successful retry replaces the row).
    """
    severity = cfg.severity(name, CHECKS_BY_NAME[name].severity)
    try:
        result = judge().with_severity(severity)
    except Exception as exc:
        broken = CheckResult(name, severity, ERROR, _error_line(exc))
        try:
            record_result(conn, run, broken)
        except Exception:
            log.exception("could not record the error of check %s either", name)
        log.error("%s", broken.headline())
        raise
    record_result(conn, run, result)
    log_result(result)
    return result


def _xcom(result: CheckResult) -> dict[str, Any]:
    return {"check": result.check_name, "status": result.status, "severity": result.severity,
            "failed_count": result.failed_count}


def ensure_tables() -> None:
    """Create the validation tables when missing: DDL, so as the owner role (``owner_conn_id``)."""
    with closing(connect(owner_conn_id(), "migration")) as conn:
        ensure_schema(conn)


def run_python_check(name: str, context: Mapping[str, Any]) -> dict[str, Any]:
    check = CHECKS_BY_NAME[name].run
    if check is None:
        raise ValueError(f"{name} is not a Python check")
    run, cfg = run_info(context), run_config(context)
    with closing(connect()) as conn:
        result = execute_check(conn, run, cfg, name, lambda: check(conn, cfg, run.as_of))
    return _xcom(result)


# ------------------------------------------------------------------------------------------------
# self-healing


# What asks for a heal (validation_heal_requests.reason): each channel-day is healed once per reason.
HEAL_REASONS = ("completeness", "reconciliation")
ChannelDayKey = tuple[int, date]


def heal_wanted(results: Sequence[CheckResult]) -> dict[str, dict[ChannelDayKey, Mapping[str, Any]]]:
    """The channel-days each failed check asks to heal, with their finding. Pure.

    completeness: every incomplete day; reconciliation: the days whose kWh differs from Eniscope's
    daily total and were not healed for it yet (verdict ``mismatch``).
    """
    wanted: dict[str, dict[ChannelDayKey, Mapping[str, Any]]] = {reason: {} for reason in HEAL_REASONS}
    for result in results:
        if result.status != FAIL or result.check_name not in wanted:
            continue
        for f in result.findings:
            if result.check_name == "reconciliation" and f.get("verdict") != "mismatch":
                continue
            wanted[result.check_name][(int(f["channel_id"]), date.fromisoformat(str(f["local_date"])))] = f
    return wanted


def _not_yet_healed(conn: Connection, wanted: Mapping[str, Mapping[ChannelDayKey, Any]]
                    ) -> dict[ChannelDayKey, list[str]]:
    """Channel-day -> the reasons it was never healed for; logs those healed before and failing again."""
    todo: dict[ChannelDayKey, list[str]] = {}
    for reason, days in wanted.items():
        if not days:
            continue
        already = heal_requests_of(conn, sorted({cid for cid, _ in days}), min(day for _, day in days), reason)
        again = sorted((day, cid) for cid, day in days if (cid, day) in already)
        if again:
            log.warning("%d channel-day(s) still fail %s after their heal and are not re-fetched: %s",
                        len(again), reason, ", ".join(f"{cid} {day}" for day, cid in again[:50]))
        for key in days:
            if key not in already:
                todo.setdefault(key, []).append(reason)
    return todo


def plan_heal_run(context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Record and return the backfill runs that heal this run's incomplete or mismatched channel-days.

    Returns ``[{"trigger_run_id": ..., "conf": {...}}]`` for ``TriggerDagRunOperator.expand_kwargs``
    (empty when self-healing is off or nothing needs it). A day both incomplete and mismatched is
    fetched once and recorded for both reasons.
    """
    run, cfg = run_info(context), run_config(context)
    if not cfg.self_heal:
        log.info("self-healing is off (param self_heal=false): nothing triggered")
        return []
    with closing(connect()) as conn:
        wanted = heal_wanted(load_run_results(conn, run.dag_id, run.run_id))
        todo = _not_yet_healed(conn, wanted)
        if not todo:
            log.info("no incomplete or mismatched channel-day left to heal: nothing triggered")
            return []
        plan = plan_heal(todo, (), cfg.heal_max_channel_days)
        if plan.deferred:
            log.warning("%d channel-day(s) over heal_max_channel_days=%d wait for the next run",
                        len(plan.deferred), cfg.heal_max_channel_days)
        runs: list[dict[str, Any]] = []
        healed_days = 0
        for index, group in enumerate(plan.groups):
            backfill_run_id = heal_run_id(run.run_id, index)
            items = [
                (cid, day, backfill_run_id, wanted[reason][(cid, day)].get("expected"),
                 wanted[reason][(cid, day)].get("received"), reason)
                for cid, day in group.channel_days() for reason in todo[(cid, day)]
            ]
            new = record_heal_requests(conn, run.run_id, items)
            if len(new) != len(items):
                # Another run requested some of these days meanwhile: heal them there, not twice.
                forget_heal_requests(conn, [backfill_run_id])
                log.warning("heal %s skipped: %d of its channel-days were requested by another run",
                            backfill_run_id, len(items) - len(new))
                continue
            runs.append({"trigger_run_id": backfill_run_id, "conf": group.conf()})
            healed_days += len(group.channel_days())
            log.info("heal %s: channels %s, local days %s..%s (%d channel-days; %s)", backfill_run_id,
                     list(group.channel_ids), group.start_date, group.end_date, len(group.channel_days()),
                     ", ".join(f"{r}={sum(i[5] == r for i in items)}" for r in HEAL_REASONS))
    log.info("self-healing: %d backfill run(s) for %d channel-day(s)", len(runs), healed_days)
    return runs


def confirm_heal_run(planned: Sequence[Mapping[str, Any]] | None, context: Mapping[str, Any]) -> dict[str, Any]:
    """Mark heals whose backfill run exists as triggered; forget those never created (retry later)."""
    planned = list(planned or [])
    if not planned:
        return {"triggered": 0, "missing": 0}
    ti = context["ti"]
    present: list[str] = []
    missing: list[str] = []
    for item in planned:
        run_id = str(item["trigger_run_id"])
        (present if ti.get_dr_count(dag_id=BACKFILL_DAG_ID, run_ids=[run_id]) else missing).append(run_id)
    with closing(connect()) as conn:
        confirmed = confirm_heal_requests(conn, present)
        forgotten = forget_heal_requests(conn, missing)
    log.info("heal runs present: %d (%d channel-day rows confirmed); missing: %d (%d rows forgotten)%s",
             len(present), confirmed, len(missing), forgotten, f": {missing}" if missing else "")
    return {"triggered": len(present), "missing": len(missing), "missing_run_ids": missing}


def heal_problem(planned: Sequence[Mapping[str, Any]] | None, confirmed: Mapping[str, Any] | None) -> str | None:
    """Why self-healing failed this run, or None. Pure.

    A planned heal whose backfill run does not exist means ``trigger_heal`` failed for it: the
    backfill DAG is paused (the trigger refuses a paused DAG) or the trigger itself failed.
    """
    if not planned:
        return None
    if confirmed is None:
        return (f"self-heal: {len(planned)} heal(s) planned but confirm_heal recorded no outcome "
                "(see its log); the heals' state is unknown")
    missing = list(confirmed.get("missing_run_ids") or [])
    if not missing:
        return None
    shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
    return (f"self-heal: {len(missing)} of {len(planned)} {BACKFILL_DAG_ID} run(s) were not created ({shown}): "
            f"trigger_heal failed for them; {BACKFILL_DAG_ID} is paused or the trigger failed (see trigger_heal's log)")


# ------------------------------------------------------------------------------------------------
# verdict


def verdict(results: Sequence[CheckResult], expected: Sequence[str]) -> tuple[list[CheckResult], list[str]]:
    """(blocking results, checks without a result). Pure."""
    recorded = {r.check_name for r in results}
    return [r for r in results if r.blocking], [name for name in expected if name not in recorded]


def verdict_line(blocking: Sequence[CheckResult], missing: Sequence[str]) -> str:
    parts = []
    for r in blocking:
        scope = []
        if r.affected_channels:
            scope.append(f"{len(r.affected_channels)} channels")
        if r.affected_days:
            scope.append(f"{len(r.affected_days)} days")
        label = "could not run" if r.status == ERROR else f"{r.failed_count} failing"
        parts.append(f"{r.check_name} ({label}{', ' + ', '.join(scope) if scope else ''})")
    if missing:
        parts.append(f"no result from {', '.join(missing)}")
    return "validation failed: " + "; ".join(parts)


def evaluate_run(context: Mapping[str, Any]) -> dict[str, Any]:
    run = run_info(context)
    with closing(connect()) as conn:
        results = load_run_results(conn, run.dag_id, run.run_id)
    blocking, missing = verdict(results, CHECK_NAMES)
    for line in summary_lines(results, missing):
        (log.warning if blocking or missing else log.info)("%s", line)
    ti = context["ti"]
    healing = heal_problem(ti.xcom_pull(task_ids=PLAN_HEAL_TASK), ti.xcom_pull(task_ids=CONFIRM_HEAL_TASK))
    if healing:
        log.error("%s", healing)
        if not (blocking or missing):
            raise fail(healing)
    if blocking or missing:
        # The first line is what the failure alert quotes.
        raise fail(verdict_line(blocking, missing) + (f"; {healing}" if healing else "") + "\n" + "\n".join(
            line for r in blocking for line in r.log_lines(limit=20)))
    warned = [r.check_name for r in results if r.failed]
    log.info("validation passed: %d checks, warnings from %s", len(results), warned or "none")
    return {"checks": len(results), "warnings": warned}
