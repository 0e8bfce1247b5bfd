"""Pure parts of the ingestion operators: per-channel and per-site status, progress lines."""

from __future__ import annotations

import logging

import pytest

from argo_energy.ingest.planning import run_key
from argo_energy.ingest.readings import ChannelOutcome, Progress, summarize
from argo_energy.ingest.status import UNSUPPORTED, UNSUPPORTED_PREFIX, channel_status, site_status


def outcome(**kwargs) -> ChannelOutcome:
    return ChannelOutcome(channel_id=kwargs.pop("channel_id", 1), organization_id="100", **kwargs)


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (outcome(windows=3, ok=3), ("success", None)),
        (outcome(windows=3, ok=1, skipped_done=2), ("success", None)),
        (
            outcome(windows=3, ok=2, failed=1, error="Timeout"),
            ("partial", "1 of 3 window(s) failed: Timeout"),
        ),
        (outcome(windows=2, failed=2, error="503"), ("failed", "2 of 2 window(s) failed: 503")),
    ],
)
def test_channel_status(result, expected):
    assert channel_status(result) == expected


def test_unsupported_and_unreported_channels_are_failed_with_a_reason():
    status, error = channel_status(outcome(windows=3, unsupported=True, error="500 Invalid Parameter"))
    assert status == UNSUPPORTED
    assert status == "unsupported", "the validation DAG looks for sync_status = 'unsupported'"
    assert error == f"{UNSUPPORTED_PREFIX} 500 Invalid Parameter"
    status, error = channel_status(None)
    assert status == "failed"
    assert "did not report" in error


def test_site_status_ignores_unsupported_channels_but_names_them():
    rows = [(1, "success", None), (2, "failed", "unsupported channel: x")]
    assert site_status(rows, unsupported=[2]) == ("success", "1 unsupported channel(s) not synced: 2")


def test_site_status_partial_and_failed():
    assert site_status([(1, "success", None), (2, "partial", "1 of 3")], [])[0] == "partial"
    assert site_status([(1, "success", None), (2, "failed", "503")], [])[0] == "partial"
    status, error = site_status([(1, "failed", "503"), (2, "failed", "503")], [])
    assert status == "failed"
    assert error.startswith("2 of 2 channel(s) not fully synced; channel 1: 503; channel 2: 503")
    assert site_status([(3, "failed", "unsupported")], [3])[0] == "failed"  # nothing could be synced


def test_summarize_counts_windows_readings_and_unsupported():
    totals = summarize(
        [
            outcome(channel_id=1, windows=2, ok=2, fetched=10, inserted=8, unchanged=2),
            outcome(channel_id=2, windows=2, unsupported=True),
        ]
    )
    assert totals["channels"] == 2
    assert totals["windows"] == 4
    assert totals["ok"] == 2
    assert totals["unsupported"] == 1
    assert (totals["fetched"], totals["inserted"], totals["unchanged"]) == (10, 8, 2)


def test_progress_logs_counts_rate_and_time_left(caplog):
    ticks = iter([0.0, 10.0, 20.0, 40.0, 41.0])
    progress = Progress(4, logging.getLogger("t"), every=15.0, clock=lambda: next(ticks))
    with caplog.at_level(logging.INFO, logger="t"):
        progress.step(96)  # t=10: not yet 15 s since the last line
        progress.step(96)  # t=20
        progress.step(92)  # t=40
        progress.step(100)  # t=41: the last window always logs
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "progress: 2/4 windows (50%), 192 readings, 0.10 windows/s, 10 readings/s, ~20s left; budget n/a"
    assert lines[1] == "progress: 3/4 windows (75%), 284 readings, 0.07 windows/s, 7 readings/s, ~13s left; budget n/a"
    assert lines[2].startswith("progress: 4/4 windows (100%), 384 readings")
    assert lines[2].endswith("~0s left; budget n/a")
    assert len(lines) == 3


def test_progress_lines_show_the_budget_as_the_task_sees_it_at_that_moment(caplog):
    ticks = iter([0.0, 20.0, 40.0])
    seen = iter(["budget 5.0 req/s shared, waited 1.2 s", "budget 5.0 req/s shared, waited 3.4 s"])
    progress = Progress(2, logging.getLogger("t"), every=15.0, clock=lambda: next(ticks), budget=lambda: next(seen))
    with caplog.at_level(logging.INFO, logger="t"):
        progress.step(96)
        progress.step(96)
    lines = [r.getMessage() for r in caplog.records]
    assert [line.rsplit("; ", 1)[1] for line in lines] == [
        "budget 5.0 req/s shared, waited 1.2 s",
        "budget 5.0 req/s shared, waited 3.4 s",
    ]


def test_run_key_changes_only_when_the_run_is_cleared():
    assert run_key("scheduled__2026-11-10T02:00:00+00:00", 0) == "scheduled__2026-11-10T02:00:00+00:00"
    assert run_key("scheduled__2026-11-10T02:00:00+00:00", None) == "scheduled__2026-11-10T02:00:00+00:00"
    assert run_key("backfill__2026-11-11T02:00:00+00:00", 2) == "backfill__2026-11-11T02:00:00+00:00#2"
