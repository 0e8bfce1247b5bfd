-- Tables of the validation DAG (eniscope_validation), created by its first task. Idempotent.
--
-- Not a V### migration on purpose: the warehouse runner (argo_energy.warehouse.migrations) refuses
-- a pending version lower than the newest applied one, so a V100 applied first would block every
-- later V005..V099 of the warehouse. These tables belong to the validation DAG alone; nothing of
-- the contract (seed section 3) depends on them.
--
-- validation_results: one row per check per DAG run (a retried task overwrites its own row), the
--   queryable history of every check: severity, status, counts, affected channels and days, and
--   the findings themselves (capped at 5000 per row; the counts and arrays stay exact).
-- validation_heal_requests: each (channel, site-local day) the DAG asked
--   eniscope_historical_backfill to re-fetch. The primary key makes "at most once, ever" a
--   property of the table: a day that stays incomplete after its heal is reported, never re-pulled.
--   Delete a row to allow one more heal of that day. reason: what asked for the heal, once per
--   reason: 'completeness' (slots missing) or 'reconciliation' (our daily kWh differs from
--   Eniscope's daily total); a day healed for one reason may still be healed once for the other.

SELECT pg_advisory_xact_lock(842100, 0);

CREATE TABLE IF NOT EXISTS validation_results (
    id                bigserial   NOT NULL,
    dag_id            text        NOT NULL,
    run_id            text        NOT NULL,
    check_name        text        NOT NULL,
    severity          text        NOT NULL,
    status            text        NOT NULL,
    checked_count     integer,
    failed_count      integer     NOT NULL DEFAULT 0,
    affected_channels integer[]   NOT NULL DEFAULT '{}',
    affected_days     date[]      NOT NULL DEFAULT '{}',
    message           text        NOT NULL,
    details           jsonb       NOT NULL DEFAULT '[]',
    window_start      timestamptz,
    window_end        timestamptz,
    as_of             timestamptz,
    checked_at        timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT validation_results_pkey PRIMARY KEY (id),
    CONSTRAINT validation_results_run_check UNIQUE (dag_id, run_id, check_name),
    CONSTRAINT validation_results_severity_check CHECK (severity IN ('error', 'warn')),
    CONSTRAINT validation_results_status_check CHECK (status IN ('pass', 'fail', 'error'))
);
CREATE INDEX IF NOT EXISTS idx_validation_results_history
    ON validation_results (check_name, checked_at DESC);

CREATE TABLE IF NOT EXISTS validation_heal_requests (
    channel_id        integer     NOT NULL,
    local_date        date        NOT NULL,
    validation_run_id text        NOT NULL,
    backfill_run_id   text        NOT NULL,
    status            text        NOT NULL DEFAULT 'requested',
    expected_slots    integer,
    received_slots    integer,
    requested_at      timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    confirmed_at      timestamptz,
    reason            text        NOT NULL DEFAULT 'completeness',
    CONSTRAINT validation_heal_requests_pkey PRIMARY KEY (channel_id, local_date, reason),
    CONSTRAINT validation_heal_requests_status_check CHECK (status IN ('requested', 'triggered'))
);
-- Tables made before heals had a reason: add it, key on it (idempotent).
ALTER TABLE validation_heal_requests ADD COLUMN IF NOT EXISTS reason text NOT NULL DEFAULT 'completeness';
DO $reason$
BEGIN
    IF (SELECT i.indnatts FROM pg_index i
         WHERE i.indexrelid = to_regclass('validation_heal_requests_pkey')) = 2 THEN
        ALTER TABLE validation_heal_requests DROP CONSTRAINT validation_heal_requests_pkey;
        ALTER TABLE validation_heal_requests
            ADD CONSTRAINT validation_heal_requests_pkey PRIMARY KEY (channel_id, local_date, reason);
    END IF;
END
$reason$;
CREATE INDEX IF NOT EXISTS idx_validation_heal_requests_run
    ON validation_heal_requests (backfill_run_id);
