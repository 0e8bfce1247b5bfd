"""Planning: run parameters -> sites -> channels -> ranges -> batches for task mapping. Pure, no I/O.

The tasks (``ingest.tasks``) fetch the lists (organisations, channels) and the "already done" sets;
everything deciding *what* to fetch lives here so that it is unit-tested without Airflow, HTTP or SQL.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from argo_energy.models import Channel, Organization
from argo_energy.settings import BACKFILL_MAX_DAYS_VARIABLE, ParamError, parse_channel_ids, parse_site_ids
from argo_energy.sitetime import floor_to_grid, local_days_range, lookback_range, resolve_zone

log = logging.getLogger(__name__)

DEFAULT_MAX_BACKFILL_DAYS = 366
DEFAULT_BATCH_SIZE = 25
# [core] max_map_length defaults to 1024; staying well below keeps the scheduler and grid fast.
MAX_BATCHES = 512
LABEL_MAX = 200  # rendered_map_index is shown in the grid; keep it readable
# Skip modes of the readings task: windows with a success row written by this run (automatic
# retries redo only what failed) or by any run (a backfill re-trigger without ``force`` resumes).
SKIP_THIS_RUN = "this_run"
SKIP_ANY_RUN = "any_run"

Ranges = dict[str, tuple[datetime, datetime]]  # organisation id -> [start, end) in UTC


def run_key(run_id: str, clear_number: int | None) -> str:
    """What ``ingestion_logs.run_id`` records: the Airflow run id, with ``#N`` after its Nth clear.

    Automatic retries keep the key, so they skip what the run already wrote. Clearing a task or
    the run (UI, ``airflow tasks clear``, ``airflow backfill create --reprocess-behavior completed``)
    increments ``clear_number``: the point of a clear is to redo the work, so everything is fetched again.
    """
    return run_id if not clear_number else f"{run_id}#{clear_number}"


@dataclass(frozen=True, slots=True)
class BackfillRequest:
    """The validated parameters of one ``eniscope_historical_backfill`` run (local dates, inclusive)."""

    start_date: date
    end_date: date
    site_ids: tuple[str, ...] = ()
    channel_ids: tuple[int, ...] = ()
    force: bool = False
    dry_run: bool = False

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days + 1


def request_to_dict(request: BackfillRequest) -> dict[str, Any]:
    """The request as JSON-ready data (what the first backfill task returns through XCom)."""
    data = asdict(request)
    data["start_date"] = request.start_date.isoformat()
    data["end_date"] = request.end_date.isoformat()
    data["site_ids"] = list(request.site_ids)
    data["channel_ids"] = list(request.channel_ids)
    return data


def request_from_dict(data: Mapping[str, Any]) -> BackfillRequest:
    """The inverse of ``request_to_dict``."""
    return BackfillRequest(
        start_date=date.fromisoformat(data["start_date"]),
        end_date=date.fromisoformat(data["end_date"]),
        site_ids=tuple(data.get("site_ids") or ()),
        channel_ids=tuple(int(c) for c in data.get("channel_ids") or ()),
        force=bool(data.get("force")),
        dry_run=bool(data.get("dry_run")),
    )


def _parse_date(name: str, value: Any, problems: list[str]) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{name} is required as a date YYYY-MM-DD, got {value!r}")
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        problems.append(f"{name} {value!r} is not a valid date in the form YYYY-MM-DD")
        return None


def _parse_bool(name: str, value: Any, problems: list[str]) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "false"}:
        return value.strip().lower() == "true"
    problems.append(f"{name} must be true or false, got {value!r}")
    return False


def parse_backfill_params(params: Mapping[str, Any], *, today: date, max_days: int) -> BackfillRequest:
    """Validate the historical backfill's params; raise ``ParamError`` listing every problem.

    ``end_date`` empty means yesterday. Dates are site-local calendar days; ``today`` is the
    caller's idea of the current date (UTC), so a day after it is "in the future".
    """
    problems: list[str] = []
    start = _parse_date("start_date", params.get("start_date"), problems)
    raw_end = params.get("end_date")
    end = today - timedelta(days=1) if raw_end in (None, "") else _parse_date("end_date", raw_end, problems)
    site_ids = parse_site_ids(params.get("site_ids"), problems)
    channel_ids = parse_channel_ids(params.get("channel_ids"), problems)
    force = _parse_bool("force", params.get("force"), problems)
    dry_run = _parse_bool("dry_run", params.get("dry_run"), problems)
    if start is not None and start > today:
        problems.append(f"start_date {start} is in the future (today is {today})")
    if end is not None and end > today:
        problems.append(f"end_date {end} is in the future (today is {today})")
    if start is not None and end is not None:
        if end < start:
            problems.append(f"end_date {end} is before start_date {start}")
        elif (end - start).days + 1 > max_days:
            problems.append(
                f"the range {start}..{end} is {(end - start).days + 1} days, over the maximum of "
                f"{max_days} days (Variable {BACKFILL_MAX_DAYS_VARIABLE}); split it into several runs"
            )
    if problems or start is None or end is None:
        raise ParamError("invalid parameters: " + "; ".join(problems))
    return BackfillRequest(start, end, site_ids, channel_ids, force, dry_run)


def parse_max_days(raw: Any) -> int:
    """The configurable maximum range of a backfill (Variable ``BACKFILL_MAX_DAYS_VARIABLE``)."""
    if raw in (None, ""):
        return DEFAULT_MAX_BACKFILL_DAYS
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ParamError(f"Variable {BACKFILL_MAX_DAYS_VARIABLE} must be an integer, got {raw!r}") from None
    if value < 1:
        raise ParamError(f"Variable {BACKFILL_MAX_DAYS_VARIABLE} must be >= 1, got {value}")
    return value


def parse_lookback_days(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ParamError(f"lookback_days must be an integer >= 0, got {raw!r}")
    try:
        value = int(raw)
    except ValueError:
        raise ParamError(f"lookback_days must be an integer >= 0, got {raw!r}") from None
    if value < 0:
        raise ParamError(f"lookback_days must be an integer >= 0, got {value}")
    return value


def select_sites(
    organizations: Sequence[Organization], channels: Sequence[Channel], site_ids: Sequence[str] | None
) -> list[Organization]:
    """The organisations to sync: ``site_ids`` (each must be visible), else every one with channels."""
    by_id = {org.organization_id: org for org in organizations}
    if site_ids:
        unknown = [sid for sid in site_ids if sid not in by_id]
        if unknown:
            raise ParamError(
                f"unknown site id(s) {', '.join(unknown)}: not visible to the Eniscope account "
                f"(visible: {', '.join(sorted(by_id)) or 'none'})"
            )
        return [by_id[sid] for sid in site_ids]
    with_channels = {ch.organization_id for ch in channels}
    return [org for org in organizations if org.organization_id in with_channels]


def select_channels(
    sites: Sequence[Organization], channels: Sequence[Channel], channel_ids: Sequence[int] = ()
) -> list[Channel]:
    """Channels of ``sites``; with ``channel_ids``, only those (each must belong to one of the sites)."""
    site_set = {org.organization_id for org in sites}
    if not channel_ids:
        in_sites = [ch for ch in channels if ch.organization_id in site_set]
        return sorted(in_sites, key=lambda ch: (str(ch.organization_id), ch.channel_id))
    by_id = {ch.channel_id: ch for ch in channels}
    unknown = [str(cid) for cid in channel_ids if cid not in by_id]
    if unknown:
        raise ParamError(f"unknown channel id(s) {', '.join(unknown)}: not visible to the Eniscope account")
    outside = [
        f"{cid} (site {by_id[cid].organization_id})"
        for cid in channel_ids
        if by_id[cid].organization_id not in site_set
    ]
    if outside:
        raise ParamError(
            f"channel id(s) {', '.join(outside)} not in the selected sites {', '.join(sorted(site_set))}"
        )
    return [by_id[cid] for cid in channel_ids]


@dataclass
class Catalog:
    """What the API lists for one run: every organisation and channel."""

    organizations: list[Organization]
    channels: list[Channel]


def selection(
    catalog: Catalog, site_ids: Sequence[str] | None, channel_ids: Sequence[int] = ()
) -> tuple[list[Organization], list[Channel]]:
    """Sites and channels to sync; with explicit channel ids, only the sites that own them."""
    sites = select_sites(catalog.organizations, catalog.channels, site_ids or None)
    channels = select_channels(sites, catalog.channels, channel_ids)
    if channel_ids and not site_ids:
        owners = {ch.organization_id for ch in channels}
        sites = [org for org in sites if org.organization_id in owners]
    return sites, channels


def site_zone(org: Organization) -> tuple[str, str | None]:
    """The site's IANA zone: its own; the contract default when the API gave none (the warehouse
    stores that default, and the views and validation use it); UTC, with a warning, when unknown."""
    zone, problem = resolve_zone(org.timezone)
    if problem:
        return zone, f"site {org.organization_id}: {problem}"
    if not org.timezone:
        return zone, f"site {org.organization_id} has no time zone; its days are cut in the contract default {zone}"
    return zone, None


def site_zones(sites: Iterable[Organization]) -> dict[str, str]:
    """Each site's zone (``site_zone``), its warnings logged."""
    zones = {}
    for org in sites:
        zone, warning = site_zone(org)
        if warning:
            log.warning("%s", warning)
        zones[org.organization_id] = zone
    return zones


