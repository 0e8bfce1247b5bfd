-- V012: data trust (issue 20): which pull wrote each reading, and the reconciliation of our daily
-- totals with Eniscope's own.
--
-- * readings.ingestion_log_id / readings_rejected.ingestion_log_id: the ingestion_logs row of the
--   pull that last wrote the reading's values (inserted it, or changed it: an unchanged re-fetch
--   keeps the first writer) or last saw the rejected reading. NULL = written before V012 (or by
--   hand). No foreign key on purpose: a key would add an index probe per COPYed row to the write
--   path, and ingestion_logs is an audit trail that operators may prune. Adding a nullable column
--   without a default is a catalog-only change, even on millions of rows.
-- * reconciliation_days: the newest verdict per (channel, site-local day) of the validation DAG's
--   reconciliation check (argo_energy.validation.reconcile): our kWh, Eniscope's daily total
--   (res=86400, days cut at local midnight in the channel's zone), and, once a heal re-fetched the
--   day and it still disagrees, the sum of Eniscope's own 15-minute data for the day. A day whose
--   15-minute data equals ours but not Eniscope's daily total is 'source_inconsistent': the source
--   disagrees with itself, and the DAG stops re-fetching it. The lineage query shows the verdict.

ALTER TABLE readings ADD COLUMN IF NOT EXISTS ingestion_log_id integer;
ALTER TABLE readings_rejected ADD COLUMN IF NOT EXISTS ingestion_log_id integer;

COMMENT ON COLUMN readings.ingestion_log_id IS
    'ingestion_logs.id of the pull that last wrote this reading''s values (NULL: before V012)';
COMMENT ON COLUMN readings_rejected.ingestion_log_id IS
    'ingestion_logs.id of the pull that last saw this rejected reading (NULL: before V012)';

CREATE TABLE IF NOT EXISTS reconciliation_days (
    channel_id        integer          NOT NULL,
    local_date        date             NOT NULL,
    timezone          text             NOT NULL,
    day_start         timestamptz      NOT NULL,
    day_end           timestamptz      NOT NULL,
    our_kwh           double precision,          -- NULL: no reading with energy that day
    our_readings      integer          NOT NULL DEFAULT 0,
    source_kwh        double precision,          -- NULL: Eniscope served no daily total for it
    source_slots_kwh  double precision,          -- Eniscope's 15-minute data of the day, summed (after a heal)
    diff_kwh          double precision,          -- our_kwh - source_kwh
    tolerance_kwh     double precision NOT NULL,
    verdict           text             NOT NULL,
    first_mismatch_at timestamptz,               -- when the day first disagreed (kept across runs)
    run_id            text,
    checked_at        timestamptz      NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT reconciliation_days_pkey PRIMARY KEY (channel_id, local_date),
    CONSTRAINT reconciliation_days_verdict_check CHECK (
        verdict IN ('match', 'mismatch', 'heal_pending', 'unresolved', 'source_inconsistent'))
);
CREATE INDEX IF NOT EXISTS idx_reconciliation_days_verdict
    ON reconciliation_days (verdict, local_date) WHERE verdict <> 'match';

COMMENT ON TABLE reconciliation_days IS
    'Newest reconciliation verdict per channel and site-local day: our kWh vs Eniscope''s daily total (issue 20).';
