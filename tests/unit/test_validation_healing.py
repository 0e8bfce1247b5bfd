"""Self-heal planning: exact backfill runs, each channel-day at most once. Pure."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from argo_energy.validation.healing import HealGroup, heal_run_id, plan_heal

D = date(2025, 10, 27)


def day(n: int) -> date:
    return D + timedelta(days=n)


def covered(groups) -> list[tuple[int, date]]:
    return sorted(cd for g in groups for cd in g.channel_days())


def test_plan_covers_exactly_the_incomplete_channel_days():
    incomplete = {(1, day(0)), (1, day(1)), (1, day(2)), (2, day(1)), (2, day(2)), (3, day(1)), (3, day(2)),
                  (1, day(5))}
    plan = plan_heal(incomplete, already_requested=(), limit=100)
    assert covered(plan.groups) == sorted(incomplete), "nothing complete is re-fetched, nothing missed"
    assert plan.groups == (
        HealGroup(day(0), day(2), (1,)),
        HealGroup(day(1), day(2), (2, 3)),  # channels with the same day range share one run
        HealGroup(day(5), day(5), (1,)),
    )


def test_already_requested_days_are_never_planned_again():
    incomplete = {(1, day(0)), (1, day(1)), (2, day(1))}
    plan = plan_heal(incomplete, already_requested={(1, day(0)), (9, day(9))}, limit=100)
    assert plan.already_healed == ((1, day(0)),)
    assert covered(plan.groups) == [(1, day(1)), (2, day(1))]
    assert plan_heal({(1, day(0))}, {(1, day(0))}, limit=5).groups == ()


def test_limit_takes_the_oldest_and_defers_the_rest():
    incomplete = {(c, day(n)) for c in (1, 2) for n in range(3)}
    plan = plan_heal(incomplete, (), limit=3)
    assert covered(plan.groups) == [(1, day(0)), (1, day(1)), (2, day(0))]
    assert sorted(plan.deferred) == [(1, day(2)), (2, day(1)), (2, day(2))]
    with pytest.raises(ValueError, match="limit"):
        plan_heal(incomplete, (), limit=0)


def test_conf_matches_the_backfill_params():
    conf = HealGroup(day(0), day(2), (5, 7)).conf()
    assert conf == {"start_date": "2025-10-27", "end_date": "2025-10-29", "channel_ids": [5, 7],
                    "force": True, "dry_run": False}


def test_heal_run_ids_are_deterministic_and_distinct():
    assert heal_run_id("scheduled__2025-11-04T12:00:00+00:00", 2) == "heal__scheduled__2025-11-04T12:00:00+00:00__002"
    assert heal_run_id("r", 1) != heal_run_id("r", 2)
