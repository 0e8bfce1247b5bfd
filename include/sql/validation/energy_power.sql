-- Energy vs power per (channel, site-local day) over [%(start)s, %(end)s): at 15-minute resolution
-- E (kWh) = average P (kW) x 0.25 h. An interval is inconsistent when |E - P x 0.25| exceeds both
-- %(abs_tol)s kWh and %(rel_tol)s of the larger of |E| and |P x 0.25|. Intervals missing E or P
-- are not judged. Zones per channel come from Python (in-scope channels only).
WITH z AS (
    SELECT * FROM unnest(%(zone_channels)s::integer[], %(zones)s::text[]) AS z (channel_id, tz)
),
judged AS (
    SELECT r.channel_id,
           (r."timestamp" AT TIME ZONE z.tz)::date                          AS local_date,
           abs(r.energy_kwh::float8 - r.power_kw::float8 * 0.25)            AS diff,
           greatest(abs(r.energy_kwh::float8), abs(r.power_kw::float8 * 0.25)) AS scale
      FROM readings r
      JOIN z ON z.channel_id = r.channel_id
     WHERE r."timestamp" >= %(start)s::timestamptz AND r."timestamp" < %(end)s::timestamptz
       AND r.energy_kwh IS NOT NULL AND r.power_kw IS NOT NULL
)
SELECT j.channel_id,
       j.local_date,
       count(*)                                                                        AS checked,
       count(*) FILTER (WHERE j.diff > greatest(%(abs_tol)s::float8, %(rel_tol)s::float8 * j.scale)) AS inconsistent,
       max(j.diff)                                                                     AS worst_diff_kwh
  FROM judged j
 GROUP BY j.channel_id, j.local_date
 ORDER BY j.channel_id, j.local_date;
