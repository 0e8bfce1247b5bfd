-- Lineage, step 3: the day's readings as stored now: how many, how many carry a value (energy or
-- power), the kWh they sum to, how many a later pull revised (updated_at set), and how many were
-- written before lineage was recorded (ingestion_log_id NULL, V012).
SELECT count(*)                                                           AS readings,
       count(*) FILTER (WHERE r.energy_kwh IS NOT NULL OR r.power_kw IS NOT NULL) AS with_value,
       sum(r.energy_kwh::double precision)                                AS kwh,
       count(*) FILTER (WHERE r.updated_at IS NOT NULL)                   AS updated_later,
       max(r.updated_at)                                                  AS last_updated_at,
       count(*) FILTER (WHERE r.ingestion_log_id IS NULL)                 AS without_pull,
       min(r.created_at)                                                  AS first_written_at
  FROM readings r
 WHERE r.channel_id = %(channel_id)s
   AND r."timestamp" >= %(day_start)s AND r."timestamp" < %(day_end)s;
