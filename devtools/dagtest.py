"""What ``dag.test()`` needs on Airflow 3.3.2 that a scheduler does not: no deadline alerts.

``DAG.test()`` builds its scheduler DAG by serialising in memory, so ``dag.deadline`` holds the
serialized alerts where ``DagRun.update_state`` expects the ids of stored ones: every run that
succeeds then fails with ``AttributeError: 'dict' object has no attribute 'hex'``. The demo, the
two-process test runner and the test session run DAGs with ``dag.test()`` and drop the alerts;
deadlines are tested where they really fire (a real scheduler, Airflow's callback runner).
"""

from __future__ import annotations

from typing import Any


def without_deadline_alerts(dag: Any) -> Any:
    """``dag`` with no deadline alert (in place; returned for chaining)."""
    dag.deadline = None
    return dag
