-- V009: incremental rollups (issue 15). mv_hourly_usage becomes a TABLE kept exact for the meter-hours
-- a run touched; rollup_daily_usage holds the per meter and site-local day aggregates that
-- v_readings_daily and v_readings_monthly read.
--
-- * rollup_queue: append-only markers written by triggers, one per channel a statement inserted,
--   updated (old and new rows) or deleted rows of in readings: (channel_id, first UTC hour, last
--   UTC hour) of those rows; the refresh expands the range to its hours (a superset of the hours
--   written: exact, and one small row per channel and statement instead of one per hour).
--   (channel_id, NULL) = every local day of that meter (its site's timezone or its site changed);
--   (NULL, NULL) = everything (TRUNCATE readings). No unique key and no ON CONFLICT: a marker is invisible until its writer
--   commits, so the refresh (include/sql/rollups/, argo_energy.warehouse.rollups) can never delete a
--   marker whose change it did not see. No index either: the refresh deletes the whole visible queue.
-- * Statement-level triggers with transition tables (COPY fires them too): one INSERT into the queue
--   per statement, not per row.
-- * mv_hourly_usage (same columns and unique index idx_mv_hourly_usage_meter_hour as the
--   materialized view it replaces) and rollup_daily_usage are built here from readings (the clean
--   rule of v_clean_readings inlined: the views do not exist yet on a fresh database), never from a
--   possibly stale materialized view. Writes to readings wait for this migration (the triggers lock
--   readings against writes first), so the build and the queue agree; readers of readings do not wait.
-- * Adoption of a database with the managed materialized view: the new table is built under another
--   name while readers still read the view; then, with lock_timeout 5s (a reader is never blocked for
--   longer; a timeout rolls the whole migration back and the next run retries), the view and its
--   managed dependents (v_readings_hourly) are dropped, the table renamed, and the dependents
--   recreated from their recorded definitions with their grants in the same transaction.

CREATE TABLE IF NOT EXISTS rollup_queue (
    id         bigserial   NOT NULL,
    channel_id integer,
    hour       timestamptz,
    hour_to    timestamptz,
    queued_at  timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP
);
COMMENT ON TABLE rollup_queue IS
    'Append-only markers of changed readings: (channel, first UTC hour, last UTC hour); (channel, NULL) all days of a meter; (NULL, NULL) everything.';

CREATE TABLE IF NOT EXISTS rollup_daily_usage (
    meter_id           integer          NOT NULL,
    reading_date       date             NOT NULL,
    site_timezone      text             NOT NULL,
    day_start          timestamptz      NOT NULL,
    day_end            timestamptz      NOT NULL,
    total_energy_kwh   double precision NOT NULL,
    avg_power_kw       double precision NOT NULL,
    peak_power_kw      real             NOT NULL,
    avg_voltage_v      double precision,
    avg_power_factor   double precision,
    reading_count      bigint           NOT NULL,
    sum_power_kw       double precision NOT NULL,
    refreshed_at       timestamptz      NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT rollup_daily_usage_pkey PRIMARY KEY (meter_id, reading_date)
);
COMMENT ON TABLE rollup_daily_usage IS
    'Clean readings per meter and site-local day (what v_readings_daily returns); kept by the rollup refresh.';

-- The markers. A trigger with transition tables has one event, so there are three triggers; the one
-- function reads the transition tables its event has (PL/pgSQL plans each branch when it runs).
CREATE OR REPLACE FUNCTION argo_rollup_mark() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    -- min/max per channel, not DISTINCT hours: one aggregate pass and one queue row per channel
    -- (a window's COPY writes one channel: one row), what keeps the write path near plain COPY.
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO rollup_queue (channel_id, hour, hour_to)
        SELECT o.channel_id, date_trunc('hour', min(o."timestamp"), 'UTC'), date_trunc('hour', max(o."timestamp"), 'UTC')
          FROM argo_old_rows o GROUP BY o.channel_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO rollup_queue (channel_id, hour, hour_to)
        SELECT n.channel_id, date_trunc('hour', min(n."timestamp"), 'UTC'), date_trunc('hour', max(n."timestamp"), 'UTC')
          FROM argo_new_rows n GROUP BY n.channel_id;
    END IF;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION argo_rollup_mark_all() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO rollup_queue (channel_id, hour) VALUES (NULL, NULL);
    RETURN NULL;
END
$fn$;

-- A site's zone or a meter's site decides its local days: every day of the meter is recomputed.
CREATE OR REPLACE FUNCTION argo_rollup_mark_site_meters() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO rollup_queue (channel_id, hour)
    SELECT c.channel_id, NULL FROM channels c WHERE c.organization_id = NEW.organization_id;
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION argo_rollup_mark_meter() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO rollup_queue (channel_id, hour) VALUES (NEW.channel_id, NULL);
    RETURN NULL;
END
$fn$;

-- Creating the first trigger locks readings against writes (SHARE ROW EXCLUSIVE) to the end; a
-- writer in the middle of a window is waited for, boundedly. The caller's lock_timeout comes back at the end.
SELECT set_config('argo.v009_lock_timeout', current_setting('lock_timeout'), true) AS saved;
SET LOCAL lock_timeout = '60s';
CREATE TRIGGER argo_rollup_readings_insert AFTER INSERT ON readings
    REFERENCING NEW TABLE AS argo_new_rows FOR EACH STATEMENT EXECUTE FUNCTION argo_rollup_mark();
CREATE TRIGGER argo_rollup_readings_update AFTER UPDATE ON readings
    REFERENCING OLD TABLE AS argo_old_rows NEW TABLE AS argo_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION argo_rollup_mark();
CREATE TRIGGER argo_rollup_readings_delete AFTER DELETE ON readings
    REFERENCING OLD TABLE AS argo_old_rows FOR EACH STATEMENT EXECUTE FUNCTION argo_rollup_mark();
CREATE TRIGGER argo_rollup_readings_truncate AFTER TRUNCATE ON readings
    FOR EACH STATEMENT EXECUTE FUNCTION argo_rollup_mark_all();
CREATE TRIGGER argo_rollup_site_timezone AFTER UPDATE OF timezone ON organizations
    FOR EACH ROW WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone)
    EXECUTE FUNCTION argo_rollup_mark_site_meters();
CREATE TRIGGER argo_rollup_meter_site AFTER UPDATE OF organization_id ON channels
    FOR EACH ROW WHEN (OLD.organization_id IS DISTINCT FROM NEW.organization_id)
    EXECUTE FUNCTION argo_rollup_mark_meter();

-- The hourly rollup, built under its own name while readers may still read the materialized view.
CREATE TABLE argo_hourly_usage_next (
    meter_id      integer          NOT NULL,
    hour          timestamptz      NOT NULL,
    avg_kw        double precision NOT NULL,
    total_kwh     double precision NOT NULL,
    reading_count bigint           NOT NULL
);
INSERT INTO argo_hourly_usage_next (meter_id, hour, avg_kw, total_kwh, reading_count)
SELECT r.channel_id, date_trunc('hour', r."timestamp", 'UTC'), avg(r.power_kw),
       sum(r.energy_kwh::double precision), count(*)
  FROM readings r
 WHERE r.energy_kwh IS NOT NULL AND r.energy_kwh <> 0 AND r.power_kw IS NOT NULL AND r.power_kw <> 0
 GROUP BY r.channel_id, date_trunc('hour', r."timestamp", 'UTC');
CREATE UNIQUE INDEX argo_hourly_usage_next_key ON argo_hourly_usage_next (meter_id, hour);

-- The daily rollup: a reading's day is the site-local date of its instant, which is exactly the day
-- whose [argo_local_to_utc(day), argo_local_to_utc(day + 1)) holds it (V007).
INSERT INTO rollup_daily_usage (meter_id, reading_date, site_timezone, day_start, day_end,
                                total_energy_kwh, avg_power_kw, peak_power_kw, avg_voltage_v,
                                avg_power_factor, reading_count, sum_power_kw)
SELECT a.channel_id, a.day, a.zone,
       argo_local_to_utc(a.day::timestamp, a.zone), argo_local_to_utc(a.day::timestamp + interval '1 day', a.zone),
       a.total_energy_kwh, a.avg_power_kw, a.peak_power_kw, a.avg_voltage_v, a.avg_power_factor,
       a.reading_count, a.sum_power_kw
  FROM (SELECT r.channel_id,
               z.zone,
               (r."timestamp" AT TIME ZONE z.zone)::date AS day,
               sum(r.energy_kwh::double precision)      AS total_energy_kwh,
               avg(r.power_kw)                          AS avg_power_kw,
               max(r.power_kw)                          AS peak_power_kw,
               avg(r.voltage_v)                         AS avg_voltage_v,
               avg(r.power_factor)                      AS avg_power_factor,
               count(*)                                 AS reading_count,
               sum(r.power_kw::double precision)        AS sum_power_kw
          FROM readings r
          JOIN (SELECT c.channel_id, COALESCE(o.timezone, 'America/New_York') AS zone
                  FROM channels c LEFT JOIN organizations o ON o.organization_id = c.organization_id) z
            ON z.channel_id = r.channel_id
         WHERE r.energy_kwh IS NOT NULL AND r.energy_kwh <> 0 AND r.power_kw IS NOT NULL AND r.power_kw <> 0
         GROUP BY r.channel_id, z.zone, (r."timestamp" AT TIME ZONE z.zone)::date) a;

-- The swap: short, bounded, and whatever mv_hourly_usage was (managed materialized view, or absent
-- because V003 released the seed's objects in this same run, or on a fresh database).
-- Saved grants are data, never SQL (V005 pasted them into GRANT %s ... TO %s, so a row planted in
-- warehouse_view_grants ran as whoever migrated): the privilege must be a table privilege keyword
-- and the grantee PUBLIC or an existing role (raw or quoted as V005 saved it), quoted as %I here.
-- A session-temporary function: nothing stays behind. V010 applies the same rule to argo_build_view.
CREATE FUNCTION pg_temp.argo_v009_restore_grant(p_privilege text, p_object text, p_grantee text)
RETURNS void LANGUAGE plpgsql AS $grant$
DECLARE
    v_role name;
BEGIN
    IF p_grantee <> 'PUBLIC' THEN
        SELECT r.rolname INTO v_role FROM pg_roles r
         WHERE r.rolname = p_grantee OR quote_ident(r.rolname) = p_grantee LIMIT 1;
    END IF;
    IF p_privilege <> ALL (ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'])
       OR (p_grantee <> 'PUBLIC' AND v_role IS NULL) THEN
        RAISE WARNING 'V009: not restoring saved grant (%, %) on %: not a table privilege and a role',
            p_privilege, p_grantee, p_object;
    ELSIF v_role IS NULL THEN
        EXECUTE format('GRANT %s ON %I TO PUBLIC', p_privilege, p_object);
    ELSE
        EXECUTE format('GRANT %s ON %I TO %I', p_privilege, p_object, v_role);
    END IF;
END
$grant$;

DO $swap$
DECLARE
    v_saved_timeout text := current_setting('lock_timeout');
    v_relkind       "char";
    v_dep           record;
    v_grant         record;
    v_recreate      text[] := '{}';
    v_name          text;
BEGIN
    PERFORM set_config('lock_timeout', '5s', true);
    SELECT c.relkind INTO v_relkind
      FROM pg_class c
     WHERE c.relname = 'mv_hourly_usage' AND c.relnamespace = current_schema()::regnamespace;
    IF v_relkind IS NOT NULL AND v_relkind <> 'm' THEN
        RAISE EXCEPTION 'mv_hourly_usage exists and is not a materialized view (relkind %)', v_relkind
            USING HINT = 'V009 replaces the materialized view by a table; rename that object first.';
    END IF;
    IF v_relkind = 'm' THEN
        -- Direct dependents of the view (only v_readings_hourly in this project); unmanaged ones stop us.
        FOR v_dep IN
            SELECT DISTINCT c.relname, c.relkind,
                   EXISTS (SELECT 1 FROM warehouse_view_definitions w
                            WHERE w.view_name = c.relname AND w.kind = 'view') AS managed
              FROM pg_depend d
              JOIN pg_rewrite rw ON rw.oid = d.objid
              JOIN pg_class c ON c.oid = rw.ev_class
             WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
               AND d.refobjid = 'mv_hourly_usage'::regclass AND rw.ev_class <> 'mv_hourly_usage'::regclass
        LOOP
            IF NOT v_dep.managed OR v_dep.relkind <> 'v' THEN
                RAISE EXCEPTION 'cannot replace mv_hourly_usage: % depends on it and is not a managed view', v_dep.relname
                    USING HINT = 'Drop that object yourself, migrate, then recreate it over the mv_hourly_usage table.';
            END IF;
            PERFORM argo_save_view_grants(v_dep.relname);
            EXECUTE format('DROP VIEW %I', v_dep.relname);
            v_recreate := v_recreate || v_dep.relname::text;
        END LOOP;
        PERFORM argo_save_view_grants('mv_hourly_usage');
        DROP MATERIALIZED VIEW mv_hourly_usage;
    END IF;
    DELETE FROM warehouse_view_definitions WHERE view_name = 'mv_hourly_usage';
    ALTER TABLE argo_hourly_usage_next RENAME TO mv_hourly_usage;
    ALTER INDEX argo_hourly_usage_next_key RENAME TO idx_mv_hourly_usage_meter_hour;
    COMMENT ON TABLE mv_hourly_usage IS
        'Layer 2: clean readings per meter and UTC hour (a table since V009, kept by the rollup refresh).';
    FOR v_grant IN DELETE FROM warehouse_view_grants WHERE view_name = 'mv_hourly_usage' RETURNING grantee, privilege LOOP
        PERFORM pg_temp.argo_v009_restore_grant(v_grant.privilege, 'mv_hourly_usage', v_grant.grantee);
    END LOOP;
    -- The dependents come back at once, from their recorded definitions (hash unchanged: the next
    -- view build leaves them alone), with their grants.
    FOREACH v_name IN ARRAY v_recreate LOOP
        EXECUTE format('CREATE VIEW %I AS %s', v_name,
                       (SELECT w.definition FROM warehouse_view_definitions w WHERE w.view_name = v_name));
        FOR v_grant IN DELETE FROM warehouse_view_grants WHERE view_name = v_name RETURNING grantee, privilege LOOP
            PERFORM pg_temp.argo_v009_restore_grant(v_grant.privilege, v_name, v_grant.grantee);
        END LOOP;
        RAISE NOTICE 'recreated % over the mv_hourly_usage table', v_name;
    END LOOP;
    PERFORM set_config('lock_timeout', v_saved_timeout, true);
END
$swap$;
SELECT set_config('lock_timeout', current_setting('argo.v009_lock_timeout'), true) AS restored;
