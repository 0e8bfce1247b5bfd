"""The window engine of the readings task: fetch -> screen -> write, window by window, in a few threads.

Outcome of one (channel, window):

* ok: screened and written by ``write_window`` in one transaction with its ``ingestion_logs`` row;
* failed: the pull or the write raised; ``log_window_failure`` writes a ``failure`` row, the other
  windows go on, and the task fails at the end so that Airflow retries it (a retry skips the
  windows this run already wrote);
* unsupported: the channel answered 500 "Invalid Parameter" (sensor or virtual channel). Its other
  windows are not asked for and the run does not fail; ``ingest.status`` records it, and later runs
  skip the channel for a while (``status.UNSUPPORTED_RECHECK``).
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from argo_energy.eniscope.errors import ChannelUnsupportedError, EniscopeAuthError, EniscopeConfigError
from argo_energy.eniscope.fields import DEFAULT_FIELDS
from argo_energy.ingest.discovery import fields_to_request
from argo_energy.ingest.limits import DEFAULT_LIMITS, Limit
from argo_energy.ingest.planning import SKIP_THIS_RUN, ChannelTarget
from argo_energy.ingest.screening import reason_counts, validate
from argo_energy.models import Window
from argo_energy.redaction import redact
from argo_energy.sitetime import make_windows
from argo_energy.warehouse import completed_windows, log_window_failure, write_window
from argo_energy.warehouse.connection import Connection

if TYPE_CHECKING:
    from argo_energy.eniscope.hook import EniscopeHook

log = logging.getLogger(__name__)

Done = set[tuple[int, datetime, datetime]]  # (channel_id, window start, window end), UTC


class TaskLog(Protocol):
    """What the engine logs with: a ``logging.Logger`` or an operator's ``self.log``."""

    def info(self, msg: Any, /, *args: Any) -> object: ...

    def warning(self, msg: Any, /, *args: Any) -> object: ...


def open_hook(conn_id: str) -> EniscopeHook:
    """An ``EniscopeHook`` on connection ``conn_id`` (imported here: a DAG file's parse stays light)."""
    from argo_energy.eniscope.hook import EniscopeHook

    return EniscopeHook(eniscope_conn_id=conn_id)


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
    """The error as stored and pushed to XCom: redacted (``argo_energy.redaction``), then cut."""
    return redact(f"{type(exc).__name__}: {exc}")[:1000]


def completed_for(conn: Connection, targets: Sequence[ChannelTarget], run_id: str | None) -> Done:
    """Windows of ``targets`` with a success row: written by run ``run_id``, or by any run when None."""
    if not targets:
        return set()
    start = min(t.start for t in targets)
    end = max(t.end for t in targets)
    return completed_windows(conn, sorted({t.channel_id for t in targets}), start, end, run_id=run_id)


class Progress:
    """Logs windows done / total, readings, rate and time left, at most every ``every`` seconds."""

    def __init__(
        self,
        total: int,
        logger: TaskLog,
        every: float,
        clock: Callable[[], float] = time.monotonic,
        budget: Callable[[], str] | None = None,
    ) -> None:
        self.total, self.log, self.every, self.clock = total, logger, every, clock
        self.budget = budget  # the account's request budget as seen by this task (hook.budget_stats)
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
                "progress: %d/%d windows (%.0f%%), %d readings, %.2f windows/s, %.0f readings/s, ~%.0fs left; %s",
                self.done,
                self.total,
                100.0 * self.done / max(self.total, 1),
                self.readings,
                rate,
                self.readings / elapsed,
                left,
                self.budget() if self.budget else "budget n/a",
            )


