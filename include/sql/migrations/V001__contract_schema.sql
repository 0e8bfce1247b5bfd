-- V001: the contract tables of neon-database-breakdown.md §3, exactly (names, types, nullability,
-- defaults, primary and foreign keys, every named index).
--
-- Safe on a database built by the seed's scripts: every statement is IF NOT EXISTS, so existing
-- tables, indexes and rows are left alone (`ingestion_logs` and `data_sync_status` are created
-- when the seed never made them). Naive `timestamp` columns of an adopted database are converted
-- by V004 (§5.2). The DO block at the end refuses, with a clear error, an existing table that
-- lacks a contract column, instead of letting a later step fail obscurely.
-- Runs inside the migration runner's transaction (no CONCURRENTLY here).

CREATE TABLE IF NOT EXISTS organizations (
    organization_id   text        NOT NULL,
    organization_name text        NOT NULL,
    address           text,
    city              text,
    postcode          text,
    country           text,
    timezone          text        DEFAULT 'America/New_York',
    created_at        timestamptz DEFAULT CURRENT_TIMESTAMP,
    updated_at        timestamptz DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT organizations_pkey PRIMARY KEY (organization_id)
);

CREATE TABLE IF NOT EXISTS devices (
    device_id        integer     NOT NULL,
    device_name      text,
    organization_id  text        REFERENCES organizations (organization_id),
    device_type      text,
    serial_number    text,
    firmware_version text,
    last_seen        timestamptz,
    created_at       timestamptz DEFAULT CURRENT_TIMESTAMP,
    updated_at       timestamptz DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT devices_pkey PRIMARY KEY (device_id)
);
CREATE INDEX IF NOT EXISTS idx_devices_org ON devices (organization_id);

CREATE TABLE IF NOT EXISTS channels (
    channel_id      integer     NOT NULL,
    channel_name    text        NOT NULL,
    device_id       integer     REFERENCES devices (device_id),
    organization_id text        REFERENCES organizations (organization_id),
    channel_type    text,
    unit            text,
    description     text,
    created_at      timestamptz DEFAULT CURRENT_TIMESTAMP,
    updated_at      timestamptz DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT channels_pkey PRIMARY KEY (channel_id)
);
CREATE INDEX IF NOT EXISTS idx_channels_org ON channels (organization_id);

CREATE TABLE IF NOT EXISTS readings (
    id                  bigserial   NOT NULL,
    channel_id          integer     NOT NULL REFERENCES channels (channel_id),
    "timestamp"         timestamptz NOT NULL,
    energy_kwh          real,
    power_kw            real,
    voltage_v           real,
    current_a           real,
    power_factor        real,
    reactive_power_kvar real,
    temperature_c       real,
    relative_humidity   real,
    created_at          timestamptz DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT readings_pkey PRIMARY KEY (id)
);
-- The upsert key (ON CONFLICT (channel_id, "timestamp")) is this unique index, as in the seed.
CREATE UNIQUE INDEX IF NOT EXISTS idx_readings_unique ON readings (channel_id, "timestamp");
-- Main query pattern; also what v_latest_readings probes once per meter.
CREATE INDEX IF NOT EXISTS idx_readings_channel_timestamp ON readings (channel_id, "timestamp" DESC);
CREATE INDEX IF NOT EXISTS idx_readings_timestamp ON readings ("timestamp" DESC);

CREATE TABLE IF NOT EXISTS data_sync_status (
    id                     serial      NOT NULL,
    organization_id        text        NOT NULL,
    channel_id             integer,
    last_sync_timestamp    timestamptz NOT NULL,
    last_reading_timestamp timestamptz,
    readings_count         integer,
    sync_status            text,
    error_message          text,
    created_at             timestamptz DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT data_sync_status_pkey PRIMARY KEY (id)
);
CREATE INDEX IF NOT EXISTS idx_sync_status_org ON data_sync_status (organization_id, last_sync_timestamp DESC);

