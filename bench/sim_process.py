"""The Eniscope simulator in its own process, so that it never competes with the client for the GIL.

``SimulatorProcess(config_args)`` starts ``python -m bench.sim_process`` with the same arguments
``simulator_config`` takes, waits for its base URL, and exposes what the benchmarks
use of a ``Simulator``: ``base_url``, ``config`` (credentials), ``channel_ids()``. ``stop()`` ends
the process, which first writes every request it received (time, path, status) to a JSON file:
``requests`` reads them back. Times are ``time.time()`` of the same machine, comparable with the
parent's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench import common
from bench.common import REPO


def simulator_config(channels: int, rps: float, latency: float) -> Any:
    """Sites of 10 meters (zones cycling), no sensor or virtual channel; latency and budget R."""
    from eniscope_simulator import SiteConfig, default_config

    zones = common.ZONES
    sites = []
    left = channels
    while left > 0:
        n = min(10, left)
        index = len(sites)
        sites.append(
            SiteConfig(
                name=f"Bench site {index + 1}",
                timezone=zones[index % len(zones)],
                meters=n,
                sensors=0,
                virtual=0,
            )
        )
        left -= n
    config = default_config(sites=sites, latency_seconds=latency)
    config.faults.budget_rps = rps or None
    return config


class SimulatorProcess:
    """A simulator served by a child process (see the module docstring)."""

    def __init__(self, channels: int, rps: float, latency: float) -> None:
        from eniscope_simulator import Simulator

        self.config = simulator_config(channels, rps, latency)
        self._local = Simulator(self.config)  # not started: ids and credentials only
        self._out = Path(tempfile.mkdtemp(prefix="argo-bench-sim-")) / "requests.json"
        argv = [
            sys.executable, "-m", "bench.sim_process",
            "--channels", str(channels), "--rps", str(rps), "--latency", str(latency), "--out", str(self._out),
        ]  # fmt: skip
        self._proc = subprocess.Popen(argv, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self._proc.stdout.readline() if self._proc.stdout else ""
        if not line.startswith("http://"):
            self._proc.kill()
            raise RuntimeError(f"simulator process did not start: {line!r}")
        self.base_url = line.strip()
        self._records: list[Any] | None = None

    def channel_ids(self, kind: str | None = None) -> list[int]:
        return self._local.channel_ids(kind)

    def stop(self) -> None:
        if self._records is not None:
            return
        if self._proc.stdin:
            self._proc.stdin.close()  # the child's signal to dump its requests and exit
        self._proc.wait(timeout=60)
        data = json.loads(self._out.read_text(encoding="utf-8")) if self._out.exists() else []
        self._records = [SimpleNamespace(**r) for r in data]

    @property
    def requests(self) -> list[Any]:
        if self._records is None:
            raise RuntimeError("stop() the simulator process before reading its requests")
        return self._records


def main() -> int:
    from eniscope_simulator import Simulator

    p = argparse.ArgumentParser(description="serve the benchmark simulator until stdin closes")
    p.add_argument("--channels", type=int, required=True)
    p.add_argument("--rps", type=float, required=True)
    p.add_argument("--latency", type=float, required=True)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    sim = Simulator(simulator_config(args.channels, args.rps, args.latency))
    print(sim.start(host="127.0.0.1", port=0), flush=True)
    sys.stdin.read()  # blocks until the parent closes our stdin
    sim.stop()
    records = [{"at": r.at, "path": r.path, "status": r.status} for r in sim.requests]
    args.out.write_text(json.dumps(records), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
