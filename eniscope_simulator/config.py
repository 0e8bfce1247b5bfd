"""Configuration of the Eniscope simulator: sites, users, clock, behaviour switches and faults.

Everything the real API leaves open (API.md §9 "cfg") is a field here with the documented default.
``default_config()`` is the seed data used by tests and the demo; ``load_config(path)`` reads the
same structure from JSON for the command line.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

ENV_API_KEY = "ENISCOPE_SIM_API_KEY"
ENV_EMAIL = "ENISCOPE_SIM_EMAIL"
ENV_PASSWORD = "ENISCOPE_SIM_PASSWORD"  # noqa: S105 - name of an environment variable


@dataclass
class SiteConfig:
    """One site organisation with one Hybrid 8 gateway, its meters, sensors and virtual channels."""

    name: str
    timezone: str
    country: str = ""
    city: str = ""
    voltage: float = 230.0  # line-to-neutral volts (120 in the US)
    meters: int = 6  # three-phase grid-meter channels on the gateway
    sensors: int = 1  # Air Sense channels (T, RH, CO2, VOC1; 500 for E/P/V)
    virtual: int = 1  # virtual channels without metering data (always 500)
    base_kw: float = 18.0  # mean load scale of the largest meter, kW
    currency: str = "USD"
    single_phase: int = 0  # single-phase grid-meter channels (after the three-phase ones)
    tariff_per_kwh: float | None = None  # a tariff on every meter channel -> field ``cost`` (currency)


@dataclass
class UserConfig:
    """An extra account; ``organization`` is the site name (or org id) it may see, None = root."""

    email: str
    password: str = field(repr=False)
    organization: str | None = None


@dataclass
class FaultConfig:
    """Injected faults, mutable while the server runs (``sim.faults.error_next = 2``).

    "Transport" faults (429, 5xx, slowness, malformed bodies, token expiry) alter responses; "data"
    faults (gaps, nulls, negatives, future and late buckets, revisions) alter what the API knows
    and therefore also ``Simulator.ground_truth``. ``*_next`` counters apply to the next N
    requests in ``scope`` ("all" or "readings") and count down.
    """

    # transport
    scope: str = "all"
    rate_limit_next: int = 0
    retry_after: float | None = 1.0  # Retry-After seconds sent with 429 (None = no header)
    budget_rps: float | None = None  # 429 beyond this many requests in any 1-second window
    error_next: int = 0
    error_status: int = 503
    slow_next: int = 0
    slow_seconds: float = 0.0
    delay_seconds: float = 0.0  # added to every response
    malformed_next: int = 0  # next N readings bodies are invalid JSON
    truncated_next: int = 0  # next N readings bodies are cut in half
    token_max_uses: int | None = None  # a token answers 419 after this many uses
    # data
    gap_rate: float = 0.0  # share of buckets omitted, deterministic by channel and ts
    gaps: list[tuple[int | None, Any, Any]] = field(default_factory=list)  # (channel|None, start, end)
    null_rate: float = 0.0  # share of buckets whose values are null
    null_fields: tuple[str, ...] | None = None  # fields nulled (None = every requested field)
    negative_rate: float = 0.0  # share of buckets with negative E/P
    future_buckets: int = 0  # emit up to N buckets at or after "now" when the window allows
    late_hours: float = 0.0  # the last N hours before "now" are not available yet
    revision: int = 0  # >0: values of the last ``revision_hours`` are revised (deterministically)
    revision_hours: float = 72.0
    # issue 16: per-account token bucket (account = API key + login); None = off
    account_rps: float | None = None  # refill rate R, requests per second
    account_burst: float = 1.0  # bucket size B (requests allowed back to back)
    # issue 17: stalls. A target is a channel id (its readings) or a path prefix ("/organizations").
    drip_targets: list[int | str] = field(default_factory=list)  # headers, then 1 byte per drip_seconds
    drip_seconds: float = 1.0
    hang_targets: list[int | str] = field(default_factory=list)  # accepted, never answered
    stall_cap_seconds: float = 600.0  # a drip or hang ends (connection closed) after this long
    # issue 19: (channel, phase) or (channel, phase, start, end): that phase's fields absent
    phase_missing: list[tuple[Any, ...]] = field(default_factory=list)
    # issue 20: the daily total of (channel, "YYYY-MM-DD" local day) is off by inconsistent_factor
    inconsistent_days: list[tuple[int, str]] = field(default_factory=list)
    inconsistent_factor: float = 1.03
    # (channel|None, start, end, revised_at): data in [start, end) x source_revision_factor once
    # the simulator clock reaches revised_at (reconciliation finds the changed past readings)
    source_revisions: list[tuple[Any, ...]] = field(default_factory=list)
    source_revision_factor: float = 1.05

    def reset(self) -> None:
        """Back to no faults at all."""
        for f in dataclasses.fields(self):
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            setattr(self, f.name, default)


@dataclass
class SimulatorConfig:
    """The simulated account, data and API behaviour."""

    api_key: str = field(default="sim-api-key-8c1f7e", repr=False)
    email: str = "api@argo-energy.example"
    password: str = field(default="sim-password-4f2a", repr=False)
    root_name: str = "Argo Energy Solutions"
    root_timezone: str = "America/New_York"
    sites: list[SiteConfig] = field(default_factory=list)
    users: list[UserConfig] = field(default_factory=list)
    seed: int = 20240601
    now: datetime | None = None  # fixed clock (aware UTC) or None for real time
    installed: datetime | None = None  # no data before this instant (None = 2024-01-01 UTC)
    latency_seconds: float = 0.0  # added to every response (benchmarks, demo realism)
    token_ttl_seconds: float = 3600.0  # idle expiry of session tokens (real seconds)
    token_on_token_auth: bool = False  # also send X-Eniscope-Token on token-authenticated responses
    default_page_size: int = 20
    max_page_size: int = 100
    clamp_limit: bool = True  # limit > max -> clamp (else 400)
    organization_filter_descendants: bool = False  # ?organization=X also matches X's descendants
    missing_as_null: bool = False  # gaps emitted as null records instead of omitted buckets
    complete_buckets_only: bool = True  # a bucket is served once it has ended (ts + res <= now)
    forbidden_body: str = ""  # body of 403 (the one real capture was empty)
    content_type: str = "application/json"
    org_id_base: int = 17157
    device_id_base: int = 41235
    meter_id_base: int = 31297
    channel_id_base: int = 59155
    daily_zone: str = "channel"  # res=86400 days: "channel" (its timeZone, API.md §6/§9) or an IANA zone
    faults: FaultConfig = field(default_factory=FaultConfig)


def default_sites() -> list[SiteConfig]:
    """Three sites: a US one, a half-hour-offset one (India) and a European one."""
    return [
        SiteConfig(
            name="Wilson Center", timezone="America/New_York", country="US", city="Washington",
            voltage=120.0, meters=6, base_kw=24.0, currency="USD", tariff_per_kwh=0.16,
        ),
        SiteConfig(
            name="Bengaluru Tech Park", timezone="Asia/Kolkata", country="IN", city="Bengaluru",
            voltage=230.0, meters=5, base_kw=30.0, currency="INR", tariff_per_kwh=8.5,
        ),
        SiteConfig(
            name="London Office", timezone="Europe/London", country="GB", city="London",
            voltage=230.0, meters=4, base_kw=12.0, currency="GBP", tariff_per_kwh=0.27,
        ),
    ]


def default_config(**overrides: Any) -> SimulatorConfig:
    """The seed data (3 sites, 15 meter + 3 sensor + 3 virtual channels); fields can be overridden."""
    config = SimulatorConfig(sites=default_sites())
    for key, value in overrides.items():
        if not hasattr(config, key):
            raise TypeError(f"SimulatorConfig has no field {key!r}")
        setattr(config, key, value)
    return config


def scaled_config(sites: int, meters_per_site: int, **overrides: Any) -> SimulatorConfig:
    """``sites`` sites (zones cycling through the defaults) of ``meters_per_site`` meters each."""
    base = default_sites()
    made = []
    for index in range(sites):
        template = base[index % len(base)]
        made.append(
            dataclasses.replace(template, name=f"{template.name} {index + 1}", meters=meters_per_site)
        )
    return default_config(sites=made, **overrides)


def _from_dict(cls: type, data: dict[str, Any], where: str) -> Any:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    return cls(**data)


def config_from_dict(data: dict[str, Any]) -> SimulatorConfig:
    """A ``SimulatorConfig`` from plain JSON data (``now``/``installed`` as ISO-8601 strings)."""
    data = dict(data)
    sites = data.pop("sites", None)
    users = data.pop("users", [])
    faults = data.pop("faults", {})
    for key in ("now", "installed"):
        if isinstance(data.get(key), str):
            moment = datetime.fromisoformat(data[key].replace("Z", "+00:00"))
            if moment.tzinfo is None:
                raise ValueError(f"{key} must carry a UTC offset, got {data[key]!r}")
            data[key] = moment
    config = _from_dict(SimulatorConfig, data, "config")
    config.sites = (
        default_sites() if sites is None else [_from_dict(SiteConfig, s, "site") for s in sites]
    )
    config.users = [_from_dict(UserConfig, u, "user") for u in users]
    faults = dict(faults)
    if "null_fields" in faults and faults["null_fields"] is not None:
        faults["null_fields"] = tuple(faults["null_fields"])
    for key in ("gaps", "phase_missing", "inconsistent_days", "source_revisions"):
        if key in faults:
            faults[key] = [tuple(item) for item in faults[key]]
    config.faults = _from_dict(FaultConfig, faults, "faults")
    return config


def load_config(path: str | os.PathLike[str] | None = None) -> SimulatorConfig:
    """The JSON file at ``path`` (or the defaults), then credentials from environment variables."""
    if path:
        config = config_from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
    else:
        config = default_config()
    config.api_key = os.environ.get(ENV_API_KEY, config.api_key)
    config.email = os.environ.get(ENV_EMAIL, config.email)
    config.password = os.environ.get(ENV_PASSWORD, config.password)
    return config
