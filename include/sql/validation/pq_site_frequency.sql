-- Per site: its country and the median frequency its meters reported over [%(start)s, %(end)s)
-- (plugins/argo_energy/validation/power_quality.py decides the nominal 50 or 60 Hz from them).
SELECT o.organization_id,
       o.country,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY r.frequency_hz)::float8 AS median_hz,
       count(r.frequency_hz)                                               AS readings
  FROM readings r
  JOIN channels c ON c.channel_id = r.channel_id
  JOIN organizations o ON o.organization_id = c.organization_id
 WHERE r."timestamp" >= %(start)s::timestamptz AND r."timestamp" < %(end)s::timestamptz
   AND r.channel_id = ANY(%(zone_channels)s::integer[])
   AND r.frequency_hz IS NOT NULL
 GROUP BY o.organization_id, o.country
 ORDER BY o.organization_id;
