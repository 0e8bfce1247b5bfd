"""Ingestion tasks: the Eniscope hook -> pure planning/validation -> warehouse writes.

The DAG files only wire these together. Each callable takes plain arguments (connection ids,
params, the data interval) so that it runs the same under ``dag.test()``, a scheduler or a test.

Outcome of one (channel, window):
* ok: validated and written by ``write_window`` in one transaction with its ``ingestion_logs`` row;
* failed: the pull or the write raised; ``log_window_failure`` writes a ``failure`` row, the other
  windows go on, and the task fails at the end so that Airflow retries it (a retry skips the
  windows this run already wrote);
* unsupported: the channel answered 500 "Invalid Parameter" (sensor or virtual channel). Its other
  windows are not asked for and the run does not fail. The status task records a per-channel
  ``data_sync_status`` row whose ``error_message`` starts ``"unsupported channel:"`` and whose
  ``sync_status`` is ``'unsupported'`` (the site's own row is not degraded by it). Later runs skip the channel for
  ``UNSUPPORTED_RECHECK`` (then ask once again, in case it was reconfigured); a backfill with
  ``force`` asks at once.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from argo_energy.eniscope.errors import ChannelUnsupportedError, EniscopeAuthError, EniscopeConfigError
from argo_energy.ingest.planning import (
    DEFAULT_BATCH_SIZE,
    BackfillRequest,
    ChannelTarget,
    backfill_site_range,
    batch_targets,
    daily_site_range,
    parse_backfill_params,
    parse_lookback_days,
    parse_max_days,
    plan_targets,
    select_channels,
    select_sites,
    site_zone,
)
from argo_energy.ingest.screening import reason_counts, validate
from argo_energy.models import Channel, Device, Organization, Window
from argo_energy.settings import ParamError, parse_sites_variable
from argo_energy.sitetime import make_windows

log = logging.getLogger(__name__)

ENISCOPE_CONN_ID = "eniscope_default"
ENERGY_CONN_ID = "energy_db"
POOL = "eniscope_api"
SITES_VARIABLE = "eniscope_sites"
MAX_DAYS_VARIABLE = "eniscope_backfill_max_days"
# Marks a per-channel data_sync_status row of an unsupported channel (later runs look for it).
UNSUPPORTED_PREFIX = "unsupported channel:"
UNSUPPORTED = "unsupported"  # its sync_status (what the validation DAG reads)
UNSUPPORTED_RECHECK = timedelta(days=7)
# Skip modes of the readings task: windows with a success row written by this run (automatic
# retries redo only what failed) or by any run (a backfill re-trigger without ``force`` resumes).
SKIP_THIS_RUN = "this_run"
SKIP_ANY_RUN = "any_run"


def run_key(run_id: str, clear_number: int | None) -> str:
    """What ``ingestion_logs.run_id`` records: the Airflow run id, with ``#N`` after its Nth clear.

    Automatic retries keep the key, so they skip what the run already wrote. Clearing a task or
    the run (UI, ``airflow tasks clear``, ``airflow backfill create --reprocess-behavior completed``)
    increments ``clear_number``: the point of a clear is to redo the work, so everything is fetched again.
    """
    return run_id if not clear_number else f"{run_id}#{clear_number}"


def _hook(conn_id: str) -> Any:
    from argo_energy.eniscope.hook import EniscopeHook

    return EniscopeHook(eniscope_conn_id=conn_id)


def _connect(conn_id: str) -> Any:
    from argo_energy.warehouse import connect

    return connect(conn_id)


def _now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------
# migrations


def apply_warehouse_migrations(energy_conn_id: str = ENERGY_CONN_ID) -> dict[str, Any]:
    """Bring the warehouse schema to the current version (idempotent, advisory-locked)."""
    from argo_energy.warehouse import apply_migrations, current_version

    conn = _connect(energy_conn_id)
    try:
        applied = apply_migrations(conn)
        version = current_version(conn)
    finally:
        conn.close()
    log.info("warehouse migrations: %d applied (%s); schema version %s", len(applied), applied, version)
    return {"applied": list(applied), "version": version}


# ---------------------------------------------------------------------------------------------
# planning: params, sites, channels


def _fail(exc: ParamError) -> AirflowFailException:
    # AirflowFailException: a bad parameter cannot get better with a retry.
    return AirflowFailException(str(exc))


def _get_variable(name: str) -> Any:
    from airflow.sdk import Variable

    return Variable.get(name, default=None)


def resolve_backfill_request(params: Mapping[str, Any], now: datetime | None = None) -> BackfillRequest:
    """Validate the backfill params (no I/O but the max-days Variable); ``AirflowFailException`` if bad."""
    now = now or _now()
    try:
        max_days = parse_max_days(_get_variable(MAX_DAYS_VARIABLE))
        return parse_backfill_params(params, today=now.date(), max_days=max_days)
    except ParamError as exc:
        raise _fail(exc) from None


def request_to_dict(request: BackfillRequest) -> dict[str, Any]:
    data = asdict(request)
    data["start_date"] = request.start_date.isoformat()
    data["end_date"] = request.end_date.isoformat()
    data["site_ids"] = list(request.site_ids)
    data["channel_ids"] = list(request.channel_ids)
    return data


def request_from_dict(data: Mapping[str, Any]) -> BackfillRequest:
    return BackfillRequest(
        start_date=date.fromisoformat(data["start_date"]),
        end_date=date.fromisoformat(data["end_date"]),
        site_ids=tuple(data.get("site_ids") or ()),
        channel_ids=tuple(int(c) for c in data.get("channel_ids") or ()),
        force=bool(data.get("force")),
        dry_run=bool(data.get("dry_run")),
    )


@dataclass
class Catalog:
    """What the API lists for one run: every organisation and channel, devices on demand."""

    organizations: list[Organization]
    channels: list[Channel]


def _list_catalog(hook: Any) -> Catalog:
    organizations = hook.list_organizations()
    channels = hook.list_channels()
    log.info("Eniscope lists: %d organisations, %d channels", len(organizations), len(channels))
    return Catalog(organizations, channels)


def _selection(
    catalog: Catalog, site_ids: Sequence[str] | None, channel_ids: Sequence[int] = ()
) -> tuple[list[Organization], list[Channel]]:
    """Sites and channels to sync; with explicit channel ids, only the sites that own them."""
    sites = select_sites(catalog.organizations, catalog.channels, site_ids or None)
    channels = select_channels(sites, catalog.channels, channel_ids)
    if channel_ids and not site_ids:
        owners = {ch.organization_id for ch in channels}
        sites = [org for org in sites if org.organization_id in owners]
    return sites, channels


def _site_zones(sites: Iterable[Organization]) -> dict[str, str]:
    zones = {}
    for org in sites:
        zone, warning = site_zone(org)
        if warning:
            log.warning("%s", warning)
        zones[org.organization_id] = zone
    return zones


def _backfill_ranges(
    request: BackfillRequest, sites: Sequence[Organization], zones: Mapping[str, str], now: datetime
) -> dict[str, tuple[datetime, datetime]]:
    return {
        org.organization_id: backfill_site_range(request, zones[org.organization_id], now) for org in sites
    }


def _daily_ranges(
    interval_end: datetime,
    lookback_days: int,
    sites: Sequence[Organization],
    zones: Mapping[str, str],
    now: datetime,
) -> dict[str, tuple[datetime, datetime]]:
    return {
        org.organization_id: daily_site_range(interval_end, lookback_days, zones[org.organization_id], now)
        for org in sites
    }


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
    now = now or _now()
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
    hook = _hook(eniscope_conn_id)
    try:
        catalog = _list_catalog(hook)
    finally:
        hook.close()
    try:
        sites, channels = _selection(catalog, request.site_ids, request.channel_ids)
    except ParamError as exc:
        raise _fail(exc) from None
    if not channels:
        raise AirflowFailException(
            f"nothing to backfill: the selected sites {[o.organization_id for o in sites]} have no channels"
        )
    if request.dry_run:
        zones = _site_zones(sites)
        targets = plan_targets(sites, channels, _backfill_ranges(request, sites, zones, now), zones)
        done = _read_done_if_migrated(energy_conn_id, targets) if not request.force else set()
        log_dry_run(targets, done)
    return request_to_dict(request)


def _read_done_if_migrated(
    energy_conn_id: str, targets: Sequence[ChannelTarget]
) -> set[tuple[int, datetime, datetime]]:
    """Completed windows for a dry run; an unmigrated warehouse simply has none (read-only)."""
    import psycopg

    if not targets:
        return set()
    try:
        conn = _connect(energy_conn_id)
    except Exception as exc:
        log.warning("dry run: cannot read the warehouse (%s); assuming nothing is done yet", exc)
        return set()
    try:
        return _completed(conn, targets, run_id=None)
    except psycopg.errors.UndefinedTable:
        log.info("dry run: the warehouse has no ingestion_logs yet; nothing is done")
        return set()
    finally:
        conn.close()


def log_dry_run(
    targets: Sequence[ChannelTarget], done: set[tuple[int, datetime, datetime]]
) -> dict[str, int]:
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


def sync_metadata(
    *,
    mode: str,
    eniscope_conn_id: str = ENISCOPE_CONN_ID,
    energy_conn_id: str = ENERGY_CONN_ID,
    data_interval_end: datetime | None = None,
    lookback_days: Any = 7,
    backfill: Mapping[str, Any] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Upsert organisations, devices and channels of the selected sites; plan the readings batches.

    ``mode`` is ``"daily"`` (sites from Variable ``eniscope_sites``, range from the data interval
    and ``lookback_days``) or ``"backfill"`` (the validated request of the first task).
    Returns ``{"batches": [...], "sites": [...], "unsupported": [...]}`` (small: ids and ranges).
    """
    from argo_energy.warehouse import upsert_channels, upsert_devices, upsert_organizations

    now = now or _now()
    if mode == "daily":
        if data_interval_end is None:
            raise AirflowFailException("the daily sync needs a data interval (run it on its schedule)")
        try:
            lookback = parse_lookback_days(lookback_days)
            site_ids: Sequence[str] | None = parse_sites_variable(_get_variable(SITES_VARIABLE))
        except ParamError as exc:
            raise _fail(exc) from None
        channel_ids: Sequence[int] = ()
        skip = SKIP_THIS_RUN
        recheck_unsupported = False
    elif mode == "backfill" and backfill is not None:
        request = request_from_dict(backfill)
        site_ids, channel_ids = request.site_ids, request.channel_ids
        skip = SKIP_THIS_RUN if request.force else SKIP_ANY_RUN
        recheck_unsupported = request.force
    else:
        raise ValueError(f"mode must be 'daily' or 'backfill' (with its request), got {mode!r}")

    hook = _hook(eniscope_conn_id)
    try:
        catalog = _list_catalog(hook)
        try:
            sites, channels = _selection(catalog, site_ids, channel_ids)
        except ParamError as exc:
            raise _fail(exc) from None
        devices = _devices_of(hook, sites)
    finally:
        hook.close()
    site_set = {org.organization_id for org in sites}
    device_ids = {ch.device_id for ch in channels if ch.device_id is not None}
    devices = [d for d in devices if d.organization_id in site_set or d.device_id in device_ids]

    conn = _connect(energy_conn_id)
    try:
        upsert_organizations(conn, sites)
        upsert_devices(conn, devices)
        upsert_channels(conn, channels)
        log.info(
            "metadata upserted: %d organisation(s), %d device(s), %d channel(s)",
            len(sites),
            len(devices),
            len(channels),
        )
        unsupported = (
            {} if recheck_unsupported else recently_unsupported(conn, [c.channel_id for c in channels], now)
        )
    finally:
        conn.close()

    zones = _site_zones(sites)
    if mode == "daily":
        ranges = _daily_ranges(data_interval_end, lookback, sites, zones, now)  # type: ignore[arg-type]
    else:
        ranges = _backfill_ranges(request, sites, zones, now)
    if unsupported:
        log.info(
            "skipping %d channel(s) marked unsupported within %s: %s",
            len(unsupported),
            UNSUPPORTED_RECHECK,
            sorted(unsupported),
        )
    wanted = [ch for ch in channels if ch.channel_id not in unsupported]
    targets = plan_targets(sites, wanted, ranges, zones)
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
        "unsupported": [
            {"channel_id": cid, "organization_id": org} for cid, org in sorted(unsupported.items())
        ],
    }


