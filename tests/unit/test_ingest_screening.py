"""validate(): every reading accepted or rejected with its reasons, none dropped."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest

from argo_energy.ingest.screening import reason_counts, validate
from argo_energy.models import Reading, Window

START = datetime(2026, 3, 5, 5, tzinfo=UTC)
WINDOW = Window(start=START, end=START + timedelta(days=1), local_date=date(2026, 3, 5))
NOW = START + timedelta(days=2)


def at(minutes: int, **values: float | None) -> Reading:
    base = {"energy_kwh": 1.0, "power_kw": 4.0, "power_factor": 0.9}
    base.update(values)
    return Reading(ts=START + timedelta(minutes=minutes), **base)


def only_reason(readings, now=NOW):
    accepted, rejected = validate(readings, WINDOW, now)
    assert accepted == [], f"expected every reading rejected, accepted {accepted}"
    assert len(rejected) == len(readings)
    return [r.reason for r in rejected]


def test_clean_readings_are_all_accepted_in_order():
    readings = [at(m) for m in range(0, 24 * 60, 15)]
    accepted, rejected = validate(readings, WINDOW, NOW)
    assert accepted == readings
    assert rejected == []


def test_missing_values_are_accepted_as_none_not_zero():
    gap = Reading(ts=START)
    accepted, rejected = validate([gap], WINDOW, NOW)
    assert accepted == [gap]
    assert rejected == []
    assert accepted[0].energy_kwh is None
    assert accepted[0].power_kw is None


@pytest.mark.parametrize(
    ("reading", "code"),
    [
        (at(0, power_kw=-0.1), "negative_power"),
        (at(0, energy_kwh=-0.01), "negative_energy"),
        (at(0, power_factor=1.01), "power_factor_out_of_range"),
        (at(0, power_factor=-1.5), "power_factor_out_of_range"),
        (at(0, voltage_v=math.nan), "non_finite"),
        (at(0, energy_kwh=math.inf), "non_finite"),
        (at(0, current_a=-math.inf), "non_finite"),
        (at(7), "off_grid"),
        (Reading(ts=START + timedelta(seconds=1)), "off_grid"),
        (Reading(ts=START - timedelta(minutes=15)), "outside_window"),
        (Reading(ts=WINDOW.end), "outside_window"),  # half-open: end is excluded
        (Reading(ts=datetime(2026, 3, 5, 6)), "naive_timestamp"),
    ],
)
def test_each_rule_rejects_with_its_code(reading, code):
    (reason,) = only_reason([reading])
    assert reason == code, f"expected reason {code}, got {reason!r}"


def test_several_problems_give_stable_codes_and_a_detail():
    bad = at(7, power_kw=-1.0, power_factor=2.0, voltage_v=math.nan, current_a=math.inf)
    (rejected,) = validate([bad], WINDOW, NOW).rejected
    assert rejected.reason == "off_grid; non_finite; negative_power; power_factor_out_of_range"
    assert rejected.detail == (
        "off_grid: 2026-03-05T05:07:00+00:00 is not on the 15-minute grid; non_finite: voltage_v=nan; "
        "non_finite: current_a=inf; negative_power: power_kw=-1.0; "
        "power_factor_out_of_range: power_factor=2.0"
    )


def test_the_reason_does_not_change_with_the_value_the_run_or_the_window():
    """The warehouse keys a rejection on its reason, so a rerun must produce the same one."""
    longer = Window(start=START - timedelta(days=1), end=WINDOW.end + timedelta(days=1), local_date=WINDOW.local_date)
    first = validate([at(15, power_kw=-1.0), Reading(ts=NOW + timedelta(minutes=15))], WINDOW, NOW).rejected
    later = validate(
        [at(15, power_kw=-2.5), Reading(ts=NOW + timedelta(minutes=15))], longer, NOW + timedelta(minutes=5)
    ).rejected
    assert [r.reason for r in first] == ["negative_power", "future_timestamp; outside_window"]
    assert [r.reason for r in later] == ["negative_power", "future_timestamp; outside_window"]
    assert [r.detail for r in first] != [r.detail for r in later], "the detail does follow the values"


def test_future_timestamp_is_rejected_relative_to_now():
    now = START + timedelta(hours=1)
    accepted, rejected = validate([at(60), at(75)], WINDOW, now)
    assert [r.ts for r in accepted] == [START + timedelta(hours=1)]  # ts == now is not future
    assert len(rejected) == 1
    assert rejected[0].reason == "future_timestamp"


def test_power_factor_of_exactly_one_and_zero_power_are_valid():
    accepted, rejected = validate([at(0, power_factor=-1.0, power_kw=0.0, energy_kwh=0.0)], WINDOW, NOW)
    assert len(accepted) == 1
    assert rejected == []


def test_duplicates_keep_the_first_occurrence():
    first, again = at(15, power_kw=1.0), at(15, power_kw=2.0)
    accepted, rejected = validate([first, at(30), again], WINDOW, NOW)
    assert accepted == [first, at(30)]
    assert [r.reading for r in rejected] == [again]
    assert rejected[0].reason == "duplicate_timestamp"


def test_several_problems_are_all_named_and_counted():
    bad = at(7, power_kw=-1.0, power_factor=2.0)
    accepted, rejected = validate([bad, at(0, energy_kwh=-1.0), at(15)], WINDOW, NOW)
    assert len(accepted) == 1
    assert "off_grid" in rejected[0].reason
    assert "negative_power" in rejected[0].reason
    assert "power_factor_out_of_range" in rejected[0].reason
    assert reason_counts(rejected) == {
        "off_grid": 1,
        "negative_power": 1,
        "power_factor_out_of_range": 1,
        "negative_energy": 1,
    }


def test_nothing_is_dropped():
    readings = [at(m, power_kw=(-1.0 if m % 30 else 2.0)) for m in range(0, 600, 15)]
    readings.append(at(0))
    accepted, rejected = validate(readings, WINDOW, NOW)
    assert len(accepted) + len(rejected) == len(readings)


def test_naive_now_is_an_error():
    with pytest.raises(ValueError, match="timezone-aware"):
        validate([], WINDOW, datetime(2026, 3, 5))
