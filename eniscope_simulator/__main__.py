"""``python -m eniscope_simulator``: serve the simulator until interrupted (demo, docker compose).

Credentials come from ``ENISCOPE_SIM_API_KEY``, ``ENISCOPE_SIM_EMAIL`` and ``ENISCOPE_SIM_PASSWORD``
(else the config file, else the defaults); host and port from the options or ``ENISCOPE_SIM_HOST``
/ ``ENISCOPE_SIM_PORT``; ``--config`` (or ``ENISCOPE_SIM_CONFIG``) is a JSON ``SimulatorConfig``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
from collections.abc import Sequence

from eniscope_simulator.config import load_config
from eniscope_simulator.server import Simulator


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eniscope_simulator", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default=os.environ.get("ENISCOPE_SIM_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("ENISCOPE_SIM_PORT", "8085")))
    parser.add_argument("--config", default=os.environ.get("ENISCOPE_SIM_CONFIG"), help="JSON config file")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")

    sim = Simulator(load_config(args.config))
    base_url = sim.start(host=args.host, port=args.port)
    kinds = {k: len(sim.channel_ids(k)) for k in ("meter", "sensor", "virtual")}
    logging.getLogger("eniscope_simulator").info(
        "serving %s: %d organisations, channels %s; connection: %s",
        base_url, len(sim.world.orgs), kinds,
        # The password and key are not printed: they are in the environment or the config file.
        json.dumps({"conn_type": "eniscope", "host": base_url, "login": sim.config.email,
                    "password": "<ENISCOPE_SIM_PASSWORD>", "extra": {"api_key": "<ENISCOPE_SIM_API_KEY>"}}),
    )
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    stopped.wait()
    sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