def _devices_of(hook: Any, sites: Sequence[Organization]) -> list[Device]:
    devices: dict[int, Device] = {}
    for org in sites:
        for device in hook.list_devices(org.organization_id):
            devices.setdefault(device.device_id, device)
    return list(devices.values())


# ---------------------------------------------------------------------------------------------
# warehouse reads the store module does not offer (see the report): kept read-only and small.


def recently_unsupported(conn: Any, channel_ids: Sequence[int], now: datetime) -> dict[int, str]:
    """Channels whose newest per-channel ``data_sync_status`` row marks them unsupported, within the
    recheck period: ``{channel_id: organization_id}``."""
    if not channel_ids:
        return {}
    sql = """
        SELECT DISTINCT ON (channel_id) channel_id, organization_id, sync_status, error_message,
               last_sync_timestamp
          FROM data_sync_status
         WHERE channel_id = ANY(%s)
         ORDER BY channel_id, last_sync_timestamp DESC, id DESC
    """
    with conn.cursor() as cur:
        cur.execute(sql, (list(channel_ids),))
        rows = cur.fetchall()
    conn.rollback()  # end the read-only transaction: warehouse writers need an idle connection
    return {
        int(cid): str(org)
        for cid, org, status, error, synced in rows
        if (status == UNSUPPORTED or (error or "").startswith(UNSUPPORTED_PREFIX))
        and synced > now - UNSUPPORTED_RECHECK
    }


