-- The results of one run of the validation DAG, as recorded by its check tasks.
SELECT check_name, severity, status, checked_count, failed_count, message, details,
       window_start, window_end
  FROM validation_results
 WHERE dag_id = %(dag_id)s AND run_id = %(run_id)s
 ORDER BY check_name;
