"""Task factories of ``eniscope_validation`` (called inside its ``with DAG(...)`` block).

Only wiring lives here: each task body is one call into ``argo_energy.validation.tasks`` (or an
operator of ``validation.operators``). Creating these tasks reads no Connection, Variable, network
or database: that happens when the tasks run.

Shape::

    ensure_results_tables >> check_<name> (one per check, TaskGroup ``checks``) >> evaluate
    check_reconciliation >> check_source_totals (it reports the verdicts reconciliation just wrote)
    [check_completeness, check_reconciliation] >> plan_heal >> trigger_heal (mapped) >> confirm_heal >> evaluate

``evaluate`` (trigger rule ``all_done``) is the only leaf, so the verdict decides the run's state;
it also fails the run when a planned heal's backfill run was not created (``trigger_heal`` failed,
or the backfill DAG is paused: the trigger refuses a paused DAG). Every task has an
``execution_timeout`` (``dag_defaults.TASK_TIMEOUTS``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import BaseOperator, TaskGroup, TriggerRule, XComArg, task

from argo_energy.dag_defaults import task_timeout
from argo_energy.settings import BACKFILL_DAG_ID
from argo_energy.validation import tasks as vt
from argo_energy.validation.checks import CHECKS
from argo_energy.validation.operators import OPERATOR_CHECKS
from argo_energy.validation.tasks import CONFIRM_HEAL_TASK, PLAN_HEAL_TASK

if TYPE_CHECKING:
    from airflow.sdk.definitions.mappedoperator import MappedOperator



@task(task_id="ensure_results_tables", execution_timeout=task_timeout("check"))
def ensure_results_tables() -> None:
    """Create validation_results and validation_heal_requests when missing (idempotent)."""
    vt.ensure_tables()


@task(task_id="run_check", execution_timeout=task_timeout("check"))
def run_check(name: str, **context: Any) -> dict[str, Any]:
    """Run one Python check, record its row, log its channels and days."""
    return vt.run_python_check(name, context)


@task(task_id=PLAN_HEAL_TASK, trigger_rule=TriggerRule.ALL_DONE, execution_timeout=task_timeout("heal"))
def plan_heal(**context: Any) -> list[dict[str, Any]]:
    """Record and return the backfill runs for this run's incomplete or mismatched channel-days.

    ``all_done``: it reads the recorded results, so a check that could not run (Eniscope down for
    the reconciliation) does not stop the heal of what the other check found.
    """
    return vt.plan_heal_run(context)


@task(task_id=CONFIRM_HEAL_TASK, trigger_rule=TriggerRule.ALL_DONE, execution_timeout=task_timeout("heal"))
def confirm_heal(**context: Any) -> dict[str, int]:
    """Mark the heals whose backfill run exists; forget those never created.

    Reads the plan from XCom rather than as an argument: when ``plan_heal`` failed there is none,
    and this task still runs (``all_done``) with nothing to confirm.
    """
    planned = context["ti"].xcom_pull(task_ids=PLAN_HEAL_TASK)
    return vt.confirm_heal_run(planned, context)


@task(task_id="evaluate", trigger_rule=TriggerRule.ALL_DONE, execution_timeout=task_timeout("check"))
def evaluate(**context: Any) -> dict[str, Any]:
    """The verdict: fail when an error-severity check failed or a check recorded nothing.

    A failed verdict raises AirflowFailException (never retried); a database error is retried.
    """
    return vt.evaluate_run(context)


def check_tasks() -> dict[str, XComArg | BaseOperator]:
    """One task per check, named ``check_<name>``: the Python checks, then the SQL check operators."""
    checks: dict[str, XComArg | BaseOperator] = {
        spec.name: run_check.override(task_id=f"check_{spec.name}")(spec.name)
        for spec in CHECKS
        if spec.run is not None
    }
    checks.update({name: factory() for name, factory in OPERATOR_CHECKS.items()})
    return checks


def trigger_heal(planned: XComArg) -> MappedOperator:
    """One ``eniscope_historical_backfill`` run per planned heal, with its deterministic run id."""
    return TriggerDagRunOperator.partial(
        task_id="trigger_heal",
        trigger_dag_id=BACKFILL_DAG_ID,
        logical_date=None,
        wait_for_completion=False,
        skip_when_already_exists=True,
        # A paused backfill DAG would queue the heal forever: fail, and evaluate says which.
        fail_when_dag_is_paused=True,
        retries=0,
        execution_timeout=task_timeout("heal"),
        openlineage_inject_parent_info=False,
        map_index_template="{{ task.trigger_run_id }}",
    ).expand_kwargs(planned)


def wire_validation() -> None:
    """Create and connect every task of the validation DAG (the shape in the module docstring)."""
    ensure = ensure_results_tables()
    # prefix_group_id=False: the grid folds the checks into one group, their task ids stay check_<name>.
    with TaskGroup(group_id="checks", prefix_group_id=False, tooltip="one task per data-quality check"):
        checks = check_tasks()
    planned = plan_heal()
    confirmed = confirm_heal()
    verdict = evaluate()

    ensure >> list(checks.values())
    checks["reconciliation"] >> checks["source_totals"]
    [checks["completeness"], checks["reconciliation"]] >> planned
    planned >> trigger_heal(planned) >> confirmed
    planned >> confirmed
    [*checks.values(), confirmed] >> verdict