def _completed(
    conn: Any, targets: Sequence[ChannelTarget], run_id: str | None
) -> set[tuple[int, datetime, datetime]]:
    """Windows of ``targets`` with a success row: written by run ``run_id``, or by any run when None."""
    from argo_energy.warehouse import completed_windows

    if not targets:
        return set()
    start = min(t.start for t in targets)
    end = max(t.end for t in targets)
    return completed_windows(conn, sorted({t.channel_id for t in targets}), start, end, run_id=run_id)


# ---------------------------------------------------------------------------------------------
# readings


@dataclass
class ChannelOutcome:
    """What one readings task did for one channel (pushed to XCom as a dict)."""

    channel_id: int
    organization_id: str
    windows: int = 0
    ok: int = 0
    skipped_done: int = 0
    failed: int = 0
    unsupported: bool = False
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    error: str | None = None


@dataclass(frozen=True)
class _Work:
    target: ChannelTarget
    window: Window


@dataclass
class _Result:
    kind: str  # ok | failed | unsupported | skipped_unsupported
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    error: str | None = None


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


class Progress:
    """Logs windows done / total, readings, rate and time left, at most every ``every`` seconds."""

    def __init__(
        self, total: int, logger: Any, every: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.total, self.log, self.every, self.clock = total, logger, every, clock
        self.started = self.last = clock()
        self.done = self.readings = 0

    def step(self, readings: int) -> None:
        self.done += 1
        self.readings += readings
        now = self.clock()
        if now - self.last >= self.every or self.done == self.total:
            self.last = now
            elapsed = max(now - self.started, 1e-9)
            rate = self.done / elapsed
            left = (self.total - self.done) / rate
            self.log.info(
                "progress: %d/%d windows (%.0f%%), %d readings, %.2f windows/s, %.0f readings/s, ~%.0fs left",
                self.done,
                self.total,
                100.0 * self.done / max(self.total, 1),
                self.readings,
                rate,
                self.readings / elapsed,
                left,
            )


class _WindowSync:
    """Fetch -> validate -> write of one window, with the outcome rules of the module docstring."""

    def __init__(self, *, run_id: str | None, now: datetime, logger: Any) -> None:
        from argo_energy.warehouse import log_window_failure, write_window

        self.write_window = write_window
        self.log_window_failure = log_window_failure
        self.run_id = run_id
        self.now = now
        self.log = logger
        self.unsupported: dict[int, str] = {}
        self.lock = threading.Lock()

    def is_unsupported(self, channel_id: int) -> bool:
        with self.lock:
            return channel_id in self.unsupported

    def __call__(self, hook: Any, conn: Any, work: _Work) -> _Result:
        target, window = work.target, work.window
        where = {
            "organization_id": target.organization_id,
            "channel_id": target.channel_id,
            "start": window.start,
            "end": window.end,
            "run_id": self.run_id,
        }
        span = f"channel {target.channel_id} [{window.start.isoformat()}, {window.end.isoformat()})"
        try:
            batch = hook.get_readings(target.channel_id, window.start, window.end)
        except ChannelUnsupportedError as exc:
            with self.lock:
                self.unsupported.setdefault(target.channel_id, str(exc))
            self.log.warning("%s: channel unsupported, its other windows are skipped: %s", span, exc)
            return _Result("unsupported", error=str(exc))
        except (EniscopeAuthError, EniscopeConfigError):
            raise
        except Exception as exc:  # any other pull failure is this window's failure, not the task's
            self.log.warning("%s: pull failed: %s", span, _error_text(exc))
            self.log_window_failure(conn, **where, error=_error_text(exc), fetched=0)
            return _Result("failed", error=_error_text(exc))
        accepted, rejected = validate(batch.readings, window, self.now)
        try:
            written = self.write_window(
                conn, **where, readings=accepted, rejected=rejected, fetched=len(batch.readings)
            )
        except Exception as exc:
            if conn.closed or conn.broken:
                raise  # the database is gone: nothing can be recorded, let the task retry
            self.log.warning("%s: write failed: %s", span, _error_text(exc))
            self.log_window_failure(conn, **where, error=_error_text(exc), fetched=len(batch.readings))
            return _Result("failed", fetched=len(batch.readings), error=_error_text(exc))
        return _Result(
            "ok",
            fetched=len(batch.readings),
            inserted=written.inserted,
            updated=written.updated,
            unchanged=written.unchanged,
            rejected=written.rejected,
            reasons=dict(reason_counts(rejected)),
        )


def _account(outcome: ChannelOutcome, result: _Result) -> None:
    if result.kind == "skipped_unsupported":
        return
    if result.kind == "unsupported":
        outcome.unsupported = True
        outcome.error = result.error
        return
    outcome.fetched += result.fetched
    if result.kind == "failed":
        outcome.failed += 1
        outcome.error = outcome.error or result.error
        return
    outcome.ok += 1
    outcome.inserted += result.inserted
    outcome.updated += result.updated
    outcome.unchanged += result.unchanged
    outcome.rejected += result.rejected


def sync_windows(
    targets: Sequence[ChannelTarget],
    *,
    make_hook: Callable[[], Any],
    make_conn: Callable[[], Any],
    skip: str,
    run_id: str | None,
    now: datetime,
    max_workers: int = 4,
    progress_every: float = 30.0,
    logger: Any = log,
) -> list[ChannelOutcome]:
    """Fetch, validate and write every window of ``targets``; a failing window never stops the others.

    Up to ``max_workers`` windows run at once, never more than the hook's requests-per-second
    budget; each worker has its own hook session and database connection (neither is shared
    between threads). ``EniscopeAuthError``, ``EniscopeConfigError`` and a lost database stop everything at once.
    """
    outcomes = {t.channel_id: ChannelOutcome(t.channel_id, t.organization_id) for t in targets}
    plan: list[_Work] = []
    for target in targets:
        windows = make_windows(target.start, target.end, target.timezone)
        outcomes[target.channel_id].windows = len(windows)
        plan.extend(_Work(target, w) for w in windows)

    opened: list[tuple[Any, Any]] = []
    conn = make_conn()
    try:
        done = _completed(conn, targets, run_id=(run_id if skip == SKIP_THIS_RUN else None))
        todo = []
        for work in plan:
            if (work.target.channel_id, work.window.start, work.window.end) in done:
                outcomes[work.target.channel_id].skipped_done += 1
            else:
                todo.append(work)
        logger.info(
            "plan: %d channel(s), %d window(s): %d to fetch, %d already done (skip mode %s)",
            len(targets),
            len(plan),
            len(todo),
            len(plan) - len(todo),
            skip,
        )
        if not todo:
            return list(outcomes.values())

        hook = make_hook()
        opened.append((hook, conn))
        budget = float(hook.settings.requests_per_second or 0)
        workers = max(1, min(max_workers, len(todo), math.ceil(budget) if budget > 0 else max_workers))
        for _ in range(workers - 1):
            # Connections are resolved here, in the task's main thread, not inside the workers.
            extra = make_hook()
            _ = extra.settings
            opened.append((extra, make_conn()))
        logger.info("fetching with %d worker(s); rate budget %s requests/s", workers, budget or "unlimited")
        _run_pool(
            todo, opened, outcomes, _WindowSync(run_id=run_id, now=now, logger=logger), progress_every, logger
        )
        return list(outcomes.values())
    finally:
        for hook, _conn in opened:
            hook.close()
        for _hook_unused, extra_conn in opened[1:]:
            extra_conn.close()
        conn.close()


def _run_pool(
    todo: Sequence[_Work],
    resources: Sequence[tuple[Any, Any]],
    outcomes: Mapping[int, ChannelOutcome],
    sync: _WindowSync,
    progress_every: float,
    logger: Any,
) -> None:
    free: queue.SimpleQueue[tuple[Any, Any]] = queue.SimpleQueue()
    for pair in resources:
        free.put(pair)

    def run(work: _Work) -> _Result:
        if sync.is_unsupported(work.target.channel_id):
            return _Result("skipped_unsupported")
        hook, conn = free.get()
        try:
            return sync(hook, conn, work)
        finally:
            free.put((hook, conn))

    # Probe first: one window per channel, then the channel's other windows once the probe has
    # shown the channel answers at all (an unsupported channel then costs exactly one request).
    rest: dict[int, list[_Work]] = {}
    probes: list[_Work] = []
    for work in todo:
        if work.target.channel_id in rest:
            rest[work.target.channel_id].append(work)
        else:
            rest[work.target.channel_id] = []
            probes.append(work)

    progress = Progress(len(todo), logger, progress_every)
    reasons: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=len(resources), thread_name_prefix="eniscope-window") as pool:
        pending: dict[Future[_Result], tuple[_Work, bool]] = {pool.submit(run, w): (w, True) for w in probes}
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    work, probe = pending.pop(future)
                    result = future.result()  # re-raises EniscopeAuthError or a lost database
                    _account(outcomes[work.target.channel_id], result)
                    for code, count in result.reasons.items():
                        reasons[code] = reasons.get(code, 0) + count
                    progress.step(result.fetched)
                    if probe:
                        for later in rest.pop(work.target.channel_id):
                            if result.kind == "unsupported":
                                progress.step(0)
                            else:
                                pending[pool.submit(run, later)] = (later, False)
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    if reasons:
        logger.info("rejected readings by reason: %s", dict(sorted(reasons.items())))


