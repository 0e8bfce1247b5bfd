-- Readings whose frequency is outside [low, high] of their site's nominal band, per channel and
-- site-local day over [%(start)s, %(end)s). Bands come per channel (arrays bound by the caller).
WITH z AS (
    SELECT * FROM unnest(%(zone_channels)s::integer[], %(zones)s::text[], %(lows)s::float8[], %(highs)s::float8[])
                  AS z (channel_id, tz, low, high)
)
SELECT r.channel_id,
       (r."timestamp" AT TIME ZONE z.tz)::date AS local_date,
       count(*)                                AS readings,
       min(r.frequency_hz)::float8             AS min_hz,
       max(r.frequency_hz)::float8             AS max_hz,
       min(r."timestamp")                      AS first_at
  FROM readings r
  JOIN z ON z.channel_id = r.channel_id
 WHERE r."timestamp" >= %(start)s::timestamptz AND r."timestamp" < %(end)s::timestamptz
   AND (r.frequency_hz < z.low OR r.frequency_hz > z.high)
 GROUP BY r.channel_id, local_date
 ORDER BY r.channel_id, local_date;
