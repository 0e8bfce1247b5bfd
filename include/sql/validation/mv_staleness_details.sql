-- The differing (meter, UTC hour) pairs of mv_staleness_diff.sql (substituted into the FROM clause by
-- argo_energy.validation.checks.details_mv_staleness) with the site-local date of the hour.
-- Run only when the mv_staleness check failed.
WITH z AS (
    SELECT * FROM unnest(%(zone_channels)s::integer[], %(zones)s::text[]) AS z (channel_id, tz)
)
SELECT d.channel_id,
       (d.hour AT TIME ZONE coalesce(z.tz, 'UTC'))::date AS local_date,
       d.hour,
       d.readings_now,
       d.readings_in_view,
       d.kwh_now,
       d.kwh_in_view
  FROM ({diff}) AS d
  LEFT JOIN z ON z.channel_id = d.channel_id
 ORDER BY d.channel_id, d.hour;
