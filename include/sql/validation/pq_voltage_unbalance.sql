-- Runs of consecutive 15-minute intervals whose voltage unbalance (v_power_quality_intervals, NEMA)
-- is above %(max_pct)s percent, lasting longer than %(max_minutes)s minutes, over [%(start)s, %(end)s).
-- A run breaks at an interval at or below the limit, or without all three phases (NULL), or a gap.
WITH z AS (
    SELECT * FROM unnest(%(zone_channels)s::integer[], %(zones)s::text[]) AS z (channel_id, tz)
),
above AS (
    SELECT p.channel_id, p."timestamp", p.voltage_unbalance_pct, z.tz,
           p."timestamp" - (row_number() OVER (PARTITION BY p.channel_id ORDER BY p."timestamp")
                            * interval '15 minutes') AS run_key
      FROM v_power_quality_intervals p
      JOIN z ON z.channel_id = p.channel_id
     WHERE p."timestamp" >= %(start)s::timestamptz AND p."timestamp" < %(end)s::timestamptz
       AND p.voltage_unbalance_pct > %(max_pct)s::float8
)
SELECT channel_id,
       (min("timestamp") AT TIME ZONE min(tz))::date                  AS local_date,
       min("timestamp")                                               AS run_start,
       max("timestamp") + interval '15 minutes'                       AS run_end,
       count(*) * 15                                                  AS minutes,
       max(voltage_unbalance_pct)::float8                             AS max_pct
  FROM above
 GROUP BY channel_id, run_key
HAVING count(*) * 15 > %(max_minutes)s::integer
 ORDER BY channel_id, run_start;
