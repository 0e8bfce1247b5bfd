-- A targeted rebuild of meter-days (the validation's sampled mismatches): the days themselves, in
-- the meter's current zone, and every UTC hour that overlaps them.
WITH asked AS (
    SELECT DISTINCT a.channel_id, a.day, COALESCE(o.timezone, 'America/New_York') AS zone
      FROM unnest(%(meter_ids)s::integer[], %(days)s::date[]) AS a (channel_id, day)
      LEFT JOIN channels c ON c.channel_id = a.channel_id
      LEFT JOIN organizations o ON o.organization_id = c.organization_id
),
days AS (
    INSERT INTO argo_rollup_days (channel_id, day, zone)
    SELECT channel_id, day, zone FROM asked
    ON CONFLICT DO NOTHING
    RETURNING channel_id, day, zone
),
hours AS (
    INSERT INTO argo_rollup_hours (channel_id, hour)
    SELECT DISTINCT d.channel_id, g.hour
      FROM days d
     CROSS JOIN LATERAL generate_series(
               date_trunc('hour', argo_local_to_utc(d.day::timestamp, d.zone), 'UTC'),
               argo_local_to_utc(d.day::timestamp + interval '1 day', d.zone) - interval '1 microsecond',
               interval '1 hour') AS g (hour)
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM hours), (SELECT count(*) FROM days);
