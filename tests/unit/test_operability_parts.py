"""Pure parts of issue 17: the self-heal verdict, the run alert message, the Asset event extra."""

from __future__ import annotations

from datetime import UTC, datetime

from argo_energy.assets import change_extra
from argo_energy.run_alerts import run_failure_message
from argo_energy.validation.tasks import heal_problem
from argo_energy.warehouse.operability import TaskFailure

PLANNED = [{"trigger_run_id": "heal__a__0", "conf": {}}, {"trigger_run_id": "heal__a__1", "conf": {}}]


def test_heal_problem_names_the_runs_not_created() -> None:
    assert heal_problem([], None) is None
    assert heal_problem(PLANNED, {"missing_run_ids": []}) is None
    message = heal_problem(PLANNED, {"missing_run_ids": ["heal__a__1"]})
    assert message is not None
    assert "1 of 2 eniscope_historical_backfill run(s) were not created (heal__a__1)" in message
    assert "paused" in message
    assert "no outcome" in (heal_problem(PLANNED, None) or "")


def _failure(task: str, index: int, label: str | None, error: str, minute: int) -> TaskFailure:
    return TaskFailure(task, index, label, 1, error, datetime(2026, 11, 3, 2, minute, tzinfo=UTC))


def test_run_message_lists_failures_first_error_first_and_caps_the_list() -> None:
    failures = [_failure("sync_readings", i, f"ch {i}", f"boom {i}", i) for i in range(25)]
    message = run_failure_message("d", "r", "task_failure", None, failures)
    text = message.text()
    assert "First error: sync_readings[ch 0]: boom 0" in text
    assert text.count("  - sync_readings[") == 20
    assert "... and 5 more" in text
    assert "Logical date: none (manual or triggered run)" in text


def test_run_message_of_a_timed_out_run_and_an_unreadable_warehouse() -> None:
    message = run_failure_message("d", "r", "timed_out", None, None, "sync_readings")
    assert message.title.endswith("(timed out)")
    assert "dagrun_timeout" in message.text()
    assert "warehouse unreachable" in message.text()
    assert "<" not in message.text().replace("&lt;", ""), "Slack text is escaped"


def test_change_extra_counts_and_local_day_range() -> None:
    plan = {"batches": [{"targets": [
        {"channel_id": 1, "organization_id": "9", "timezone": "America/New_York",
         "start": "2026-11-01T04:00:00+00:00", "end": "2026-11-03T02:00:00+00:00"},
        {"channel_id": 2, "organization_id": "9", "timezone": "America/New_York",
         "start": "2026-11-01T04:00:00+00:00", "end": "2026-11-03T02:00:00+00:00"},
    ]}]}
    summaries = [[{"channel_id": 1, "organization_id": "9", "inserted": 10, "updated": 2, "ok": 3, "failed": 0},
                  {"channel_id": 2, "organization_id": "9", "inserted": 0, "updated": 0, "ok": 3, "failed": 1}],
                 None]
    extra = change_extra(plan, summaries)
    assert extra == {"sites": ["9"], "local_days": ["2026-11-01", "2026-11-02"], "channels": 1,
                     "inserted": 10, "updated": 2, "windows": 6, "failed_windows": 1}
    assert change_extra(plan, [None])["inserted"] == 0
