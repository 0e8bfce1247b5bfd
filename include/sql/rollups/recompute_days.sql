-- Recompute the listed site-local meter-days from v_clean_readings, exactly as v_readings_daily's
-- aggregate did before V009 (views/080): the day is [argo_local_to_utc(day), argo_local_to_utc(day
-- + 1)) in the meter's current zone; one index range scan of the day's readings per meter-day.
-- sum_power_kw is kept so that v_readings_monthly can average a month exactly (sum of sums / sum of
-- counts). Changed days are upserted, days without a clean reading any more are deleted.
-- Returns: days listed, rows written, rows deleted.
WITH fresh AS (
    SELECT k.channel_id AS meter_id, k.day AS reading_date, k.zone, b.day_start, b.day_end, a.*
      FROM argo_rollup_days k
     CROSS JOIN LATERAL (
            SELECT argo_local_to_utc(k.day::timestamp, k.zone)                       AS day_start,
                   argo_local_to_utc(k.day::timestamp + interval '1 day', k.zone)    AS day_end
           ) b
     CROSS JOIN LATERAL (
            SELECT sum(c.energy_kwh::double precision) AS total_energy_kwh,
                   avg(c.power_kw)                     AS avg_power_kw,
                   max(c.power_kw)                     AS peak_power_kw,
                   avg(c.voltage_v)                    AS avg_voltage_v,
                   avg(c.power_factor)                 AS avg_power_factor,
                   count(*)                            AS reading_count,
                   sum(c.power_kw::double precision)   AS sum_power_kw
              FROM v_clean_readings c
             WHERE c.channel_id = k.channel_id
               AND c."timestamp" >= b.day_start
               AND c."timestamp" < b.day_end
           ) a
     WHERE a.reading_count > 0
),
written AS (
    INSERT INTO rollup_daily_usage AS d
        (meter_id, reading_date, site_timezone, day_start, day_end, total_energy_kwh, avg_power_kw,
         peak_power_kw, avg_voltage_v, avg_power_factor, reading_count, sum_power_kw)
    SELECT f.meter_id, f.reading_date, f.zone, f.day_start, f.day_end, f.total_energy_kwh, f.avg_power_kw,
           f.peak_power_kw, f.avg_voltage_v, f.avg_power_factor, f.reading_count, f.sum_power_kw
      FROM fresh f
    ON CONFLICT (meter_id, reading_date) DO UPDATE
       SET site_timezone = EXCLUDED.site_timezone, day_start = EXCLUDED.day_start, day_end = EXCLUDED.day_end,
           total_energy_kwh = EXCLUDED.total_energy_kwh, avg_power_kw = EXCLUDED.avg_power_kw,
           peak_power_kw = EXCLUDED.peak_power_kw, avg_voltage_v = EXCLUDED.avg_voltage_v,
           avg_power_factor = EXCLUDED.avg_power_factor, reading_count = EXCLUDED.reading_count,
           sum_power_kw = EXCLUDED.sum_power_kw, refreshed_at = CURRENT_TIMESTAMP
     WHERE (d.site_timezone, d.day_start, d.day_end, d.total_energy_kwh, d.avg_power_kw, d.peak_power_kw,
            d.avg_voltage_v, d.avg_power_factor, d.reading_count, d.sum_power_kw)
           IS DISTINCT FROM
           (EXCLUDED.site_timezone, EXCLUDED.day_start, EXCLUDED.day_end, EXCLUDED.total_energy_kwh,
            EXCLUDED.avg_power_kw, EXCLUDED.peak_power_kw, EXCLUDED.avg_voltage_v, EXCLUDED.avg_power_factor,
            EXCLUDED.reading_count, EXCLUDED.sum_power_kw)
    RETURNING 1
),
removed AS (
    DELETE FROM rollup_daily_usage d
     USING argo_rollup_days k
     WHERE d.meter_id = k.channel_id AND d.reading_date = k.day
       AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.meter_id = k.channel_id AND f.reading_date = k.day)
    RETURNING 1
)
SELECT (SELECT count(*) FROM argo_rollup_days), (SELECT count(*) FROM written), (SELECT count(*) FROM removed);
