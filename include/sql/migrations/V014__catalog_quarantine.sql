-- V014: catalog records quarantined by the metadata sync, and the rejects a window did not store (issue 18).
--
-- catalog_quarantine: one row per organisation, device or channel record of the Eniscope lists that
-- could not be synced (a time zone that is not an IANA name, a timestamp in milliseconds, an id that
-- is not one, a channel whose organisation or device is itself quarantined). The other records sync;
-- this table is what the validation check `catalog_quarantine` reads. Keyed on (kind, record_id):
-- a later sync refreshes last_seen_at/reason/detail, and sets resolved_at once the record is seen
-- healthy again (a record quarantined again later reopens: resolved_at back to NULL).
-- `record` is the API object as received, cut to 4 kB: what someone needs to fix it in the portal.
CREATE TABLE IF NOT EXISTS catalog_quarantine (
    kind            text        NOT NULL,
    record_id       text        NOT NULL,
    organization_id text,
    reason          text        NOT NULL,
    detail          text,
    record          text,
    first_seen_at   timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_seen_at    timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
    resolved_at     timestamptz,
    CONSTRAINT catalog_quarantine_pkey PRIMARY KEY (kind, record_id),
    CONSTRAINT catalog_quarantine_kind_check CHECK (kind IN ('organization', 'device', 'channel'))
);
CREATE INDEX IF NOT EXISTS idx_catalog_quarantine_open
    ON catalog_quarantine (kind, record_id) WHERE resolved_at IS NULL;

-- A window answering many bad records stores at most a configured number of readings_rejected rows;
-- readings_rejected keeps counting all of them, this column the ones that were counted only.
ALTER TABLE ingestion_logs ADD COLUMN IF NOT EXISTS rejects_not_stored integer NOT NULL DEFAULT 0;

-- The writer role (V010) inserts and updates quarantine rows; only where V010's whitelist exists.
DO $v014$
BEGIN
    IF to_regclass('warehouse_role_privileges') IS NOT NULL THEN
        INSERT INTO warehouse_role_privileges (purpose, object_kind, object_name, privileges)
        VALUES ('writer', 'table', 'catalog_quarantine', ARRAY['SELECT', 'INSERT', 'UPDATE'])
        ON CONFLICT (purpose, object_kind, object_name) DO NOTHING;
        IF to_regprocedure('argo_apply_role_grants()') IS NOT NULL THEN
            PERFORM argo_apply_role_grants();
        END IF;
    END IF;
END
$v014$;
