-- V008: one Eniscope request budget per account, shared by every task process on every worker (issue 16).
--
-- Eniscope limits an account (API key + login), not a process; each Airflow task instance is its own
-- process. Every request of the deployment takes its turn here first, in one call of
-- eniscope_budget_take() (one round trip, one row lock held for the statement only).
--
-- The bucket is a GCRA token bucket kept as a theoretical arrival time `tat` (epoch seconds of this
-- server's clock, so workers on machines with skewed clocks agree): emission interval T = 1/rate,
-- tolerance tau = (burst - 1) * T. A take at `now` is given the send time
--     send = greatest(now, greatest(tat, now) - tau, paused_until)
-- and, when send - now <= max_wait, books it: tat = greatest(tat, now, send) + T. The caller sleeps
-- until `send` and sends. A token is consumed when it is booked, never leased: a process that dies
-- after its take has used one slot and holds nothing. A take that would wait longer than max_wait
-- books nothing (the caller raises a transient error; the task's retry comes back later).
-- A 429 with Retry-After sets paused_until for the whole account (include/sql/budget/pause.sql).
-- The account is stored as a sha256 hex digest only: never the API key or the login.
-- UNLOGGED: a take is on every request's path and must not wait for a WAL flush; after a server
-- crash the table is empty, which is a full bucket (at most `burst` requests at once), harmless.

CREATE UNLOGGED TABLE eniscope_request_budget (
    account_hash text             NOT NULL,
    rate         double precision NOT NULL,            -- requests/s of the newest take
    burst        double precision NOT NULL,            -- bucket size of the newest take
    tat          double precision NOT NULL DEFAULT 0,  -- theoretical arrival time, epoch s
    paused_until double precision NOT NULL DEFAULT 0,  -- no send before this (Retry-After), epoch s
    taken        bigint           NOT NULL DEFAULT 0,  -- takes booked
    refused      bigint           NOT NULL DEFAULT 0,  -- takes refused (wait > max_wait)
    waited_s     double precision NOT NULL DEFAULT 0,  -- seconds the booked takes were told to wait
    pauses       bigint           NOT NULL DEFAULT 0,  -- 429s with Retry-After reported
    created_at   timestamptz      NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at   timestamptz      NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT eniscope_request_budget_pkey PRIMARY KEY (account_hash),
    CONSTRAINT eniscope_request_budget_hash CHECK (account_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT eniscope_request_budget_rate CHECK (rate > 0 AND burst >= 1)
);

COMMENT ON TABLE eniscope_request_budget IS
    'Eniscope request budget per account (sha256 of base URL, API key, login): GCRA token bucket shared by every worker.';

CREATE FUNCTION eniscope_budget_take(
    p_account text, p_rate double precision, p_burst double precision, p_max_wait double precision,
    p_now double precision DEFAULT NULL
) RETURNS TABLE (wait_s double precision, booked boolean, taken bigint, now_s double precision)
LANGUAGE plpgsql
AS $fn$
DECLARE
    v_now   double precision := coalesce(p_now, extract(epoch FROM clock_timestamp()));
    v_t     double precision := 1.0 / p_rate;
    v_tau   double precision := (greatest(p_burst, 1.0) - 1.0) / p_rate;
    v_row   eniscope_request_budget%ROWTYPE;
    v_send  double precision;
BEGIN
    SELECT * INTO v_row FROM eniscope_request_budget b WHERE b.account_hash = p_account FOR UPDATE;
    IF NOT FOUND THEN
        -- First take of this account: a full bucket.
        INSERT INTO eniscope_request_budget AS b (account_hash, rate, burst)
        VALUES (p_account, p_rate, greatest(p_burst, 1.0))
        ON CONFLICT ON CONSTRAINT eniscope_request_budget_pkey DO NOTHING;
        SELECT * INTO v_row FROM eniscope_request_budget b WHERE b.account_hash = p_account FOR UPDATE;
    END IF;
    v_send := greatest(v_now, greatest(v_row.tat, v_now) - v_tau, v_row.paused_until);
    wait_s := v_send - v_now;
    booked := wait_s <= p_max_wait;
    now_s := v_now;
    IF booked THEN
        UPDATE eniscope_request_budget b
           SET tat = greatest(v_row.tat, v_now, v_send) + v_t,
               taken = b.taken + 1, waited_s = b.waited_s + wait_s,
               rate = p_rate, burst = greatest(p_burst, 1.0), updated_at = CURRENT_TIMESTAMP
         WHERE b.account_hash = p_account
        RETURNING b.taken INTO taken;
    ELSE
        UPDATE eniscope_request_budget b SET refused = b.refused + 1, updated_at = CURRENT_TIMESTAMP
         WHERE b.account_hash = p_account
        RETURNING b.taken INTO taken;
    END IF;
    RETURN NEXT;
END
$fn$;

COMMENT ON FUNCTION eniscope_budget_take(text, double precision, double precision, double precision, double precision) IS
    'Book one Eniscope request for an account: seconds to wait before sending (not booked when over max wait).';
