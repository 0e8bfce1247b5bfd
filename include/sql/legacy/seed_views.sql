-- RECONSTRUCTION, NOT OURS: the seed's backend/scripts/database/create-layered-views.sql as described
-- by neon-database-breakdown.md §4 and §5.3, rewritten here for two uses only:
--   * tests/fixtures/seed_legacy.py builds a database "the seed's old way" with it (adoption tests);
--   * the benchmarks compare these definitions with include/sql/views/ side by side.
-- It is never applied by the pipeline. It keeps the seed's behaviours on purpose, including the ones
-- the managed views fix:
--   * v_clean_readings casts `(timestamp AT TIME ZONE 'UTC')::timestamptz`: a naive column is read
--     as UTC (§4.1), a timestamptz one goes through the session TimeZone and back;
--   * mv_hourly_usage and the daily/monthly views use two-argument date_trunc, i.e. the SESSION
--     TimeZone's hours, days and months (not the site's calendar), and sum real in single precision;
--   * v_latest_readings is DISTINCT ON (channel_id) ... ORDER BY channel_id, timestamp DESC over
--     the whole clean set (reads and sorts every reading).
-- One deliberate difference: the seed dropped mv_hourly_usage with an unqualified
-- `DROP MATERIALIZED VIEW IF EXISTS mv_hourly_usage CASCADE`; here the drop is limited to the
-- current schema, so that running this file with `SET search_path = seed_legacy, public` (to build
-- the seed's views beside the managed ones for a comparison) can never drop public.mv_hourly_usage.

-- Layer 1
CREATE OR REPLACE VIEW v_clean_readings AS
SELECT id,
       channel_id,
       ("timestamp" AT TIME ZONE 'UTC')::timestamptz AS "timestamp",
       energy_kwh,
       power_kw,
       voltage_v,
       current_a,
       power_factor,
       reactive_power_kvar,
       temperature_c,
       relative_humidity,
       created_at
  FROM readings
 WHERE energy_kwh IS NOT NULL AND energy_kwh <> 0
   AND power_kw IS NOT NULL AND power_kw <> 0;

-- Layer 2: always dropped and rebuilt (CASCADE also drops v_readings_hourly, recreated below).
DO $drop$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_matviews
                WHERE schemaname = current_schema() AND matviewname = 'mv_hourly_usage') THEN
        EXECUTE format('DROP MATERIALIZED VIEW %I.mv_hourly_usage CASCADE', current_schema());
    END IF;
END
$drop$;

CREATE MATERIALIZED VIEW mv_hourly_usage AS
SELECT channel_id                      AS meter_id,
       date_trunc('hour', "timestamp") AS hour,
       avg(power_kw)                   AS avg_kw,
       sum(energy_kwh)                 AS total_kwh,
       count(*)                        AS reading_count
  FROM v_clean_readings
 GROUP BY channel_id, date_trunc('hour', "timestamp");

CREATE UNIQUE INDEX idx_mv_hourly_usage_meter_hour ON mv_hourly_usage (meter_id, hour);

-- Layer 3
CREATE OR REPLACE VIEW v_sites AS
SELECT organization_id   AS site_id,
       organization_name AS site_name,
       address, city, postcode, country, timezone, created_at, updated_at
  FROM organizations;

CREATE OR REPLACE VIEW v_meters AS
SELECT ch.channel_id       AS meter_id,
       ch.channel_name     AS meter_name,
       ch.organization_id  AS site_id,
       org.organization_name AS site_name,
       ch.device_id,
       dev.device_name,
       dev.device_type,
       dev.serial_number   AS device_uuid,
       ch.channel_type,
       ch.unit,
       ch.created_at,
       ch.updated_at
  FROM channels ch
  LEFT JOIN devices dev ON dev.device_id = ch.device_id
  JOIN organizations org ON org.organization_id = ch.organization_id;

CREATE OR REPLACE VIEW v_readings_enriched AS
SELECT cr.id,
       cr.channel_id         AS meter_id,
       ch.channel_name       AS meter_name,
       ch.organization_id    AS site_id,
       org.organization_name AS site_name,
       ch.device_id,
       dev.device_name,
       dev.device_type,
       dev.serial_number     AS device_uuid,
       cr."timestamp",
       cr.energy_kwh, cr.power_kw, cr.voltage_v, cr.current_a, cr.power_factor,
       cr.reactive_power_kvar, cr.temperature_c, cr.relative_humidity,
       cr.created_at
  FROM v_clean_readings cr
  JOIN channels ch ON ch.channel_id = cr.channel_id
  LEFT JOIN devices dev ON dev.device_id = ch.device_id
  JOIN organizations org ON org.organization_id = ch.organization_id;

CREATE OR REPLACE VIEW v_latest_readings AS
SELECT DISTINCT ON (cr.channel_id)
       cr.channel_id         AS meter_id,
       ch.channel_name       AS meter_name,
       ch.organization_id    AS site_id,
       org.organization_name AS site_name,
       cr."timestamp",
       cr.energy_kwh, cr.power_kw, cr.voltage_v, cr.current_a, cr.power_factor
  FROM v_clean_readings cr
  JOIN channels ch ON ch.channel_id = cr.channel_id
  JOIN organizations org ON org.organization_id = ch.organization_id
 ORDER BY cr.channel_id, cr."timestamp" DESC;

CREATE OR REPLACE VIEW v_readings_hourly AS
SELECT hu.meter_id, m.meter_name, m.site_id, m.site_name, m.device_id, m.device_name,
       hu.hour, hu.avg_kw, hu.total_kwh, hu.reading_count
  FROM mv_hourly_usage hu
  JOIN v_meters m ON m.meter_id = hu.meter_id;

CREATE OR REPLACE VIEW v_readings_daily AS
SELECT cr.channel_id                           AS meter_id,
       ch.channel_name                         AS meter_name,
       ch.organization_id                      AS site_id,
       org.organization_name                   AS site_name,
       date_trunc('day', cr."timestamp")::date AS reading_date,
       sum(cr.energy_kwh)                      AS total_energy_kwh,
       avg(cr.power_kw)                        AS avg_power_kw,
       max(cr.power_kw)                        AS peak_power_kw,
       avg(cr.voltage_v)                       AS avg_voltage_v,
       avg(cr.power_factor)                    AS avg_power_factor,
       count(*)                                AS reading_count
  FROM v_clean_readings cr
  JOIN channels ch ON ch.channel_id = cr.channel_id
  JOIN organizations org ON org.organization_id = ch.organization_id
 GROUP BY cr.channel_id, ch.channel_name, ch.organization_id, org.organization_name,
          date_trunc('day', cr."timestamp");

CREATE OR REPLACE VIEW v_readings_monthly AS
SELECT cr.channel_id                             AS meter_id,
       ch.channel_name                           AS meter_name,
       ch.organization_id                        AS site_id,
       org.organization_name                     AS site_name,
       date_trunc('month', cr."timestamp")::date AS reading_month,
       sum(cr.energy_kwh)                        AS total_energy_kwh,
       avg(cr.power_kw)                          AS avg_power_kw,
       max(cr.power_kw)                          AS peak_power_kw,
       count(*)                                  AS reading_count
  FROM v_clean_readings cr
  JOIN channels ch ON ch.channel_id = cr.channel_id
  JOIN organizations org ON org.organization_id = ch.organization_id
 GROUP BY cr.channel_id, ch.channel_name, ch.organization_id, org.organization_name,
          date_trunc('month', cr."timestamp");
