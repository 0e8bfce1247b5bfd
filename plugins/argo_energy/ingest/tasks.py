"""Task bodies of the two ingestion DAGs (``dag_tasks`` and the DAG files wrap them in ``@task``).

Each takes plain arguments (connection ids, params, the data interval), so that it runs the same
under ``dag.test()``, a scheduler or a test:

* ``apply_warehouse_migrations``: the schema, first in every run;
* ``validate_backfill``: the backfill's params, then its ids against the API's lists (a dry run
  logs its plan here);
* ``sync_metadata_daily`` / ``sync_metadata_backfill``: upsert the selected sites, devices and
  channels, and plan the readings batches (``sync_metadata`` shared by both).

The readings are fetched by ``operators.SyncReadingsOperator`` (engine: ``readings``); the status
is recorded by ``status.record_run_status``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg

from argo_energy.ingest.discovery import discover_fields
from argo_energy.ingest.planning import (
    DEFAULT_BATCH_SIZE,
    SKIP_ANY_RUN,
    SKIP_THIS_RUN,
    BackfillRequest,
    Catalog,
    ChannelTarget,
    Ranges,
    backfill_ranges,
    build_plan,
    daily_ranges,
    parse_backfill_params,
    parse_lookback_days,
    parse_max_days,
    plan_targets,
    request_from_dict,
    request_to_dict,
    selection,
    site_zones,
)
from argo_energy.ingest.quarantine import Settled, excluded_channel_ids, settle, usable_ids
from argo_energy.ingest.readings import Done, completed_for, open_hook
from argo_energy.ingest.status import UNSUPPORTED_RECHECK, recently_unsupported
from argo_energy.models import Channel, Device, Organization, QuarantinedRecord
from argo_energy.settings import (
    BACKFILL_MAX_DAYS_VARIABLE,
    ENERGY_CONN_ID,
    ENISCOPE_CONN_ID,
    SITES_VARIABLE,
    ParamError,
    fail,
    get_variable,
    parse_sites_variable,
)
from argo_energy.sitetime import make_windows
from argo_energy.warehouse import (
    apply_migrations,
    connect,
    current_version,
    record_quarantine,
    upsert_channels,
    upsert_devices,
    upsert_organizations,
)

if TYPE_CHECKING:
    from argo_energy.eniscope.hook import EniscopeHook

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# migrations


def apply_warehouse_migrations(energy_conn_id: str = ENERGY_CONN_ID) -> dict[str, Any]:
    """Bring the warehouse schema to the current version (idempotent, advisory-locked)."""
    conn = connect(energy_conn_id, "migration")  # migration timeouts: long statements, short lock waits
    try:
        applied = apply_migrations(conn)
        version = current_version(conn)
    finally:
        conn.close()
    log.info("warehouse migrations: %d applied (%s); schema version %s", len(applied), applied, version)
    return {"applied": list(applied), "version": version}


# ---------------------------------------------------------------------------------------------
# backfill params and dry run


def resolve_backfill_request(params: Mapping[str, Any], now: datetime | None = None) -> BackfillRequest:
    """Validate the backfill params (no I/O but the max-days Variable); ``AirflowFailException`` if bad."""
    now = now or datetime.now(UTC)
    try:
        max_days = parse_max_days(get_variable(BACKFILL_MAX_DAYS_VARIABLE))
        return parse_backfill_params(params, today=now.date(), max_days=max_days)
    except ParamError as exc:
        raise fail(exc) from None


def _list_catalog(hook: EniscopeHook) -> Catalog:
    organizations = hook.list_organizations()
    channels = hook.list_channels()
    log.info("Eniscope lists: %d organisations, %d channels", len(organizations), len(channels))
    return Catalog(organizations, channels)


def _select(
    catalog: Catalog,
    site_ids: Sequence[str] | None,
    channel_ids: Sequence[int],
    quarantined: Sequence[QuarantinedRecord] = (),
) -> tuple[list[Organization], list[Channel]]:
    """The selection; ids an operator named that are quarantined are left out (logged), not unknown."""
    wanted_sites = usable_ids(site_ids or (), {r.record_id for r in quarantined if r.kind == "organization"}, "site")
    wanted_channels = usable_ids(channel_ids, excluded_channel_ids(catalog.channels, quarantined), "channel")
    if (site_ids and not wanted_sites) or (channel_ids and not wanted_channels):
        return [], []  # everything named is quarantined: nothing to sync (not "everything")
    try:
        return selection(catalog, wanted_sites or None, wanted_channels)
    except ParamError as exc:
        raise fail(exc) from None


def validate_backfill(
    params: Mapping[str, Any],
    *,
    eniscope_conn_id: str = ENISCOPE_CONN_ID,
    energy_conn_id: str = ENERGY_CONN_ID,
    now: datetime | None = None,
) -> dict[str, Any]:
    """First task of the historical backfill: check every param, then the ids against the API's lists.

    The syntactic checks come first, so a bad date fails before any request; the site and channel
    checks read the API's lists (no write anywhere). With ``dry_run`` the plan is logged here:
    sites, channels, windows, and how many a run without ``force`` would skip.
    """
    now = now or datetime.now(UTC)
    request = resolve_backfill_request(params, now)
    log.info(
        "backfill params ok: %s..%s (%d local days), sites=%s, channels=%s, force=%s, dry_run=%s",
        request.start_date,
        request.end_date,
        request.days,
        list(request.site_ids) or "all",
        list(request.channel_ids) or "all",
        request.force,
        request.dry_run,
    )
    hook = open_hook(eniscope_conn_id)
    try:
        catalog = _list_catalog(hook)
    finally:
        hook.close()
    sites, channels = _select(catalog, request.site_ids, request.channel_ids, hook.quarantined)
    if not channels:
        raise fail(f"nothing to backfill: the selected sites {[o.organization_id for o in sites]} have no channels")
    if request.dry_run:
        zones = site_zones(sites)
        targets = plan_targets(sites, channels, backfill_ranges(request, zones, now), zones)
        done = _read_done_if_migrated(energy_conn_id, targets) if not request.force else set()
        log_dry_run(targets, done)
    return request_to_dict(request)


def _read_done_if_migrated(energy_conn_id: str, targets: Sequence[ChannelTarget]) -> Done:
    """Completed windows for a dry run; an unmigrated warehouse simply has none (read-only)."""
    if not targets:
        return set()
    try:
        conn = connect(energy_conn_id)
    except Exception as exc:
        log.warning("dry run: cannot read the warehouse (%s); assuming nothing is done yet", exc)
        return set()
    try:
        return completed_for(conn, targets, run_id=None)
    except psycopg.errors.UndefinedTable:
        log.info("dry run: the warehouse has no ingestion_logs yet; nothing is done")
        return set()
    finally:
        conn.close()


def log_dry_run(targets: Sequence[ChannelTarget], done: Done) -> dict[str, int]:
    """Log the windows a real run would fetch; return the counts."""
    total = skipped = 0
    for target in targets:
        windows = make_windows(target.start, target.end, target.timezone)
        todo = [w for w in windows if (target.channel_id, w.start, w.end) not in done]
        total += len(windows)
        skipped += len(windows) - len(todo)
        first, last = (todo[0].local_date, todo[-1].local_date) if todo else (None, None)
        log.info(
            "dry run: site %s channel %s (%s): %d window(s) to fetch (%s..%s), %d already done",
            target.organization_id,
            target.channel_id,
            target.channel_name,
            len(todo),
            first,
            last,
            len(windows) - len(todo),
        )
    log.info(
        "dry run: %d channel(s), %d window(s), %d to fetch, %d already done; nothing fetched or written",
        len(targets),
        total,
        total - skipped,
        skipped,
    )
    return {"channels": len(targets), "windows": total, "to_fetch": total - skipped, "done": skipped}


# ---------------------------------------------------------------------------------------------
# metadata: the two entry points and what they share


@dataclass(frozen=True)
class MetadataRun:
    """What differs between a daily and a backfill metadata task."""

    site_ids: Sequence[str] | None  # None: every site with channels
    channel_ids: Sequence[int]  # empty: every channel of the sites
    skip: str  # the readings task's skip mode (planning.SKIP_*)
    recheck_unsupported: bool  # ask channels marked unsupported again at once
    ranges: Callable[[Mapping[str, str]], Ranges]  # site zones -> site ranges


def sync_metadata_daily(
    *,
    data_interval_end: datetime | None,
    lookback_days: Any = 7,
    eniscope_conn_id: str = ENISCOPE_CONN_ID,
    energy_conn_id: str = ENERGY_CONN_ID,
    batch_size: int = DEFAULT_BATCH_SIZE,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Metadata task of the daily sync: sites from Variable ``eniscope_sites`` (unset: all), each
    site's range from the data interval and ``lookback_days``; retries skip what the run wrote."""
    if data_interval_end is None:
        raise fail("the daily sync needs a data interval (run it on its schedule)")
    now = now or datetime.now(UTC)
    try:
        lookback = parse_lookback_days(lookback_days)
        site_ids = parse_sites_variable(get_variable(SITES_VARIABLE))
    except ParamError as exc:
        raise fail(exc) from None
    run = MetadataRun(
        site_ids=site_ids,
        channel_ids=(),
        skip=SKIP_THIS_RUN,
        recheck_unsupported=False,
        ranges=lambda zones: daily_ranges(data_interval_end, lookback, zones, now),
    )
    return sync_metadata(run, eniscope_conn_id, energy_conn_id, batch_size=batch_size, now=now)


