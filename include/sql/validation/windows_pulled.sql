-- Per (channel, site-local day): did any ingestion_logs row (success or failure) ever ask for a
-- window that overlaps the day? Days and bounds come from Python, one array element per day.
SELECT w.idx,
       EXISTS (SELECT 1
                 FROM ingestion_logs l
                WHERE l.channel_id = w.channel_id
                  AND l.start_time < w.day_end AND l.end_time > w.day_start)  AS pulled,
       EXISTS (SELECT 1
                 FROM ingestion_logs l
                WHERE l.channel_id = w.channel_id AND l.status = 'success'
                  AND l.start_time < w.day_end AND l.end_time > w.day_start)  AS pulled_ok
  FROM unnest(%(idx)s::integer[], %(channel_ids)s::integer[],
              %(starts)s::timestamptz[], %(ends)s::timestamptz[]) AS w (idx, channel_id, day_start, day_end)
 ORDER BY w.idx;