def capped_end(end: datetime, now: datetime) -> datetime:
    """Never ask for the interval that is still in progress (nor for the future)."""
    return min(end.astimezone(UTC), floor_to_grid(now))


def daily_site_range(
    interval_end: datetime, lookback_days: int, zone: str, now: datetime
) -> tuple[datetime, datetime]:
    start, end = lookback_range(interval_end, lookback_days, zone)
    return start, capped_end(end, now)


def backfill_site_range(request: BackfillRequest, zone: str, now: datetime) -> tuple[datetime, datetime]:
    start, end = local_days_range(request.start_date, request.end_date, zone)
    return start, capped_end(end, now)


def daily_ranges(
    interval_end: datetime, lookback_days: int, zones: Mapping[str, str], now: datetime
) -> Ranges:
    """Every site's range of a daily run (``daily_site_range``); ``zones`` names the sites."""
    return {org: daily_site_range(interval_end, lookback_days, zone, now) for org, zone in zones.items()}


def backfill_ranges(request: BackfillRequest, zones: Mapping[str, str], now: datetime) -> Ranges:
    """Every site's range of a backfill (``backfill_site_range``); ``zones`` names the sites."""
    return {org: backfill_site_range(request, zone, now) for org, zone in zones.items()}


@dataclass(frozen=True, slots=True)
class ChannelTarget:
    """One channel and the range to fetch for it (windows are cut later, in the task)."""

    channel_id: int
    organization_id: str
    timezone: str
    start: datetime
    end: datetime
    channel_name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel_id": self.channel_id,
            "organization_id": self.organization_id,
            "timezone": self.timezone,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "channel_name": self.channel_name,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ChannelTarget:
        return cls(
            channel_id=int(data["channel_id"]),
            organization_id=str(data["organization_id"]),
            timezone=str(data["timezone"]),
            start=datetime.fromisoformat(data["start"]),
            end=datetime.fromisoformat(data["end"]),
            channel_name=str(data.get("channel_name") or ""),
        )


