"""A fault-scripting wrapper of the Eniscope simulator for the reliability suite.

``ScriptedSimulator`` is the project's simulator (same data, auth, envelopes and fault switches)
with three test-only additions, all applied to real HTTP responses:

* per-window fault scripts: ``script[(channel_id, window_from)] = ["error_next", "error_next"]``
  makes the first two readings requests of that window answer 503, whatever else runs
  concurrently (the simulator's own ``*_next`` counters are global, so which window they hit
  depends on thread timing);
* planted bad values: records of chosen timestamps are altered or added (|PF| > 1, NaN, Infinity,
  off-grid, outside the window, in the future, duplicated, negative power or energy). Every planted
  record is logged in ``planted`` with the reason code validation must give it;
* a rendezvous that holds readings requests until every named simulator has received one (two
  DAG runs in two processes then write at the same time).

It relies on two internals of ``eniscope_simulator.server.Simulator``: ``handle()`` (one request)
and ``_take(name)`` (consumes one unit of a ``*_next`` fault counter).
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from eniscope_simulator import Simulator, SimulatorConfig

# Fault names of the simulator's per-request switches (FaultConfig.*_next).
RATE_LIMITED = "rate_limit_next"  # 429 with Retry-After
SERVER_ERROR = "error_next"  # FaultConfig.error_status (503 by default)
SLOW = "slow_next"  # FaultConfig.slow_seconds before answering (a read timeout when longer)
MALFORMED = "malformed_next"  # invalid JSON body
TRUNCATED = "truncated_next"  # body cut in half
FAULT_NAMES = (RATE_LIMITED, SERVER_ERROR, SLOW, MALFORMED, TRUNCATED)

GRID = 900


def readings_key(raw_path: str) -> tuple[int, int] | None:
    """``(channel_id, from)`` of a ``GET /readings/{id}?daterange[]=from&...`` request, else None."""
    parts = urlsplit(raw_path)
    segments = [s for s in parts.path.split("/") if s]
    while segments and segments[0] in ("v1", "1"):
        segments = segments[1:]
    if len(segments) != 2 or segments[0] != "readings" or not segments[1].isdigit():
        return None
    dateranges = parse_qs(parts.query).get("daterange[]", [])
    if not dateranges or not dateranges[0].lstrip("-").isdigit():
        return None
    return int(segments[1]), int(dateranges[0])


@dataclass(frozen=True)
class Planted:
    """One bad record put into a response and the reason codes validation must give it."""

    channel_id: int
    ts: int
    kind: str
    codes: frozenset[str]
    added: bool  # an extra record (True) or an altered real one (False)


# Alterations of a real record: kind -> (mutation, reason codes).
ALTERATIONS: dict[str, tuple[Callable[[dict[str, Any]], None], frozenset[str]]] = {
    "pf_above_1": (lambda r: r.update(PF=1.37), frozenset({"power_factor_out_of_range"})),
    "pf_below_minus_1": (lambda r: r.update(PF=-1.2), frozenset({"power_factor_out_of_range"})),
    "nan_energy": (lambda r: r.update(E=math.nan), frozenset({"non_finite"})),
    "infinite_power": (lambda r: r.update(P="Infinity"), frozenset({"non_finite"})),
    "negative_power": (lambda r: r.update(P=-abs(r["P"])), frozenset({"negative_power"})),
    "negative_energy": (lambda r: r.update(E=-abs(r["E"])), frozenset({"negative_energy"})),
}
# Extra records added to the response of the window containing the anchor.
ADDITIONS = {
    "off_grid": frozenset({"off_grid"}),
    "outside_window": frozenset({"outside_window"}),
    "future": frozenset({"future_timestamp", "outside_window"}),
    "duplicate": frozenset({"duplicate_timestamp"}),
}


def _negative(record: dict[str, Any]) -> bool:
    return any(isinstance(record.get(code), float) and record[code] < 0 for code in ("E", "P"))


class Rendezvous:
    """Holds readings requests until every party has sent one (bounded by ``timeout``)."""

    def __init__(self, parties: Iterable[str], timeout: float = 180.0) -> None:
        self.parties = frozenset(parties)
        self.timeout = timeout
        self.arrived: dict[str, float] = {}
        self.released_at: float | None = None
        self._lock = threading.Lock()
        self._open = threading.Event()

    def arrive(self, party: str) -> bool:
        """Register ``party`` and wait until all have arrived; False if the deadline passed first."""
        with self._lock:
            self.arrived.setdefault(party, time.monotonic())
            if self.parties <= set(self.arrived) and not self._open.is_set():
                self.released_at = time.monotonic()
                self._open.set()
        return self._open.wait(self.timeout)


@dataclass
class _Plan:
    alterations: dict[tuple[int, int], str] = field(default_factory=dict)  # (channel, ts) -> kind
    additions: dict[tuple[int, int], list[str]] = field(default_factory=dict)  # (channel, anchor) -> kinds


class ScriptedSimulator(Simulator):
    """The simulator with per-window fault scripts, planted bad values and a rendezvous."""

    def __init__(
        self,
        config: SimulatorConfig,
        *,
        name: str = "sim",
        rendezvous: Rendezvous | None = None,
        future_offset: float = 30 * 86400.0,
    ) -> None:
        super().__init__(config)
        self.name = name
        self.rendezvous = rendezvous
        # One fixed future instant (real clock: the pipeline validates against real time).
        moment = int(time.time() + future_offset)
        self.future_ts = moment - moment % GRID
        self.script: dict[tuple[int, int], deque[str]] = {}
        self.injected: Counter[str] = Counter()  # faults actually served, by name
        self.scripted_served: Counter[tuple[int, int]] = Counter()
        self.tokens: set[str] = set()  # every session token issued
        self.planted: dict[tuple[int, int, str], Planted] = {}
        # (channel, from, to) -> (records served, records validation must reject) of the latest 200
        self.served: dict[tuple[int, int, int], tuple[int, int]] = {}
        self._plan = _Plan()
        self._script_lock = threading.Lock()
        self._local = threading.local()

    # ------------------------------------------------------------------ scripting

    def add_script(self, channel_id: int, window_from: int, faults: Iterable[str]) -> None:
        """The next requests for window ``(channel_id, window_from)`` get these faults, one each."""
        for name in faults:
            if name not in FAULT_NAMES:
                raise ValueError(f"unknown fault {name!r}; one of {FAULT_NAMES}")
        with self._script_lock:
            self.script.setdefault((channel_id, window_from), deque()).extend(faults)

    def alter(self, channel_id: int, ts: int, kind: str) -> None:
        """Serve the record ``ts`` of ``channel_id`` altered by ``ALTERATIONS[kind]``."""
        if kind not in ALTERATIONS:
            raise ValueError(f"unknown alteration {kind!r}")
        self._plan.alterations[(channel_id, ts)] = kind

    def add_records(self, channel_id: int, anchor: int, kinds: Iterable[str]) -> None:
        """Add ``ADDITIONS`` records to the response of the window of ``channel_id`` holding ``anchor``."""
        kinds = list(kinds)
        unknown = [k for k in kinds if k not in ADDITIONS]
        if unknown:
            raise ValueError(f"unknown additions {unknown}")
        self._plan.additions.setdefault((channel_id, anchor), []).extend(kinds)

    def _take(self, name: str) -> bool:
        scripted = getattr(self._local, "fault", None)
        if scripted == name:
            self._local.fault = None
            took = True
        else:
            took = super()._take(name)
        if took:
            with self._script_lock:
                self.injected[name] += 1
        return took

    # ------------------------------------------------------------------ one request

    def handle(self, method: str, raw_path: str, headers: Any) -> tuple[int, Any, dict[str, str], str]:
        key = readings_key(raw_path) if method == "GET" else None
        if key is not None and self.rendezvous is not None:
            self.rendezvous.arrive(self.name)
        fault = None
        if key is not None:
            with self._script_lock:
                queue = self.script.get(key)
                if queue:
                    fault = queue.popleft()
        self._local.fault = fault
        try:
            status, body, extra, auth = super().handle(method, raw_path, headers)
        finally:
            left = self._local.fault
            self._local.fault = None
        with self._script_lock:
            if fault is not None and left is not None:
                # Not served (e.g. the token was refused first): keep it for the next request.
                self.script[key].appendleft(left)
            elif fault is not None:
                self.scripted_served[key] += 1
            token = extra.get("X-Eniscope-Token")
            if token:
                self.tokens.add(token)
        if (
            key is not None
            and status == 200
            and isinstance(body, dict)
            and isinstance(body.get("records"), list)
        ):
            body = self._plant(key[0], body)
        return status, body, extra, auth

    def _plant(self, channel_id: int, body: dict[str, Any]) -> dict[str, Any]:
        start, end = int(body["from"]), int(body["to"])
        records, bad = [], 0
        for record in body["records"]:
            kind = self._plan.alterations.get((channel_id, int(record["ts"])))
            if kind is not None and record.get("E") is not None:
                record = dict(record)
                mutate, codes = ALTERATIONS[kind]
                mutate(record)
                self._note(Planted(channel_id, int(record["ts"]), kind, codes, added=False))
                bad += 1
            elif _negative(record):  # the simulator's own negative_rate data fault
                bad += 1
            records.append(record)
        for (channel, anchor), kinds in self._plan.additions.items():
            if channel != channel_id or not start <= anchor < end:
                continue
            template = next((r for r in records if r["ts"] == anchor), None)
            if template is None:
                continue
            for kind in kinds:
                extra = self._added_record(kind, template, start)
                records.append(extra)
                self._note(Planted(channel_id, int(extra["ts"]), kind, ADDITIONS[kind], added=True))
                bad += 1
        with self._script_lock:
            self.served[(channel_id, start, end)] = (len(records), bad)
        return {**body, "records": records, "recordCount": len(records)}

    def _added_record(self, kind: str, template: dict[str, Any], start: int) -> dict[str, Any]:
        """A copy of ``template`` made into the added bad record ``kind``."""
        extra = dict(template)
        if kind == "off_grid":
            extra["ts"] = int(template["ts"]) + 420
        elif kind == "outside_window":
            extra["ts"] = start - GRID
        elif kind == "future":
            extra["ts"] = self.future_ts
        else:  # duplicate: same ts, different values, after the real record
            extra["E"] = (extra["E"] or 0.0) * 1.5 + 1.0
        return extra

    def _note(self, planted: Planted) -> None:
        with self._script_lock:
            self.planted.setdefault((planted.channel_id, planted.ts, planted.kind), planted)

    # ------------------------------------------------------------------ figures

    def status_counts(self) -> Counter[int]:
        """HTTP statuses served so far (401/419 included: expired tokens are faults too)."""
        return Counter(record.status for record in self.requests)
