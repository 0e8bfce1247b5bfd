-- Lineage, step 2: every ingestion_logs pull whose window overlaps the meter's local day
-- [%(day_start)s, %(day_end)s), oldest first: when, by which Airflow run, what it fetched and did,
-- and how many of the day's readings still carry its values now (readings.ingestion_log_id: the
-- pull that last inserted or changed a reading; an unchanged re-fetch keeps the earlier writer).
SELECT l.id,
       l.created_at,
       l.run_id,
       l.status,
       l.start_time,
       l.end_time,
       l.readings_fetched,
       l.readings_inserted,
       l.readings_updated,
       l.readings_unchanged,
       l.readings_rejected,
       (SELECT count(*)
          FROM readings r
         WHERE r.channel_id = l.channel_id AND r.ingestion_log_id = l.id
           AND r."timestamp" >= %(day_start)s AND r."timestamp" < %(day_end)s) AS readings_now_from_it,
       l.error_message
  FROM ingestion_logs l
 WHERE l.channel_id = %(channel_id)s
   AND l.start_time < %(day_end)s AND l.end_time > %(day_start)s
 ORDER BY l.created_at, l.id;
