-- Lineage, step 4: the day's rejected readings by reason: how many, when first and last seen, by
-- which pull last, and one example of the detail.
SELECT x.reason,
       count(*)                    AS readings,
       min(x.created_at)           AS first_seen_at,
       max(x.last_seen_at)         AS last_seen_at,
       max(x.ingestion_log_id)     AS last_pull_id,
       min(x.detail)               AS example_detail
  FROM readings_rejected x
 WHERE x.channel_id = %(channel_id)s
   AND x."timestamp" >= %(day_start)s AND x."timestamp" < %(day_end)s
 GROUP BY x.reason
 ORDER BY count(*) DESC, x.reason;
