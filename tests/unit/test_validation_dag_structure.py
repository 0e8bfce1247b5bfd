"""The eniscope_validation DAG as the dag-processor parses it: wiring, schedule, params, alerts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from argo_energy.validation.checks import CHECK_NAMES

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "eniscope_validation.py"


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    return bag.dags["eniscope_validation"]  # get_dag() would ask the metadata DB


def test_parsing_reads_no_connection_or_variable(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import Connection, Variable

    def forbidden(*_args, **_kwargs):
        raise AssertionError("Connection/Variable read at parse time")

    monkeypatch.setattr(Connection, "get", forbidden)
    monkeypatch.setattr(Variable, "get", forbidden)
    assert DagBag(dag_folder=str(DAG_FILE)).import_errors == {}


def test_every_check_is_its_own_task_between_ensure_and_evaluate(dag):
    check_tasks = {f"check_{name}" for name in CHECK_NAMES}
    assert check_tasks <= set(dag.task_dict)
    assert dag.get_task("ensure_results_tables").downstream_task_ids == check_tasks
    assert check_tasks | {"confirm_heal"} == dag.get_task("evaluate").upstream_task_ids
    assert dag.get_task("evaluate").trigger_rule == "all_done"
    assert dag.get_task("plan_heal").upstream_task_ids == {"check_completeness", "check_reconciliation"}
    assert dag.get_task("plan_heal").trigger_rule == "all_done", "a check that could not run must not stop heals"
    assert "check_source_totals" in dag.get_task("check_reconciliation").downstream_task_ids
    assert dag.get_task("trigger_heal").downstream_task_ids == {"confirm_heal"}
    assert [t.task_id for t in dag.tasks if not t.downstream_task_ids] == ["evaluate"], (
        "evaluate must be the only leaf: it decides the run's state"
    )


def test_operator_checks_use_common_sql(dag):
    from airflow.providers.common.sql.operators.sql import (
        SQLCheckOperator,
        SQLColumnCheckOperator,
        SQLTableCheckOperator,
    )

    assert isinstance(dag.get_task("check_duplicates"), SQLTableCheckOperator)
    assert isinstance(dag.get_task("check_voltage_band"), SQLTableCheckOperator)
    assert isinstance(dag.get_task("check_value_ranges"), SQLColumnCheckOperator)
    assert isinstance(dag.get_task("check_mv_staleness"), SQLCheckOperator)


def test_schedule_every_six_hours_on_data_intervals_or_new_readings(dag):
    from airflow.sdk import AssetOrTimeSchedule, CronDataIntervalTimetable

    from argo_energy.assets import READINGS

    assert isinstance(dag.timetable, AssetOrTimeSchedule)
    assert dag.timetable.asset_condition == READINGS
    assert isinstance(dag.timetable.timetable, CronDataIntervalTimetable)
    assert dag.timetable.timetable.expression == "0 */6 * * *"
    assert str(dag.timetable.timetable.timezone) == "UTC"
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert set(dag.tags) == {"eniscope", "validation"}
    assert dag.dagrun_timeout == timedelta(hours=2)


def test_the_run_alerts_once_and_tasks_only_record(dag):
    from argo_energy.run_alerts import RunFailureAlert, record_task_failure

    assert [type(cb) for cb in dag.on_failure_callback] == [RunFailureAlert]
    for task in dag.tasks:
        assert list(task.on_failure_callback) == [record_task_failure], task.task_id


def test_params_defaults(dag):
    params = dag.params.dump()
    assert params["self_heal"] is True
    assert params["lookback_days"] == 7
    assert params["freshness_hours"] == 30
