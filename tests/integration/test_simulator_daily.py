"""Daily totals (issue 20), over real HTTP: res=86400 days in the channel's zone, DST, faults."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.fixtures.simulator import SIM_NOW, sim_get

pytestmark = pytest.mark.integration


def local_midnight(day: date, zone: str) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).timestamp())


def daily(sim, channel, first: date, last: date, fields=("E",), action="summarize"):
    params = [("action", action), *[("fields[]", f) for f in fields], ("daterange[]", first.isoformat()),
              ("daterange[]", (last + timedelta(days=1)).isoformat()), ("res", "86400")]
    response = sim_get(sim, f"/readings/{channel}", params)
    assert response.status_code == 200, response.text
    return response.json()


def quarter_hours(sim, channel, start: int, end: int) -> list[dict]:
    """The day's 15-minute records, fetched in pieces of at most 12 h (longer windows coarsen)."""
    out = []
    for lo in range(start, end, 12 * 3600):
        params = [("fields[]", "E"), ("daterange[]", str(lo)), ("daterange[]", str(min(lo + 12 * 3600, end))),
                  ("res", "900")]
        body = sim_get(sim, f"/readings/{channel}", params).json()
        assert body["resolution"] == 900
        out += body["records"]
    return out


def site_channel(sim, zone: str) -> int:
    org = next(o.org_id for o in sim.world.orgs.values() if o.site is not None and o.timezone == zone)
    return sim.channel_ids("meter", organization_id=org)[0]


@pytest.mark.parametrize(
    ("zone", "first", "hours"),
    [
        ("America/New_York", date(2026, 10, 31), [24, 25, 24]),  # DST ends on Sunday 1 November
        ("America/New_York", date(2026, 3, 7), [24, 23, 24]),  # DST starts on Sunday 8 March
        ("Asia/Kolkata", date(2026, 11, 9), [24, 24, 24]),  # +05:30: days start at 18:30 UTC
    ],
)
def test_daily_total_is_the_sum_of_the_local_days_quarter_hours(eniscope_sim, zone, first, hours):
    sim = eniscope_sim
    channel = site_channel(sim, zone)
    days = [first + timedelta(days=k) for k in range(3)]
    body = daily(sim, channel, days[0], days[-1])
    assert body["resolution"] == 86400
    bounds = [local_midnight(d, zone) for d in [*days, days[-1] + timedelta(days=1)]]
    assert [r["ts"] for r in body["records"]] == bounds[:-1], "one record per local midnight"
    for record, lo, hi, length in zip(body["records"], bounds, bounds[1:], hours, strict=False):
        assert hi - lo == length * 3600
        quarters = quarter_hours(sim, channel, lo, hi)
        assert len(quarters) == length * 4
        assert record["E"] == pytest.approx(sum(q["E"] for q in quarters), rel=1e-9)
    total = daily(sim, channel, days[0], days[-1], action="total")
    assert total["records"][0]["ts"] == bounds[0]
    assert total["records"][0]["E"] == pytest.approx(sum(r["E"] for r in body["records"]), rel=1e-9)


def test_utc_days_would_differ(eniscope_sim):
    """The zone matters: the New York day is not the UTC day (guards against cutting in UTC)."""
    sim = eniscope_sim
    channel = site_channel(sim, "America/New_York")
    record = daily(sim, channel, date(2026, 11, 10), date(2026, 11, 10))["records"][0]
    utc_day = int(datetime(2026, 11, 10, tzinfo=UTC).timestamp())
    utc_sum = sum(q["E"] for q in quarter_hours(sim, channel, utc_day, utc_day + 86400))
    assert record["E"] != pytest.approx(utc_sum, rel=1e-6)


def test_inconsistent_source_breaks_the_equality_only_on_the_chosen_day(eniscope_sim):
    sim = eniscope_sim
    zone = "America/New_York"
    channel = site_channel(sim, zone)
    other = sim.channel_ids("meter", organization_id=sim.world.channels[channel].org_id)[1]
    sim.faults.inconsistent_days = [(channel, "2026-11-02")]
    days = [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)]
    for ch, broken in ((channel, {date(2026, 11, 2)}), (other, set())):
        records = daily(sim, ch, days[0], days[-1])["records"]
        for day, record in zip(days, records, strict=True):
            lo = local_midnight(day, zone)
            hi = local_midnight(day + timedelta(days=1), zone)
            quarters = sum(q["E"] for q in quarter_hours(sim, ch, lo, hi))
            if day in broken:
                assert record["E"] != pytest.approx(quarters, rel=1e-6), f"{day} of {ch} is inconsistent"
            else:
                assert record["E"] == pytest.approx(quarters, rel=1e-9), f"{day} of {ch} is consistent"
    truth = sim.ground_truth(channel, datetime(2026, 11, 2, tzinfo=ZoneInfo(zone)),
                             datetime(2026, 11, 3, tzinfo=ZoneInfo(zone)), fields=("E",), resolution=86400)
    assert truth == daily(sim, channel, days[1], days[1])["records"], "the truth shows the inconsistency"


def test_source_revision_changes_past_readings_after_its_date(eniscope_sim):
    sim = eniscope_sim
    channel = sim.channel_ids("meter")[0]
    start = datetime(2026, 11, 5, 14, 0, tzinfo=UTC)
    revised_at = SIM_NOW + timedelta(days=1)
    sim.faults.source_revisions = [(channel, start, start + timedelta(hours=1), revised_at)]
    before = quarter_hours(sim, channel, int(start.timestamp()) - 3600, int(start.timestamp()) + 7200)
    assert before == sim.ground_truth(channel, start - timedelta(hours=1), start + timedelta(hours=2),
                                      fields=("E",))
    sim.set_now(revised_at)
    after = quarter_hours(sim, channel, int(start.timestamp()) - 3600, int(start.timestamp()) + 7200)
    changed = [a["ts"] for a, b in zip(after, before, strict=True) if a["E"] != b["E"]]
    assert changed == [int(start.timestamp()) + 900 * k for k in range(4)], "only the revised hour"
    for a, b in zip(after[4:8], before[4:8], strict=True):
        assert a["E"] == pytest.approx(b["E"] * sim.faults.source_revision_factor)
    zone = sim.timezone_of(channel)
    day = datetime.fromtimestamp(start.timestamp(), ZoneInfo(zone)).date()
    lo, hi = local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)
    record = daily(sim, channel, day, day)["records"][0]
    assert record["E"] == pytest.approx(sum(q["E"] for q in quarter_hours(sim, channel, lo, hi)), rel=1e-9)
