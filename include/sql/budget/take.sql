-- Book one Eniscope request of an account (function of migration V008): seconds to wait before
-- sending, whether it was booked (false: the wait is over max_wait, nothing consumed), the account's
-- booked takes so far and the server clock (epoch s) the answer is relative to.
-- %(now)s is NULL in production (the server's clock); tests pass a clock value.
SELECT wait_s, booked, taken, now_s
  FROM eniscope_budget_take(%(account)s, %(rate)s, %(burst)s, %(max_wait)s, %(now)s::double precision)