class _WindowSync:
    """Fetch -> screen -> write of one window, with the outcome rules of the module docstring."""

    def __init__(
        self,
        *,
        run_id: str | None,
        now: datetime,
        logger: TaskLog,
        fields: Mapping[int, tuple[str, ...]] | None = None,
        limits: Mapping[str, Limit] = DEFAULT_LIMITS,
        max_rejects: int | None = None,
    ) -> None:
        self.max_rejects = max_rejects  # readings_rejected rows stored per window (None: the default)
        self.run_id = run_id
        self.now = now
        self.log = logger
        self.fields = fields or {}  # channel -> fields[] of its request (discovered; defaults if absent)
        self.limits = limits
        self.unsupported: dict[int, str] = {}
        self.lock = threading.Lock()

    def is_unsupported(self, channel_id: int) -> bool:
        with self.lock:
            return channel_id in self.unsupported

    def __call__(self, hook: EniscopeHook, conn: Connection, work: _Work) -> _Result:
        target, window = work.target, work.window
        span = f"channel {target.channel_id} [{window.start.isoformat()}, {window.end.isoformat()})"
        try:
            batch = hook.get_readings(
                target.channel_id, window.start, window.end, fields=self.fields.get(target.channel_id, DEFAULT_FIELDS)
            )
        except ChannelUnsupportedError as exc:
            with self.lock:
                self.unsupported.setdefault(target.channel_id, str(exc))
            self.log.warning("%s: channel unsupported, its other windows are skipped: %s", span, exc)
            return _Result("unsupported", error=str(exc))
        except (EniscopeAuthError, EniscopeConfigError):
            raise
        except Exception as exc:  # any other pull failure is this window's failure, not the task's
            self.log.warning("%s: pull failed: %s", span, _error_text(exc))
            self._log_failure(conn, work, _error_text(exc), fetched=0)
            return _Result("failed", error=_error_text(exc))
        accepted, rejected = validate(batch.readings, window, self.now, limits=self.limits)
        try:
            written = write_window(
                conn,
                organization_id=target.organization_id,
                channel_id=target.channel_id,
                start=window.start,
                end=window.end,
                run_id=self.run_id,
                readings=accepted,
                rejected=rejected,
                fetched=len(batch.readings),
                max_rejects=self.max_rejects,
            )
        except Exception as exc:
            if conn.closed or conn.broken:
                raise  # the database is gone: nothing can be recorded, let the task retry
            self.log.warning("%s: write failed: %s", span, _error_text(exc))
            self._log_failure(conn, work, _error_text(exc), fetched=len(batch.readings))
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

    def _log_failure(self, conn: Connection, work: _Work, error: str, *, fetched: int) -> None:
        log_window_failure(
            conn,
            organization_id=work.target.organization_id,
            channel_id=work.target.channel_id,
            start=work.window.start,
            end=work.window.end,
            run_id=self.run_id,
            error=error,
            fetched=fetched,
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


# Window threads of one task (issue 16): a thread does one window at a time (API round trip, screening,
# write), so keeping a budget of R requests/s busy alone takes about R x WINDOW_SECONDS of them.
WINDOW_SECONDS = 0.5
MAX_WINDOW_WORKERS = 10  # each thread holds a hook session and a warehouse connection


def window_workers(rate: float, windows: int, max_workers: int) -> int:
    """Threads for ``windows`` windows under a budget of ``rate`` requests/s (0 = unlimited: ``max_workers``):
    ``ceil(rate x WINDOW_SECONDS)``, at least ``min(max_workers, ceil(rate))``, at most ``MAX_WINDOW_WORKERS``."""
    if rate <= 0:
        wanted = max_workers
    else:
        wanted = min(MAX_WINDOW_WORKERS, max(min(max_workers, math.ceil(rate)), math.ceil(rate * WINDOW_SECONDS)))
    return max(1, min(wanted, windows))


def sync_windows(
    targets: Sequence[ChannelTarget],
    *,
    make_hook: Callable[[], EniscopeHook],
    make_conn: Callable[[], Connection],
    skip: str,
    run_id: str | None,
    now: datetime,
    max_workers: int = 4,
    progress_every: float = 30.0,
    logger: TaskLog = log,
    limits: Mapping[str, Limit] = DEFAULT_LIMITS,
    max_rejects: int | None = None,
) -> list[ChannelOutcome]:
    """Fetch, screen and write every window of ``targets``; a failing window never stops the others.

    ``window_workers`` windows run at once (enough threads for the hook's requests-per-second budget);
    each worker has its own hook session and database connection (neither is shared between threads).
    ``EniscopeAuthError``, ``EniscopeConfigError`` and a lost database stop everything at once.
    """
    outcomes = {t.channel_id: ChannelOutcome(t.channel_id, t.organization_id) for t in targets}
    plan: list[_Work] = []
    for target in targets:
        windows = make_windows(target.start, target.end, target.timezone)
        outcomes[target.channel_id].windows = len(windows)
        plan.extend(_Work(target, w) for w in windows)

    opened: list[tuple[EniscopeHook, Connection]] = []
    conn = make_conn()
    try:
        done = completed_for(conn, targets, run_id=(run_id if skip == SKIP_THIS_RUN else None))
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
        workers = window_workers(budget, len(todo), max_workers)
        for _ in range(workers - 1):
            # Connections are resolved here, in the task's main thread, not inside the workers.
            extra = make_hook()
            _ = extra.settings
            opened.append((extra, make_conn()))
        logger.info(
            "fetching with %d worker(s) (R x %gs per window, at most %d); rate budget %s requests/s",
            workers, WINDOW_SECONDS, MAX_WINDOW_WORKERS, budget or "unlimited",
        )
        fields = fields_to_request(conn, list(outcomes))
        window_sync = _WindowSync(
            run_id=run_id, now=now, logger=logger, fields=fields, limits=limits, max_rejects=max_rejects
        )
        _run_pool(todo, opened, outcomes, window_sync, progress_every, logger)
        return list(outcomes.values())
    finally:
        for opened_hook, _conn in opened:
            opened_hook.close()
        for _hook, extra_conn in opened[1:]:
            extra_conn.close()
        conn.close()


def _probes_first(todo: Sequence[_Work]) -> tuple[list[_Work], dict[int, list[_Work]]]:
    """One window per channel (its probe), and each channel's other windows."""
    rest: dict[int, list[_Work]] = {}
    probes: list[_Work] = []
    for work in todo:
        if work.target.channel_id in rest:
            rest[work.target.channel_id].append(work)
        else:
            rest[work.target.channel_id] = []
            probes.append(work)
    return probes, rest


class _Pool:
    """The state of one ``_run_pool``: free (hook, connection) pairs, outcomes, progress, reasons."""

    def __init__(
        self,
        resources: Sequence[tuple[EniscopeHook, Connection]],
        outcomes: Mapping[int, ChannelOutcome],
        sync: _WindowSync,
        progress: Progress,
    ) -> None:
        self.free: queue.SimpleQueue[tuple[EniscopeHook, Connection]] = queue.SimpleQueue()
        for pair in resources:
            self.free.put(pair)
        self.outcomes, self.sync, self.progress = outcomes, sync, progress
        self.reasons: Counter[str] = Counter()

    def run(self, work: _Work) -> _Result:
        """One window on a free (hook, connection) pair (a worker thread)."""
        if self.sync.is_unsupported(work.target.channel_id):
            return _Result("skipped_unsupported")
        hook, conn = self.free.get()
        try:
            return self.sync(hook, conn, work)
        finally:
            self.free.put((hook, conn))

    def finish(self, work: _Work, result: _Result) -> None:
        """Count a finished window (the main thread)."""
        _account(self.outcomes[work.target.channel_id], result)
        self.reasons.update(result.reasons)
        self.progress.step(result.fetched)

    def after_probe(
        self, pool: ThreadPoolExecutor, result: _Result, later: Sequence[_Work]
    ) -> dict[Future[_Result], tuple[_Work, bool]]:
        """Submit a channel's other windows once its probe answered; none when it is unsupported."""
        if result.kind == "unsupported":
            for _ in later:
                self.progress.step(0)
            return {}
        return {pool.submit(self.run, w): (w, False) for w in later}


def _run_pool(
    todo: Sequence[_Work],
    resources: Sequence[tuple[EniscopeHook, Connection]],
    outcomes: Mapping[int, ChannelOutcome],
    sync: _WindowSync,
    progress_every: float,
    logger: TaskLog,
) -> None:
    """Run ``todo`` on ``len(resources)`` threads, probe first: one window per channel, then the
    channel's other windows once the probe has shown the channel answers at all (an unsupported
    channel then costs exactly one request)."""
    probes, rest = _probes_first(todo)
    # Every progress line also shows the account's request budget: shared rate, seconds waited.
    progress = Progress(len(todo), logger, progress_every, budget=lambda: resources[0][0].budget_stats().describe())
    state = _Pool(resources, outcomes, sync, progress)
    with ThreadPoolExecutor(max_workers=len(resources), thread_name_prefix="eniscope-window") as pool:
        pending = {pool.submit(state.run, w): (w, True) for w in probes}
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    work, probe = pending.pop(future)
                    result = future.result()  # re-raises EniscopeAuthError or a lost database
                    state.finish(work, result)
                    if probe:
                        pending.update(state.after_probe(pool, result, rest.pop(work.target.channel_id)))
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    if state.reasons:
        logger.info("rejected readings by reason: %s", dict(sorted(state.reasons.items())))


def summarize(outcomes: Iterable[ChannelOutcome]) -> dict[str, int]:
    """Totals over channel outcomes (the readings task's return value)."""
    outcomes = list(outcomes)
    keys = ("windows", "ok", "skipped_done", "failed", "fetched", "inserted", "updated", "unchanged", "rejected")
    totals = {key: sum(getattr(o, key) for o in outcomes) for key in keys}
    totals["channels"] = len(outcomes)
    totals["unsupported"] = sum(1 for o in outcomes if o.unsupported)
    return totals
