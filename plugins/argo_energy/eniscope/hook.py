"""``EniscopeHook``: the only code that speaks to the Eniscope Core API.

The hook reads its Connection (``config``), talks HTTP through one ``EniscopeTransport`` (auth,
bounded reads, retries, rate budget) and turns payloads into ``argo_energy.models`` objects with
the pure functions of ``parsing``. Credentials are registered with Airflow's secrets masker and
never put in URLs, logs or errors. The connection extras are documented in ``config``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

import requests
import tenacity
from airflow.sdk import BaseHook

from argo_energy.eniscope.budget import BudgetStats, budget_for
from argo_energy.eniscope.config import DEFAULT_BASE_URL, EniscopeSettings, mask_secret
from argo_energy.eniscope.errors import (
    ChannelUnsupportedError,
    EniscopeError,
    EniscopeResponseError,
)
from argo_energy.eniscope.fields import DEFAULT_FIELDS, parse_field_list
from argo_energy.eniscope.parsing import (
    list_items,
    max_records,
    merge_batches,
    merge_devices,
    page_count,
    parse_channel,
    parse_device,
    parse_each,
    parse_organization,
    parse_readings,
    readings_params,
    split_window,
)
from argo_energy.eniscope.totals import daily_totals_params, parse_daily_totals
from argo_energy.eniscope.transport import EniscopeTransport
from argo_energy.models import Channel, Device, Organization, QuarantinedRecord, ReadingsBatch
from argo_energy.settings import ENISCOPE_CONN_ID

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_FIELDS", "MAX_PAGES", "EniscopeHook", "EniscopeSettings"]

# A server that never stops paging must not loop forever: 1,000 pages of 100 is 100,000 records,
# far more than any account has channels; past it the list is refused as malformed.
MAX_PAGES = 1_000
# The id field of each kind of catalog record (named in its quarantine row).
CATALOG_ID_KEYS = {"organization": "organizationId", "device": "deviceId", "channel": "dataChannelId"}
_T = TypeVar("_T")


class EniscopeHook(BaseHook):
    """Eniscope Core API client returning ``argo_energy.models`` objects.

    ``wait`` replaces the tenacity wait strategy (tests pass ``tenacity.wait_none()``); ``sleep``
    replaces the sleep function used between retries (tests record the requested waits).
    """

    conn_name_attr = "eniscope_conn_id"
    default_conn_name = ENISCOPE_CONN_ID
    conn_type = "eniscope"
    hook_name = "Eniscope Core API"

    def __init__(
        self,
        eniscope_conn_id: str = default_conn_name,
        *,
        wait: tenacity.wait.wait_base | None = None,
        sleep: Callable[[float], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.eniscope_conn_id = eniscope_conn_id
        self.wait = wait
        self.sleep = sleep
        self._settings: EniscopeSettings | None = None
        self._transport: EniscopeTransport | None = None
        self._channel_cache: dict[str | None, list[dict[str, Any]]] = {}
        # Catalog records the list methods left out (parsing.parse_each), for the metadata task.
        self.quarantined: list[QuarantinedRecord] = []

    # ------------------------------------------------------------------ connection and transport

    @property
    def settings(self) -> EniscopeSettings:
        """Connection settings, read lazily on first use; secrets registered with the masker."""
        if self._settings is None:
            conn = self.get_connection(self.eniscope_conn_id)
            settings = EniscopeSettings.from_connection(conn, self.eniscope_conn_id)
            for secret in settings.secrets():
                mask_secret(secret)
            if settings.allow_insecure_http and settings.base_url.startswith("http://"):
                self.log.warning(
                    "Eniscope connection %r sends credentials over plain http to %s (allow_insecure_http)",
                    self.eniscope_conn_id, settings.base_url,
                )
            self._settings = settings
        return self._settings

    @property
    def transport(self) -> EniscopeTransport:
        """The HTTP transport (created on first use, kept across ``close``)."""
        if self._transport is None:
            settings = self.settings
            self._transport = EniscopeTransport(
                settings,
                self.eniscope_conn_id,
                # The account's request budget, shared by every task process (eniscope/budget.py).
                limiter=budget_for(settings),
                log=self.log,
                wait=self.wait,
                sleep=self.sleep,
            )
        return self._transport

    @property
    def request_count(self) -> int:
        """HTTP requests sent by this hook (for logs and tests)."""
        return 0 if self._transport is None else self._transport.request_count

    def budget_stats(self) -> BudgetStats:
        """This process's use of the account's request budget (rate achieved, seconds waited)."""
        return budget_for(self.settings).stats()

    def get_conn(self) -> requests.Session:
        """The hook's one ``requests.Session`` (created on first use)."""
        return self.transport.session

    def close(self) -> None:
        """Close the HTTP session and forget the session token."""
        if self._transport is not None:
            self._transport.close()

    def __enter__(self) -> EniscopeHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _paged(self, path: str, key: str, params: Sequence[tuple[str, str]] = ()) -> list[dict[str, Any]]:
        """Every item of a list endpoint, following ``meta.pageCount`` (at most ``MAX_PAGES``)."""
        size = self.settings.page_size
        items: list[dict[str, Any]] = []
        expected: int | None = None
        for page in range(1, MAX_PAGES + 1):
            payload = self.transport.request(path, [*params, ("limit", str(size)), ("page", str(page))])
            got, meta = list_items(payload, key)
            items.extend(got)
            if meta.get("recordCount") is not None:
                expected = int(meta["recordCount"])
            if not got or page >= page_count(meta):
                break
        else:
            raise EniscopeResponseError(
                f"GET /{path}: still more pages after {MAX_PAGES} pages of {size}; refusing to page on",
                path=path,
            )
        if expected is not None and expected != len(items):
            self.log.warning("Eniscope /%s: meta.recordCount=%d but %d %s received", path, expected, len(items), key)
        self.log.info("Eniscope /%s: %d %s in %d page(s)", path, len(items), key, page)
        return items

    # ------------------------------------------------------------------ public API

    def _parse_each(
        self, items: Sequence[Mapping[str, Any]], parse: Callable[[Mapping[str, Any]], _T], kind: str
    ) -> list[_T]:
        """Parse records one by one; a bad one is logged and kept in ``self.quarantined``."""
        good, bad = parse_each(items, parse, kind, CATALOG_ID_KEYS[kind])
        for record in bad:
            self.log.warning("Eniscope %s %s quarantined: %s", kind, record.record_id, record.detail)
        self.quarantined.extend(bad)
        return good

    def list_organizations(self) -> list[Organization]:
        """Every organisation visible to the account (all pages)."""
        return self._parse_each(self._paged("organizations", "organizations"), parse_organization, "organization")

    def get_organization(self, org_id: str) -> Organization:
        """One organisation by id."""
        return parse_organization(self.transport.request(f"organizations/{org_id}"))

    def _raw_channels(self, organization_id: str | None, *, refresh: bool) -> list[dict[str, Any]]:
        if refresh or organization_id not in self._channel_cache:
            params = [("organization", str(organization_id))] if organization_id is not None else []
            self._channel_cache[organization_id] = self._paged("channels", "channels", params)
        return self._channel_cache[organization_id]

    def list_channels(self, organization_id: str | None = None) -> list[Channel]:
        """Channels (``dataChannelId``) of one organisation, or every visible one."""
        return self._parse_each(self._raw_channels(organization_id, refresh=True), parse_channel, "channel")

    def list_devices(self, organization_id: str | None = None) -> list[Device]:
        """Metering devices the channels refer to: ``/meters`` plus any only seen on a channel."""
        params = [("organization", str(organization_id))] if organization_id is not None else []
        meters = self._parse_each(self._paged("meters", "meters", params), parse_device, "device")
        from_channels = self._parse_each(
            [obj for obj in self._raw_channels(organization_id, refresh=False) if obj.get("deviceId") not in (None, "")],
            parse_device,
            "device",
        )
        devices = merge_devices(meters, from_channels)
        self.log.info(
            "Eniscope devices: %d (%d from /meters, %d only on channels)",
            len(devices), len(meters), len(devices) - len(meters),
        )
        return devices

    def get_readings(
        self,
        channel_id: int,
        start: datetime,
        end: datetime,
        fields: Sequence[str] = DEFAULT_FIELDS,
        resolution: int = 900,
    ) -> ReadingsBatch:
        """Readings of ``[start, end)`` in warehouse units; long windows are fetched in pieces.

        The API coarsens the resolution of windows longer than a day (a 25-hour DST day at 900 s
        would come back at 1800 s), so the window is cut into pieces of ``max_window_hours``;
        a piece that still comes back coarser than asked is halved and fetched again.
        Raises ``ChannelUnsupportedError`` for 500 "Invalid Parameter" (sensor or virtual channel).
        """
        for name, moment in (("start", start), ("end", end)):
            if moment.tzinfo is None or moment.utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware UTC, got {moment!r}")
        if end <= start:
            raise ValueError(f"empty window: start {start.isoformat()} >= end {end.isoformat()}")
        fields = tuple(fields)
        span = timedelta(hours=self.settings.max_window_hours)
        sent_before = self.request_count
        batches = [
            self._fetch_piece(channel_id, lo, hi, fields, resolution, depth=0)
            for lo, hi in split_window(start, end, span)
        ]
        batch = merge_batches(channel_id, start, end, [b for group in batches for b in group])
        self.log.info(
            "Eniscope channel %s: %d readings for %s..%s at %ss (%d request(s))",
            channel_id, len(batch.readings), start.isoformat(), end.isoformat(),
            batch.resolution, self.request_count - sent_before,
        )
        return batch

    def _fetch_piece(
        self,
        channel_id: int,
        start: datetime,
        end: datetime,
        fields: tuple[str, ...],
        resolution: int,
        depth: int,
    ) -> list[ReadingsBatch]:
        try:
            payload = self.transport.request(
                f"readings/{channel_id}",
                readings_params(fields, start, end, resolution),
                channel_id=channel_id,
            )
        except ChannelUnsupportedError as exc:
            raise ChannelUnsupportedError(
                channel_id,
                f"channel {channel_id} answered 500 'Invalid Parameter' for fields {list(fields)}: "
                "a sensor (answers T/RH only) or a virtual channel without metering data",
                fields=fields,
            ) from exc
        batch = parse_readings(
            payload, channel_id, start=start, end=end, max_records=max_records(start, end, resolution)
        )
        step = timedelta(seconds=resolution) if isinstance(resolution, int) else None
        if step is not None and batch.resolution > resolution and depth < 6 and end - start > step:
            # Coarsened by the server: halve the piece on the requested grid and fetch again.
            half = (end - start) / 2
            middle = start + step * max(1, int(half / step))
            self.log.warning(
                "Eniscope channel %s: asked %ss for %s..%s, got %ss; splitting",
                channel_id, resolution, start.isoformat(), end.isoformat(), batch.resolution,
            )
            return [
                *self._fetch_piece(channel_id, start, middle, fields, resolution, depth + 1),
                *self._fetch_piece(channel_id, middle, end, fields, resolution, depth + 1),
            ]
        return [batch]

    def get_fields(self, device_type_id: str) -> tuple[str, ...]:
        """``GET /fields/{deviceTypeId}``: the field codes that device type reports (one request)."""
        if not device_type_id.isalnum():  # it goes into the URL path
            raise ValueError(f"device type id {device_type_id!r} is not alphanumeric")
        path = f"fields/{device_type_id}"
        codes = parse_field_list(self.transport.request(path), f"GET /{path}")
        self.log.info("Eniscope device type %s: %d field(s) reported", device_type_id, len(codes))
        return codes

    def get_daily_totals(self, channel_id: int, first: date, last: date, tz: str) -> dict[date, float | None]:
        """Eniscope's own kWh per local day ``first..last`` in ``tz``: one request (``res=86400``).

        ``None`` for a day Eniscope has no total for. Raises ``EniscopeResponseError`` when its days
        are not cut at local midnight in ``tz`` (see ``eniscope.totals``).
        """
        payload = self.transport.request(
            f"readings/{channel_id}", daily_totals_params(first, last, tz), channel_id=channel_id
        )
        return parse_daily_totals(payload, channel_id, first, last, tz)

    def get_account(self) -> dict[str, Any]:
        """``GET /``: the logged-in account (also the cheapest credentials check)."""
        payload = self.transport.request("")
        if not isinstance(payload, Mapping):
            raise EniscopeResponseError("GET / did not return an object")
        return dict(payload)

    def test_connection(self) -> tuple[bool, str]:
        """Log in once (``GET /``, no retries) and say whether it worked; for the UI's Test button."""
        try:
            account = self.transport.request("", attempts=1)
            name = account.get("accountName") if isinstance(account, Mapping) else None
            org = account.get("organizationId") if isinstance(account, Mapping) else None
            return True, (
                f"Connected to Eniscope Core API at {self.settings.base_url}"
                + (f" as account {name!r}" if name else "")
                + (f" (organization {org})" if org else "")
            )
        except EniscopeError as exc:
            return False, str(exc)
        except Exception as exc:  # the UI must get a message, whatever went wrong
            return False, f"{type(exc).__name__}: {exc}"
        finally:
            self.close()
