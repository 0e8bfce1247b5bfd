"""Planning: params validation, site and channel selection, ranges, batches for mapping."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from argo_energy.ingest.planning import (
    BackfillRequest,
    ChannelTarget,
    backfill_site_range,
    batch_targets,
    daily_site_range,
    parse_backfill_params,
    parse_lookback_days,
    parse_max_days,
    plan_targets,
    select_channels,
    select_sites,
    site_zone,
)
from argo_energy.models import DEFAULT_SITE_TIMEZONE, Channel, Organization
from argo_energy.settings import ParamError, parse_sites_variable

TODAY = date(2026, 3, 20)
ORGS = [
    Organization("100", "Head office", timezone="America/New_York"),
    Organization("200", "Plant", timezone="Asia/Kolkata"),
    Organization("300", "Empty site", timezone="UTC"),
]
CHANNELS = [
    Channel(12, "Main", organization_id="100"),
    Channel(11, "HVAC", organization_id="100"),
    Channel(21, "Line 1", organization_id="200"),
]


def parse(**params):
    return parse_backfill_params(params, today=TODAY, max_days=31)


def test_valid_params_with_defaults():
    req = parse(start_date="2026-03-01")
    assert req == BackfillRequest(date(2026, 3, 1), date(2026, 3, 19))  # end defaults to yesterday
    assert req.days == 19


def test_ids_force_and_dry_run_are_normalised():
    req = parse(
        start_date="2026-03-01",
        end_date="2026-03-02",
        site_ids=[100, "200", "100"],
        channel_ids=["21", 11],
        force=True,
        dry_run="true",
    )
    assert req.site_ids == ("100", "200")
    assert req.channel_ids == (21, 11)
    assert req.force is True
    assert req.dry_run is True


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "start_date is required"),
        ({"start_date": "2026-02-30"}, "start_date '2026-02-30' is not a valid date"),
        ({"start_date": "03/01/2026"}, "not a valid date in the form YYYY-MM-DD"),
        (
            {"start_date": "2026-03-10", "end_date": "2026-03-01"},
            "end_date 2026-03-01 is before start_date 2026-03-10",
        ),
        ({"start_date": "2026-03-21"}, "start_date 2026-03-21 is in the future (today is 2026-03-20)"),
        ({"start_date": "2026-03-01", "end_date": "2026-04-01"}, "end_date 2026-04-01 is in the future"),
        ({"start_date": "2026-01-01", "end_date": "2026-03-01"}, "is 60 days, over the maximum of 31 days"),
        ({"start_date": "2026-03-01", "channel_ids": ["abc"]}, "channel_ids contains 'abc'"),
        ({"start_date": "2026-03-01", "force": "yes"}, "force must be true or false"),
        ({"start_date": "2026-03-01", "site_ids": {"a": 1}}, "site_ids must be a list"),
    ],
)
def test_bad_params_name_the_problem(params, message):
    with pytest.raises(ParamError) as info:
        parse(**params)
    assert message in str(info.value), f"{message!r} not in {str(info.value)!r}"


def test_every_problem_is_reported_at_once():
    with pytest.raises(ParamError) as info:
        parse(start_date="2026-13-01", end_date="2027-01-01", channel_ids=[None])
    text = str(info.value)
    assert "start_date" in text
    assert "end_date 2027-01-01 is in the future" in text
    assert "None" in text


def test_today_is_allowed_and_the_range_limit_is_inclusive():
    assert parse(start_date="2026-03-20", end_date="2026-03-20").days == 1
    assert parse(start_date="2026-02-18", end_date="2026-03-20").days == 31


def test_max_days_and_lookback_parsing():
    assert parse_max_days(None) == 366
    assert parse_max_days("90") == 90
    with pytest.raises(ParamError, match="must be an integer"):
        parse_max_days("ninety")
    with pytest.raises(ParamError, match=">= 1"):
        parse_max_days("0")
    assert parse_lookback_days(7) == 7
    for bad in (-1, "x", True, None):
        with pytest.raises(ParamError, match="lookback_days"):
            parse_lookback_days(bad)


def test_sites_variable():
    assert parse_sites_variable(None) is None
    assert parse_sites_variable("  ") is None
    assert parse_sites_variable("[]") is None
    assert parse_sites_variable('["23271", 42]') == ("23271", "42")
    with pytest.raises(ParamError, match="not JSON"):
        parse_sites_variable("23271,42")
    with pytest.raises(ParamError, match="JSON list"):
        parse_sites_variable('{"site": 1}')


def test_select_sites_defaults_to_every_site_with_channels():
    assert [o.organization_id for o in select_sites(ORGS, CHANNELS, None)] == ["100", "200"]
    assert [o.organization_id for o in select_sites(ORGS, CHANNELS, ["200"])] == ["200"]
    with pytest.raises(ParamError, match=r"unknown site id\(s\) 999"):
        select_sites(ORGS, CHANNELS, ["200", "999"])


def test_select_channels():
    sites = select_sites(ORGS, CHANNELS, None)
    assert [c.channel_id for c in select_channels(sites, CHANNELS)] == [11, 12, 21]
    assert [c.channel_id for c in select_channels(sites, CHANNELS, [21])] == [21]
    with pytest.raises(ParamError, match=r"unknown channel id\(s\) 99"):
        select_channels(sites, CHANNELS, [21, 99])
    with pytest.raises(ParamError, match=r"21 \(site 200\) not in the selected sites 100"):
        select_channels(select_sites(ORGS, CHANNELS, ["100"]), CHANNELS, [21])


def test_site_zone_falls_back_to_the_contract_default_or_utc_with_a_warning():
    assert site_zone(ORGS[0]) == ("America/New_York", None)
    zone, warning = site_zone(Organization("9", "x", timezone="Mars/Olympus"))
    assert zone == "UTC"
    assert "Mars/Olympus" in warning
    zone, warning = site_zone(Organization("9", "x"))
    assert zone == DEFAULT_SITE_TIMEZONE == "America/New_York", "the contract default, as the views use"
    assert "no time zone" in warning


def test_daily_range_is_capped_at_now():
    end = datetime(2026, 3, 10, 2, tzinfo=UTC)
    start, stop = daily_site_range(end, 7, "America/New_York", now=end + timedelta(hours=3))
    assert start == datetime(2026, 3, 2, 5, tzinfo=UTC)
    assert stop == end
    _, stop = daily_site_range(end, 7, "America/New_York", now=end - timedelta(minutes=20))
    assert stop == datetime(2026, 3, 10, 1, 30, tzinfo=UTC)  # the interval in progress is not asked for


def test_backfill_range_is_local_days_inclusive():
    req = BackfillRequest(date(2026, 3, 8), date(2026, 3, 9))
    start, end = backfill_site_range(req, "Asia/Kolkata", now=datetime(2026, 3, 20, tzinfo=UTC))
    assert (start, end) == (
        datetime(2026, 3, 7, 18, 30, tzinfo=UTC),
        datetime(2026, 3, 9, 18, 30, tzinfo=UTC),
    )
    # a range that ends today stops at the last complete quarter-hour
    now = datetime(2026, 3, 9, 12, 7, tzinfo=UTC)
    assert backfill_site_range(req, "Asia/Kolkata", now=now)[1] == datetime(2026, 3, 9, 12, tzinfo=UTC)


def test_plan_targets_skips_empty_ranges_and_round_trips():
    start, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, tzinfo=UTC)
    ranges = {"100": (start, end), "200": (end, end)}
    zones = {"100": "America/New_York", "200": "Asia/Kolkata"}
    targets = plan_targets(ORGS[:2], CHANNELS, ranges, zones)
    assert [t.channel_id for t in targets] == [11, 12]
    assert ChannelTarget.from_dict(targets[0].to_dict()) == targets[0]


def make_targets(n: int, org: str = "100") -> list[ChannelTarget]:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    return [ChannelTarget(1000 + i, org, "UTC", start, start + timedelta(days=1)) for i in range(n)]


def test_batches_are_named_after_their_channels():
    batches = batch_targets(make_targets(5), batch_size=2)
    assert [len(b["targets"]) for b in batches] == [2, 2, 1]
    assert [b["label"] for b in batches] == [
        "site 100: ch 1000, 1001",
        "site 100: ch 1002, 1003",
        "site 100: ch 1004",
    ]
    assert batch_targets([], batch_size=2) == []


def test_thousands_of_channels_stay_under_the_map_limit():
    targets = make_targets(5000)
    batches = batch_targets(targets, batch_size=5, max_batches=512)
    assert len(batches) <= 512
    assert sum(len(b["targets"]) for b in batches) == 5000
    assert batches[0]["label"] == "site 100: ch " + ", ".join(str(1000 + i) for i in range(10))


def test_long_labels_are_shortened():
    (batch,) = batch_targets(make_targets(100), batch_size=100)
    assert batch["label"] == "site 100: 100 ch 1000…1099"
