-- The failed task instances of one run, first failure first.
SELECT task_id, map_index, map_label, try_number, error, failed_at
  FROM pipeline_task_failures
 WHERE dag_id = %(dag_id)s AND run_id = %(run_id)s
 ORDER BY failed_at, task_id, map_index
