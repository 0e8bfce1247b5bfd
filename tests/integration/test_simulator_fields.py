"""Every electrical field (issue 19), over real HTTP: three-phase physics, single phase, a missing phase."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
import requests

from eniscope_simulator import SiteConfig, default_config
from tests.fixtures.simulator import SIM_NOW, sim_get, sim_headers

pytestmark = pytest.mark.integration

DAY = datetime(2026, 11, 12, 5, 0, tzinfo=UTC)
PHASE = ("E", "P", "V", "I", "PF", "Q")
SYSTEM = ("E", "P", "V", "I", "PF", "Q", "S", "F", "D", "In", "cost")
ORIGINAL = (*SYSTEM, *(f"{code}{n}" for code in PHASE[:5] for n in (1, 2, 3)))  # the 26 fields of API.md §8
EVERY = (*ORIGINAL, "Q1", "Q2", "Q3")  # what a three-phase meter serves (plus per-phase Q)
UNITS = {"E": "Wh", "P": "W", "V": "V", "I": "A", "PF": "", "Q": "VAr", "S": "VA", "F": "Hz", "D": "%", "In": "A"}


def fetch(sim, channel, start, end, fields, res="900", action="summarize"):
    params = [("action", action), *[("fields[]", f) for f in fields], ("daterange[]", str(int(start.timestamp()))),
              ("daterange[]", str(int(end.timestamp()))), ("res", res)]
    response = sim_get(sim, f"/readings/{channel}", params)
    assert response.status_code == 200, response.text
    return response.json()


def assert_three_phase_physics(record, nominal_hz, tariff, phases=(1, 2, 3)):
    approx = pytest.approx
    assert record["P"] == approx(sum(record[f"P{n}"] for n in phases), rel=1e-9)
    assert record["E"] == approx(sum(record[f"E{n}"] for n in phases), rel=1e-9)
    assert record["S"] >= abs(record["P"])
    assert record["PF"] == approx(record["P"] / record["S"], rel=1e-9)
    assert record["Q"] == approx(sum(record[f"Q{n}"] for n in phases), rel=1e-9)
    assert record["S"] >= math.hypot(record["P"], record["Q"]) * (1 - 1e-12), "arithmetic S >= vector S"
    for n in phases:
        apparent = record[f"V{n}"] * record[f"I{n}"]
        assert record[f"PF{n}"] == approx(record[f"P{n}"] / apparent, rel=1e-9)
        assert record[f"Q{n}"] == approx(math.sqrt(apparent**2 - record[f"P{n}"] ** 2), rel=1e-6)
        assert 0.0 < record[f"PF{n}"] <= 1.0
    assert abs(record["F"] - nominal_hz) < 0.1
    assert 0.0 < record["D"] < 40.0, "current THD, %"
    if len(phases) == 3:
        assert 0.0 <= record["In"] < 0.3 * record["I"], "neutral current of a fairly balanced load"
    else:
        assert record["In"] > 0.5 * record["I"], "a phase missing unbalances the load"
    assert record["cost"] == approx(record["E"] / 1000.0 * tariff, rel=1e-9)


@pytest.mark.parametrize("res", ["900", "3600", "86400"])
def test_three_phase_physics_hold_for_every_served_reading(eniscope_sim, res):
    sim = eniscope_sim
    for site in sim.config.sites:
        org = next(o.org_id for o in sim.world.orgs.values() if o.name == site.name)
        channel = sim.channel_ids("meter", organization_id=org)[0]
        nominal = 60.0 if site.voltage < 200 else 50.0
        body = fetch(sim, channel, DAY, DAY + timedelta(days=1 if res != "86400" else 3), EVERY, res=res)
        assert body["units"] == {"ts": "Unix Time", **{c: UNITS.get(c.rstrip("123"), site.currency)
                                                       for c in EVERY}}
        assert body["records"], "data served"
        for record in body["records"]:
            assert set(record) == {"ts", *EVERY}
            assert_three_phase_physics(record, nominal, site.tariff_per_kwh)
        total = fetch(sim, channel, DAY, DAY + timedelta(days=1), EVERY, res="900", action="total")
        assert_three_phase_physics(total["records"][0], nominal, site.tariff_per_kwh)


def test_served_fields_equal_the_simulator_truth(eniscope_sim):
    sim = eniscope_sim
    channel = sim.channel_ids("meter")[2]
    fields = sim.fields_of(channel)
    assert set(ORIGINAL) <= set(fields)
    served = fetch(sim, channel, DAY, DAY + timedelta(hours=6), fields)["records"]
    assert served == sim.ground_truth(channel, DAY, DAY + timedelta(hours=6), fields=fields)


def test_field_discovery_options_and_fields_endpoint(make_simulator):
    sim = make_simulator(default_config(now=SIM_NOW, sites=[
        SiteConfig("Mixed", "America/New_York", voltage=120.0, meters=1, single_phase=1, tariff_per_kwh=0.2)]))
    three, single = sim.channel_ids("meter")
    options = {
        channel: requests.options(f"{sim.base_url}/v1/readings/{channel}/", headers=sim_headers(sim),
                                  timeout=10).json()["filters"]["fields"]
        for channel in (three, single)
    }
    assert set(options[three]) == set(EVERY)
    assert set(options[single]) == {"E", "P", "V", "I", "PF", "Q", "S", "F", "D", "cost"}
    by_type = sim_get(sim, "/fields/20").json()["fields"]
    assert set(ORIGINAL) <= set(by_type), "the device type lists every code its points may report"
    meter = sim_get(sim, "/meters", {"device": sim.world.channels[single].obj["deviceId"]}).json()["meters"][0]
    assert meter["channels"] == "1"


def test_single_phase_meter_has_no_per_phase_fields(make_simulator):
    sim = make_simulator(default_config(now=SIM_NOW, sites=[
        SiteConfig("Shop", "Europe/London", voltage=230.0, meters=0, single_phase=1, sensors=0, virtual=0)]))
    (channel,) = sim.channel_ids("meter")
    body = fetch(sim, channel, DAY, DAY + timedelta(hours=4), ORIGINAL)
    served = {"E", "P", "V", "I", "PF", "Q", "S", "F", "D"}
    assert set(body["units"]) == {"ts", *served}, "no per-phase code, no neutral, no cost without a tariff"
    for record in body["records"]:
        assert set(record) == {"ts", *served}, "absent, never 0"
        assert record["PF"] == pytest.approx(record["P"] / record["S"])
        assert record["I"] == pytest.approx(record["S"] / record["V"])
        assert record["E"] == pytest.approx(record["P"] * 0.25)


def test_phase_missing_fault_omits_that_phase(eniscope_sim):
    sim = eniscope_sim
    channel, other = sim.channel_ids("meter")[:2]
    sim.faults.phase_missing = [(channel, 2)]
    body = fetch(sim, channel, DAY, DAY + timedelta(hours=4), EVERY)
    site = sim.config.sites[0]
    for record in body["records"]:
        assert not {f"{code}2" for code in PHASE} & set(record), "phase 2 is absent"
        assert_three_phase_physics(record, 60.0, site.tariff_per_kwh, phases=(1, 3))
    assert body["records"] == sim.ground_truth(channel, DAY, DAY + timedelta(hours=4), fields=EVERY)
    untouched = fetch(sim, other, DAY, DAY + timedelta(hours=4), ORIGINAL)["records"]
    assert all("P2" in record for record in untouched), "only the chosen channel"


def test_phase_missing_for_a_period(eniscope_sim):
    sim = eniscope_sim
    channel = sim.channel_ids("meter")[0]
    sim.faults.phase_missing = [(channel, 3, DAY + timedelta(hours=1), DAY + timedelta(hours=2))]
    records = fetch(sim, channel, DAY, DAY + timedelta(hours=3), ("P", "P3"))["records"]
    assert ["P3" in r for r in records] == [True] * 4 + [False] * 4 + [True] * 4
