"""The simulator speaks the API of API.md §9: raw HTTP, no hook involved."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from eniscope_simulator import Simulator, config_from_dict, default_config, load_config, min_resolution
from tests.fixtures.simulator import SIM_NOW

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
CAPTURED = REPO / "eniscope_simulator" / "captured"
DAY = datetime(2026, 11, 12, 5, 0, tzinfo=UTC)


def basic(sim: Simulator, email: str | None = None, password: str | None = None) -> str:
    md5 = hashlib.md5((password or sim.config.password).encode(), usedforsecurity=False).hexdigest()
    return "Basic " + base64.b64encode(f"{email or sim.config.email}:{md5}".encode()).decode()


def get(sim, path, params=None, *, key=None, auth=True, headers=None):
    sent = {"X-Eniscope-API": sim.config.api_key if key is None else key}
    if auth:
        sent["Authorization"] = basic(sim)
    sent.update(headers or {})
    return requests.get(sim.base_url + path, params=params, headers=sent, timeout=10)


def readings(sim, channel, start, end, fields=("E", "P"), res="900", **extra):
    params = [("action", "summarize"), *[("fields[]", f) for f in fields],
              ("daterange[]", str(int(start.timestamp()))), ("daterange[]", str(int(end.timestamp()))),
              ("res", res), *extra.items()]
    return get(sim, f"/readings/{channel}", params)


# ----------------------------------------------------------------------------- envelope and auth


def test_readings_envelope_is_shaped_like_the_real_capture(eniscope_sim):
    real = json.loads((CAPTURED / "readings-59155.json").read_text())
    response = readings(eniscope_sim, eniscope_sim.channel_ids("meter")[0], DAY, DAY + timedelta(days=1))
    assert response.status_code == 200
    ours = response.json()
    assert list(ours) == list(real), "same keys in the same order as the captured response"
    for key in ("channel", "organization", "from", "to", "resolution", "recordCount"):
        assert type(ours[key]) is type(real[key]), key
    assert ours["units"] == {"ts": "Unix Time", "E": "Wh", "P": "W"}
    assert ours["recordCount"] == len(ours["records"]) == 96
    assert all(isinstance(r["ts"], int) and isinstance(r["E"], float) for r in ours["records"])


def test_list_envelope_uses_string_ids_like_the_real_capture(eniscope_sim):
    real = json.loads((CAPTURED / "data-view-ids-5410eca8722e0001.json").read_text())["channels"][0]
    body = get(eniscope_sim, "/channels").json()
    channel = body["channels"][0]
    assert set(real) <= set(channel), f"missing keys {set(real) - set(channel)}"
    assert isinstance(channel["dataChannelId"], str)
    assert {"deviceTypeName", "in_tsdb"} <= set(channel)
    assert body["meta"] == {"currentPage": 1, "recordsPerPage": 20, "recordCount": 21, "pageCount": 2}


def test_auth_rules(eniscope_sim):
    sim = eniscope_sim
    assert get(sim, "/", key="wrong").status_code == 403
    assert get(sim, "/", auth=False).status_code == 401
    assert get(sim, "/", auth=False, headers={"Authorization": basic(sim, password="nope")}).status_code == 401
    assert get(sim, "/", auth=False, headers={"X-Eniscope-Token": "unknown"}).status_code == 401
    ok = get(sim, "/")
    token = ok.headers["X-Eniscope-Token"]
    assert ok.json()["emailAddress"] == sim.config.email
    again = get(sim, "/organizations", auth=False, headers={"X-Eniscope-Token": token})
    assert again.status_code == 200
    assert "X-Eniscope-Token" not in again.headers, "token-authenticated responses carry no new token"
    sim.expire_tokens()
    assert get(sim, "/", auth=False, headers={"X-Eniscope-Token": token}).status_code == 419
    assert all(r.headers.get("X-Eniscope-API") == "***" for r in sim.requests)


@pytest.mark.parametrize("prefix", ["", "/v1", "/v1/1"])
@pytest.mark.parametrize("slash", ["", "/"])
def test_path_prefixes_and_trailing_slash(eniscope_sim, prefix, slash):
    assert get(eniscope_sim, f"{prefix}/organizations{slash}").status_code == 200


def test_literal_and_encoded_brackets(eniscope_sim):
    sim = eniscope_sim
    channel = sim.channel_ids("meter")[0]
    start, end = int(DAY.timestamp()), int((DAY + timedelta(hours=1)).timestamp())
    literal = f"{sim.base_url}/readings/{channel}?fields[]=E&fields[]=V&daterange[]={start}&daterange[]={end}&res=900"
    headers = {"X-Eniscope-API": sim.config.api_key, "Authorization": basic(sim)}
    body = requests.get(literal, headers=headers, timeout=10).json()
    encoded = readings(sim, channel, DAY, DAY + timedelta(hours=1), fields=("E", "V")).json()
    assert body["records"] == encoded["records"]
    assert set(body["units"]) == {"ts", "E", "V"}


# ----------------------------------------------------------------------------- paging


def test_paging_rules(eniscope_sim):
    sim = eniscope_sim
    everything = get(sim, "/channels", {"limit": 0}).json()
    assert everything["meta"]["pageCount"] == 0
    assert len(everything["channels"]) == 21
    clamped = get(sim, "/channels", {"limit": 500}).json()
    assert clamped["meta"]["recordsPerPage"] == 100
    last = get(sim, "/channels", {"limit": 20, "page": 2}).json()
    assert len(last["channels"]) == 1
    assert get(sim, "/channels", {"limit": 20, "page": 3}).json()["channels"] == []
    ids = [c["dataChannelId"] for p in (1, 2) for c in get(sim, "/channels", {"page": p}).json()["channels"]]
    assert sorted(int(i) for i in ids) == sorted(sim.channel_ids()), "pages neither overlap nor skip"
    site = sim.site_organization_ids()[0]
    mine = get(sim, "/channels", {"organization": site, "limit": 100}).json()["channels"]
    assert {c["organizationId"] for c in mine} == {site}


def test_other_lists(eniscope_sim):
    sim = eniscope_sim
    orgs = get(sim, "/organizations").json()["organizations"]
    assert {o["timeZone"] for o in orgs} >= {"America/New_York", "Asia/Kolkata", "Europe/London"}
    assert all(isinstance(o["organizationId"], str) for o in orgs)
    assert get(sim, "/meters", {"limit": 100}).json()["meta"]["recordCount"] == 18
    assert get(sim, "/devices", {"limit": 100}).json()["meta"]["recordCount"] == 24
    site = sim.site_organization_ids()[0]
    below = get(sim, f"/organizations/{site}/metersbelow").json()
    assert below["organizationId"] == site
    assert len(below["metersbelow"]) == 7
    assert get(sim, "/organizations/1").status_code == 404
    sensor = sim.channel_ids("sensor")[0]
    options = requests.options(f"{sim.base_url}/readings/{sensor}", timeout=10,
                               headers={"X-Eniscope-API": sim.config.api_key, "Authorization": basic(sim)})
    assert options.json() == {"filters": {"fields": ["CO2", "RH", "T", "VOC1"]}}


# ----------------------------------------------------------------------------- readings semantics


@pytest.mark.parametrize(
    ("hours", "res", "expected"),
    [(24, "900", 900), (25, "900", 1800), (24, "60", 60), (7 * 24, "60", 1800), (30 * 24, "900", 3600),
     (40 * 24, "3600", 86400), (24, "auto", 60), (7 * 24, "auto", 1800)],
)
def test_resolution_coercion(eniscope_sim, hours, res, expected):
    end = datetime(2026, 11, 10, tzinfo=UTC)
    body = readings(eniscope_sim, eniscope_sim.channel_ids("meter")[0], end - timedelta(hours=hours), end,
                    res=res).json()
    assert body["resolution"] == expected == max(int(res) if res != "auto" else 0, min_resolution(hours * 3600))
    assert len(body["records"]) == hours * 3600 // expected


def test_bad_requests(eniscope_sim):
    sim = eniscope_sim
    channel = sim.channel_ids("meter")[0]
    assert readings(sim, channel, DAY, DAY).status_code == 400
    assert readings(sim, channel, DAY, DAY + timedelta(hours=1), res="120").status_code == 400
    assert readings(sim, channel, DAY, DAY + timedelta(hours=1), fields=()).status_code == 500
    assert readings(sim, 1, DAY, DAY + timedelta(hours=1)).status_code == 404
    sensor = readings(sim, sim.channel_ids("sensor")[0], DAY, DAY + timedelta(hours=1), fields=("E", "T"))
    assert (sensor.status_code, sensor.json()) == (500, {"message": "Invalid Parameter"})
    assert readings(sim, sim.channel_ids("virtual")[0], DAY, DAY + timedelta(hours=1)).status_code == 500


def test_half_open_window_and_no_future_buckets(eniscope_sim):
    sim = eniscope_sim
    channel = sim.channel_ids("meter")[0]
    records = readings(sim, channel, SIM_NOW - timedelta(hours=2), SIM_NOW + timedelta(hours=3)).json()["records"]
    stamps = [r["ts"] for r in records]
    assert stamps[0] == int((SIM_NOW - timedelta(hours=2)).timestamp())
    assert stamps[-1] == int(SIM_NOW.timestamp()) - 900, "the last served bucket ended at 'now'"
    assert len(stamps) == 8


def test_load_shapes_are_physically_consistent(eniscope_sim):
    sim = eniscope_sim
    week_start = datetime(2026, 11, 2, tzinfo=UTC)  # Monday
    for site in sim.site_organization_ids():
        channel = sim.channel_ids("meter", organization_id=site)[0]
        zone = ZoneInfo(sim.timezone_of(channel))
        body = readings(sim, channel, week_start, week_start + timedelta(days=1),
                        fields=("E", "P", "V", "I", "PF", "Q")).json()
        nominal = 120.0 if zone.key == "America/New_York" else 230.0
        for r in body["records"]:
            assert r["E"] == pytest.approx(r["P"] * 0.25), "E (Wh) = P (W) x 0.25 h"
            assert 0.6 <= r["PF"] <= 0.98
            assert abs(r["V"] - nominal) / nominal < 0.03
            assert r["I"] == pytest.approx(r["P"] / (3 * r["V"] * r["PF"]))
        by_local_hour = {datetime.fromtimestamp(r["ts"], zone).hour: r["P"] for r in body["records"]}
        assert by_local_hour[11] > 2 * by_local_hour[3], f"business hours dominate at {zone.key}"
    weekday = readings(sim, channel, week_start, week_start + timedelta(days=1)).json()["records"]
    sunday = readings(sim, channel, week_start - timedelta(days=1), week_start).json()["records"]
    assert sum(r["E"] for r in weekday) > 1.5 * sum(r["E"] for r in sunday)


def test_kolkata_local_day_has_96_quarter_hours(eniscope_sim):
    sim = eniscope_sim
    site = sim.site_organization_ids()[1]
    channel = sim.channel_ids("meter", organization_id=site)[0]
    start = datetime(2026, 11, 10, tzinfo=ZoneInfo("Asia/Kolkata")).astimezone(UTC)
    assert start.minute == 30, "a half-hour offset zone"
    response = get(sim, f"/readings/{channel}", [("fields[]", "E"), ("daterange[]", "2026-11-10"),
                                                  ("daterange[]", "2026-11-11"), ("res", "900")])
    body = response.json()
    assert body["from"] == int(start.timestamp())
    assert len(body["records"]) == 96


def test_coarser_buckets_aggregate_the_fine_ones(eniscope_sim):
    sim = eniscope_sim
    channel = sim.channel_ids("meter")[2]
    fine = readings(sim, channel, DAY, DAY + timedelta(hours=2), res="900").json()["records"]
    coarse = readings(sim, channel, DAY, DAY + timedelta(hours=2), res="3600").json()["records"]
    assert coarse[0]["E"] == pytest.approx(sum(r["E"] for r in fine[:4]))
    assert coarse[1]["P"] == pytest.approx(sum(r["P"] for r in fine[4:]) / 4)
    total = readings(sim, channel, DAY, DAY + timedelta(hours=2), action="total").json()
    assert total["records"][0]["E"] == pytest.approx(sum(r["E"] for r in fine))


def test_data_is_deterministic_across_instances(make_simulator):
    a = make_simulator(default_config(now=SIM_NOW))
    b = make_simulator(default_config(now=SIM_NOW))
    channel = a.channel_ids("meter")[3]
    assert readings(a, channel, DAY, DAY + timedelta(days=1)).json() == readings(b, channel, DAY, DAY + timedelta(days=1)).json()
    other = make_simulator(default_config(now=SIM_NOW, seed=7))
    assert readings(other, channel, DAY, DAY + timedelta(hours=1)).json()["records"] != readings(
        a, channel, DAY, DAY + timedelta(hours=1)
    ).json()["records"]


def test_ground_truth_equals_what_is_served_including_data_faults(eniscope_sim):
    sim = eniscope_sim
    sim.faults.gaps = [(None, DAY + timedelta(hours=1), DAY + timedelta(hours=2))]
    sim.faults.null_rate = 0.1
    channel = sim.channel_ids("meter")[0]
    served = readings(sim, channel, DAY, DAY + timedelta(days=1), fields=("E", "P", "V", "I", "PF", "Q", "T", "RH"))
    truth = sim.ground_truth(channel, DAY, DAY + timedelta(days=1))
    assert served.json()["records"] == truth
    assert len(truth) == 92, "the explicit one-hour gap removes four buckets"
    assert any(r["E"] is None for r in truth)


def test_missing_as_null_emits_null_records(make_simulator):
    sim = make_simulator(default_config(now=SIM_NOW, missing_as_null=True))
    sim.faults.gaps = [(sim.channel_ids("meter")[0], DAY, DAY + timedelta(minutes=30))]
    records = readings(sim, sim.channel_ids("meter")[0], DAY, DAY + timedelta(hours=1)).json()["records"]
    assert [r["E"] is None for r in records] == [True, True, False, False]


def test_late_data_then_revision_changes_values(eniscope_sim):
    sim = eniscope_sim
    channel = sim.channel_ids("meter")[0]
    start = SIM_NOW - timedelta(hours=4)
    sim.faults.late_hours = 2
    late = readings(sim, channel, start, SIM_NOW).json()["records"]
    assert len(late) == 8
    sim.faults.late_hours = 0
    complete = readings(sim, channel, start, SIM_NOW).json()["records"]
    sim.faults.revision = 2
    revised = readings(sim, channel, start, SIM_NOW).json()["records"]
    assert len(complete) == len(revised) == 16
    assert late == complete[:8]
    assert all(r["E"] > c["E"] for r, c in zip(revised, complete, strict=True))
    assert revised == readings(sim, channel, start, SIM_NOW).json()["records"], "revisions are deterministic"


# ----------------------------------------------------------------------------- transport faults


def test_transport_faults(eniscope_sim):
    sim = eniscope_sim
    sim.faults.rate_limit_next = 1
    sim.faults.retry_after = 3
    limited = get(sim, "/")
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "3")
    sim.faults.error_next = 2
    sim.faults.error_status = 502
    assert [get(sim, "/").status_code for _ in range(3)] == [502, 502, 200]
    channel = sim.channel_ids("meter")[0]
    sim.faults.malformed_next = 1
    with pytest.raises(requests.exceptions.JSONDecodeError):
        readings(sim, channel, DAY, DAY + timedelta(hours=1)).json()
    sim.faults.truncated_next = 1
    with pytest.raises(requests.exceptions.JSONDecodeError):
        readings(sim, channel, DAY, DAY + timedelta(hours=1)).json()
    assert readings(sim, channel, DAY, DAY + timedelta(hours=1)).json()["recordCount"] == 4


def test_scope_readings_only(eniscope_sim):
    sim = eniscope_sim
    sim.faults.scope = "readings"
    sim.faults.error_next = 1
    assert get(sim, "/organizations").status_code == 200
    assert readings(sim, sim.channel_ids("meter")[0], DAY, DAY + timedelta(hours=1)).status_code == 503


def test_request_budget(eniscope_sim):
    sim = eniscope_sim
    sim.faults.budget_rps = 3
    statuses = [get(sim, "/").status_code for _ in range(6)]
    assert statuses[:3] == [200, 200, 200]
    assert 429 in statuses[3:]


def test_token_expires_after_n_uses(eniscope_sim):
    sim = eniscope_sim
    sim.faults.token_max_uses = 1
    token = get(sim, "/").headers["X-Eniscope-Token"]
    codes = [get(sim, "/", auth=False, headers={"X-Eniscope-Token": token}).status_code for _ in range(2)]
    assert codes == [200, 419]


# ----------------------------------------------------------------------------- config and CLI


def test_config_from_json_and_env(tmp_path, monkeypatch):
    path = tmp_path / "sim.json"
    path.write_text(json.dumps({
        "now": "2026-11-16T12:00:00Z", "seed": 5,
        "sites": [{"name": "Only", "timezone": "Asia/Kolkata", "meters": 2}],
        "faults": {"gap_rate": 0.5, "null_fields": ["E"]},
    }))
    monkeypatch.setenv("ENISCOPE_SIM_API_KEY", "env-key-123456")
    config = load_config(path)
    assert config.now == SIM_NOW
    assert config.api_key == "env-key-123456"
    assert config.faults.null_fields == ("E",)
    assert [s.meters for s in config.sites] == [2]
    with pytest.raises(ValueError, match="unknown keys"):
        config_from_dict({"colour": "blue"})


def test_command_line_serves_until_terminated(tmp_path):
    env = {**os.environ, "ENISCOPE_SIM_API_KEY": "cli-key-123456", "ENISCOPE_SIM_PASSWORD": "cli-password-1",
           "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "plugins")])}
    process = subprocess.Popen(
        [sys.executable, "-m", "eniscope_simulator", "--host", "127.0.0.1", "--port", "0"],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        line = ""
        while "serving" not in line and time.monotonic() < deadline:
            line = process.stdout.readline()
        assert "serving http://127.0.0.1:" in line, f"no start line; last line {line!r}"
        assert "cli-password-1" not in line
        assert "cli-key-123456" not in line
        url = re.search(r"serving (http://[\d.]+:\d+)", line).group(1)
        md5 = hashlib.md5(b"cli-password-1", usedforsecurity=False).hexdigest()
        auth = "Basic " + base64.b64encode(f"api@argo-energy.example:{md5}".encode()).decode()
        response = requests.get(url + "/", headers={"X-Eniscope-API": "cli-key-123456", "Authorization": auth},
                                timeout=10)
        assert response.status_code == 200
    finally:
        process.terminate()
        assert process.wait(timeout=15) == 0
