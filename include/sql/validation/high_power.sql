-- Readings above %(max_kw)s kW per (channel, site-local day) over [%(start)s, %(end)s) (the
-- original validate_data.py warned above 1,000 kW: a unit slip, W stored as kW, looks like this).
WITH z AS (
    SELECT * FROM unnest(%(zone_channels)s::integer[], %(zones)s::text[]) AS z (channel_id, tz)
)
SELECT r.channel_id,
       (r."timestamp" AT TIME ZONE z.tz)::date AS local_date,
       count(*)                                AS readings,
       max(r.power_kw)::float8                 AS max_power_kw,
       min(r."timestamp")                      AS first_at
  FROM readings r
  JOIN z ON z.channel_id = r.channel_id
 WHERE r."timestamp" >= %(start)s::timestamptz AND r."timestamp" < %(end)s::timestamptz
   AND r.power_kw > %(max_kw)s::float8
 GROUP BY r.channel_id, local_date
 ORDER BY r.channel_id, local_date;
