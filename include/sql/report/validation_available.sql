-- Does the validation DAG's results table exist in this database (and may we read it)?
SELECT to_regclass('validation_results') IS NOT NULL
       AND has_table_privilege(to_regclass('validation_results'), 'SELECT') AS available;
