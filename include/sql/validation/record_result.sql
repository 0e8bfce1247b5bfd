-- One row per check per run; a retried task replaces its own row (same dag_id, run_id, check_name).
INSERT INTO validation_results AS v (
    dag_id, run_id, check_name, severity, status, checked_count, failed_count,
    affected_channels, affected_days, message, details, window_start, window_end, as_of, checked_at
) VALUES (
    %(dag_id)s, %(run_id)s, %(check_name)s, %(severity)s, %(status)s, %(checked_count)s, %(failed_count)s,
    %(affected_channels)s::integer[], %(affected_days)s::date[], %(message)s, %(details)s::jsonb,
    %(window_start)s, %(window_end)s, %(as_of)s, CURRENT_TIMESTAMP
)
ON CONFLICT (dag_id, run_id, check_name) DO UPDATE
   SET severity = EXCLUDED.severity, status = EXCLUDED.status,
       checked_count = EXCLUDED.checked_count, failed_count = EXCLUDED.failed_count,
       affected_channels = EXCLUDED.affected_channels, affected_days = EXCLUDED.affected_days,
       message = EXCLUDED.message, details = EXCLUDED.details,
       window_start = EXCLUDED.window_start, window_end = EXCLUDED.window_end,
       as_of = EXCLUDED.as_of, checked_at = EXCLUDED.checked_at;
