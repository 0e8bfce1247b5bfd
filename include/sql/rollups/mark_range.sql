-- A rebuild's meter-hours: every UTC hour of [from, to) (NULL = unbounded) of the meters asked for
-- (NULL = all) that has a reading or a rollup row, so stale rows without readings go too; plus the
-- stored days of those meters that overlap the range (recomputed, or removed when empty).
WITH params AS (
    SELECT %(meter_ids)s::integer[] AS meters,
           date_trunc('hour', %(start)s::timestamptz, 'UTC') AS lo,
           %(end)s::timestamptz AS hi
),
hours AS (
    INSERT INTO argo_rollup_hours (channel_id, hour)
    SELECT DISTINCT r.channel_id, date_trunc('hour', r."timestamp", 'UTC')
      FROM readings r, params p
     WHERE (p.meters IS NULL OR r.channel_id = ANY (p.meters))
       AND (p.lo IS NULL OR r."timestamp" >= p.lo)
       AND (p.hi IS NULL OR r."timestamp" < p.hi)
     UNION
    SELECT h.meter_id, h.hour
      FROM mv_hourly_usage h, params p
     WHERE (p.meters IS NULL OR h.meter_id = ANY (p.meters))
       AND (p.lo IS NULL OR h.hour >= p.lo)
       AND (p.hi IS NULL OR h.hour < p.hi)
    ON CONFLICT DO NOTHING
    RETURNING 1
),
days AS (
    INSERT INTO argo_rollup_days (channel_id, day, zone)
    SELECT d.meter_id, d.reading_date, d.site_timezone
      FROM rollup_daily_usage d, params p
     WHERE (p.meters IS NULL OR d.meter_id = ANY (p.meters))
       AND (p.lo IS NULL OR d.day_end > p.lo)
       AND (p.hi IS NULL OR d.day_start < p.hi)
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM hours), (SELECT count(*) FROM days);
