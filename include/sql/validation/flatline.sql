-- Flat lines over [%(start)s, %(end)s): runs of at least %(min_intervals)s consecutive 15-minute
-- intervals (no gap between them) with the same non-NULL, non-zero energy_kwh on one channel: a
-- stuck register or a repeated last value (the Consecutive Interval Check of utility VEE). Zero
-- runs are left out: a closed building at night legitimately reads 0.
-- Gaps-and-islands: a new run starts where the value changes or an interval is missing.
WITH z AS (
    SELECT * FROM unnest(%(zone_channels)s::integer[], %(zones)s::text[]) AS z (channel_id, tz)
),
ordered AS (
    SELECT r.channel_id,
           r."timestamp" AS ts,
           r.energy_kwh  AS v,
           lag(r.energy_kwh)  OVER w AS prev_v,
           lag(r."timestamp") OVER w AS prev_ts
      FROM readings r
      JOIN z ON z.channel_id = r.channel_id
     WHERE r."timestamp" >= %(start)s::timestamptz AND r."timestamp" < %(end)s::timestamptz
    WINDOW w AS (PARTITION BY r.channel_id ORDER BY r."timestamp")
),
runs AS (
    SELECT o.channel_id, o.ts, o.v,
           sum(CASE WHEN o.v = o.prev_v AND o.ts = o.prev_ts + interval '15 minutes' THEN 0 ELSE 1 END)
               OVER (PARTITION BY o.channel_id ORDER BY o.ts) AS run_no
      FROM ordered o
)
SELECT r.channel_id,
       min(r.ts)                          AS run_start,
       max(r.ts) + interval '15 minutes'  AS run_end,
       count(*)                           AS intervals,
       min(r.v)                           AS value_kwh
  FROM runs r
 WHERE r.v IS NOT NULL AND r.v <> 0
 GROUP BY r.channel_id, r.run_no
HAVING count(*) >= %(min_intervals)s::integer
 ORDER BY r.channel_id, min(r.ts);
