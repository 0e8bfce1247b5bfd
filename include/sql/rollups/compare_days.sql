-- The rollup check of the validation DAG: a random sample of site-local meter-days of the lookback
-- ([as_of - days, as_of), every meter with a site), each compared with a fresh aggregate of its
-- clean readings (recompute_days.sql's definition). Returns every sampled meter-day and whether it differs:
-- a row on one side only, another count or peak, or sums/averages apart by more than 1e-9
-- relative (they are summed in another order). Parameters: as_of, days, sample.
WITH sampled AS (
    SELECT m.meter_id, g.day::date AS day, m.site_timezone AS zone
      FROM v_meters m
     CROSS JOIN LATERAL generate_series(
               ((%(as_of)s::timestamptz - make_interval(days => %(days)s::integer)) AT TIME ZONE m.site_timezone)::date::timestamp,
               ((%(as_of)s::timestamptz - interval '1 microsecond') AT TIME ZONE m.site_timezone)::date::timestamp,
               interval '1 day') AS g (day)
     ORDER BY random()
     LIMIT %(sample)s
),
fresh AS (
    SELECT s.meter_id, s.day, a.*
      FROM sampled s
     CROSS JOIN LATERAL (
            SELECT sum(c.energy_kwh::double precision) AS total_energy_kwh,
                   avg(c.power_kw)                     AS avg_power_kw,
                   max(c.power_kw)                     AS peak_power_kw,
                   count(*)                            AS reading_count
              FROM v_clean_readings c
             WHERE c.channel_id = s.meter_id
               AND c."timestamp" >= argo_local_to_utc(s.day::timestamp, s.zone)
               AND c."timestamp" < argo_local_to_utc(s.day::timestamp + interval '1 day', s.zone)
           ) a
)
SELECT f.meter_id, f.day, f.reading_count AS readings_now, d.reading_count AS readings_in_rollup,
       f.total_energy_kwh AS kwh_now, d.total_energy_kwh AS kwh_in_rollup,
       (f.reading_count > 0 OR d.meter_id IS NOT NULL)
       AND (d.meter_id IS NULL
            OR f.reading_count IS DISTINCT FROM d.reading_count
            OR f.peak_power_kw IS DISTINCT FROM d.peak_power_kw
            OR abs(f.total_energy_kwh - d.total_energy_kwh) > 1e-9 * greatest(1, abs(f.total_energy_kwh))
            OR abs(f.avg_power_kw - d.avg_power_kw) > 1e-9 * greatest(1, abs(f.avg_power_kw))) AS differs
  FROM fresh f
  LEFT JOIN rollup_daily_usage d ON d.meter_id = f.meter_id AND d.reading_date = f.day
 ORDER BY f.meter_id, f.day;
