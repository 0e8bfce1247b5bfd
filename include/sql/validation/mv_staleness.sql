-- Check of the mv_staleness task (SQLCheckOperator: the one row must be all true): no (meter, hour)
-- of the window differs between mv_hourly_usage and the clean readings (mv_staleness_diff.sql).
-- Parameters as_of and days are bound by the operator; the include is Jinja, done at render time.
SELECT count(*) = 0 AS mv_hourly_usage_matches_readings
  FROM ({% include 'validation/mv_staleness_diff.sql' %}) AS diff;
