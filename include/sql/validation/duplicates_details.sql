-- Which 15-minute slots hold more than one reading of a channel over [%(start)s, %(end)s): the
-- same (channel_id, timestamp) twice (possible only where idx_readings_unique is missing or was
-- dropped, e.g. an adopted database) or two timestamps inside one slot (off-grid legacy rows,
-- which the unique index cannot see). Run only when the duplicates check failed.
WITH z AS (
    SELECT * FROM unnest(%(zone_channels)s::integer[], %(zones)s::text[]) AS z (channel_id, tz)
)
SELECT d.channel_id,
       (d.slot AT TIME ZONE coalesce(z.tz, 'UTC'))::date AS local_date,
       d.slot,
       d.readings,
       d.distinct_timestamps
  FROM (SELECT r.channel_id,
               date_bin('15 minutes', r."timestamp", TIMESTAMPTZ '2000-01-01 00:00:00+00') AS slot,
               count(*)                      AS readings,
               count(DISTINCT r."timestamp") AS distinct_timestamps
          FROM {table} r
         WHERE r."timestamp" >= %(start)s::timestamptz AND r."timestamp" < %(end)s::timestamptz
         GROUP BY 1, 2
        HAVING count(*) > 1) d
  LEFT JOIN z ON z.channel_id = d.channel_id
 ORDER BY d.channel_id, d.slot;