def sync_metadata_backfill(
    request: Mapping[str, Any],
    *,
    eniscope_conn_id: str = ENISCOPE_CONN_ID,
    energy_conn_id: str = ENERGY_CONN_ID,
    batch_size: int = DEFAULT_BATCH_SIZE,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Metadata task of the historical backfill, for the request ``validate_backfill`` returned.

    Without ``force`` windows any run wrote are skipped (a re-trigger resumes); with it everything
    is fetched again and channels marked unsupported are asked again.
    """
    now = now or datetime.now(UTC)
    parsed = request_from_dict(request)
    run = MetadataRun(
        site_ids=parsed.site_ids,
        channel_ids=parsed.channel_ids,
        skip=SKIP_THIS_RUN if parsed.force else SKIP_ANY_RUN,
        recheck_unsupported=parsed.force,
        ranges=lambda zones: backfill_ranges(parsed, zones, now),
    )
    return sync_metadata(run, eniscope_conn_id, energy_conn_id, batch_size=batch_size, now=now)


def sync_metadata(
    run: MetadataRun,
    eniscope_conn_id: str,
    energy_conn_id: str,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    now: datetime,
) -> dict[str, Any]:
    """Upsert organisations, devices and channels of the selected sites; plan the readings batches.

    Returns ``{"batches": [...], "sites": [...], "unsupported": [...]}`` (small: ids and ranges).
    """
    sites, channels, devices, settled = _fetch_metadata(eniscope_conn_id, run)
    unsupported = _store_metadata(energy_conn_id, sites, devices, channels, run.recheck_unsupported, now, settled)
    zones = site_zones(sites)
    ranges = run.ranges(zones)
    if unsupported:
        log.info(
            "skipping %d channel(s) marked unsupported within %s: %s",
            len(unsupported),
            UNSUPPORTED_RECHECK,
            sorted(unsupported),
        )
    wanted = [ch for ch in channels if ch.channel_id not in unsupported]
    _discover_fields(eniscope_conn_id, energy_conn_id, wanted)
    targets = plan_targets(sites, wanted, ranges, zones)
    return build_plan(sites, targets, ranges, zones, unsupported, skip=run.skip, batch_size=batch_size)


def _fetch_metadata(
    eniscope_conn_id: str, run: MetadataRun
) -> tuple[list[Organization], list[Channel], list[Device], Settled]:
    """The selected sites and channels, the devices of those sites or channels, and the quarantine."""
    hook = open_hook(eniscope_conn_id)
    try:
        catalog = _list_catalog(hook)
        sites, channels = _select(catalog, run.site_ids, run.channel_ids, hook.quarantined)
        devices = _devices_of(hook, sites)
    finally:
        hook.close()
    site_set = {org.organization_id for org in sites}
    device_ids = {ch.device_id for ch in channels if ch.device_id is not None}
    devices = [d for d in devices if d.organization_id in site_set or d.device_id in device_ids]
    settled = settle(catalog.organizations, catalog.channels, channels, devices, hook.quarantined)
    return sites, settled.channels, settled.devices, settled


def _discover_fields(eniscope_conn_id: str, energy_conn_id: str, channels: Sequence[Channel]) -> None:
    """Cache the field lists that are missing or stale (``discovery``): one request per device type."""
    hook = open_hook(eniscope_conn_id)
    conn = connect(energy_conn_id)
    try:
        discover_fields(hook, conn, channels)
    finally:
        hook.close()
        conn.close()


def _devices_of(hook: EniscopeHook, sites: Sequence[Organization]) -> list[Device]:
    devices: dict[int, Device] = {}
    for org in sites:
        for device in hook.list_devices(org.organization_id):
            devices.setdefault(device.device_id, device)
    return list(devices.values())


def _store_metadata(
    energy_conn_id: str,
    sites: Sequence[Organization],
    devices: Sequence[Device],
    channels: Sequence[Channel],
    recheck_unsupported: bool,
    now: datetime,
    settled: Settled | None = None,
) -> dict[int, str]:
    """Upsert the metadata and the quarantine; the channels to leave out as recently unsupported
    (``{channel: site}``)."""
    conn = connect(energy_conn_id)
    try:
        upsert_organizations(conn, sites)
        upsert_devices(conn, devices)
        upsert_channels(conn, channels)
        if settled is not None:
            record_quarantine(conn, settled.quarantined, settled.healthy, now)
        log.info(
            "metadata upserted: %d organisation(s), %d device(s), %d channel(s)",
            len(sites),
            len(devices),
            len(channels),
        )
        if recheck_unsupported:
            return {}
        return recently_unsupported(conn, [c.channel_id for c in channels], now)
    finally:
        conn.close()
