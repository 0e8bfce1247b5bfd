-- The shared Eniscope request budgets, for operators (psql -f include/sql/budget/status.sql):
-- one row per account (a hash prefix only), its settings, use, and whether it is paused.
SELECT left(account_hash, 12)                                   AS account,
       rate,
       burst,
       taken,
       refused,
       round(waited_s::numeric, 1)                              AS waited_s,
       pauses,
       round(greatest(paused_until - extract(epoch FROM clock_timestamp()), 0)::numeric, 1) AS paused_for_s,
       updated_at
  FROM eniscope_request_budget
 ORDER BY updated_at DESC
