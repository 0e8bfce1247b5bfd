"""Benchmark: Eniscope simulator throughput, requests/s of one-day readings calls (96 x 8 fields).

The simulator serves 50 channels (5 sites x 8 meters + a sensor and a virtual channel each). Every
call asks one meter channel for one site-local day at 900 s with the hook's default fields, the
call the pipeline makes. Measured three ways, medians of the rounds:

* ``raw``: one keep-alive ``requests.Session``, sequential calls (the server's cost plus HTTP);
* ``hook``: ``EniscopeHook.get_readings`` sequential (adds auth headers, retries machinery and
  parsing into ``Reading`` objects; client-side rate limit off);
* ``raw_threads``: 4 client threads, one session each (the threaded server under concurrency).

Target: raw >= 50 requests/s, so the simulator never dominates a test or a demo run
(50 channels x 3 re-fetched days = 150 calls in a few seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from bench import common
from bench.common import Ratio, say
from eniscope_simulator import Simulator, scaled_config

NAME = "simulator"
TITLE = "Eniscope simulator (one-day readings calls/s)"
SIZES = {"tiny": (20, 1), "quick": (300, 3), "full": (1500, 3)}  # calls per round, rounds
NOW = datetime(2026, 11, 16, 12, tzinfo=UTC)
FIRST_DAY = datetime(2026, 10, 1, 4, tzinfo=UTC)  # New York midnight; windows are 24 h
FIELDS = ("E", "P", "V", "I", "PF", "Q", "T", "RH")
THREADS = 4


def _calls(sim: Simulator, count: int) -> list[tuple[int, datetime]]:
    """(channel, day start) pairs cycling over meters and 30 days."""
    meters = sim.channel_ids("meter")
    return [(meters[i % len(meters)], FIRST_DAY + timedelta(days=(i // len(meters)) % 30)) for i in range(count)]


def _raw_session(sim: Simulator) -> requests.Session:
    import base64
    import hashlib

    md5 = hashlib.md5(sim.config.password.encode(), usedforsecurity=False).hexdigest()
    session = requests.Session()
    session.headers.update({
        "X-Eniscope-API": sim.config.api_key,
        "Authorization": "Basic " + base64.b64encode(f"{sim.config.email}:{md5}".encode()).decode(),
    })
    return session


def _raw_call(session: requests.Session, base_url: str, channel: int, day: datetime) -> int:
    start = int(day.timestamp())
    params = [("action", "summarize"), *[("fields[]", f) for f in FIELDS],
              ("daterange[]", str(start)), ("daterange[]", str(start + 86400)), ("res", "900")]
    response = session.get(f"{base_url}/readings/{channel}", params=params, timeout=30)
    response.raise_for_status()
    return len(response.json()["records"])


def _raw(sim: Simulator, calls: list[tuple[int, datetime]]) -> int:
    session = _raw_session(sim)
    return sum(_raw_call(session, sim.base_url, channel, day) for channel, day in calls)


def _raw_threads(sim: Simulator, calls: list[tuple[int, datetime]]) -> int:
    totals = [0] * THREADS

    def work(index: int) -> None:
        session = _raw_session(sim)
        totals[index] = sum(
            _raw_call(session, sim.base_url, channel, day) for channel, day in calls[index::THREADS]
        )

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(totals)


def _hook(sim: Simulator, calls: list[tuple[int, datetime]]) -> int:
    from argo_energy.eniscope.hook import EniscopeHook

    with EniscopeHook("eniscope_bench") as hook:
        return sum(len(hook.get_readings(c, d, d + timedelta(days=1), FIELDS).readings) for c, d in calls)


METHODS = {"raw": _raw, "hook": _hook, "raw_threads": _raw_threads}


def run(args: argparse.Namespace) -> dict[str, Any]:
    mode = common.mode_of(args)
    count, rounds = SIZES[mode]
    rounds = args.repeat or rounds
    config = scaled_config(sites=5, meters_per_site=8, now=NOW)
    samples: dict[str, list[float]] = {name: [] for name in METHODS}
    with Simulator(config) as sim:
        os.environ["AIRFLOW_CONN_ENISCOPE_BENCH"] = json.dumps({
            "conn_type": "eniscope", "host": sim.base_url, "login": sim.config.email,
            "password": sim.config.password,
            "extra": {"api_key": sim.config.api_key, "requests_per_second": 0},
        })
        calls = _calls(sim, count)
        say(f"{TITLE}: {len(sim.world.channels)} channels, {count} calls x {rounds} rounds")
        # Warm-up: Airflow and hook imports, first connections, the simulator's calendar cache.
        _raw(sim, calls)
        _hook(sim, calls[:5])
        for round_number in range(rounds):
            for name, method in METHODS.items():
                started = time.perf_counter()
                records = method(sim, calls)
                seconds = time.perf_counter() - started
                if records != 96 * count:
                    raise RuntimeError(f"{name}: {records} records, expected {96 * count}")
                samples[name].append(count / seconds)
                say(f"  round {round_number + 1} {name}: {count / seconds:,.0f} calls/s")
    rates = {name: common.med(values) for name, values in samples.items()}
    payload = {
        "title": TITLE,
        "params": {"channels": len(config.sites) * 10, "calls": count, "rounds": rounds,
                   "records_per_call": 96, "fields": list(FIELDS), "threads": THREADS},
        "requests_per_second": rates,
        "samples": {name: common.spread(values) for name, values in samples.items()},
        "ratios": [
            Ratio("raw one-day calls/s", rates["raw"], 50.0, note="sequential, one keep-alive session"),
            Ratio("hook / raw", rates["hook"] / rates["raw"], None, note="client overhead incl. parsing"),
        ],
        "table_figures": [
            f"raw {rates['raw']:,.0f} calls/s ({rates['raw'] * 96:,.0f} readings/s)",
            f"via EniscopeHook {rates['hook']:,.0f} calls/s",
            f"{THREADS} client threads {rates['raw_threads']:,.0f} calls/s",
        ],
    }
    return common.finish(args, NAME, payload, None)


def main() -> int:
    return common.main_guard(run, common.arg_parser(__doc__.splitlines()[0]))


if __name__ == "__main__":
    raise SystemExit(main())
