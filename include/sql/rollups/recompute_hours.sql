-- Recompute the listed meter-hours from v_clean_readings (the definition the materialized view had:
-- views/010 and the seed's §4.2 aggregate). Changed hours are upserted (an unchanged hour is not
-- rewritten), hours without a clean reading any more are deleted. Returns: hours listed, rows
-- written, rows deleted.
WITH fresh AS (
    SELECT k.channel_id                        AS meter_id,
           k.hour,
           avg(c.power_kw)                     AS avg_kw,
           sum(c.energy_kwh::double precision) AS total_kwh,
           count(*)                            AS reading_count
      FROM argo_rollup_hours k
      JOIN v_clean_readings c
        ON c.channel_id = k.channel_id
       AND c."timestamp" >= k.hour
       AND c."timestamp" < k.hour + interval '1 hour'
     GROUP BY k.channel_id, k.hour
),
written AS (
    INSERT INTO mv_hourly_usage AS h (meter_id, hour, avg_kw, total_kwh, reading_count)
    SELECT f.meter_id, f.hour, f.avg_kw, f.total_kwh, f.reading_count FROM fresh f
    ON CONFLICT (meter_id, hour) DO UPDATE
       SET avg_kw = EXCLUDED.avg_kw, total_kwh = EXCLUDED.total_kwh, reading_count = EXCLUDED.reading_count
     WHERE (h.avg_kw, h.total_kwh, h.reading_count)
           IS DISTINCT FROM (EXCLUDED.avg_kw, EXCLUDED.total_kwh, EXCLUDED.reading_count)
    RETURNING 1
),
removed AS (
    DELETE FROM mv_hourly_usage h
     USING argo_rollup_hours k
     WHERE h.meter_id = k.channel_id AND h.hour = k.hour
       AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.meter_id = k.channel_id AND f.hour = k.hour)
    RETURNING 1
)
SELECT (SELECT count(*) FROM argo_rollup_hours), (SELECT count(*) FROM written), (SELECT count(*) FROM removed);
