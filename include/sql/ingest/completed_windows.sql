-- Windows with a 'success' ingestion_logs row (plugins/argo_energy/warehouse/reads.py: completed_windows).
-- Parameters: channel ids, range start, range end, run id (NULL = written by any run).
SELECT DISTINCT channel_id, start_time, end_time
  FROM ingestion_logs
 WHERE status = 'success'
   AND channel_id = ANY(%(channel_ids)s::integer[])
   AND start_time >= %(start)s AND end_time <= %(end)s
   AND (%(run_id)s::text IS NULL OR run_id = %(run_id)s::text)
