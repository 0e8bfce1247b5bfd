-- The site-local meter-days to recompute. A UTC hour belongs to the local dates of its slots (a
-- +05:30 or +05:45 site's hour straddles two local days; 15-minute steps plus the hour's last
-- instant cover every offset in tzdata since 1970). A whole meter (its site's zone or its site
-- changed, or the meter is gone) gets every local day from its first to its last reading in its
-- current zone, plus every day stored for it (dropped when no longer a day with readings).
WITH zones AS (
    SELECT c.channel_id, COALESCE(o.timezone, 'America/New_York') AS zone
      FROM channels c
      LEFT JOIN organizations o ON o.organization_id = c.organization_id
),
whole AS (
    SELECT m.channel_id FROM argo_rollup_meters m
     UNION
    SELECT k.channel_id FROM argo_rollup_hours k
     WHERE NOT EXISTS (SELECT 1 FROM zones z WHERE z.channel_id = k.channel_id)
),
from_hours AS (
    SELECT k.channel_id, ((k.hour + s.step) AT TIME ZONE z.zone)::date AS day
      FROM argo_rollup_hours k
      JOIN zones z ON z.channel_id = k.channel_id
     CROSS JOIN (VALUES (interval '0'), (interval '15 minutes'), (interval '30 minutes'),
                        (interval '45 minutes'), (interval '1 hour' - interval '1 microsecond')) AS s (step)
),
meter_days AS (
    SELECT w.channel_id, g.day::date AS day
      FROM whole w
      JOIN zones z ON z.channel_id = w.channel_id
     CROSS JOIN LATERAL (
            SELECT min(r."timestamp") AS lo, max(r."timestamp") AS hi
              FROM readings r WHERE r.channel_id = w.channel_id
           ) b
     CROSS JOIN LATERAL generate_series((b.lo AT TIME ZONE z.zone)::date::timestamp,
                                        (b.hi AT TIME ZONE z.zone)::date::timestamp,
                                        interval '1 day') AS g (day)
),
stored AS (
    SELECT d.meter_id AS channel_id, d.reading_date AS day
      FROM rollup_daily_usage d
      JOIN whole w ON w.channel_id = d.meter_id
),
added AS (
    INSERT INTO argo_rollup_days (channel_id, day, zone)
    SELECT u.channel_id, u.day, COALESCE(z.zone, 'America/New_York')
      FROM (SELECT * FROM from_hours UNION SELECT * FROM meter_days UNION SELECT * FROM stored) AS u
      LEFT JOIN zones z ON z.channel_id = u.channel_id
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM whole), (SELECT count(*) FROM added);
