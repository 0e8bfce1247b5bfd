"""A faithful local simulator of the Eniscope Core API (API.md §9), faults included.

    from eniscope_simulator import Simulator, default_config
    with Simulator(default_config()) as sim:      # started on a free port
        print(sim.base_url, sim.config.api_key)
        sim.faults.error_next = 2                  # the next two requests answer 503
"""

from __future__ import annotations

from eniscope_simulator.config import (
    FaultConfig,
    SimulatorConfig,
    SiteConfig,
    UserConfig,
    config_from_dict,
    default_config,
    load_config,
    scaled_config,
)
from eniscope_simulator.limits import AccountCounters
from eniscope_simulator.routes import min_resolution
from eniscope_simulator.server import RequestRecord, Simulator

__all__ = [
    "AccountCounters",
    "FaultConfig",
    "RequestRecord",
    "Simulator",
    "SimulatorConfig",
    "SiteConfig",
    "UserConfig",
    "config_from_dict",
    "default_config",
    "load_config",
    "min_resolution",
    "scaled_config",
]
