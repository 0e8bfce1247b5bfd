"""Run one DAG with ``dag.test()`` in this process and write its outcome as JSON (for two-process tests).

    python -m tests.reliability.run_dag --dag-id eniscope_daily_sync \\
        --logical-date 2026-11-13T02:00:00+00:00 --conf '{"lookback_days": 2}' --out result.json

The environment (AIRFLOW_HOME, metadata DB, AIRFLOW_CONN_*) comes from the caller. Retry delays are
zeroed as in ``helpers.run_dag``; retry counts stay as the DAG declares them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path

from devtools.dagtest import without_deadline_alerts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dag-id", required=True)
    parser.add_argument("--logical-date", default=None)
    parser.add_argument("--conf", default="{}")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)

    from tests.reliability.helpers import run_dag, task_tries

    started = time.time()
    logical = datetime.fromisoformat(args.logical_date) if args.logical_date else None
    dag_run = run_dag(args.dag_id, logical, json.loads(args.conf), tune=without_deadline_alerts)
    result = {
        "run_id": dag_run.run_id,
        "state": str(dag_run.state),
        "tries": {
            task: [[t.map_index, t.state, t.try_number] for t in tries]
            for task, tries in task_tries(dag_run).items()
        },
        "seconds": round(time.time() - started, 1),
    }
    args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
