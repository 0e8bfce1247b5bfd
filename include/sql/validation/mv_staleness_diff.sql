-- The (meter, UTC hour) pairs of the compared window where mv_hourly_usage differs from a fresh
-- aggregate of v_clean_readings (the view's own definition, include/sql/views/020): a reading
-- count or total_kwh that differs, or an hour missing on either side. A backfill or late
-- correction written after the last REFRESH shows up here. Window: the whole UTC hours in
-- [as_of - days, as_of). Included by mv_staleness.sql (the check) and wrapped by the details query.
WITH bounds AS (
    SELECT date_trunc('hour', %(as_of)s::timestamptz - make_interval(days => %(days)s::integer), 'UTC') AS lo,
           date_trunc('hour', %(as_of)s::timestamptz, 'UTC')                                          AS hi
),
fresh AS (
    SELECT c.channel_id AS meter_id,
           date_trunc('hour', c."timestamp", 'UTC') AS hour,
           count(*)                                 AS reading_count,
           sum(c.energy_kwh::double precision)      AS total_kwh
      FROM v_clean_readings c, bounds b
     WHERE c."timestamp" >= b.lo AND c."timestamp" < b.hi
     GROUP BY 1, 2
),
mv AS (
    SELECT m.meter_id, m.hour, m.reading_count, m.total_kwh
      FROM mv_hourly_usage m, bounds b
     WHERE m.hour >= b.lo AND m.hour < b.hi
)
SELECT coalesce(f.meter_id, m.meter_id) AS channel_id,
       coalesce(f.hour, m.hour)         AS hour,
       f.reading_count                  AS readings_now,
       m.reading_count                  AS readings_in_view,
       f.total_kwh                      AS kwh_now,
       m.total_kwh                      AS kwh_in_view
  FROM fresh f
  FULL JOIN mv m ON m.meter_id = f.meter_id AND m.hour = f.hour
 WHERE f.reading_count IS DISTINCT FROM m.reading_count
    OR abs(coalesce(f.total_kwh, 0) - coalesce(m.total_kwh, 0)) > 1e-6 * greatest(1, abs(coalesce(f.total_kwh, 0)))
