"""``SyncReadingsOperator``: one mapped readings task per batch of channels (engine: ``ingest.readings``)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from argo_energy.ingest.limits import load_limits
from argo_energy.ingest.planning import SKIP_THIS_RUN, ChannelTarget, run_key
from argo_energy.ingest.readings import ChannelOutcome, open_hook, summarize, sync_windows
from argo_energy.settings import ENERGY_CONN_ID, ENISCOPE_CONN_ID, rejects_per_window
from argo_energy.warehouse import connect


class SyncReadingsOperator(BaseOperator):
    """Fetch, screen and upsert the readings of one batch of channels (one mapped task per batch).

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
                make_hook=lambda: open_hook(self.eniscope_conn_id),
                make_conn=lambda: connect(self.energy_conn_id),
                skip=self.batch.get("skip", SKIP_THIS_RUN),
                run_id=run_key(context["run_id"], getattr(context["dag_run"], "clear_number", 0)),
                now=datetime.now(UTC),
                max_workers=self.max_workers,
                progress_every=self.progress_every,
                logger=self.log,
                limits=load_limits(),
                max_rejects=rejects_per_window(),
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
