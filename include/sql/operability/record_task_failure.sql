-- One failed task instance (its last try): the first error line the run alert quotes.
INSERT INTO pipeline_task_failures (dag_id, run_id, task_id, map_index, map_label, try_number, error)
VALUES (%(dag_id)s, %(run_id)s, %(task_id)s, %(map_index)s, %(map_label)s, %(try_number)s, %(error)s)
ON CONFLICT (dag_id, run_id, task_id, map_index) DO UPDATE
   SET map_label = EXCLUDED.map_label, try_number = EXCLUDED.try_number,
       error = EXCLUDED.error, failed_at = now()
