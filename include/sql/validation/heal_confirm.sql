-- The backfill run exists: the heal of its channel-days is done as far as this DAG is concerned.
UPDATE validation_heal_requests
   SET status = 'triggered', confirmed_at = CURRENT_TIMESTAMP
 WHERE backfill_run_id = ANY(%(backfill_run_ids)s::text[]) AND status = 'requested';
