-- Set-based rebuild of rollup_daily_usage (warehouse.rollups.rebuild_rollups), the companion of
-- rebuild_hours.sql: the site-local meter-days that overlap the scope's whole UTC hours, in each
-- meter's current zone, from one GROUP BY of the clean readings by local date (a reading's day is
-- the local date of its instant: the day whose [argo_local_to_utc(day), argo_local_to_utc(day + 1))
-- holds it, V007/V009). Readings are read two days beyond the scope on each side so that the edge
-- days are whole; groups outside the scope are dropped. Day bounds are computed once per (zone,
-- day), not per meter-day. One join with the stored days of the scope (by their stored bounds),
-- only differences written; stored days that are not fresh any more are deleted.
-- Parameters: meter_ids, start, end as rebuild_hours.sql. Returns: days in the scope, written, deleted.
WITH zones AS (
    SELECT c.channel_id, COALESCE(o.timezone, 'America/New_York') AS zone,
           (date_trunc('hour', %(start)s::timestamptz, 'UTC') AT TIME ZONE COALESCE(o.timezone, 'America/New_York'))::date
               AS first_day,
           ((date_trunc('hour', %(end)s::timestamptz - interval '1 microsecond', 'UTC') + interval '59 minutes 59.999999 seconds')
               AT TIME ZONE COALESCE(o.timezone, 'America/New_York'))::date AS last_day
      FROM channels c
      LEFT JOIN organizations o ON o.organization_id = c.organization_id
     WHERE %(meter_ids)s::integer[] IS NULL OR c.channel_id = ANY (%(meter_ids)s::integer[])
),
grouped AS (
    SELECT c.channel_id                              AS meter_id,
           z.zone,
           (c."timestamp" AT TIME ZONE z.zone)::date AS reading_date,
           min(z.first_day)                          AS first_day,
           min(z.last_day)                           AS last_day,
           sum(c.energy_kwh::double precision)       AS total_energy_kwh,
           avg(c.power_kw)                           AS avg_power_kw,
           max(c.power_kw)                           AS peak_power_kw,
           avg(c.voltage_v)                          AS avg_voltage_v,
           avg(c.power_factor)                       AS avg_power_factor,
           count(*)                                  AS reading_count,
           sum(c.power_kw::double precision)         AS sum_power_kw
      FROM v_clean_readings c
      JOIN zones z ON z.channel_id = c.channel_id
     WHERE (%(meter_ids)s::integer[] IS NULL OR c.channel_id = ANY (%(meter_ids)s::integer[]))
       AND (%(start)s::timestamptz IS NULL OR c."timestamp" >= %(start)s::timestamptz - interval '2 days')
       AND (%(end)s::timestamptz IS NULL OR c."timestamp" < %(end)s::timestamptz + interval '2 days')
     GROUP BY 1, 2, 3
),
in_scope AS MATERIALIZED (
    SELECT g.*
      FROM grouped g
     WHERE (g.first_day IS NULL OR g.reading_date >= g.first_day)
       AND (g.last_day IS NULL OR g.reading_date <= g.last_day)
),
bounds AS (
    SELECT d.zone, d.reading_date,
           argo_local_to_utc(d.reading_date::timestamp, d.zone)                    AS day_start,
           argo_local_to_utc(d.reading_date::timestamp + interval '1 day', d.zone) AS day_end
      FROM (SELECT DISTINCT zone, reading_date FROM in_scope) d
),
fresh AS (
    SELECT i.*, b.day_start, b.day_end
      FROM in_scope i
      JOIN bounds b ON b.zone = i.zone AND b.reading_date = i.reading_date
),
stored AS (
    SELECT d.*
      FROM rollup_daily_usage d
     WHERE (%(meter_ids)s::integer[] IS NULL OR d.meter_id = ANY (%(meter_ids)s::integer[]))
       AND (%(start)s::timestamptz IS NULL OR d.day_end > date_trunc('hour', %(start)s::timestamptz, 'UTC'))
       AND (%(end)s::timestamptz IS NULL
            OR d.day_start < date_trunc('hour', %(end)s::timestamptz - interval '1 microsecond', 'UTC')
                             + interval '1 hour')
),
diff AS MATERIALIZED (
    SELECT f.*, o.meter_id AS gone_meter, o.reading_date AS gone_date
      FROM fresh f
      FULL JOIN stored o ON o.meter_id = f.meter_id AND o.reading_date = f.reading_date
     WHERE f.meter_id IS NULL OR o.meter_id IS NULL
        OR (o.site_timezone, o.day_start, o.day_end, o.total_energy_kwh, o.avg_power_kw, o.peak_power_kw,
            o.avg_voltage_v, o.avg_power_factor, o.reading_count, o.sum_power_kw)
           IS DISTINCT FROM
           (f.zone, f.day_start, f.day_end, f.total_energy_kwh, f.avg_power_kw, f.peak_power_kw,
            f.avg_voltage_v, f.avg_power_factor, f.reading_count, f.sum_power_kw)
),
written AS (
    INSERT INTO rollup_daily_usage AS d
        (meter_id, reading_date, site_timezone, day_start, day_end, total_energy_kwh, avg_power_kw,
         peak_power_kw, avg_voltage_v, avg_power_factor, reading_count, sum_power_kw)
    SELECT f.meter_id, f.reading_date, f.zone, f.day_start, f.day_end, f.total_energy_kwh, f.avg_power_kw,
           f.peak_power_kw, f.avg_voltage_v, f.avg_power_factor, f.reading_count, f.sum_power_kw
      FROM diff f
     WHERE f.meter_id IS NOT NULL
    ON CONFLICT (meter_id, reading_date) DO UPDATE
       SET site_timezone = EXCLUDED.site_timezone, day_start = EXCLUDED.day_start, day_end = EXCLUDED.day_end,
           total_energy_kwh = EXCLUDED.total_energy_kwh, avg_power_kw = EXCLUDED.avg_power_kw,
           peak_power_kw = EXCLUDED.peak_power_kw, avg_voltage_v = EXCLUDED.avg_voltage_v,
           avg_power_factor = EXCLUDED.avg_power_factor, reading_count = EXCLUDED.reading_count,
           sum_power_kw = EXCLUDED.sum_power_kw, refreshed_at = CURRENT_TIMESTAMP
    RETURNING 1
),
removed AS (
    DELETE FROM rollup_daily_usage d
     USING diff f
     WHERE f.meter_id IS NULL AND d.meter_id = f.gone_meter AND d.reading_date = f.gone_date
    RETURNING 1
)
SELECT (SELECT count(*) FROM fresh), (SELECT count(*) FROM written), (SELECT count(*) FROM removed);