-- The seed's setup script never created this table (historical_ingestion.py did, when it ran).
CREATE TABLE IF NOT EXISTS ingestion_logs (
    id                serial      NOT NULL,
    organization_id   text        NOT NULL,
    channel_id        integer     NOT NULL,
    start_time        timestamptz NOT NULL,
    end_time          timestamptz NOT NULL,
    readings_fetched  integer     NOT NULL DEFAULT 0,
    readings_inserted integer     NOT NULL DEFAULT 0,
    readings_rejected integer     NOT NULL DEFAULT 0,
    status            text        NOT NULL DEFAULT 'success',
    error_message     text,
    created_at        timestamptz DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT ingestion_logs_pkey PRIMARY KEY (id)
);
CREATE INDEX IF NOT EXISTS idx_ingestion_logs_time
    ON ingestion_logs (organization_id, channel_id, start_time, end_time);

-- An adopted table must already have every contract column: name the missing ones and stop.
DO $check$
DECLARE
    missing text;
BEGIN
    SELECT string_agg(format('%s.%s', e.tbl, e.col), ', ' ORDER BY e.tbl, e.col)
      INTO missing
      FROM (VALUES
        ('organizations', 'organization_id'), ('organizations', 'organization_name'),
        ('organizations', 'address'), ('organizations', 'city'), ('organizations', 'postcode'),
        ('organizations', 'country'), ('organizations', 'timezone'),
        ('organizations', 'created_at'), ('organizations', 'updated_at'),
        ('devices', 'device_id'), ('devices', 'device_name'), ('devices', 'organization_id'),
        ('devices', 'device_type'), ('devices', 'serial_number'), ('devices', 'firmware_version'),
        ('devices', 'last_seen'), ('devices', 'created_at'), ('devices', 'updated_at'),
        ('channels', 'channel_id'), ('channels', 'channel_name'), ('channels', 'device_id'),
        ('channels', 'organization_id'), ('channels', 'channel_type'), ('channels', 'unit'),
        ('channels', 'description'), ('channels', 'created_at'), ('channels', 'updated_at'),
        ('readings', 'id'), ('readings', 'channel_id'), ('readings', 'timestamp'),
        ('readings', 'energy_kwh'), ('readings', 'power_kw'), ('readings', 'voltage_v'),
        ('readings', 'current_a'), ('readings', 'power_factor'), ('readings', 'reactive_power_kvar'),
        ('readings', 'temperature_c'), ('readings', 'relative_humidity'), ('readings', 'created_at'),
        ('data_sync_status', 'id'), ('data_sync_status', 'organization_id'),
        ('data_sync_status', 'channel_id'), ('data_sync_status', 'last_sync_timestamp'),
        ('data_sync_status', 'last_reading_timestamp'), ('data_sync_status', 'readings_count'),
        ('data_sync_status', 'sync_status'), ('data_sync_status', 'error_message'),
        ('data_sync_status', 'created_at'),
        ('ingestion_logs', 'id'), ('ingestion_logs', 'organization_id'), ('ingestion_logs', 'channel_id'),
        ('ingestion_logs', 'start_time'), ('ingestion_logs', 'end_time'),
        ('ingestion_logs', 'readings_fetched'), ('ingestion_logs', 'readings_inserted'),
        ('ingestion_logs', 'readings_rejected'), ('ingestion_logs', 'status'),
        ('ingestion_logs', 'error_message'), ('ingestion_logs', 'created_at')
      ) AS e (tbl, col)
     WHERE NOT EXISTS (
         SELECT 1
           FROM information_schema.columns c
          WHERE c.table_schema = current_schema()
            AND c.table_name = e.tbl
            AND c.column_name = e.col
     );
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'existing tables lack contract columns: %', missing
            USING HINT = 'The database differs from neon-database-breakdown.md §3; add the columns by hand, then rerun.';
    END IF;
END
$check$;
