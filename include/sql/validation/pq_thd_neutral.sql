-- Per channel and site-local day over [%(start)s, %(end)s): intervals whose current THD is above
-- %(thd_max_pct)s percent, and intervals whose neutral current is above %(neutral_max_ratio)s of the
-- mean phase current (v_power_quality_intervals.neutral_ratio; NULL without all three phases).
WITH z AS (
    SELECT * FROM unnest(%(zone_channels)s::integer[], %(zones)s::text[]) AS z (channel_id, tz)
)
SELECT p.channel_id,
       (p."timestamp" AT TIME ZONE z.tz)::date                                   AS local_date,
       count(*) FILTER (WHERE p.current_thd_pct > %(thd_max_pct)s::float8)        AS thd_intervals,
       max(p.current_thd_pct)::float8                                            AS max_thd_pct,
       count(*) FILTER (WHERE p.neutral_ratio > %(neutral_max_ratio)s::float8)    AS neutral_intervals,
       max(p.neutral_ratio)::float8                                              AS max_neutral_ratio
  FROM v_power_quality_intervals p
  JOIN z ON z.channel_id = p.channel_id
 WHERE p."timestamp" >= %(start)s::timestamptz AND p."timestamp" < %(end)s::timestamptz
   AND (p.current_thd_pct > %(thd_max_pct)s::float8 OR p.neutral_ratio > %(neutral_max_ratio)s::float8)
 GROUP BY p.channel_id, local_date
 ORDER BY p.channel_id, local_date;
