-- Set-based rebuild of mv_hourly_usage (warehouse.rollups.rebuild_rollups): one GROUP BY over the
-- clean readings of the scope (the aggregate of recompute_hours.sql and of V009's initial build),
-- one join with what is stored, and only the differences written: new and changed hours upserted,
-- hours without a clean reading any more deleted. Reading the scope once beats one index probe per
-- meter-hour as soon as a scope has more than a few thousand hours.
-- Parameters: meter_ids (NULL = every meter), start and end (NULL = unbounded; widened here to
-- whole UTC hours); used directly in the WHERE clauses so that the planner folds the NULL tests
-- and reaches the indexes. Returns: hours in the scope, rows written, rows deleted.
WITH fresh AS (
    SELECT c.channel_id                             AS meter_id,
           date_trunc('hour', c."timestamp", 'UTC') AS hour,
           avg(c.power_kw)                          AS avg_kw,
           sum(c.energy_kwh::double precision)      AS total_kwh,
           count(*)                                 AS reading_count
      FROM v_clean_readings c
     WHERE (%(meter_ids)s::integer[] IS NULL OR c.channel_id = ANY (%(meter_ids)s::integer[]))
       AND (%(start)s::timestamptz IS NULL
            OR c."timestamp" >= date_trunc('hour', %(start)s::timestamptz, 'UTC'))
       AND (%(end)s::timestamptz IS NULL
            OR c."timestamp" < date_trunc('hour', %(end)s::timestamptz - interval '1 microsecond', 'UTC')
                               + interval '1 hour')
     GROUP BY 1, 2
),
stored AS (
    SELECT h.meter_id, h.hour, h.avg_kw, h.total_kwh, h.reading_count
      FROM mv_hourly_usage h
     WHERE (%(meter_ids)s::integer[] IS NULL OR h.meter_id = ANY (%(meter_ids)s::integer[]))
       AND (%(start)s::timestamptz IS NULL OR h.hour >= date_trunc('hour', %(start)s::timestamptz, 'UTC'))
       AND (%(end)s::timestamptz IS NULL
            OR h.hour < date_trunc('hour', %(end)s::timestamptz - interval '1 microsecond', 'UTC')
                        + interval '1 hour')
),
diff AS MATERIALIZED (
    SELECT f.meter_id, f.hour, f.avg_kw, f.total_kwh, f.reading_count,
           o.meter_id AS gone_meter, o.hour AS gone_hour
      FROM fresh f
      FULL JOIN stored o ON o.meter_id = f.meter_id AND o.hour = f.hour
     WHERE f.meter_id IS NULL OR o.meter_id IS NULL
        OR (o.avg_kw, o.total_kwh, o.reading_count) IS DISTINCT FROM (f.avg_kw, f.total_kwh, f.reading_count)
),
written AS (
    INSERT INTO mv_hourly_usage AS h (meter_id, hour, avg_kw, total_kwh, reading_count)
    SELECT d.meter_id, d.hour, d.avg_kw, d.total_kwh, d.reading_count FROM diff d WHERE d.meter_id IS NOT NULL
    ON CONFLICT (meter_id, hour) DO UPDATE
       SET avg_kw = EXCLUDED.avg_kw, total_kwh = EXCLUDED.total_kwh, reading_count = EXCLUDED.reading_count
    RETURNING 1
),
removed AS (
    DELETE FROM mv_hourly_usage h
     USING diff d
     WHERE d.meter_id IS NULL AND h.meter_id = d.gone_meter AND h.hour = d.gone_hour
    RETURNING 1
)
SELECT (SELECT count(*) FROM fresh), (SELECT count(*) FROM written), (SELECT count(*) FROM removed);
