"""Report Variables and Params: business hours, recipients, base path, file names, week param."""

from __future__ import annotations

import json
from datetime import date, datetime, time

import pytest

from argo_energy.report.config import (
    DEFAULT_BUSINESS_HOURS,
    BusinessHours,
    ReportConfigError,
    base_path_from,
    business_hours_for,
    parse_week_param,
    recipients_for,
    report_file_stem,
    safe_name,
)


def test_business_hours_default_is_weekdays_8_to_18() -> None:
    for raw in (None, "", "  "):
        assert business_hours_for(raw, "s1") == BusinessHours(frozenset(range(5)), time(8), time(18))
    hours = DEFAULT_BUSINESS_HOURS
    assert hours.contains(datetime(2026, 3, 2, 8, 0))  # Monday 08:00 is in
    assert not hours.contains(datetime(2026, 3, 2, 18, 0))  # 18:00 is out (end is exclusive)
    assert not hours.contains(datetime(2026, 3, 2, 7, 45))
    assert not hours.contains(datetime(2026, 3, 7, 12, 0))  # Saturday
    assert hours.label() == "Mon–Fri 08:00–18:00"


def test_business_hours_per_site_with_default() -> None:
    raw = json.dumps({
        "default": {"start": "07:30", "end": "17:00"},
        "plant": {"days": ["Mon", "tue", "wednesday", "thu", "fri", "sat"], "start": "06:00", "end": "24:00"},
    })
    plant = business_hours_for(raw, "plant")
    assert plant.weekdays == frozenset(range(6))
    assert plant.contains(datetime(2026, 3, 7, 23, 59))
    assert plant.label() == "Mon–Sat 06:00–24:00"
    office = business_hours_for(raw, "office")
    assert (office.start, office.end, office.weekdays) == (time(7, 30), time(17), DEFAULT_BUSINESS_HOURS.weekdays)
    assert business_hours_for(json.dumps({"other": {"start": "01:00"}}), "x") == DEFAULT_BUSINESS_HOURS
    one_for_all = business_hours_for('{"days": ["sat", "sun"], "start": "10:00", "end": "16:00"}', "any")
    assert one_for_all.label() == "Sat, Sun 10:00–16:00"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", "is not JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"default": {"start": "18:00", "end": "08:00"}}', "must be before end"),
        ('{"default": {"start": "8am"}}', "expected a time HH:MM"),
        ('{"default": {"days": ["funday"]}}', "unknown weekday"),
        ('{"default": {"days": []}}', "non-empty list"),
        ('{"default": {"begin": "08:00"}}', "unknown key"),
        ('{"s1": "08:00-18:00"}', "expected an object"),
    ],
)
def test_business_hours_errors_say_what_is_wrong(raw: str, message: str) -> None:
    with pytest.raises(ReportConfigError, match=message):
        business_hours_for(raw, "s1")


def test_recipients_list_or_per_site() -> None:
    per_site = json.dumps({"s1": ["a@x.test", "b@x.test"], "default": ["ops@x.test"], "s3": []})
    assert recipients_for(per_site, "s1") == ["a@x.test", "b@x.test"]
    assert recipients_for(per_site, "s2") == ["ops@x.test"]
    assert recipients_for(per_site, "s3") == [], "an empty list silences a site"
    assert recipients_for('["all@x.test", "all@x.test"]', "s9") == ["all@x.test"]
    assert recipients_for(None, "s1") == []


def test_base_path() -> None:
    assert base_path_from("s3://bucket/reports/") == "s3://bucket/reports"
    assert base_path_from("/srv/reports") == "file:///srv/reports"
    assert base_path_from(None).startswith("file:///")
    assert base_path_from(None).endswith("/reports")
    with pytest.raises(ReportConfigError, match="must be a URL"):
        base_path_from("reports")


def test_file_names_are_safe_and_name_site_and_week() -> None:
    assert safe_name("23271") == "23271"
    assert safe_name("../etc/Site A") == "etc_Site_A"
    assert safe_name("///") == "site"
    assert report_file_stem("Site A", "2026-W10") == "energy-report_Site_A_2026-W10"


def test_week_param() -> None:
    assert parse_week_param(None) is None
    assert parse_week_param("") is None
    assert parse_week_param("2026-03-02") == date(2026, 3, 2)
    with pytest.raises(ReportConfigError, match="must be a Monday"):
        parse_week_param("2026-03-04")
    with pytest.raises(ReportConfigError, match="YYYY-MM-DD"):
        parse_week_param("last week")