def plan_targets(
    sites: Iterable[Organization],
    channels: Sequence[Channel],
    site_range: Mapping[str, tuple[datetime, datetime]],
    zones: Mapping[str, str],
) -> list[ChannelTarget]:
    """A target per channel whose site's range is not empty, ordered by site then channel."""
    targets = []
    for org in sites:
        start, end = site_range[org.organization_id]
        if start >= end:
            continue
        for ch in channels:
            if ch.organization_id == org.organization_id:
                targets.append(
                    ChannelTarget(
                        channel_id=ch.channel_id,
                        organization_id=org.organization_id,
                        timezone=zones[org.organization_id],
                        start=start,
                        end=end,
                        channel_name=ch.channel_name or "",
                    )
                )
    return sorted(targets, key=lambda t: (t.organization_id, t.channel_id))


def batch_label(targets: Sequence[ChannelTarget]) -> str:
    """A readable name for a mapped task: its channel ids (and site), shortened when long."""
    ids = [str(t.channel_id) for t in targets]
    sites = sorted({t.organization_id for t in targets})
    site_part = f"site {sites[0]}" if len(sites) == 1 else f"sites {','.join(sites)}"
    label = f"{site_part}: ch {', '.join(ids)}"
    if len(label) <= LABEL_MAX:
        return label
    return f"{site_part}: {len(ids)} ch {ids[0]}…{ids[-1]}"[:LABEL_MAX]


def batch_targets(
    targets: Sequence[ChannelTarget], batch_size: int = DEFAULT_BATCH_SIZE, max_batches: int = MAX_BATCHES
) -> list[dict[str, Any]]:
    """Split targets into batches for ``expand()``: at most ``max_batches``, each named by its channels.

    The batch size grows when needed so that thousands of channels stay under ``max_map_length``.
    """
    if batch_size < 1 or max_batches < 1:
        raise ValueError("batch_size and max_batches must be >= 1")
    if not targets:
        return []
    size = max(batch_size, math.ceil(len(targets) / max_batches))
    batches = []
    for offset in range(0, len(targets), size):
        chunk = list(targets[offset : offset + size])
        batches.append({"label": batch_label(chunk), "targets": [t.to_dict() for t in chunk]})
    return batches


def build_plan(
    sites: Sequence[Organization],
    targets: Sequence[ChannelTarget],
    ranges: Mapping[str, tuple[datetime, datetime]],
    zones: Mapping[str, str],
    unsupported: Mapping[int, str],
    *,
    skip: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> dict[str, Any]:
    """The metadata task's plan: ``{"batches": [...], "sites": [...], "unsupported": [...]}``.

    Batches carry the readings task's ``skip`` mode; ``unsupported`` is ``{channel_id: organisation}``
    of the channels left out because they were found unsupported recently.
    """
    batches = batch_targets(targets, batch_size=batch_size)
    for batch in batches:
        batch["skip"] = skip
    site_rows = [
        {
            "organization_id": org.organization_id,
            "name": org.organization_name,
            "timezone": zones[org.organization_id],
            "start": ranges[org.organization_id][0].isoformat(),
            "end": ranges[org.organization_id][1].isoformat(),
            "channel_ids": [t.channel_id for t in targets if t.organization_id == org.organization_id],
        }
        for org in sites
    ]
    for row in site_rows:
        log.info(
            "site %s (%s, %s): %d channel(s), range %s .. %s",
            row["organization_id"],
            row["name"],
            row["timezone"],
            len(row["channel_ids"]),
            row["start"],
            row["end"],
        )
    log.info("plan: %d channel(s) in %d batch(es) (skip mode %s)", len(targets), len(batches), skip)
    return {
        "batches": batches,
        "sites": site_rows,
        "unsupported": [{"channel_id": cid, "organization_id": org} for cid, org in sorted(unsupported.items())],
    }
