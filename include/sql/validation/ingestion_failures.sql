-- Failed pulls not followed by a success: ingestion_logs rows with status <> 'success', logged
-- since %(since)s, for which no success row logged later covers the same window (same channel,
-- a success window that contains the failed one: a full-day retry covers a clipped failure).
-- One row per failed window with the number of failed attempts and the newest error.
-- The later-success probe uses idx_ingestion_logs_success_windows (channel_id, start, end).
WITH open_failures AS (
    SELECT f.*
      FROM ingestion_logs f
     WHERE f.status <> 'success'
       AND f.created_at >= %(since)s::timestamptz
       AND NOT (f.channel_id = ANY(%(ignored)s::integer[]))
       AND NOT EXISTS (
            SELECT 1
              FROM ingestion_logs s
             WHERE s.channel_id = f.channel_id
               AND s.status = 'success'
               AND s.start_time <= f.start_time AND s.end_time >= f.end_time
               AND (s.created_at > f.created_at OR (s.created_at = f.created_at AND s.id > f.id))
       )
)
SELECT o.channel_id,
       o.organization_id,
       o.start_time,
       o.end_time,
       count(*)                                                          AS attempts,
       max(o.created_at)                                                 AS last_failed_at,
       (array_agg(o.error_message ORDER BY o.created_at DESC, o.id DESC))[1] AS last_error,
       (array_agg(o.run_id ORDER BY o.created_at DESC, o.id DESC))[1]        AS last_run_id
  FROM open_failures o
 GROUP BY o.channel_id, o.organization_id, o.start_time, o.end_time
 ORDER BY o.channel_id, o.start_time, o.end_time;
