-- Readings without values per (channel, site-local day) over [%(start)s, %(end)s) (the original
-- validate_data.py warned on NULL energy and power): rows with energy NULL, power NULL, and both.
-- A row with both NULL counts as neither received (completeness) nor fresh (freshness). Zones per
-- channel come from Python (in-scope channels only).
WITH z AS (
    SELECT * FROM unnest(%(zone_channels)s::integer[], %(zones)s::text[]) AS z (channel_id, tz)
)
SELECT r.channel_id,
       (r."timestamp" AT TIME ZONE z.tz)::date                                   AS local_date,
       count(*)                                                                  AS readings,
       count(*) FILTER (WHERE r.energy_kwh IS NULL)                              AS energy_null,
       count(*) FILTER (WHERE r.power_kw IS NULL)                                AS power_null,
       count(*) FILTER (WHERE r.energy_kwh IS NULL AND r.power_kw IS NULL)       AS both_null
  FROM readings r
  JOIN z ON z.channel_id = r.channel_id
 WHERE r."timestamp" >= %(start)s::timestamptz AND r."timestamp" < %(end)s::timestamptz
 GROUP BY r.channel_id, local_date
HAVING count(*) FILTER (WHERE r.energy_kwh IS NULL OR r.power_kw IS NULL) > 0
 ORDER BY r.channel_id, local_date;
