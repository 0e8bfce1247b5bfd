-- Which of the optional tables of the lineage exist (the validation DAG creates its own).
SELECT to_regclass('validation_heal_requests') IS NOT NULL AS heal_requests,
       to_regclass('reconciliation_days') IS NOT NULL      AS reconciliation_days;