def summarize(outcomes: Iterable[ChannelOutcome]) -> dict[str, int]:
    """Totals over channel outcomes (the readings task's return value)."""
    outcomes = list(outcomes)
    keys = (
        "windows",
        "ok",
        "skipped_done",
        "failed",
        "fetched",
        "inserted",
        "updated",
        "unchanged",
        "rejected",
    )
    totals = {key: sum(getattr(o, key) for o in outcomes) for key in keys}
    totals["channels"] = len(outcomes)
    totals["unsupported"] = sum(1 for o in outcomes if o.unsupported)
    return totals


class SyncReadingsOperator(BaseOperator):
    """Fetch, validate and upsert the readings of one batch of channels (one mapped task per batch).

    ``batch`` is one item of the metadata task's ``batches``: ``{"label", "targets", "skip"}``.
    Pushes ``summary`` (per-channel outcomes) to XCom even when it fails, then fails if any
    window failed so that Airflow retries it; the retry skips what this run already wrote.
    """

    template_fields: Sequence[str] = ("eniscope_conn_id", "energy_conn_id")
    ui_color = "#e8f4ea"

    def __init__(
        self,
        *,
        batch: Mapping[str, Any],
        eniscope_conn_id: str = ENISCOPE_CONN_ID,
        energy_conn_id: str = ENERGY_CONN_ID,
        max_workers: int = 4,
        progress_every: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.batch = batch
        self.eniscope_conn_id = eniscope_conn_id
        self.energy_conn_id = energy_conn_id
        self.max_workers = max_workers
        self.progress_every = progress_every

    def execute(self, context: Any) -> dict[str, int]:
        targets = [ChannelTarget.from_dict(t) for t in self.batch["targets"]]
        started = time.monotonic()
        self.log.info("batch %s: %d channel(s)", self.batch.get("label"), len(targets))
        outcomes: list[ChannelOutcome] = []
        try:
            outcomes = sync_windows(
                targets,
                make_hook=lambda: _hook(self.eniscope_conn_id),
                make_conn=lambda: _connect(self.energy_conn_id),
                skip=self.batch.get("skip", SKIP_THIS_RUN),
                run_id=run_key(context["run_id"], getattr(context["dag_run"], "clear_number", 0)),
                now=_now(),
                max_workers=self.max_workers,
                progress_every=self.progress_every,
                logger=self.log,
            )
        finally:
            # Pushed even on failure: the status task reports what this batch did.
            summary = outcomes or [
                ChannelOutcome(t.channel_id, t.organization_id, error="the readings task stopped early")
                for t in targets
            ]
            context["ti"].xcom_push(key="summary", value=[asdict(o) for o in summary])
        totals = summarize(outcomes)
        self.log.info(
            "summary: %d channel(s), %d window(s): %d ok, %d already done, %d failed; "
            "%d unsupported channel(s); readings fetched %d, inserted %d, updated %d, unchanged %d, "
            "rejected %d; %.1fs",
            totals["channels"],
            totals["windows"],
            totals["ok"],
            totals["skipped_done"],
            totals["failed"],
            totals["unsupported"],
            totals["fetched"],
            totals["inserted"],
            totals["updated"],
            totals["unchanged"],
            totals["rejected"],
            time.monotonic() - started,
        )
        if totals["failed"]:
            failed = [o for o in outcomes if o.failed]
            raise AirflowException(
                f"{totals['failed']} of {totals['windows']} window(s) failed, on channel(s) "
                f"{', '.join(str(o.channel_id) for o in failed)}; first error: {failed[0].error}. "
                "Their failure rows are in ingestion_logs; a retry fetches only the windows not yet written."
            )
        return totals


# ---------------------------------------------------------------------------------------------
# data_sync_status


def _outcomes_from_xcom(summaries: Iterable[Any]) -> dict[int, ChannelOutcome]:
    found: dict[int, ChannelOutcome] = {}
    for summary in summaries or ():
        for item in summary or ():
            outcome = ChannelOutcome(**item)
            found[outcome.channel_id] = outcome
    return found


def channel_status(outcome: ChannelOutcome | None) -> tuple[str, str | None]:
    """``(sync_status, error_message)`` of one channel in one run."""
    if outcome is None:
        return "failed", "no result: the readings task did not report on this channel"
    if outcome.unsupported:
        return UNSUPPORTED, f"{UNSUPPORTED_PREFIX} {outcome.error}"
    if outcome.failed == 0 and outcome.error is None:
        return "success", None
    good = outcome.ok + outcome.skipped_done
    return ("partial" if good else "failed"), (
        f"{outcome.failed} of {outcome.windows} window(s) failed: {outcome.error}"
    )


def site_status(
    channel_rows: Sequence[tuple[int, str, str | None]], unsupported: Sequence[int]
) -> tuple[str, str | None]:
    """A site's status over its supported channels; unsupported ones are named, not counted."""
    supported = [row for row in channel_rows if row[0] not in unsupported]
    problems = [f"channel {cid}: {err}" for cid, status, err in supported if status != "success"]
    notes = []
    if unsupported:
        notes.append(
            f"{len(unsupported)} unsupported channel(s) not synced: {', '.join(map(str, sorted(unsupported)))}"
        )
    if not supported:
        status = "failed" if unsupported else "success"
    elif not problems:
        status = "success"
    elif all(status == "failed" for _, status, _ in supported):
        status = "failed"
    else:
        status = "partial"
    if problems:
        notes.insert(
            0, f"{len(problems)} of {len(supported)} channel(s) not fully synced; " + "; ".join(problems)
        )
    return status, ("; ".join(notes) or None)


def _readings_facts(
    conn: Any, targets: Sequence[tuple[int, datetime, datetime]]
) -> dict[int, tuple[int, datetime | None]]:
    """Per channel: readings stored in its run range, and its newest reading overall (read-only)."""
    if not targets:
        return {}
    sql = """
        SELECT u.channel_id,
               (SELECT count(*) FROM readings r
                 WHERE r.channel_id = u.channel_id AND r."timestamp" >= u.start_at AND r."timestamp" < u.end_at),
               (SELECT max(r."timestamp") FROM readings r WHERE r.channel_id = u.channel_id)
          FROM unnest(%s::integer[], %s::timestamptz[], %s::timestamptz[]) AS u (channel_id, start_at, end_at)
    """
    with conn.cursor() as cur:
        cur.execute(sql, ([t[0] for t in targets], [t[1] for t in targets], [t[2] for t in targets]))
        rows = cur.fetchall()
    conn.rollback()
    return {int(cid): (int(count), newest) for cid, count, newest in rows}


def record_run_status(
    plan: Mapping[str, Any] | None,
    summaries: Iterable[Any] | None,
    *,
    energy_conn_id: str = ENERGY_CONN_ID,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Write this run's ``data_sync_status`` rows: one per site and one per channel synced or probed.

    ``readings_count`` is the number of readings stored for the channel (or site) within the run's
    range; ``last_reading_timestamp`` the newest reading stored for it at all.
    """
    from argo_energy.warehouse import SyncStatus, record_sync_status

    if not plan:
        log.warning("no plan (the metadata task did not succeed): no data_sync_status rows to write")
        return {"sites": 0, "channels": 0}
    now = now or _now()
    outcomes = _outcomes_from_xcom(summaries or ())
    targets = [ChannelTarget.from_dict(t) for batch in plan.get("batches", []) for t in batch["targets"]]
    conn = _connect(energy_conn_id)
    try:
        facts = _readings_facts(conn, [(t.channel_id, t.start, t.end) for t in targets])
        rows: list[Any] = []
        statuses: dict[str, str] = {}
        for site in plan.get("sites", []):
            org = site["organization_id"]
            site_targets = [t for t in targets if t.organization_id == org]
            channel_rows = []
            unsupported = []
            for target in site_targets:
                outcome = outcomes.get(target.channel_id)
                status, error = channel_status(outcome)
                if outcome is not None and outcome.unsupported:
                    unsupported.append(target.channel_id)
                count, newest = facts.get(target.channel_id, (0, None))
                channel_rows.append((target.channel_id, status, error))
                rows.append(SyncStatus(org, target.channel_id, now, newest, count, status, error))
            previously = [u["channel_id"] for u in plan.get("unsupported", []) if u["organization_id"] == org]
            status, error = site_status(channel_rows, [*unsupported, *previously])
            counted = [
                facts.get(t.channel_id, (0, None)) for t in site_targets if t.channel_id not in unsupported
            ]
            newest_all = [n for _, n in counted if n is not None]
            rows.append(
                SyncStatus(
                    org, None, now, max(newest_all, default=None), sum(c for c, _ in counted), status, error
                )
            )
            statuses[org] = status
        record_sync_status(conn, rows)
    finally:
        conn.close()
    log.info(
        "data_sync_status: %d site row(s) %s, %d channel row(s)",
        len(statuses),
        statuses,
        len(rows) - len(statuses),
    )
    return {"sites": statuses, "channels": len(rows) - len(statuses)}
