-- V002: what the Airflow pipeline adds to the contract (additions only; nothing of §3 is removed
-- or renamed).
--
-- * readings.updated_at: set when a late correction from the API rewrites a reading
--   (the seed's ON CONFLICT DO NOTHING kept stale values forever). NULL = never revised.
--   Adding a nullable column without a default is a catalog-only change, even on 3.5M rows.
-- * ingestion_logs: readings_updated / readings_unchanged complete the seed's counts
--   (fetched = inserted + updated + unchanged + rejected, duplicates aside); run_id names the
--   Airflow run that wrote the row. Constant defaults are catalog-only changes too.
-- * readings_rejected: every reading that failed validation, kept with its reason and the window
--   that fetched it (STYLE.md: never silently dropped). Values are double precision so that an
--   absurd value (the reason it was rejected) is stored as received, not overflowed into real.
--   One row per (channel, timestamp, reason): rerunning a window refreshes it instead of
--   piling up copies. source = 'adoption' marks rows V004 had to move out of readings.

ALTER TABLE readings ADD COLUMN IF NOT EXISTS updated_at timestamptz;

ALTER TABLE ingestion_logs ADD COLUMN IF NOT EXISTS readings_updated integer NOT NULL DEFAULT 0;
ALTER TABLE ingestion_logs ADD COLUMN IF NOT EXISTS readings_unchanged integer NOT NULL DEFAULT 0;
ALTER TABLE ingestion_logs ADD COLUMN IF NOT EXISTS run_id text;

-- completed_windows() asks "which (channel, start, end) already succeeded" without an org id.
CREATE INDEX IF NOT EXISTS idx_ingestion_logs_success_windows
    ON ingestion_logs (channel_id, start_time, end_time) WHERE status = 'success';

CREATE TABLE IF NOT EXISTS readings_rejected (
    id                  bigserial        NOT NULL,
    channel_id          integer          NOT NULL REFERENCES channels (channel_id),
    "timestamp"         timestamptz      NOT NULL,
    energy_kwh          double precision,
    power_kw            double precision,
    voltage_v           double precision,
    current_a           double precision,
    power_factor        double precision,
    reactive_power_kvar double precision,
    temperature_c       double precision,
    relative_humidity   double precision,
    reason              text             NOT NULL,
    source              text             NOT NULL DEFAULT 'ingestion',
    window_start        timestamptz,
    window_end          timestamptz,
    created_at          timestamptz      NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_seen_at        timestamptz      NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT readings_rejected_pkey PRIMARY KEY (id),
    CONSTRAINT readings_rejected_source_check CHECK (source IN ('ingestion', 'adoption'))
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_readings_rejected_unique
    ON readings_rejected (channel_id, "timestamp", reason);
CREATE INDEX IF NOT EXISTS idx_readings_rejected_created ON readings_rejected (created_at DESC);
