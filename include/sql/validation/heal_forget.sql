-- The backfill run was never created (trigger failed): forget the request so that a later
-- validation run may heal those channel-days.
DELETE FROM validation_heal_requests
 WHERE backfill_run_id = ANY(%(backfill_run_ids)s::text[]) AND status = 'requested';
