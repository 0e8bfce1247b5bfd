"""Eniscope's own daily totals: request parameters and parsing of ``res=86400`` answers. Pure.

Where Eniscope cuts its days (API.md §6, §9, §11; ``eniscope_simulator/README.md`` "Daily
totals"): a ``res=86400`` bucket is a calendar day in the channel's ``timeZone`` (the site
organisation's zone), from local midnight to the next local midnight, so 23 or 25 hours on DST
days; ``YYYY-MM-DD`` bounds also mean local midnight in that zone. The buckets start at ``from``,
so the request's bounds are the local midnights of the first day and of the day after the last.
Whatever the real server does, nothing is trusted blindly: every record's ``ts`` must be the local
midnight of one of the requested days in *our* zone for the channel, else the answer is refused
(``EniscopeResponseError`` naming the zone Eniscope echoed), because comparing differently cut
days would report false mismatches on every day.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from argo_energy.eniscope.errors import EniscopeResponseError
from argo_energy.eniscope.parsing import _records, epoch_to_utc, parse_number, to_unix, unit_converter
from argo_energy.sitetime import local_midnight

DAY_SECONDS = 86400
MAX_DAYS = 366  # one request covers the lookback; a year is far more than any lookback


def day_bounds(first: date, last: date, tz: str) -> dict[datetime, date]:
    """Local midnight (UTC instant) of every day ``first..last`` in ``tz`` -> that day."""
    if last < first:
        raise ValueError(f"last day {last} is before first day {first}")
    count = (last - first).days + 1
    if count > MAX_DAYS:
        raise ValueError(f"{count} days asked; at most {MAX_DAYS} per request")
    return {local_midnight(first + timedelta(days=i), tz): first + timedelta(days=i) for i in range(count)}


def daily_totals_params(first: date, last: date, tz: str) -> list[tuple[str, str]]:
    """``GET /readings/{id}`` parameters for the daily energy of local days ``first..last`` in ``tz``."""
    start = local_midnight(first, tz)
    end = local_midnight(last + timedelta(days=1), tz)
    return [
        ("action", "summarize"),
        ("fields[]", "E"),
        ("daterange[]", str(to_unix(start))),
        ("daterange[]", str(to_unix(end))),
        ("res", str(DAY_SECONDS)),
    ]


def parse_daily_totals(
    payload: Mapping[str, Any], channel_id: int, first: date, last: date, tz: str
) -> dict[date, float | None]:
    """Eniscope's kWh per local day ``first..last`` (``None``: no total served for that day).

    Raises ``EniscopeResponseError`` for a resolution other than a day, a record whose ``ts`` is
    not a local midnight of a requested day in ``tz`` (the source cuts its days elsewhere), a day
    given twice, or a unit this client does not know.
    """
    bounds = day_bounds(first, last, tz)
    records = _records(payload, channel_id, 2 * len(bounds))  # the ts check below names a bad cut
    resolution = payload.get("resolution")
    if resolution is not None and str(resolution) != str(DAY_SECONDS):
        raise EniscopeResponseError(
            f"channel {channel_id}: daily totals asked at {DAY_SECONDS}s came back at {resolution!r}s"
        )
    units = payload.get("units") or {}
    convert = unit_converter("E", units.get("E", "Wh") if isinstance(units, Mapping) else "Wh")
    totals: dict[date, float | None] = dict.fromkeys(bounds.values())
    seen: set[date] = set()
    for index, record in enumerate(records):
        if not isinstance(record, Mapping) or "ts" not in record:
            raise EniscopeResponseError(f"daily record {index} of channel {channel_id} has no 'ts'")
        ts = epoch_to_utc(record["ts"])
        day = bounds.get(ts)
        if day is None:
            raise EniscopeResponseError(
                f"channel {channel_id}: Eniscope's daily bucket starts at {ts.isoformat()}, not at a local "
                f"midnight of {first}..{last} in {tz} (Eniscope says the channel's zone is "
                f"{payload.get('timeZone')!r}): the days are cut differently and cannot be compared"
            )
        if day in seen:
            raise EniscopeResponseError(f"channel {channel_id}: day {day} given twice in the daily totals")
        seen.add(day)
        number = parse_number(record.get("E"))
        if number is not None and number != number:  # nan: not a number at all
            raise EniscopeResponseError(f"channel {channel_id}: daily energy {record.get('E')!r} is not a number")
        totals[day] = None if number is None else convert(number)
    return totals
