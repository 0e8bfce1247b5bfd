-- A 429 with Retry-After: no request of the account is sent before now + seconds (every worker),
-- and none in a burst right after it (the server's bucket is empty then): tat >= until + tau, as
-- budget.pause_state. Never shortens a pause already set. %(now)s is NULL in production.
INSERT INTO eniscope_request_budget AS b (account_hash, rate, burst, paused_until, pauses, tat)
SELECT %(account)s, %(rate)s, greatest(%(burst)s, 1.0), c.now + %(seconds)s, 1,
       c.now + %(seconds)s + (greatest(%(burst)s, 1.0) - 1.0) / %(rate)s
  FROM (SELECT coalesce(%(now)s::double precision, extract(epoch FROM clock_timestamp())) AS now) c
ON CONFLICT ON CONSTRAINT eniscope_request_budget_pkey DO UPDATE
   SET paused_until = greatest(b.paused_until, EXCLUDED.paused_until),
       tat = greatest(b.tat, EXCLUDED.tat),
       pauses = b.pauses + 1,
       updated_at = CURRENT_TIMESTAMP
RETURNING b.paused_until
