"""Self-healing plan: incomplete channel-days -> ``eniscope_historical_backfill`` runs. Pure.

Each channel-day is healed at most once, ever: a day already in ``validation_heal_requests`` is
never planned again, even if it is still incomplete (the source has no data for it; re-pulling
would loop). The plan is exact: every backfill run covers a contiguous range of days for a set of
channels that are incomplete on every one of those days, so nothing complete is re-fetched.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

RUN_ID_PREFIX = "heal"


@dataclass(frozen=True, slots=True)
class HealGroup:
    """One backfill run: channels ``channel_ids`` on local days ``start_date..end_date`` (inclusive)."""

    start_date: date
    end_date: date
    channel_ids: tuple[int, ...]

    def channel_days(self) -> list[tuple[int, date]]:
        days = (self.end_date - self.start_date).days + 1
        return [
            (cid, self.start_date + timedelta(days=i)) for cid in self.channel_ids for i in range(days)
        ]

    def conf(self) -> dict[str, Any]:
        """The backfill DAG's params (see ``argo_energy.ingest.planning.parse_backfill_params``)."""
        return {
            "start_date": self.start_date.isoformat(),
            "end_date": self.end_date.isoformat(),
            "channel_ids": list(self.channel_ids),
            "force": True,
            "dry_run": False,
        }


@dataclass(frozen=True, slots=True)
class HealPlan:
    groups: tuple[HealGroup, ...]
    already_healed: tuple[tuple[int, date], ...]  # incomplete again after their heal: not retried
    deferred: tuple[tuple[int, date], ...]  # over this run's limit: planned by a later run

    @property
    def channel_days(self) -> list[tuple[int, date]]:
        return [cd for group in self.groups for cd in group.channel_days()]


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Maximal runs of consecutive dates in a sorted list."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def plan_heal(
    incomplete: Iterable[tuple[int, date]], already_requested: Iterable[tuple[int, date]], limit: int
) -> HealPlan:
    """Group the not-yet-healed incomplete channel-days (oldest first, at most ``limit``) into runs."""
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    done = set(already_requested)
    wanted = sorted(set(incomplete), key=lambda cd: (cd[1], cd[0]))
    healed_before = tuple(cd for cd in wanted if cd in done)
    todo = [cd for cd in wanted if cd not in done]
    now, deferred = todo[:limit], tuple(todo[limit:])
    per_channel: dict[int, list[date]] = defaultdict(list)
    for cid, day in now:
        per_channel[cid].append(day)
    by_range: dict[tuple[date, date], list[int]] = defaultdict(list)
    for cid, days in per_channel.items():
        for run in _runs(sorted(days)):
            by_range[run].append(cid)
    groups = tuple(
        HealGroup(start, end, tuple(sorted(cids))) for (start, end), cids in sorted(by_range.items())
    )
    return HealPlan(groups=groups, already_healed=healed_before, deferred=deferred)


def heal_run_id(validation_run_id: str, index: int) -> str:
    """Deterministic backfill run id, so that a retried trigger task finds its run instead of adding one."""
    return f"{RUN_ID_PREFIX}__{validation_run_id}__{index:03d}"
