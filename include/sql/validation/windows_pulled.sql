-- Per (channel, site-local day): did any ingestion_logs row (success or failure) ever ask for a
-- window that overlaps the day, and did a successful one? Days and bounds come from Python, one
-- array element per day. The logs of the checked span are read once and joined (a per-day EXISTS
-- could not use an index: idx_ingestion_logs_time leads with organization_id).
WITH w AS (
    SELECT *
      FROM unnest(%(idx)s::integer[], %(channel_ids)s::integer[],
                  %(starts)s::timestamptz[], %(ends)s::timestamptz[]) AS w (idx, channel_id, day_start, day_end)
),
logs AS (
    SELECT l.channel_id, l.start_time, l.end_time, l.status
      FROM ingestion_logs l
     WHERE l.channel_id = ANY(%(channel_ids)s::integer[])
       AND l.start_time < (SELECT max(day_end) FROM w)
       AND l.end_time > (SELECT min(day_start) FROM w)
)
SELECT w.idx,
       count(l.channel_id) > 0                        AS pulled,
       coalesce(bool_or(l.status = 'success'), false) AS pulled_ok
  FROM w
  LEFT JOIN logs l
    ON l.channel_id = w.channel_id AND l.start_time < w.day_end AND l.end_time > w.day_start
 GROUP BY w.idx
 ORDER BY w.idx;
