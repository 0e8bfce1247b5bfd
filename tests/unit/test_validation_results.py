"""CheckResult, the pure judgements of the checks, the schema comparison and the verdict."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from argo_energy.models import DEFAULT_SITE_TIMEZONE
from argo_energy.sitetime import resolve_zone
from argo_energy.validation.checks import (
    CHECK_NAMES,
    evaluate_completeness,
    evaluate_energy_power,
    evaluate_freshness,
    evaluate_never_pulled,
)
from argo_energy.validation.days import ChannelDay, ChannelScope
from argo_energy.validation.results import CheckResult, jsonable, summary_lines
from argo_energy.validation.schema import EXPECTED_RELATIONS, IndexSpec, RelationSpec, evaluate_schema
from argo_energy.validation.scope import build_scope, local_dates_between
from argo_energy.validation.tasks import verdict, verdict_line

T = datetime(2025, 11, 4, 12, tzinfo=UTC)


def result(name="completeness", severity="error", status="fail", findings=()):
    return CheckResult(name, severity, status, "msg", failed_count=len(findings), findings=tuple(findings))


def test_affected_channels_and_days_come_from_the_findings():
    r = result(findings=[{"channel_id": 7, "local_date": date(2025, 11, 2)},
                         {"channel_id": 3, "local_date": "2025-11-01"},
                         {"channel_id": 7, "local_dates": ["2025-10-30", date(2025, 10, 31)]},
                         {"object": "v_sites"}])
    assert r.affected_channels == [3, 7]
    assert r.affected_days == [date(2025, 10, 30), date(2025, 10, 31), date(2025, 11, 1), date(2025, 11, 2)]


@pytest.mark.parametrize(
    ("severity", "status", "blocking"),
    [("error", "fail", True), ("warn", "fail", False), ("warn", "error", True), ("error", "pass", False)],
)
def test_blocking(severity, status, blocking):
    assert result(severity=severity, status=status).blocking is blocking


def test_status_is_checked():
    with pytest.raises(ValueError, match="status"):
        CheckResult("x", "error", "broken", "m")


def test_log_lines_list_channels_days_and_cap_the_findings():
    findings = [{"channel_id": i, "local_date": date(2025, 11, 1), "missing": 2} for i in range(250)]
    lines = result(findings=findings).log_lines(limit=10)
    assert lines[0].startswith("completeness: FAIL (error) [250 channel(s), 1 day(s)]")
    assert lines[1].startswith("  channels: 0, 1, 2")
    assert lines[2] == "  days: 2025-11-01"
    assert lines[3] == "  - channel 0 2025-11-01: missing=2"
    assert lines[-1] == "  ... and 240 more (all in validation_results.details)"
    assert len(lines) == 3 + 10 + 1


def test_jsonable_and_summary():
    assert jsonable({"d": date(2025, 1, 2), "t": (T,)}) == {"d": "2025-01-02", "t": ["2025-11-04T12:00:00+00:00"]}
    lines = summary_lines([result(), result("flatline", "warn", "pass")], missing=["schema"])
    assert any(line.startswith("schema") and "recorded no result" in line for line in lines)
    assert any(line.startswith("completeness: FAIL") for line in lines)


def test_verdict_and_its_first_line():
    results = [
        result(findings=[{"channel_id": 1, "local_date": date(2025, 11, 2)}, {"channel_id": 2, "local_date": date(2025, 11, 2)}]),
        result("flatline", "warn", "fail", [{"channel_id": 1}]),
        result("schema", "error", "error"),
    ]
    blocking, missing = verdict(results, CHECK_NAMES)
    assert [r.check_name for r in blocking] == ["completeness", "schema"]
    assert "freshness" in missing
    assert "flatline" not in missing
    line = verdict_line(blocking, ["freshness"])
    assert line == ("validation failed: completeness (2 failing, 2 channels, 1 days); schema (could not run); "
                    "no result from freshness")


def test_freshness_judgement():
    scopes = [
        ChannelScope(1, "s", "UTC", T - timedelta(days=9), T - timedelta(hours=29)),
        ChannelScope(2, "s", "UTC", T - timedelta(days=9), T - timedelta(hours=31)),
        ChannelScope(3, "s", "UTC", T - timedelta(days=9), None),
    ]
    findings, checked = evaluate_freshness(scopes, T, hours=30)
    assert checked == 3
    assert [(f["channel_id"], f["age_hours"]) for f in findings] == [(2, 31.0), (3, None)]


def _day(cid: int, d: date, hours: int = 24) -> ChannelDay:
    start = datetime(d.year, d.month, d.day, tzinfo=UTC)
    return ChannelDay(cid, "s", "UTC", d, start, start + timedelta(hours=hours))


def test_completeness_judgement_reports_heals():
    days = [_day(1, date(2025, 11, 1)), _day(1, date(2025, 11, 2), hours=25), _day(2, date(2025, 11, 2))]
    counts = {0: (96, 0), 1: (97, 3)}  # day 2 of channel 2 has no row at all
    heals = {(1, date(2025, 11, 2)): {"status": "triggered", "backfill_run_id": "heal__r__000",
                                      "requested_at": "2025-11-03T06:00:00+00:00"}}
    findings = evaluate_completeness(days, counts, heals)
    assert [(f["channel_id"], f["expected"], f["received"], f["missing"], f["rejected"]) for f in findings] == [
        (1, 100, 97, 3, 3), (2, 96, 0, 96, 0)]
    assert findings[0]["healed"].startswith("triggered by heal__r__000")
    assert findings[1]["healed"] is None


def test_never_pulled_judgement():
    days = [_day(1, date(2025, 11, 1)), _day(1, date(2025, 11, 2)), _day(1, date(2025, 11, 3))]
    findings = evaluate_never_pulled(days, {0: (True, True), 1: (True, False)})
    assert [f["local_date"] for f in findings] == [date(2025, 11, 3)]


def test_energy_power_judgement():
    rows = [(1, date(2025, 11, 1), 96, 2, 0.5), (1, date(2025, 11, 2), 96, 1, 0.1), (2, date(2025, 11, 2), 0, 0, None)]
    findings, checked = evaluate_energy_power(rows, max_share=0.015)
    assert checked == 3
    assert [(f["local_date"], f["share"]) for f in findings] == [(date(2025, 11, 1), round(2 / 96, 4))]


def test_scope_resolution_and_exclusions():
    first = T - timedelta(days=3)
    rows = [
        (1, "a", "Asia/Kolkata", first, T, False),
        (2, "a", None, first, T, False),  # contract default zone
        (3, "a", "Mars/Olympus", first, T, False),  # unknown zone: UTC with a warning
        (4, "a", "UTC", first, T, True),  # unsupported
        (5, "a", "UTC", None, None, False),  # nothing ever
        (6, "a", "UTC", first, T, False),  # ignored
    ]
    scope = build_scope(rows, ignored=[6])
    assert [c.channel_id for c in scope.channels] == [1, 2, 3]
    assert scope.zones[2] == DEFAULT_SITE_TIMEZONE
    assert scope.channels[2].timezone == "UTC"
    assert scope.channels[2].zone_warning
    assert (scope.ignored, scope.unsupported, scope.never_seen) == ((6,), (4,), (5,))
    assert scope.note() == "3 channel(s) in scope, 1 ignored, 1 unsupported by the API, 1 without any data yet"
    assert resolve_zone("Europe/Paris") == ("Europe/Paris", None)


def test_local_dates_between():
    start = datetime(2025, 11, 2, 3, tzinfo=UTC)  # 2025-11-01 23:00 in New York
    assert local_dates_between(start, start + timedelta(hours=2), "America/New_York") == [
        date(2025, 11, 1), date(2025, 11, 2)]
    assert local_dates_between(start, start + timedelta(minutes=15), "UTC") == [date(2025, 11, 2)]


def test_schema_judgement_names_missing_wrong_and_invalid():
    relations = {
        "t": RelationSpec("table", {"a": frozenset({"integer"}), "b": frozenset({"text"})}),
        "v": RelationSpec("view", {"x": frozenset({"date"})}),
        "m": RelationSpec("materialized view", {"k": frozenset({"integer"})}),
    }
    columns = [("t", "table", "a", "bigint"), ("t", "table", "b", "text"), ("t", "table", "extra", "text"),
               ("m", "view", "k", "integer")]
    indexes = [("t_idx", "t", True, False, False, ["a"]), ("m_idx", "m", False, True, False, ["k"])]
    specs = [IndexSpec("t", ("a",), unique=True, name="t_idx"), IndexSpec("m", ("k",), unique=True),
             IndexSpec("t", ("b",), name="t_b")]
    findings, checked = evaluate_schema(columns, indexes, relations, specs)
    assert {f["object"]: f["problem"] for f in findings} == {
        "t.a": "type is bigint, expected integer",
        "v": "view is missing",
        "m": "is a view, expected a materialized view",
        "t_idx": "t_idx is INVALID (a failed concurrent build): it does not enforce or serve anything",
        "m(k)": "m_idx is not unique",
        "t_b": "index is missing",
    }
    assert checked == 3 + (2 + 1) + 3  # relations + columns of the present ones (t, m) + indexes


def test_contract_tables_are_all_expected():
    for name in ("organizations", "devices", "channels", "readings", "data_sync_status", "ingestion_logs",
                 "v_clean_readings", "mv_hourly_usage", "v_sites", "v_meters", "v_readings_enriched",
                 "v_latest_readings", "v_readings_hourly", "v_readings_daily", "v_readings_monthly"):
        assert name in EXPECTED_RELATIONS
