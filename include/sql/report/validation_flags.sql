-- What the validation DAG (eniscope_validation, table validation_results) said about each local day
-- of the week: for every day, the most recent 'completeness' result whose checked window covers the
-- whole day, and the channel-days of this site it flagged as incomplete (its details hold one
-- finding per incomplete channel-day: channel_id, local_date, expected, received).
-- A day no completeness run covered has no row with checked_at: "not checked".
-- Days and their UTC bounds come from Python (site zone, DST-aware), one array element per day.
WITH days AS (
    SELECT d.local_date, d.day_start, d.day_end
      FROM unnest(%(days)s::date[], %(starts)s::timestamptz[], %(ends)s::timestamptz[])
           AS d (local_date, day_start, day_end)
), latest AS (
    SELECT DISTINCT ON (d.local_date)
           d.local_date, v.run_id, v.checked_at, v.details
      FROM days d
      JOIN validation_results v
        ON v.check_name = 'completeness'
       AND v.status IN ('pass', 'fail')
       AND v.window_start <= d.day_start
       AND v.window_end >= d.day_end
     ORDER BY d.local_date, v.checked_at DESC
)
SELECT d.local_date,
       l.run_id,
       l.checked_at,
       f.channel_id,
       f.expected,
       f.received
  FROM days d
  LEFT JOIN latest l ON l.local_date = d.local_date
  LEFT JOIN LATERAL (
        SELECT x.channel_id, x.expected, x.received
          FROM jsonb_to_recordset(CASE WHEN jsonb_typeof(l.details) = 'array' THEN l.details ELSE '[]' END)
               AS x (channel_id integer, local_date date, expected integer, received integer)
         WHERE x.local_date = d.local_date
           AND x.channel_id = ANY(%(meter_ids)s::integer[])
       ) f ON true
 ORDER BY d.local_date, f.channel_id;
